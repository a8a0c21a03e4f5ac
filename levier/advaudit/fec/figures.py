"""The diagnosis figures of a FEC, as kpis.md "From a FEC file" defines them.

Every figure is computed by DuckDB over the book's `lines` (a few temp tables and
aggregates); Python only divides the integer sums (cents, days) with `Decimal` and walks the
at most 24 monthly totals of the countback. `FecFigures.as_json()` uses kpis.md's names.

Interpretation choices (kpis.md is silent on them):

- *Amounts* are per line `Debit − Credit`: a negative debit counts as a credit (some
  software books credit notes as negative invoices) and a line carrying both sides counts
  for its difference.
- *Customers* are `CompAuxNum`, or `CompteNum` when a 411 line has no auxiliary account; their
  name is the latest non-empty `CompAuxLib` (or `CompteLib`).
- *Classifying pieces*: a piece debiting 411 and crediting a 70* account is an invoice; one
  crediting 411 and debiting 70* is a credit note; a piece that does both (a correction
  entry) is classified by the sign of its net 411 movement (nothing when it is zero). A
  piece crediting 411 with a line on a 5* account is a settlement (counted in the extras,
  not needed by the kpis). Everything else on 411 counts only in balances.
- *Several 411 lines in a piece* (a sales journal batched per day, an invoice with
  instalments): the piece is one invoice (`invoice_count`) whose amount is the sum of its
  411 debits; but settlement, ageing and lateness are followed per 411 line (each debit is
  lettered on its own), so that one paid customer in a batch is not held open by another.
  The invoice date is the earliest `PieceDate` (else `EcritureDate`) of those 411 lines,
  and every line of the piece takes it. A 411 line in credit inside an invoice piece (a
  deposit deducted) counts in balances only.
- *Settlement*: a 411 debit line of an invoice with a letter is settled on its `DateLet`, or
  when empty on the latest `EcritureDate` of the lines with the same letter on the same
  account (`CompteNum` + `CompAuxNum`); without a letter it is open. A settlement date
  after d means open at d. Partial lettering is not detectable as such: the quality report
  lists letters whose lines do not balance.
- *Open invoices aged* are the full TTC of the unsettled invoice lines (a FEC shows no
  partial allocation), so their total is not the receivables balance (which also holds
  opening balances, unlettered payments and credit notes).
- *FAE / PCA*: the balance of all 4181* (debit) / 487* (credit) accounts together at d; a
  balance on the other side gives 0.
- *Late invoices* (for the levers): per invoice line dated in (d − 365, d], the days beyond
  `payment_terms_days` until its settlement (settled by d) or until d (still open).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import duckdb

from levier.advaudit.fec.quality import cents_to_decimal
from levier.advaudit.fec.reader import FecBook
from levier.lib.periods import add_months

COUNTBACK_MONTHS: Final = 24
TOP_CUSTOMERS: Final = 10
LATE_PAYER_DAYS: Final = 60
AGED_KEYS: Final = ("0_30", "31_60", "61_90", "over_90")
DAYS: Final = Decimal("0.1")
RATE: Final = Decimal("0.0001")
_PARAMETER: Final = re.compile(r"\$([a-z_0-9]+)")


@dataclass(frozen=True)
class CustomerBalance:
    customer: str
    name: str
    balance: Decimal
    share: Decimal | None  # of receivables_ttc; None when receivables are not positive


@dataclass(frozen=True)
class MonthFigures:
    month: dt.date  # first day of the calendar month
    sales_ttc: Decimal
    receivables_ttc: Decimal  # at the month's end (d for d's month)
    dso_simple_90d: Decimal | None
    average_days_to_pay: Decimal | None  # of the invoices settled in the month


@dataclass(frozen=True)
class Concentration:
    customers_with_balance: int
    receivables_share: dict[str, Decimal | None]  # top_1 / top_5 / top_10
    customers_with_sales_365d: int
    sales_365d_share: dict[str, Decimal | None]


@dataclass(frozen=True)
class LatePayer:
    customer: str
    name: str
    amount: Decimal  # open invoices older than 60 days at d
    oldest_invoice: dt.date
    count: int


@dataclass(frozen=True)
class LateInvoices:
    payment_terms_days: int
    count: int
    amount_ttc: Decimal
    amount_days: Decimal  # Σ amount TTC × days beyond the terms (euro-days)


@dataclass(frozen=True)
class FecFigures:
    as_of: dt.date
    receivables_ttc: Decimal
    sales_ttc_365d: Decimal
    sales_ttc_90d: Decimal
    dso_simple_90d: Decimal | None
    dso_simple_365d: Decimal | None
    dso_countback: Decimal | None
    invoice_count: int
    credit_note_count: int
    credit_note_rate: Decimal | None
    credit_note_rate_amount: Decimal | None
    average_days_to_pay: Decimal | None
    average_days_to_pay_weighted: Decimal | None
    open_invoices_aged: dict[str, Decimal]  # AGED_KEYS → amount
    fae: Decimal
    pca: Decimal
    top_customers_receivables: tuple[CustomerBalance, ...]
    # For the report's charts and the levers (outside kpis.md's names).
    monthly: tuple[MonthFigures, ...]
    customer_concentration: Concentration
    late_payers: tuple[LatePayer, ...]
    late_invoices: LateInvoices
    settlement_count: int  # settlements dated in (d − 365, d]

    def kpis_json(self) -> dict[str, Any]:
        """Exactly kpis.md's "From a FEC file" names, plus `as_of`."""
        return {
            "as_of": self.as_of.isoformat(),
            "receivables_ttc": _money(self.receivables_ttc),
            "sales_ttc_365d": _money(self.sales_ttc_365d),
            "sales_ttc_90d": _money(self.sales_ttc_90d),
            "dso_simple_90d": _number(self.dso_simple_90d),
            "dso_simple_365d": _number(self.dso_simple_365d),
            "dso_countback": _number(self.dso_countback),
            "invoice_count": self.invoice_count,
            "credit_note_count": self.credit_note_count,
            "credit_note_rate": _number(self.credit_note_rate),
            "credit_note_rate_amount": _number(self.credit_note_rate_amount),
            "average_days_to_pay": _number(self.average_days_to_pay),
            "average_days_to_pay_weighted": _number(self.average_days_to_pay_weighted),
            "open_invoices_aged": {key: _money(self.open_invoices_aged[key]) for key in AGED_KEYS},
            "fae": _money(self.fae),
            "pca": _money(self.pca),
            "top_customers_receivables": [
                {
                    "customer": row.customer,
                    "name": row.name,
                    "balance": _money(row.balance),
                    "share": _number(row.share),
                }
                for row in self.top_customers_receivables
            ],
        }

    def as_json(self) -> dict[str, Any]:
        """`as_of`, the kpis object (`kpis_json`), and the charts' and levers' series beside
        it. Amounts are strings with two decimals; days (one decimal) and rates and shares
        (four decimals, 0.05 = 5 %) are numbers; an undefined figure is null."""
        concentration = self.customer_concentration
        return {
            "as_of": self.as_of.isoformat(),
            "kpis": self.kpis_json(),
            "monthly": [
                {
                    "month": month.month.isoformat()[:7],
                    "sales_ttc": _money(month.sales_ttc),
                    "receivables_ttc": _money(month.receivables_ttc),
                    "dso_simple_90d": _number(month.dso_simple_90d),
                    "average_days_to_pay": _number(month.average_days_to_pay),
                }
                for month in self.monthly
            ],
            "customer_concentration": {
                "customers_with_balance": concentration.customers_with_balance,
                "receivables_share": {
                    key: _number(value) for key, value in concentration.receivables_share.items()
                },
                "customers_with_sales_365d": concentration.customers_with_sales_365d,
                "sales_365d_share": {
                    key: _number(value) for key, value in concentration.sales_365d_share.items()
                },
            },
            "late_payers": [
                {
                    "customer": payer.customer,
                    "name": payer.name,
                    "amount": _money(payer.amount),
                    "oldest_invoice": payer.oldest_invoice.isoformat(),
                    "count": payer.count,
                }
                for payer in self.late_payers
            ],
            "late_invoices": {
                "payment_terms_days": self.late_invoices.payment_terms_days,
                "count": self.late_invoices.count,
                "amount_ttc": _money(self.late_invoices.amount_ttc),
                "amount_days": _money(self.late_invoices.amount_days),
            },
            "settlement_count": self.settlement_count,
        }


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _ratio(numerator: int | Decimal, denominator: int | Decimal, step: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(step, rounding=ROUND_HALF_UP)


def _share(part: int, whole: int) -> Decimal | None:
    return _ratio(part, whole, RATE) if whole > 0 else None


def _dso(receivables: int, sales: int, days: int) -> Decimal | None:
    return None if sales == 0 else _ratio(Decimal(receivables) * days, sales, DAYS)


# --- the working tables -----------------------------------------------------------------

_PREPARE: Final = (
    # Customer-account (411) lines: the receivables.
    """
    CREATE OR REPLACE TEMP TABLE fec_receivable AS
    SELECT line, journal_code, ecriture_num, compte_num, coalesce(comp_aux_num, '') AS aux,
           coalesce(comp_aux_num, compte_num) AS customer,
           CASE WHEN comp_aux_num IS NOT NULL THEN comp_aux_lib ELSE compte_lib END AS name,
           ecriture_date, coalesce(piece_date, ecriture_date) AS document_date,
           debit - credit AS amount, ecriture_let, date_let
    FROM lines WHERE compte_num LIKE '411%'
    """,
    # The pieces that touch 411, classified by their accounts.
    """
    CREATE OR REPLACE TEMP TABLE fec_pieces AS
    WITH flags AS (
        SELECT journal_code, ecriture_num,
               coalesce(sum(debit - credit) FILTER (
                   WHERE compte_num LIKE '411%' AND debit > credit), 0) AS receivable_debit,
               coalesce(sum(credit - debit) FILTER (
                   WHERE compte_num LIKE '411%' AND credit > debit), 0) AS receivable_credit,
               coalesce(bool_or(compte_num LIKE '70%' AND credit > debit), false)
                   AS credits_sales,
               coalesce(bool_or(compte_num LIKE '70%' AND debit > credit), false)
                   AS debits_sales,
               coalesce(bool_or(compte_num LIKE '5%'), false) AS has_cash
        FROM lines
        SEMI JOIN (SELECT DISTINCT journal_code, ecriture_num FROM fec_receivable) AS touched
            USING (journal_code, ecriture_num)
        GROUP BY journal_code, ecriture_num
    )
    SELECT *, CASE
        WHEN receivable_debit > 0 AND credits_sales
             AND NOT (receivable_credit > 0 AND debits_sales) THEN 'invoice'
        WHEN receivable_credit > 0 AND debits_sales
             AND NOT (receivable_debit > 0 AND credits_sales) THEN 'credit_note'
        WHEN receivable_debit > 0 AND credits_sales THEN CASE
            WHEN receivable_debit > receivable_credit THEN 'invoice'
            WHEN receivable_debit < receivable_credit THEN 'credit_note' END
        WHEN receivable_credit > 0 AND has_cash THEN 'settlement'
    END AS kind
    FROM flags
    """,
    # Invoice lines (411 debits of invoices) and credit-note lines (411 credits of credit
    # notes), dated by their piece.
    """
    CREATE OR REPLACE TEMP TABLE fec_items AS
    SELECT r.line, r.journal_code, r.ecriture_num, p.kind, r.customer, r.compte_num, r.aux,
           abs(r.amount) AS amount, r.ecriture_let, r.date_let,
           min(r.document_date) OVER (PARTITION BY r.journal_code, r.ecriture_num)
               AS document_date
    FROM fec_receivable AS r JOIN fec_pieces AS p USING (journal_code, ecriture_num)
    WHERE (p.kind = 'invoice' AND r.amount > 0) OR (p.kind = 'credit_note' AND r.amount < 0)
    """,
    # One row per invoice or credit note.
    """
    CREATE OR REPLACE TEMP TABLE fec_documents AS
    SELECT journal_code, ecriture_num, kind, min(document_date) AS document_date,
           sum(amount) AS amount,
           sum(CASE WHEN kind = 'invoice' THEN amount ELSE -amount END) AS sales
    FROM fec_items GROUP BY journal_code, ecriture_num, kind
    """,
    # Invoice lines with their settlement date (NULL: never lettered).
    """
    CREATE OR REPLACE TEMP TABLE fec_invoices AS
    WITH letters AS (
        SELECT compte_num, aux, ecriture_let, max(ecriture_date) AS last_date
        FROM fec_receivable WHERE ecriture_let IS NOT NULL
        GROUP BY compte_num, aux, ecriture_let
    )
    SELECT i.line, i.customer, i.amount, i.document_date,
           CASE WHEN i.ecriture_let IS NOT NULL THEN coalesce(i.date_let, g.last_date) END
               AS settled_on
    FROM fec_items AS i
    LEFT JOIN letters AS g
        ON g.compte_num = i.compte_num AND g.aux = i.aux AND g.ecriture_let = i.ecriture_let
    WHERE i.kind = 'invoice'
    """,
    # Customers' names.
    """
    CREATE OR REPLACE TEMP TABLE fec_customers AS
    SELECT customer, coalesce(arg_max(name, line) FILTER (WHERE coalesce(name, '') <> ''), '')
               AS name
    FROM fec_receivable GROUP BY customer
    """,
)


def _run(
    connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
) -> duckdb.DuckDBPyConnection:
    """Execute with the parameters the statement names (DuckDB refuses unused ones)."""
    used = set(_PARAMETER.findall(sql))
    return connection.execute(sql, {key: value for key, value in params.items() if key in used})


def _one(
    connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
) -> tuple[Any, ...]:
    row = _run(connection, sql, params).fetchone()
    assert row is not None
    return row


def compute_fec_figures(
    book: FecBook, *, as_of: dt.date | None = None, payment_terms_days: int = 30
) -> FecFigures:
    """The figures at `as_of` (default: the last EcritureDate of the book)."""
    connection = book.connection
    if as_of is None:
        as_of = _one(connection, "SELECT max(ecriture_date) FROM lines", {})[0]
        assert as_of is not None  # a loaded book has usable lines
    for statement in _PREPARE:
        connection.execute(statement)
    d = as_of
    window = {"d": d, "d365": d - dt.timedelta(days=365), "d90": d - dt.timedelta(days=90)}
    receivables = int(
        _one(
            connection,
            "SELECT coalesce(sum(amount), 0) FROM fec_receivable WHERE ecriture_date <= $d",
            {"d": d},
        )[0]
    )
    (
        sales_365,
        sales_90,
        invoice_count,
        credit_note_count,
        invoiced,
        credited,
    ) = (
        int(value)
        for value in _one(
            connection,
            """
            SELECT
                coalesce(sum(sales) FILTER (WHERE document_date > $d365), 0),
                coalesce(sum(sales) FILTER (WHERE document_date > $d90), 0),
                count(*) FILTER (WHERE document_date > $d365 AND kind = 'invoice'),
                count(*) FILTER (WHERE document_date > $d365 AND kind = 'credit_note'),
                coalesce(sum(amount) FILTER (
                    WHERE document_date > $d365 AND kind = 'invoice'), 0),
                coalesce(sum(amount) FILTER (
                    WHERE document_date > $d365 AND kind = 'credit_note'), 0)
            FROM fec_documents WHERE document_date <= $d
            """,
            window,
        )
    )
    paid_count, paid_days, paid_amount, paid_amount_days = (
        int(value)
        for value in _one(
            connection,
            """
            SELECT count(*), coalesce(sum(days), 0), coalesce(sum(amount), 0),
                   coalesce(sum(amount * days), 0)
            FROM (SELECT amount, date_diff('day', document_date, settled_on) AS days
                  FROM fec_invoices WHERE settled_on > $d365 AND settled_on <= $d)
            """,
            window,
        )
    )
    aged_row = _one(
        connection,
        """
        SELECT coalesce(sum(amount) FILTER (WHERE age <= 30), 0),
               coalesce(sum(amount) FILTER (WHERE age BETWEEN 31 AND 60), 0),
               coalesce(sum(amount) FILTER (WHERE age BETWEEN 61 AND 90), 0),
               coalesce(sum(amount) FILTER (WHERE age > 90), 0)
        FROM (SELECT amount, date_diff('day', document_date, $d) AS age FROM fec_invoices
              WHERE document_date <= $d AND (settled_on IS NULL OR settled_on > $d))
        """,
        {"d": d},
    )
    fae, pca = (
        int(value)
        for value in _one(
            connection,
            """
            SELECT coalesce(sum(debit - credit) FILTER (WHERE compte_num LIKE '4181%'), 0),
                   coalesce(sum(credit - debit) FILTER (WHERE compte_num LIKE '487%'), 0)
            FROM lines WHERE ecriture_date <= $d
            """,
            {"d": d},
        )
    )
    settlements = int(
        _one(
            connection,
            """
            SELECT count(*) FROM (
                SELECT p.journal_code, p.ecriture_num FROM fec_pieces AS p
                JOIN fec_receivable AS r USING (journal_code, ecriture_num)
                WHERE p.kind = 'settlement'
                GROUP BY ALL HAVING max(r.ecriture_date) > $d365 AND max(r.ecriture_date) <= $d
            )
            """,
            window,
        )[0]
    )
    return FecFigures(
        as_of=d,
        receivables_ttc=cents_to_decimal(receivables),
        sales_ttc_365d=cents_to_decimal(sales_365),
        sales_ttc_90d=cents_to_decimal(sales_90),
        dso_simple_90d=_dso(receivables, sales_90, 90),
        dso_simple_365d=_dso(receivables, sales_365, 365),
        dso_countback=_countback(receivables, _monthly_sales(connection, d), d),
        invoice_count=invoice_count,
        credit_note_count=credit_note_count,
        credit_note_rate=_ratio(credit_note_count, invoice_count, RATE),
        credit_note_rate_amount=_ratio(credited, invoiced, RATE),
        average_days_to_pay=_ratio(paid_days, paid_count, DAYS),
        average_days_to_pay_weighted=_ratio(paid_amount_days, paid_amount, DAYS),
        open_invoices_aged={
            key: cents_to_decimal(int(value))
            for key, value in zip(AGED_KEYS, aged_row, strict=True)
        },
        fae=cents_to_decimal(max(fae, 0)),
        pca=cents_to_decimal(max(pca, 0)),
        top_customers_receivables=_top_customers(connection, d, receivables),
        monthly=_monthly(connection, d),
        customer_concentration=_concentration(connection, window, receivables, sales_365),
        late_payers=_late_payers(connection, d),
        late_invoices=_late_invoices(connection, window, payment_terms_days),
        settlement_count=settlements,
    )


def _monthly_sales(connection: duckdb.DuckDBPyConnection, d: dt.date) -> dict[dt.date, int]:
    first = add_months(d.replace(day=1), -(COUNTBACK_MONTHS - 1))
    rows = _run(
        connection,
        """
        SELECT CAST(date_trunc('month', document_date) AS DATE), sum(sales)
        FROM fec_documents WHERE document_date >= $first AND document_date <= $d
        GROUP BY 1
        """,
        {"first": first, "d": d},
    ).fetchall()
    return {month: int(total) for month, total in rows}


def _countback(receivables: int, sales: dict[dt.date, int], d: dt.date) -> Decimal | None:
    """kpis.md's countback, as Levier's own `dso_countback`: from d's month (counted up to
    d), whole months while what is left of AR covers their sales, then the fraction of the
    next; at most 24 months. None when no month of the 24 had positive sales."""
    if not any(amount > 0 for amount in sales.values()):
        return None
    left = Decimal(receivables)
    days = Decimal(0)
    month = d.replace(day=1)
    for index in range(COUNTBACK_MONTHS):
        if left <= 0:
            break
        month_days = d.day if index == 0 else (add_months(month, 1) - month).days
        month_sales = Decimal(sales.get(month, 0))
        if left >= month_sales:
            left -= month_sales
            days += month_days
        else:
            days += left / month_sales * month_days
            break
        month = add_months(month, -1)
    return days.quantize(DAYS, rounding=ROUND_HALF_UP)


def _top_customers(
    connection: duckdb.DuckDBPyConnection, d: dt.date, receivables: int
) -> tuple[CustomerBalance, ...]:
    rows = _run(
        connection,
        f"""
        SELECT b.customer, coalesce(c.name, ''), b.balance
        FROM (SELECT customer, sum(amount) AS balance FROM fec_receivable
              WHERE ecriture_date <= $d GROUP BY customer HAVING sum(amount) > 0) AS b
        LEFT JOIN fec_customers AS c USING (customer)
        ORDER BY b.balance DESC, b.customer LIMIT {TOP_CUSTOMERS}
        """,
        {"d": d},
    ).fetchall()
    return tuple(
        CustomerBalance(
            customer=customer,
            name=name,
            balance=cents_to_decimal(int(balance)),
            share=_share(int(balance), receivables),
        )
        for customer, name, balance in rows
    )


def _monthly(connection: duckdb.DuckDBPyConnection, d: dt.date) -> tuple[MonthFigures, ...]:
    """The 12 calendar months up to d's (cut at d): one query over daily totals."""
    starts = [add_months(d.replace(day=1), -offset) for offset in range(11, -1, -1)]
    ends = [min(add_months(start, 1) - dt.timedelta(days=1), d) for start in starts]
    months = ", ".join(
        f"(DATE '{start}', DATE '{end}')" for start, end in zip(starts, ends, strict=True)
    )
    rows = _run(
        connection,
        f"""
        WITH months(month_start, month_end) AS (VALUES {months}),
        ar AS (SELECT ecriture_date AS day, sum(amount) AS amount FROM fec_receivable
               WHERE ecriture_date <= $d GROUP BY 1),
        sales AS (SELECT document_date AS day, sum(sales) AS amount FROM fec_documents
                  WHERE document_date <= $d GROUP BY 1),
        paid AS (SELECT settled_on AS day, count(*) AS n,
                        sum(date_diff('day', document_date, settled_on)) AS days
                 FROM fec_invoices WHERE settled_on <= $d GROUP BY 1)
        SELECT m.month_start,
               (SELECT coalesce(sum(amount), 0) FROM sales
                WHERE day BETWEEN m.month_start AND m.month_end),
               (SELECT coalesce(sum(amount), 0) FROM ar WHERE day <= m.month_end),
               (SELECT coalesce(sum(amount), 0) FROM sales
                WHERE day > m.month_end - INTERVAL 90 DAY AND day <= m.month_end),
               (SELECT coalesce(sum(n), 0) FROM paid
                WHERE day BETWEEN m.month_start AND m.month_end),
               (SELECT coalesce(sum(days), 0) FROM paid
                WHERE day BETWEEN m.month_start AND m.month_end)
        FROM months AS m ORDER BY m.month_start
        """,
        {"d": d},
    ).fetchall()
    # A month's DSO needs the 90 days before its end inside the file: a file that starts in
    # January has no sales for October–December, and a DSO of thousands of days there would
    # be an artefact of the file, not a fact of the company.
    first = connection.execute("SELECT min(ecriture_date) FROM lines").fetchone()
    covered_from = first[0] if first and first[0] else d
    return tuple(
        MonthFigures(
            month=start,
            sales_ttc=cents_to_decimal(int(sales)),
            receivables_ttc=cents_to_decimal(int(ar)),
            dso_simple_90d=(
                _dso(int(ar), int(sales_90), 90)
                if end - dt.timedelta(days=89) >= covered_from
                else None
            ),
            average_days_to_pay=_ratio(int(days), int(count), DAYS),
        )
        for (start, sales, ar, sales_90, count, days), end in zip(rows, ends, strict=True)
    )


def _concentration(
    connection: duckdb.DuckDBPyConnection,
    window: dict[str, dt.date],
    receivables: int,
    sales_365: int,
) -> Concentration:
    tops = """
        count(*), coalesce(sum(amount) FILTER (WHERE rank <= 1), 0),
        coalesce(sum(amount) FILTER (WHERE rank <= 5), 0),
        coalesce(sum(amount) FILTER (WHERE rank <= 10), 0)
    """
    balances = _one(
        connection,
        f"""
        SELECT {tops} FROM (
            SELECT balance AS amount, row_number() OVER (ORDER BY balance DESC) AS rank
            FROM (SELECT customer, sum(amount) AS balance FROM fec_receivable
                  WHERE ecriture_date <= $d GROUP BY customer) WHERE balance > 0)
        """,
        {"d": window["d"]},
    )
    sales = _one(
        connection,
        f"""
        SELECT {tops} FROM (
            SELECT sales AS amount, row_number() OVER (ORDER BY sales DESC) AS rank
            FROM (SELECT customer,
                         sum(CASE WHEN kind = 'invoice' THEN amount ELSE -amount END) AS sales
                  FROM fec_items WHERE document_date > $d365 AND document_date <= $d
                  GROUP BY customer) WHERE sales > 0)
        """,
        window,
    )
    keys = ("top_1", "top_5", "top_10")
    return Concentration(
        customers_with_balance=int(balances[0]),
        receivables_share={
            key: _share(int(value), receivables)
            for key, value in zip(keys, balances[1:], strict=True)
        },
        customers_with_sales_365d=int(sales[0]),
        sales_365d_share={
            key: _share(int(value), sales_365) for key, value in zip(keys, sales[1:], strict=True)
        },
    )


def _late_payers(connection: duckdb.DuckDBPyConnection, d: dt.date) -> tuple[LatePayer, ...]:
    rows = _run(
        connection,
        f"""
        SELECT i.customer, coalesce(c.name, ''), sum(i.amount), min(i.document_date), count(*)
        FROM fec_invoices AS i LEFT JOIN fec_customers AS c USING (customer)
        WHERE i.document_date <= $d AND (i.settled_on IS NULL OR i.settled_on > $d)
          AND date_diff('day', i.document_date, $d) > {LATE_PAYER_DAYS}
        GROUP BY i.customer, c.name
        ORDER BY sum(i.amount) DESC, i.customer LIMIT {TOP_CUSTOMERS}
        """,
        {"d": d},
    ).fetchall()
    return tuple(
        LatePayer(
            customer=customer,
            name=name,
            amount=cents_to_decimal(int(amount)),
            oldest_invoice=oldest,
            count=int(count),
        )
        for customer, name, amount, oldest, count in rows
    )


def _late_invoices(
    connection: duckdb.DuckDBPyConnection, window: dict[str, dt.date], terms: int
) -> LateInvoices:
    count, amount, amount_days = _one(
        connection,
        """
        SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(amount * late), 0)
        FROM (
            SELECT amount,
                   date_diff('day', document_date,
                             CASE WHEN settled_on <= $d THEN settled_on ELSE $d END)
                   - $terms AS late
            FROM fec_invoices WHERE document_date > $d365 AND document_date <= $d
        ) WHERE late > 0
        """,
        {**window, "terms": terms},
    )
    return LateInvoices(
        payment_terms_days=terms,
        count=int(count),
        amount_ttc=cents_to_decimal(int(amount)),
        amount_days=cents_to_decimal(int(amount_days)),
    )
