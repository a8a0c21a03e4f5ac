"""Auditing Levier's own FEC export finds Levier's own KPIs, on the demo data.

Issue "The ADV structuring audit": wherever kpis.md's "From a FEC file" rules and Levier's own
definitions coincide, the audit of the file Levier exports must give Levier's figures, to the
cent and to the tenth of a day. The demo company (the small scale of
`levier/demo/tests/test_load_demo.py`: 12 customers, 30 orders) is loaded once for the module
inside a transaction rolled back at the end, because the load alone takes tens of seconds;
every figure is then read from plain values, and each test states one fact.

Closing date d: the 15th of the month before the current one. The demo dates its history
relative to today, so d always has a year and a half of history behind it and weeks of
payments after it (which must not count). Mid-month rather than a month end because the
demo's services are billed monthly in advance: at a month end every paid-for period is over
and the PCA is zero, which would make its check vacuous.

The files (`export_fec` with the opening balances, the AN journal):

- **yearly**: the fiscal year ending on d, [add_months(d + 1, -12), d]. It holds the whole
  window (d − 365, d] of the 365-day figures. `customer_credit` is moved to 419100, so that
  the 411 balance is exactly Levier's AR(d): Levier shows unallocated customer credit apart
  (kpis.md, AR(d) "not netted"), while on the default 411000 it nets. The one relation that
  choice hides is checked on a third file with the default plan (`default_plan`).
- **two_years**: [add_months(d + 1, -24), d], same plan. kpis.md's countback may walk back 24
  months; and an invoice issued before a file's first day is in it only as an AN opening
  line (no revenue account), so it is not an "invoice" for the audit: the days to pay of
  the invoices settled in (d − 365, d] and the ageing of the invoices open at d need every
  such invoice's own sales piece. The demo's history is shorter than 24 months, so this file
  holds every invoice (asserted, so that a longer demo history fails loudly here rather than
  giving a false difference).

The Levier side is Levier's own code (`compute_kpis`, `compute_cutoff`, the activity
querysets, `open_items`), or, for the figures Levier does not define the FEC's way (days to
pay from the invoice date, ageing by invoice date), arithmetic in the test over the issued
documents read with the ORM.

Not in the demo, so not proved here: a payment received on or before d and allocated to an
invoice issued after d. The export credits it to the invoice's customer on 411 on the day it
was received (even with `customer_credit` on 419100), while AR(d) leaves it out (the invoice
was not issued at d) and so does the customer credit (the payment is allocated): the 411
balance at d would then be AR(d) less that advance.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone, translation

from levier.accounts.models import User
from levier.advaudit.fec.figures import FecFigures, compute_fec_figures
from levier.advaudit.fec.issues import QualityReport
from levier.advaudit.fec.reader import load_fec
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.aging import open_at, open_items
from levier.collections.choices import PaymentMethod
from levier.collections.models import Payment
from levier.collections.payments import record_payment
from levier.contracts.cutoff import Cutoff, compute_cutoff
from levier.customers.models import Customer
from levier.demo import loader
from levier.demo.company import Scale
from levier.integrations.fec import AccountPlan, FecExportResult, export_fec
from levier.integrations.fec.accounts import plan_from_mapping
from levier.kpis import activity
from levier.kpis.figures import KpiFigures
from levier.kpis.receivables import receivables
from levier.kpis.services import compute_kpis
from levier.lib.periods import add_months

# The scale of levier/demo/tests/test_load_demo.py's `small_demo` (load-demo's default seed).
SMALL_DEMO = Scale(customers=12, orders=30)
ZERO = Decimal("0.00")
TENTH = Decimal("0.1")
RATE = Decimal("0.0001")
ONE_DAY = dt.timedelta(days=1)
ROUNDTRIP_PLAN = {"customer_credit": "419100"}
AGE_BUCKETS = (("0_30", 0, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("over_90", 91, None))

# The tests read plain values only; the mark makes pytest-django create the test database
# that the module fixture fills (it sets up only the databases marked tests ask for).
pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Document:
    """An issued invoice or credit note, as the ORM reads it."""

    pk: int
    number: str
    kind: str
    customer_id: int
    issue_date: dt.date
    settled_on: dt.date | None
    total_ttc: Decimal
    total_ht: Decimal


@dataclass(frozen=True)
class Audit:
    """One exported file and what the audit read in it (the DuckDB book is closed)."""

    date_from: dt.date
    export: FecExportResult
    figures: FecFigures
    quality: QualityReport
    plan: AccountPlan


@dataclass(frozen=True)
class Roundtrip:
    d: dt.date
    yearly: Audit
    two_years: Audit
    default_plan: Audit
    kpis_90: KpiFigures
    kpis_365: KpiFigures
    receivables: Decimal  # levier.kpis.receivables.receivables(d)
    cutoff: Cutoff
    invoices_issued_365: int  # levier.kpis.activity.invoices_issued(d, 365).count()
    credit_notes_issued_365: int
    documents: tuple[Document, ...]
    open_at_d: dict[int, Decimal]  # invoice id → open amount at d (collections.open_items)
    customer_names: dict[int, str]
    customer_credit_at_d: Decimal  # paid by known payers on or before d, allocated to nothing

    def invoices(self) -> Iterator[Document]:
        return (doc for doc in self.documents if doc.kind == DocumentKind.INVOICE)

    def credit_notes(self) -> Iterator[Document]:
        return (doc for doc in self.documents if doc.kind == DocumentKind.CREDIT_NOTE)


def closing_date(today: dt.date) -> dt.date:
    """The 15th of the month before today's."""
    return (today.replace(day=1) - ONE_DAY).replace(day=15)


