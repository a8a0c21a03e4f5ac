"""Cut-off at any date: FAE (accrued revenue, 4181) and PCA (deferred revenue, 487).

At a closing date the books must hold the revenue *earned* in the period, whatever was
invoiced: what was delivered but not yet invoiced is added (FAE, *factures à établir*), what
was invoiced in advance for service after the date is taken out (PCA, *produits constatés
d'avance*). This module computes both, per contract and in total, and the closing entries,
from the contracts and the issued invoices alone (`docs/kpis.md`, item 4). Nothing is
written: the figures are recomputed for any date.

Rules (d is the closing date, amounts HT unless said otherwise):

- **Invoiced at d**: an item (a billing key, `levier.contracts.schedule`) is invoiced at d
  when an invoice line carries its key on an invoice with status issued and an issue date on
  or before d. A draft is not an invoice; neither is an invoice issued after d, even for a
  service delivered before: that is precisely a FAE.
- **FAE at d**, per contract, at the price in force on the line (`unit_price`, discount
  included; a price revision not yet applied is not anticipated):

  - a one-off line earned on its billable date (on order: the later of signature and line
    start; on delivery: the delivery date) on or before d and not invoiced at d;
  - a milestone reached on or before d and not invoiced at d;
  - a recurring line: for each of its periods (`levier.lib.periods.periods`, calendar-aligned
    as the billing run cuts them, partial first and last periods prorated the same way) that
    started on or before d and whose key is not invoiced at d, the elapsed part: period
    amount × days from the period start to min(d, period end), both included ÷ days of the
    period. Days already covered by the service period of an issued invoice line of the same
    contract line (an invoice typed by hand for 01/10–30/09, a period cut short by an
    amendment) are not earned twice: they are left out of the elapsed days;
  - time and materials: each month with a non-zero entry, starting on or before d and not
    invoiced at d: quantity × unit price;
  - its VAT: per contract and VAT rate, the rate applied to the HT sum, rounded to the cent.
- **PCA at d**: over the lines of issued documents dated on or before d that carry a service
  period ending after d, net amount × days of the period after d ÷ days of the period
  (pro rata temporis by days, rounded half up to the cent once per line). Credit notes
  subtract in the same way. A credit note made by copying lines
  (`levier.billing.services.create_credit_note`) carries no period of its own, so one of its
  lines takes the period of the credited invoice's line with the same description when
  there is exactly one, and otherwise takes back the credited invoice's deferred share
  (line amount × the invoice's PCA at d ÷ its net total): a credit note then never leaves
  deferred revenue on revenue it cancelled.
- A document belongs to its contract (`Invoice.contract`), a credit note to its own or else
  to its credited invoice's; documents without a contract form one "no contract" row.
- Per contract also **invoiced** (issued invoices minus issued credit notes dated on or
  before d, HT) and **earned** = invoiced − PCA + FAE.
- Nothing is negative: a contract's FAE, PCA and earned are floored at zero (only
  inconsistent data, such as a credit note with a period longer than its invoice's, could
  push them below).
- **Entries** at d: FAE → D 4181 (TTC) / C 706 (HT) / C 44587 (VAT); PCA → D 706 / C 487
  (HT, no VAT effect). Both are reversed on the next day, which their labels say.

"Issued by d" is read on the lines themselves: each carries its document's issue date once
issued (`InvoiceLine.issued_on`, stamped by the database), so no query joins the lines to
every invoice to learn it.

Queries: a constant number whatever the number of contracts (contracts, lines, milestones,
time entries, invoiced keys grouped per contract line, the documents' totals and the lines
with a period are each loaded in one query); the arithmetic runs in Python.
"""

from __future__ import annotations

import datetime as dt
import functools
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import InvoiceLine
from levier.catalog.choices import InvoicingMode
from levier.contracts.models import Contract, ContractLine, Milestone, TimeEntry
from levier.contracts.schedule import _line_end, _line_start, _prorated_price
from levier.lib.money import HUNDRED, ZERO, line_net, quantize
from levier.lib.periods import ONE_DAY, Frequency, periods

ACCOUNT_FAE = "4181"
ACCOUNT_REVENUE = "706"
ACCOUNT_VAT = "44587"
ACCOUNT_PCA = "487"

Interval = tuple[dt.date, dt.date]


@dataclass(frozen=True)
class ContractCutoff:
    """One contract's figures at the date (contract_id None: documents without a contract)."""

    contract_id: int | None
    contract_number: str
    customer_name: str
    invoiced: Decimal
    earned: Decimal
    fae: Decimal
    fae_vat: Decimal
    pca: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "contract_number": self.contract_number,
            "customer_name": self.customer_name,
            "invoiced": _amount(self.invoiced),
            "earned": _amount(self.earned),
            "fae": _amount(self.fae),
            "fae_vat": _amount(self.fae_vat),
            "pca": _amount(self.pca),
        }


@dataclass(frozen=True)
class JournalLine:
    account: str
    label: str
    debit: Decimal
    credit: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "label": self.label,
            "debit": _amount(self.debit),
            "credit": _amount(self.credit),
        }


@dataclass(frozen=True)
class Cutoff:
    as_of: dt.date
    contracts: tuple[ContractCutoff, ...]
    fae: Decimal
    fae_vat: Decimal
    pca: Decimal
    entries: tuple[JournalLine, ...]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON, amounts as strings with two decimals (no float ever sees money)."""
        return {
            "as_of": self.as_of.isoformat(),
            "fae": _amount(self.fae),
            "fae_vat": _amount(self.fae_vat),
            "pca": _amount(self.pca),
            "contracts": [c.as_json() for c in self.contracts],
            "entries": [e.as_json() for e in self.entries],
        }


def _amount(value: Decimal) -> str:
    # `+ ZERO` turns a -0.00 into 0.00: a zero amount prints without a sign.
    return f"{quantize(value) + ZERO:.2f}"


def _part(amount: Decimal, days: int, of_days: int) -> Decimal:
    """`amount` × days ÷ of_days, rounded once to the cent (the pro rata by days)."""
    if days >= of_days:
        return amount
    if days <= 0:
        return ZERO
    return quantize(amount * Decimal(days) / Decimal(of_days))


@dataclass
class _Figures:
    """What one contract accumulates while the rows are read."""

    invoiced: Decimal = ZERO
    pca: Decimal = ZERO
    fae_by_rate: dict[Decimal, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    def add_fae(self, amount: Decimal, rate: Decimal) -> None:
        if amount:
            self.fae_by_rate[rate.normalize()] += amount


# ---------------------------------------------------------------------------------------
# PCA and invoiced, from the issued documents


def _deferred(net: Decimal, start: dt.date, end: dt.date, as_of: dt.date) -> Decimal:
    """The part of a line paying for its service period after `as_of`."""
    if end <= as_of:
        return ZERO
    after = (end - max(as_of, start - ONE_DAY)).days
    return _part(net, after, (end - start).days + 1)


# The contract an invoice line counts under: the one its billed item belongs to, else its
# document's, else (credit notes) the credited invoice's.
LINE_CONTRACT = Coalesce(
    "contract_line__contract_id", "invoice__contract_id", "invoice__credited_invoice__contract_id"
)


def _invoiced(
    as_of: dt.date, figures: Mapping[int | None, _Figures], *, without_contract: bool = True
) -> None:
    """Issued invoices minus issued credit notes, HT, per contract.

    Counted by line, each under the contract its line bills (`LINE_CONTRACT`): an invoice
    grouping several contracts of one customer splits between them. With the lines of no
    contract, which are nearly all the lines, one query groups every issued line. Without
    them, the same rule is read as its three ways, each through the contracts' own links
    (the lines billing a contract line; the other lines of a contract's documents; those of
    credit notes of no contract crediting a contract's invoice): 0.35 s instead of 1.0 s at
    1,000,000 invoices (bench/kpis.py, the FAE and PCA drill-downs).
    """
    lines = InvoiceLine.objects.filter(issued_on__lte=as_of).order_by()
    if without_contract:
        ways = [lines.annotate(cid=LINE_CONTRACT)]
    else:
        no_line = Q(contract_line__isnull=True)
        ways = [
            lines.filter(contract_line__isnull=False).annotate(cid=F("contract_line__contract_id")),
            lines.filter(no_line, invoice__contract__isnull=False).annotate(
                cid=F("invoice__contract_id")
            ),
            lines.filter(
                no_line,
                invoice__contract__isnull=True,
                invoice__credited_invoice__contract__isnull=False,
            ).annotate(cid=F("invoice__credited_invoice__contract_id")),
        ]
    for way in ways:
        rows = way.values("cid", "invoice__kind").annotate(total=Sum("net_amount"))
        for cid, kind, total in rows.values_list("cid", "invoice__kind", "total"):
            sign = -1 if kind == DocumentKind.CREDIT_NOTE else 1
            figures[cid].invoiced += sign * (total or ZERO)


# `_deferred` summed by PostgreSQL: each line rounded to the cent half away from zero, as
# `quantize` does, from a quotient carried to 20 decimals (a line's pro rata is a fraction
# of at most 366ths of a cent: never within 1e-5 of a tie unless exactly on it).
_DEFERRED_SQL = """
SELECT cid, kind, SUM(CASE
    WHEN period_start > %s THEN net
    ELSE ROUND(CAST(net * (period_end - %s) AS numeric(40, 20)) / (period_end - period_start + 1), 2)
END)
FROM ({lines}) AS lines (cid, kind, net, period_start, period_end)
GROUP BY cid, kind
"""


def _deferred_sums(lines: QuerySet[Any], as_of: dt.date) -> list[tuple[int | None, str, Decimal]]:
    """`_deferred` of each line (`cid`, `kind`, `net`, `period_start`, `period_end`, periods
    ending after d), summed per contract and kind of document. PostgreSQL sums them itself:
    thousands of lines carry a period beyond d, and bringing each over to be prorated in
    Python was a fifth of the cut-off (bench/kpis.py). SQLite computes decimals as binary
    floats: there, Python prorates."""
    if connection.vendor != "postgresql":
        sums: defaultdict[tuple[int | None, str], Decimal] = defaultdict(lambda: ZERO)
        for cid, kind, net, start, end in lines:
            sums[cid, kind] += _deferred(net, start, end, as_of)
        return [(cid, kind, total) for (cid, kind), total in sums.items()]
    sql, params = lines.query.sql_with_params()
    return _summed_by_postgresql(sql, params, as_of)


def _summed_by_postgresql(
    sql: str, params: Sequence[Any], as_of: dt.date
) -> list[tuple[int | None, str, Decimal]]:
    with connection.cursor() as cursor:
        cursor.execute(_DEFERRED_SQL.format(lines=sql), [as_of, as_of, *params])
        return [(cid, kind, Decimal(total)) for cid, kind, total in cursor.fetchall()]


def _pca(as_of: dt.date, figures: Mapping[int | None, _Figures]) -> None:
    """Deferred revenue per contract: lines with a period, then credit notes without one.
    Issued by d: by the date stamped on the lines (`InvoiceLine.issued_on`), so that only the
    lines issued by d are joined to their documents, not every line with a period after d
    (bench/kpis.py: 0.19 → 0.07 s a year back at 1,000,000 invoices)."""
    issued = Q(issued_on__lte=as_of)
    contract_of = LINE_CONTRACT
    with_period = (
        InvoiceLine.objects.filter(issued, period_start__isnull=False, period_end__gt=as_of)
        .order_by()
        .annotate(cid=contract_of)
        .values_list("cid", "invoice__kind", "net_amount", "period_start", "period_end")
    )
    for cid, kind, deferred in _deferred_sums(with_period, as_of):
        sign = -1 if kind == DocumentKind.CREDIT_NOTE else 1
        figures[cid].pca += sign * deferred

    # Credit-note lines without a period, on invoices still carrying deferred revenue at d.
    credited_has_pca = InvoiceLine.objects.filter(
        invoice_id=OuterRef("invoice__credited_invoice_id"),
        period_start__isnull=False,
        period_end__gt=as_of,
    )
    # The credit notes' status and date are those stamped on the lines, asked again of the
    # credit notes so that their partial index (`credit_notes_by_invoice`) answers: asked
    # only the kind, PostgreSQL walks every invoice (bench/kpis.py: 0.35 → 0.1 s).
    unperiodised = InvoiceLine.objects.filter(
        issued,
        Exists(credited_has_pca),
        invoice__kind=DocumentKind.CREDIT_NOTE,
        invoice__status=InvoiceStatus.ISSUED,
        invoice__issue_date__lte=as_of,
        period_start__isnull=True,
    ).annotate(cid=contract_of)
    credit_rows = list(
        unperiodised.order_by().values_list(
            "cid", "invoice__credited_invoice_id", "description", "net_amount"
        )
    )
    if not credit_rows:
        return
    credited: dict[int, list[tuple[str, Decimal, dt.date | None, dt.date | None]]] = defaultdict(
        list
    )
    # The invoices credited, by their ids: the rows above already hold them.
    credited_ids = sorted({row[1] for row in credit_rows if row[1] is not None})
    for invoice_id, description, net, start, end in InvoiceLine.objects.filter(
        issued, invoice_id__in=credited_ids
    ).values_list("invoice_id", "description", "net_amount", "period_start", "period_end"):
        credited[invoice_id].append((description, net, start, end))
    for cid, credited_id, description, net in credit_rows:
        lines = credited.get(credited_id, []) if credited_id is not None else []
        figures[cid].pca -= _credited_deferred(lines, description, net, as_of)


def _credited_deferred(
    invoice_lines: Sequence[tuple[str, Decimal, dt.date | None, dt.date | None]],
    description: str,
    net: Decimal,
    as_of: dt.date,
) -> Decimal:
    """What a credit-note line without a period takes back from its invoice's PCA."""
    same = [line for line in invoice_lines if line[0] == description]
    if len(same) == 1:
        start, end = same[0][2], same[0][3]
        return ZERO if start is None or end is None else _deferred(net, start, end, as_of)
    total = sum((line[1] for line in invoice_lines), ZERO)
    if total <= 0:
        return ZERO
    deferred = sum(
        (
            _deferred(amount, start, end, as_of)
            for _description, amount, start, end in invoice_lines
            if start is not None and end is not None
        ),
        ZERO,
    )
    return quantize(net * deferred / total)


# ---------------------------------------------------------------------------------------
# FAE, from the contracts


# What a recurring period's billing key holds between its line and its first day
# (`levier.contracts.schedule`: "L<line>:P:<period start>").
_PERIOD = ":P:"


@dataclass
class _Invoiced:
    """What is invoiced at d: the billing keys, the recurring periods' apart (`period_starts`:
    per contract line, the first days, ISO, of its periods invoiced), and the service periods
    covered per contract line, read for the lines that need them (`read_covered`)."""

    as_of: dt.date
    keys: set[str] = field(default_factory=set)
    period_starts: dict[int, set[str]] = field(default_factory=dict)
    covered: dict[int, list[Interval]] = field(default_factory=dict)

    def add_line_keys(self, line_id: int, keys: str) -> None:
        """The keys on the lines billing one contract line, joined by `_RECORD`. When they
        are all that line's periods, as a recurring line's are, one split makes its set of
        first days; otherwise key by key."""
        prefix = f"L{line_id}{_PERIOD}"
        if keys.startswith(prefix) and keys.count(_RECORD + prefix) == keys.count(_RECORD):
            starts = keys[len(prefix) :].split(_RECORD + prefix)
            self.period_starts.setdefault(line_id, set()).update(starts)
        else:
            for key in keys.split(_RECORD):
                self.add_key(key)

    def add_key(self, key: str) -> None:
        """A billing key; a recurring period's goes to its line's `period_starts`."""
        line, sep, start = key.partition(_PERIOD)
        line_id = int(line[1:]) if line[1:].isdigit() else None
        if sep and line_id is not None and line == f"L{line_id}":  # not "L05"
            self.period_starts.setdefault(line_id, set()).add(start)
        else:
            self.keys.add(key)

    def covered_by(self, line_id: int) -> list[Interval]:
        """The service periods invoiced for a contract line, merged (`read_covered` first)."""
        return self.covered.get(line_id, [])

    def read_covered(self, first_unbilled: Mapping[int, str]) -> None:
        """The service periods of the keyed lines issued by d for these contract lines (one
        query), those ending on or after each line's first unbilled period start (ISO): no
        other can cover a day of an unbilled period. Hundreds of lines have one (billed in
        arrears, the current period), each with years of periods billed: bringing them all
        over cost more than the rest of the FAE (bench/kpis.py)."""
        by_start: dict[str, list[int]] = defaultdict(list)
        for line_id, iso in first_unbilled.items():
            if line_id not in self.covered:
                by_start[iso].append(line_id)
        found: dict[int, list[Interval]] = defaultdict(list)
        for overlapping in _batches(by_start):
            rows = _keyed_lines(self.as_of).filter(overlapping, period_start__isnull=False)
            for line_id, start, end in rows.values_list(
                "contract_line_id", "period_start", "period_end"
            ):
                assert line_id is not None and start is not None and end is not None  # filtered
                found[line_id].append((start, end))
        for line_ids in by_start.values():
            for line_id in line_ids:
                self.covered[line_id] = _merged(found.get(line_id, ()))


# Contract lines per query reading their covered periods: a statement holds at most 32,766
# parameters on SQLite, 65,535 on PostgreSQL.
_BATCH = 5000


def _batches(lines_by_start: Mapping[str, Sequence[int]]) -> Iterator[Q]:
    """ "Line in these, period ending on or after that start" conditions, OR-ed, at most
    `_BATCH` lines per condition: one query for a company of a few thousand contracts."""
    condition, size = Q(), 0
    for iso, line_ids in lines_by_start.items():
        for first in range(0, len(line_ids), _BATCH):
            chunk = line_ids[first : first + _BATCH]
            if size + len(chunk) > _BATCH:
                yield condition
                condition, size = Q(), 0
            condition |= Q(contract_line_id__in=chunk, period_end__gte=iso)
            size += len(chunk)
    if size:
        yield condition


class _GroupConcat(Aggregate):
    """A group's strings joined by a separator: STRING_AGG on PostgreSQL, GROUP_CONCAT on
    SQLite (Django 5.2 has no portable one)."""

    function = "STRING_AGG"
    output_field = TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function="GROUP_CONCAT", **extra)