def _audit(folder: Path, date_from: dt.date, d: dt.date, plan: AccountPlan) -> Audit:
    folder.mkdir()
    # A folder: the file gets its standard name <SIREN>FEC<d>.txt, as an auditor receives it.
    export = export_fec(date_from=date_from, date_to=d, out=folder, accounts=plan)
    assert export.path is not None
    with load_fec(export.path) as book:
        figures = compute_fec_figures(book, as_of=d)
        quality = book.quality
    return Audit(date_from, export, figures, quality, plan)


def _measure(folder: Path) -> Roundtrip:
    d = closing_date(timezone.localdate())
    plan = plan_from_mapping(ROUNDTRIP_PLAN, source="test_fec_roundtrip")
    yearly = _audit(folder / "yearly", add_months(d + ONE_DAY, -12), d, plan)
    two_years = _audit(folder / "two_years", add_months(d + ONE_DAY, -24), d, plan)
    default_plan = _audit(folder / "default_plan", yearly.date_from, d, AccountPlan())
    documents = tuple(
        Document(*row)
        for row in Invoice.objects.filter(status=InvoiceStatus.ISSUED)
        .order_by("issue_date", "number")
        .values_list(
            "pk",
            "number",
            "kind",
            "customer_id",
            "issue_date",
            "settled_on",
            "total_gross",
            "total_net",
        )
    )
    credit = sum(
        (
            amount - allocated
            for amount, allocated in Payment.objects.filter(
                customer__isnull=False, received_on__lte=d
            ).values_list("amount", "allocated")
        ),
        ZERO,
    )
    return Roundtrip(
        d=d,
        yearly=yearly,
        two_years=two_years,
        default_plan=default_plan,
        kpis_90=compute_kpis(d, 90),
        kpis_365=compute_kpis(d, 365),
        receivables=receivables(d),
        cutoff=compute_cutoff(d, with_invoiced=False),
        invoices_issued_365=activity.invoices_issued(d, 365).count(),
        credit_notes_issued_365=activity.credit_notes_issued(d, 365).count(),
        documents=documents,
        open_at_d={invoice.pk: open_at(invoice) for invoice in open_items(None, d)},
        customer_names=dict(Customer.objects.values_list("pk", "name")),
        customer_credit_at_d=credit,
    )