# A separator that cannot occur in a billing key (ASCII record separator).
_RECORD = "\x1e"


def _keyed_lines(as_of: dt.date) -> QuerySet[InvoiceLine]:
    """The lines billing a contract item on a document issued by d (a draft is not an
    invoice, neither is one issued after d). Read on the lines alone, by the issue date
    stamped on them (`InvoiceLine.issued_on`) and the `billed_contract_items` index: no
    join to the invoices. A key is on one line at most (`bill_each_contract_item_once`),
    and a credit note carries none."""
    return (
        InvoiceLine.objects.filter(contract_line_id__isnull=False, issued_on__lte=as_of)
        .exclude(billing_key="")
        .order_by()
    )


def _invoiced_items(as_of: dt.date) -> _Invoiced:
    """The keys invoiced at d, one row per contract line: a recurring line carries one key
    per period billed (77,000 at 3,000 contracts), and rows cost more to bring over than the
    strings they hold (bench/kpis.py: 1 s → 0.2 s). A recurring line's keys are all
    "L<line>:P:<start>": they become the set of its periods' first days in one split, that
    its schedule is compared with (`_unbilled_periods`), see `_Invoiced.add_line_keys`."""
    invoiced = _Invoiced(as_of)
    rows = (
        _keyed_lines(as_of)
        .values("contract_line_id")
        .annotate(keys=_GroupConcat("billing_key", Value(_RECORD)))
        .values_list("contract_line_id", "keys")
    )
    for line_id, keys in rows:
        invoiced.add_line_keys(line_id, keys)
    return invoiced


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + ONE_DAY:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _uncovered_days(start: dt.date, end: dt.date, covered: Sequence[Interval]) -> int:
    """Days of [start, end] outside the (merged) covered intervals."""
    days = (end - start).days + 1
    for c_start, c_end in covered:
        overlap = (min(end, c_end) - max(start, c_start)).days + 1
        if overlap > 0:
            days -= overlap
    return days


@functools.lru_cache(maxsize=64)
def _boundaries(months: int, first_year: int, last_year: int) -> tuple[str, ...]:
    """The first days ("YYYY-MM-01") of the months from January of `first_year` to December
    of `last_year` that start a period of `months` months, calendar-aligned from January
    (`months` divides 12). Built once per frequency and span of years: every line of the
    cut-off slices them."""
    return tuple(
        f"{index // 12:04d}-{index % 12 + 1:02d}-01"
        for index in range(first_year * 12, (last_year + 1) * 12, months)
    )


def _period_start_isos(
    start: dt.date, end: dt.date | None, frequency: Frequency, as_of: dt.date
) -> list[str]:
    """The first days of the periods `periods(start, end, frequency, 1, anchor_month=1)`
    yields, up to `as_of`, as ISO strings (what billing keys hold): `start`, then every first
    day of a month that is a multiple of the frequency from January, sliced out of
    `_boundaries`. Strings, not periods nor dates, and no loop per period: a line billed for
    years has most of its periods invoiced, and walking them one by one was most of the
    cut-off's Python (bench/kpis.py)."""
    last_day = as_of if end is None else min(as_of, end)
    first, last = start.isoformat(), last_day.isoformat()
    if first > last:
        return []
    boundaries = _boundaries(frequency.months, start.year, last_day.year)
    return [first, *boundaries[bisect_right(boundaries, first) : bisect_right(boundaries, last)]]