def _receive_unallocated_transfer(d: dt.date) -> None:
    """A transfer from a known customer, received before d and allocated to nothing: the
    demo's own overpayments are too rare at this scale to be sure of one at d, and without
    customer credit the default plan's relation would hold vacuously."""
    customer = Customer.objects.order_by("pk").first()
    assert customer is not None
    record_payment(
        actor=User.objects.get(username="compta"),
        customer=customer,
        method=PaymentMethod.TRANSFER,
        received_on=d - dt.timedelta(days=20),
        amount=Decimal("1250.00"),
        reference="ACOMPTE SANS FACTURE",
    )


@pytest.fixture(scope="module")
def roundtrip(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Roundtrip:
    """The demo loaded once, exported, audited and measured; then rolled back.

    The weekly KPI snapshots `load_demo` backfills are left out (they take half of the load
    and nothing here reads them). The archive and outbox go to a temporary folder, as the
    autouse fixture of levier/conftest.py does per test (it does not reach a module fixture).
    """
    folder = tmp_path_factory.mktemp("fec-roundtrip")
    with (
        django_db_blocker.unblock(),
        override_settings(
            DEMO_MODE=True, ARCHIVE_DIR=folder / "archive", LEVIER_OUTBOX_DIR=folder / "outbox"
        ),
        translation.override("fr"),
        pytest.MonkeyPatch.context() as patch,
        transaction.atomic(),
    ):
        patch.setattr(loader, "backfill_snapshots", lambda *args, **kwargs: 0)
        loader.load_demo(SMALL_DEMO)
        _receive_unallocated_transfer(closing_date(timezone.localdate()))
        measured = _measure(folder)
        transaction.set_rollback(True)
    return measured


def mean_days(pairs: Iterable[tuple[int, Decimal]]) -> tuple[Decimal | None, Decimal | None]:
    """(plain mean of the days, mean weighted by the amounts), to a tenth of a day."""
    rows = list(pairs)
    if not rows:
        return None, None
    plain = Decimal(sum(days for days, _amount in rows)) / len(rows)
    weight = sum((amount for _days, amount in rows), ZERO)
    weighted = sum((amount * days for days, amount in rows), ZERO) / weight
    return (
        plain.quantize(TENTH, rounding=ROUND_HALF_UP),
        weighted.quantize(TENTH, rounding=ROUND_HALF_UP),
    )


def days_to_pay(
    run: Roundtrip, issued_from: dt.date | None = None
) -> tuple[Decimal | None, Decimal | None]:
    """Mean (settled_on − issue_date) over Levier's invoices settled in (d − 365, d], and the
    same weighted by their total TTC; `issued_from`: only those issued on or after it."""
    after = run.d - dt.timedelta(days=365)
    return mean_days(
        ((doc.settled_on - doc.issue_date).days, doc.total_ttc)
        for doc in run.invoices()
        if doc.settled_on is not None
        and after < doc.settled_on <= run.d
        and (issued_from is None or doc.issue_date >= issued_from)
    )


def aged_by_issue_date(run: Roundtrip, issued_from: dt.date | None = None) -> dict[str, Decimal]:
    """Levier's invoices open at d (owing something: `open_items` with a positive open amount),
    their total TTC by days since their issue date.

    The total, not the open amount, because a FEC shows no partial allocation: kpis.md ages
    "the amounts of invoices ... not settled at d". An invoice credited after it was paid
    (a negative open amount: money owed back) is settled for the FEC (lettered), so it is
    left out here too."""
    buckets = dict.fromkeys((key for key, _low, _high in AGE_BUCKETS), ZERO)
    for doc in run.invoices():
        if run.open_at_d.get(doc.pk, ZERO) <= 0:
            continue
        if issued_from is not None and doc.issue_date < issued_from:
            continue
        age = (run.d - doc.issue_date).days
        key = next(
            k for k, low, high in AGE_BUCKETS if age >= low and (high is None or age <= high)
        )
        buckets[key] += doc.total_ttc
    return buckets


# --- receivables -------------------------------------------------------------------------------


def test_the_411_balance_at_d_is_levier_receivables_when_customer_credit_is_on_419(
    roundtrip: Roundtrip,
) -> None:
    """`receivables_ttc` = AR(d), as compute_kpis and kpis.receivables.receivables give it."""
    assert roundtrip.receivables == roundtrip.kpis_90.receivables_ttc
    assert roundtrip.yearly.figures.receivables_ttc == roundtrip.receivables
    assert roundtrip.two_years.figures.receivables_ttc == roundtrip.receivables
    assert roundtrip.receivables > 0


def test_with_customer_credit_left_on_411_the_balance_is_receivables_less_that_credit(
    roundtrip: Roundtrip,
) -> None:
    """The documented relation of the default plan: AR(d) − unallocated customer credit at d
    (payments from known payers received on or before d, less what is allocated)."""
    assert roundtrip.customer_credit_at_d > 0, "no customer credit at d: this proves nothing"
    assert (
        roundtrip.default_plan.figures.receivables_ttc
        == roundtrip.receivables - roundtrip.customer_credit_at_d
    )


def test_top_customers_are_levier_customers_with_their_open_amounts_at_d(
    roundtrip: Roundtrip,
) -> None:
    """The ten largest positive 411 balances per auxiliary account (C + the customer id on 6
    digits) = Levier's open amounts at d summed per customer (open_items), with their share
    of AR(d) to four decimals."""
    per_customer: dict[int, Decimal] = defaultdict(lambda: ZERO)
    by_id = {doc.pk: doc for doc in roundtrip.invoices()}
    for invoice_id, amount in roundtrip.open_at_d.items():
        per_customer[by_id[invoice_id].customer_id] += amount
    plan = roundtrip.yearly.plan
    expected = sorted(
        (
            (
                plan.customer_aux(customer),
                roundtrip.customer_names[customer],
                balance,
                (balance / roundtrip.receivables).quantize(RATE, rounding=ROUND_HALF_UP),
            )
            for customer, balance in per_customer.items()
            if balance > 0
        ),
        key=lambda row: (-row[2], row[0]),
    )[:10]
    found = [
        (row.customer, row.name, row.balance, row.share)
        for row in roundtrip.yearly.figures.top_customers_receivables
    ]
    assert found == expected
    assert len(found) >= 3


# --- sales and DSO -----------------------------------------------------------------------------


def test_sales_ttc_over_365_days_are_levier_sales_ttc_over_the_same_window(
    roundtrip: Roundtrip,
) -> None:
    assert roundtrip.yearly.figures.sales_ttc_365d == roundtrip.kpis_365.sales_ttc_period
    assert roundtrip.kpis_365.sales_ttc_period > 0


def test_sales_ttc_over_90_days_are_levier_sales_ttc_over_the_same_window(
    roundtrip: Roundtrip,
) -> None:
    assert roundtrip.yearly.figures.sales_ttc_90d == roundtrip.kpis_90.sales_ttc_period
    assert roundtrip.kpis_90.sales_ttc_period > 0


def test_simple_dso_over_90_days_is_levier_simple_dso_with_p_90(roundtrip: Roundtrip) -> None:
    assert roundtrip.kpis_90.dso_simple is not None
    assert roundtrip.yearly.figures.dso_simple_90d == roundtrip.kpis_90.dso_simple


def test_simple_dso_over_365_days_is_levier_simple_dso_with_p_365(roundtrip: Roundtrip) -> None:
    assert roundtrip.kpis_365.dso_simple is not None
    assert roundtrip.yearly.figures.dso_simple_365d == roundtrip.kpis_365.dso_simple


def test_countback_dso_of_a_24_month_file_is_levier_countback(roundtrip: Roundtrip) -> None:
    """Both walk back at most 24 months over the same monthly sales (invoices − credit notes
    TTC, the current month up to d), from the same AR(d)."""
    assert roundtrip.kpis_90.dso_countback is not None
    assert roundtrip.two_years.figures.dso_countback == roundtrip.kpis_90.dso_countback


def test_countback_dso_of_a_yearly_file_is_levier_countback_when_ar_is_spent_within_it(
    roundtrip: Roundtrip,
) -> None:
    """A yearly file has no sales before its first day: its countback equals Levier's only if
    the walk stops in a month the file holds whole. It does here: the walk covers
    `dso_countback` days back from d, fewer than the days from the first whole month of the
    file to d (then every month it read is in the file)."""
    levier = roundtrip.kpis_90.dso_countback
    assert levier is not None
    start = roundtrip.yearly.date_from
    first_whole_month = start if start.day == 1 else add_months(start.replace(day=1), 1)
    assert levier < (roundtrip.d - first_whole_month).days + 1
    assert roundtrip.yearly.figures.dso_countback == levier


# --- invoices and credit notes -----------------------------------------------------------------


def test_invoice_count_is_the_invoices_levier_issued_over_365_days(roundtrip: Roundtrip) -> None:
    assert roundtrip.yearly.figures.invoice_count == roundtrip.invoices_issued_365 > 0


def test_credit_note_count_is_the_credit_notes_levier_issued_over_365_days(
    roundtrip: Roundtrip,
) -> None:
    assert roundtrip.yearly.figures.credit_note_count == roundtrip.credit_notes_issued_365 > 0


def test_credit_note_rate_is_levier_credit_note_rate_over_365_days(roundtrip: Roundtrip) -> None:
    """Count ÷ count, four decimals, on both sides."""
    assert roundtrip.kpis_365.credit_note_rate is not None
    assert roundtrip.yearly.figures.credit_note_rate == roundtrip.kpis_365.credit_note_rate


def test_credit_note_rate_by_amount_is_ttc_in_a_fec_where_levier_uses_ht(
    roundtrip: Roundtrip,
) -> None:
    """Not the same definition: kpis.md's FEC rate is credit notes TTC ÷ invoices TTC (a FEC
    shows the 411 amounts), Levier's `credit_note_rate_amount` is HT ÷ HT. Both are checked
    against their own definition over the documents issued in (d − 365, d]."""
    after = roundtrip.d - dt.timedelta(days=365)

    def issued(documents: Iterator[Document]) -> list[Document]:
        return [doc for doc in documents if after < doc.issue_date <= roundtrip.d]

    invoices, notes = issued(roundtrip.invoices()), issued(roundtrip.credit_notes())

    def rate(total: str) -> Decimal:
        part = sum((getattr(doc, total) for doc in notes), ZERO)
        whole = sum((getattr(doc, total) for doc in invoices), ZERO)
        return (part / whole).quantize(RATE, rounding=ROUND_HALF_UP)

    assert roundtrip.yearly.figures.credit_note_rate_amount == rate("total_ttc")
    assert roundtrip.kpis_365.credit_note_rate_amount == rate("total_ht")


# --- cut-off -----------------------------------------------------------------------------------


def test_pca_is_levier_pca_at_d(roundtrip: Roundtrip) -> None:
    """487 holds compute_cutoff's PCA (D 706 / C 487, no VAT)."""
    assert roundtrip.kpis_90.pca == roundtrip.cutoff.pca > 0
    assert roundtrip.yearly.figures.pca == roundtrip.kpis_90.pca


def test_fae_of_a_fec_is_levier_fae_plus_its_vat(roundtrip: Roundtrip) -> None:
    """4181 holds the FAE TTC (kpis.md's worked example: D 4181 7,200 for 6,000 HT), Levier's
    `fae` is HT and its VAT (`fae_vat`) goes to 44587."""
    cutoff = roundtrip.cutoff
    assert roundtrip.kpis_90.fae == cutoff.fae > 0 and cutoff.fae_vat > 0
    assert roundtrip.yearly.figures.fae == cutoff.fae + cutoff.fae_vat


# --- settlement --------------------------------------------------------------------------------


def test_the_two_year_file_holds_every_invoice_the_settlement_figures_need(
    roundtrip: Roundtrip,
) -> None:
    """The precondition of the next tests: no invoice issued before the two-year file."""
    first = min(doc.issue_date for doc in roundtrip.documents)
    assert first >= roundtrip.two_years.date_from


def test_average_days_to_pay_is_levier_mean_from_issue_to_settlement(
    roundtrip: Roundtrip,
) -> None:
    """Mean of (settled_on − issue_date) in days over Levier's invoices settled in
    (d − 365, d]: the FEC reads the settlement date from DateLet, the export writes
    `settled_on` there. Not Levier's "average payment delay" (kpis.md's collection KPI),
    which counts from the due date: a FEC has no due dates, so the audit counts from the
    invoice date."""
    expected, _weighted = days_to_pay(roundtrip)
    assert expected is not None
    assert roundtrip.two_years.figures.average_days_to_pay == expected


def test_average_days_to_pay_weighted_is_levier_mean_weighted_by_the_invoices_ttc(
    roundtrip: Roundtrip,
) -> None:
    """Σ total TTC × (settled_on − issue_date) ÷ Σ total TTC, same invoices as above."""
    _plain, expected = days_to_pay(roundtrip)
    assert expected is not None
    assert roundtrip.two_years.figures.average_days_to_pay_weighted == expected


def test_a_yearly_file_counts_days_to_pay_of_the_invoices_issued_in_its_year_only(
    roundtrip: Roundtrip,
) -> None:
    """The documented limit of one fiscal year: an invoice of the year before that was paid
    this year opens as an AN line (411 against 890, no revenue account), which kpis.md does
    not classify as an invoice. The yearly file's figure is Levier's over the invoices
    settled in (d − 365, d] and issued on or after its first day."""
    expected, expected_weighted = days_to_pay(roundtrip, issued_from=roundtrip.yearly.date_from)
    figures = roundtrip.yearly.figures
    assert (figures.average_days_to_pay, figures.average_days_to_pay_weighted) == (
        expected,
        expected_weighted,
    )


def test_open_invoices_aged_are_levier_invoices_open_at_d_by_days_since_issue(
    roundtrip: Roundtrip,
) -> None:
    """Their totals TTC in 0–30, 31–60, 61–90, over 90 days since the issue date (Levier's
    aged balance counts from the due date: another figure)."""
    expected = aged_by_issue_date(roundtrip)
    assert sum(expected.values(), ZERO) > 0
    assert roundtrip.two_years.figures.open_invoices_aged == expected


def test_a_yearly_file_ages_only_the_open_invoices_issued_in_its_year(
    roundtrip: Roundtrip,
) -> None:
    """An invoice still open from the year before is only an AN line in a yearly file (see
    the days to pay above)."""
    expected = aged_by_issue_date(roundtrip, issued_from=roundtrip.yearly.date_from)
    assert roundtrip.yearly.figures.open_invoices_aged == expected


# --- the file itself ---------------------------------------------------------------------------


def test_the_exported_files_pass_the_audit_quality_checks_without_error(
    roundtrip: Roundtrip,
) -> None:
    for audit in (roundtrip.yearly, roundtrip.two_years, roundtrip.default_plan):
        errors = [issue.as_json() for issue in audit.quality.by_severity("error")]
        assert errors == [], audit.export.path
        assert audit.quality.totals.records_excluded == 0
        assert audit.quality.totals.total_debit == audit.export.total_debit
        assert audit.export.warnings == ()