def _unbilled_periods(line: _LineRow, as_of: dt.date, invoiced: _Invoiced) -> list[str]:
    """The first days (ISO) of a recurring line's periods started by d and not invoiced."""
    end = _line_end(line)
    if end is not None and end < _line_start(line):
        return []  # ended before it started (amended away on its first day)
    starts = _period_start_isos(_line_start(line), end, Frequency(line.frequency), as_of)
    billed = invoiced.period_starts.get(line.pk)
    if not billed:
        return starts
    return [iso for iso in starts if iso not in billed]


def _recurring_fae(
    line: _LineRow, as_of: dt.date, unbilled: Sequence[str], covered: Sequence[Interval]
) -> Decimal:
    """The elapsed part of each unbilled period, less the days invoiced by hand."""
    total = ZERO
    end = _line_end(line)
    frequency = Frequency(line.frequency)
    for iso in unbilled:
        # The schedule from this start on is the line's own from here (periods are
        # calendar-aligned): its first period is the one of the full schedule.
        period = next(periods(dt.date.fromisoformat(iso), end, frequency, 1, anchor_month=1))
        elapsed_end = min(as_of, period.end)
        days = _uncovered_days(period.start, elapsed_end, covered)
        amount = line_net(
            line.quantity, _prorated_price(line.unit_price, period), line.discount_percent
        )
        total += _part(amount, days, period.days)
    return total


def _once_fae(line: _LineRow, as_of: dt.date, invoiced: _Invoiced) -> Decimal:
    if f"L{line.pk}:once" in invoiced.keys:
        return ZERO
    if line.mode == InvoicingMode.ON_ORDER:
        earned_on: dt.date | None = max(line.contract.signed_on, _line_start(line))
    else:
        earned_on = line.delivered_on
    if earned_on is None or earned_on > as_of:
        return ZERO
    return line_net(line.quantity, line.unit_price, line.discount_percent)


def _contracts_in_scope(as_of: dt.date) -> Q:
    """Contracts that may have earned something by d: signed or started on or before it."""
    return Q(signed_on__lte=as_of) | Q(start_date__lte=as_of)


@dataclass(frozen=True, slots=True)
class _ContractRow:
    """What the cut-off reads of a contract: its dates (the lines' schedules) and what its
    row prints. Plain rows, not model instances: building 3,000 contracts and their 3,000
    lines as models cost a fifth of the cut-off (bench/kpis.py's database: 0.13 → 0.03 s)."""

    pk: int
    number: str
    start_date: dt.date
    end_date: dt.date | None
    signed_on: dt.date
    customer_name: str


@dataclass(frozen=True, slots=True)
class _LineRow:
    """What the FAE reads of a contract line (its schedule and price)."""

    pk: int
    contract: _ContractRow
    mode: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    vat_rate: Decimal
    frequency: str
    start_date: dt.date | None
    end_date: dt.date | None
    delivered_on: dt.date | None


# The `_LineRow` fields read from the database, in order (the description, unit and
# references are not loaded for thousands of lines).
_LINE_FIELDS = (
    "contract_id",
    "mode",
    "quantity",
    "unit_price",
    "discount_percent",
    "vat_rate",
    "frequency",
    "start_date",
    "end_date",
    "delivered_on",
)


def _fae(
    as_of: dt.date,
    contracts: Mapping[int, _ContractRow],
    figures: Mapping[int | None, _Figures],
) -> None:
    scope = Q(contract__signed_on__lte=as_of) | Q(contract__start_date__lte=as_of)
    lines = [
        _LineRow(pk, contracts[contract_id], *rest)
        for pk, contract_id, *rest in ContractLine.objects.filter(scope)
        .order_by("contract_id", "position", "id")
        .values_list("pk", *_LINE_FIELDS)
    ]
    line_scope = Q(line__contract__signed_on__lte=as_of) | Q(line__contract__start_date__lte=as_of)
    milestones: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for pk, line_id, amount in Milestone.objects.filter(
        line_scope, reached_on__lte=as_of
    ).values_list("pk", "line_id", "amount"):
        if amount is not None:  # a percentage is resolved to an amount when the line is saved
            milestones[line_id].append((pk, amount))
    entries: dict[int, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for line_id, month, quantity in (
        TimeEntry.objects.filter(line_scope, month__lte=as_of)
        .exclude(quantity=0)
        .values_list("line_id", "month", "quantity")
    ):
        entries[line_id].append((month, quantity))
    invoiced = _invoiced_items(as_of)
    unbilled = {
        line.pk: periods_left
        for line in lines
        if line.mode == InvoicingMode.RECURRING
        and (periods_left := _unbilled_periods(line, as_of, invoiced))
    }
    invoiced.read_covered({line_id: isos[0] for line_id, isos in unbilled.items()})
    for line in lines:
        target = figures[line.contract.pk]
        if line.mode == InvoicingMode.RECURRING:
            amount = (
                _recurring_fae(line, as_of, unbilled[line.pk], invoiced.covered_by(line.pk))
                if line.pk in unbilled
                else ZERO
            )
        elif line.mode == InvoicingMode.TIME_AND_MATERIALS:
            amount = sum(
                (
                    line_net(quantity, line.unit_price, line.discount_percent)
                    for month, quantity in entries[line.pk]
                    if f"L{line.pk}:T:{month:%Y-%m}" not in invoiced.keys
                ),
                ZERO,
            )
        elif line.mode == InvoicingMode.MILESTONES:
            amount = sum(
                (a for pk, a in milestones[line.pk] if f"M{pk}" not in invoiced.keys), ZERO
            )
        else:
            amount = _once_fae(line, as_of, invoiced)
        target.add_fae(amount, line.vat_rate)


# ---------------------------------------------------------------------------------------
# Assembly


def _load_contracts(as_of: dt.date, also: Iterable[int | None]) -> dict[int, _ContractRow]:
    """The contracts in scope, each with its customer's name (`customer_name`)."""
    rows = Contract.objects.order_by().values_list(
        "pk", "number", "start_date", "end_date", "signed_on", "customer__name"
    )
    loaded = {row[0]: _ContractRow(*row) for row in rows.filter(_contracts_in_scope(as_of))}
    missing = {pk for pk in also if pk is not None} - set(loaded)
    if missing:  # invoiced before its signature date: rare, one more query
        loaded.update((row[0], _ContractRow(*row)) for row in rows.filter(pk__in=missing))
    return loaded


def _row(contract: _ContractRow | None, figures: _Figures) -> ContractCutoff:
    fae = sum(figures.fae_by_rate.values(), ZERO)
    vat = sum((quantize(base * rate / HUNDRED) for rate, base in figures.fae_by_rate.items()), ZERO)
    if fae <= 0:
        fae = vat = ZERO
    pca = max(ZERO, figures.pca)
    return ContractCutoff(
        contract_id=contract.pk if contract else None,
        contract_number=contract.number if contract else "",
        customer_name=contract.customer_name if contract else "",
        invoiced=figures.invoiced,
        earned=max(ZERO, figures.invoiced - pca + fae),
        fae=fae,
        fae_vat=max(ZERO, vat),
        pca=pca,
    )


def closing_entries(
    as_of: dt.date, fae: Decimal, fae_vat: Decimal, pca: Decimal
) -> list[JournalLine]:
    """The FAE and PCA entries at `as_of`, each labelled with its reversal the next day."""
    day, reversal = f"{as_of:%d/%m/%Y}", f"{as_of + ONE_DAY:%d/%m/%Y}"
    entries: list[JournalLine] = []
    if fae > 0:
        label = _("Accrued revenue (FAE) at %(date)s, reversed on %(reversal)s") % {
            "date": day,
            "reversal": reversal,
        }
        entries.append(JournalLine(ACCOUNT_FAE, label, fae + fae_vat, ZERO))
        entries.append(JournalLine(ACCOUNT_REVENUE, label, ZERO, fae))
        if fae_vat > 0:
            entries.append(JournalLine(ACCOUNT_VAT, label, ZERO, fae_vat))
    if pca > 0:
        label = _("Deferred revenue (PCA) at %(date)s, reversed on %(reversal)s") % {
            "date": day,
            "reversal": reversal,
        }
        entries.append(JournalLine(ACCOUNT_REVENUE, label, pca, ZERO))
        entries.append(JournalLine(ACCOUNT_PCA, label, ZERO, pca))
    return entries


def compute_cutoff(
    as_of: dt.date, *, with_invoiced: bool = True, invoiced_without_contract: bool = True
) -> Cutoff:
    """FAE, PCA, invoiced and earned per contract at `as_of`, with the closing entries.

    `with_invoiced=False` leaves out what was invoiced per contract (and so `earned`, which
    then reads as FAE − PCA floored at zero): the FAE and PCA do not depend on it, and it
    reads every issued line — what the KPIs need is the totals. `invoiced_without_contract
    =False` leaves it out of the "no contract" row only (its invoiced then reads 0): the
    lines of no contract are nearly all the lines, and a list of contracts does not show
    them."""
    figures: defaultdict[int | None, _Figures] = defaultdict(_Figures)
    if with_invoiced:
        _invoiced(as_of, figures, without_contract=invoiced_without_contract)
    _pca(as_of, figures)
    contracts = _load_contracts(as_of, list(figures))
    _fae(as_of, contracts, figures)
    rows = [_row(contracts[cid] if cid is not None else None, f) for cid, f in figures.items()]
    rows = [r for r in rows if r.invoiced or r.fae or r.pca]
    rows.sort(key=lambda r: (r.contract_id is None, r.contract_number))
    fae = sum((r.fae for r in rows), ZERO)
    fae_vat = sum((r.fae_vat for r in rows), ZERO)
    pca = sum((r.pca for r in rows), ZERO)
    return Cutoff(
        as_of=as_of,
        contracts=tuple(rows),
        fae=fae,
        fae_vat=fae_vat,
        pca=pca,
        entries=tuple(closing_entries(as_of, fae, fae_vat, pca)),
    )
