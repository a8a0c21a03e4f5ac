"""Invoicing KPIs over a period (d − P, d]: delay, credit notes, errors, disputes (kpis.md 1, 2, 5).

Each KPI is an aggregate over a queryset that the drill-down lists show as is, so the number
and the documents behind it can never disagree. Choices where kpis.md is silent:

- The invoice error rate counts, among the invoices issued in the period, those that by d
  have a credit note with a billing-error reason (price or quantity error, invoiced twice,
  wrong customer details) or a dispute with a billing-error reason (price, quantity,
  duplicate, missing PO): a cohort ratio like the dispute rate, at most 100 %.
- A dispute counts for the dispute rate when opened on or before d (a dispute opened after d
  was not known at d). It is open at d when opened by d and not resolved by d.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from levier.billing.choices import CreditReason, DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.choices import BILLING_ERROR_DISPUTE_REASONS
from levier.collections.models import Dispute
from levier.kpis.sql import DaysBetween, one_decimal, ratio

ZERO = Decimal("0.00")
CENT = Decimal("0.01")

# Credit notes that say the invoice itself was wrong (kpis.md: reason "billing error").
BILLING_ERROR_CREDIT_REASONS = frozenset(
    {CreditReason.PRICE_ERROR, CreditReason.DUPLICATE, CreditReason.CUSTOMER_DATA}
)


def window(as_of: dt.date, period_days: int) -> tuple[dt.date, dt.date]:
    """The period (after, until] ending on d."""
    return as_of - dt.timedelta(days=period_days), as_of


def invoices_issued(as_of: dt.date, period_days: int) -> QuerySet[Invoice]:
    after, until = window(as_of, period_days)
    return Invoice.objects.filter(
        status=InvoiceStatus.ISSUED,
        kind=DocumentKind.INVOICE,
        issue_date__gt=after,
        issue_date__lte=until,
    )


def credit_notes_issued(as_of: dt.date, period_days: int) -> QuerySet[Invoice]:
    after, until = window(as_of, period_days)
    return Invoice.objects.filter(
        status=InvoiceStatus.ISSUED,
        kind=DocumentKind.CREDIT_NOTE,
        issue_date__gt=after,
        issue_date__lte=until,
    )


# --- 1. invoicing delay ----------------------------------------------------------------------


def with_invoicing_delay(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Annotate `delay_days` = max(0, issue date − billable date)."""
    return invoices.annotate(delay_days=Greatest(DaysBetween("issue_date", "billable_on"), 0))


def invoicing_delay(as_of: dt.date, period_days: int) -> tuple[Decimal | None, Decimal | None]:
    """Mean invoicing delay in days over the invoices issued in the period, plain and
    weighted by their amount HT (None without invoices, or without amount for the weighted)."""
    sums = with_invoicing_delay(invoices_issued(as_of, period_days)).aggregate(
        mean=Avg("delay_days"),
        weighted=Sum(F("delay_days") * F("total_net")),
        weight=Sum("total_net"),
    )
    weighted = None
    if sums["weight"]:
        weighted = Decimal(sums["weighted"]) / Decimal(sums["weight"])
    return one_decimal(sums["mean"]), one_decimal(weighted)


# --- 2. credit notes and errors --------------------------------------------------------------


def credit_note_rates(as_of: dt.date, period_days: int) -> tuple[Decimal | None, Decimal | None]:
    """Credit notes issued in the period ÷ invoices issued in the period, by count and by
    amount HT."""
    invoices = invoices_issued(as_of, period_days).aggregate(
        n=Count("pk"), ht=Coalesce(Sum("total_net"), Value(ZERO))
    )
    notes = credit_notes_issued(as_of, period_days).aggregate(
        n=Count("pk"), ht=Coalesce(Sum("total_net"), Value(ZERO))
    )
    return ratio(notes["n"], invoices["n"]), ratio(notes["ht"], invoices["ht"])


def _error_credit_notes(as_of: dt.date) -> QuerySet[Invoice]:
    """Credit notes issued by d saying their invoice was wrong (a billing-error reason)."""
    return Invoice.objects.filter(
        kind=DocumentKind.CREDIT_NOTE,
        status=InvoiceStatus.ISSUED,
        issue_date__lte=as_of,
        credit_reason__in=BILLING_ERROR_CREDIT_REASONS,
    )


def _error_disputes(as_of: dt.date) -> QuerySet[Dispute]:
    """Disputes opened by d for a billing-error reason."""
    return Dispute.objects.filter(opened_on__lte=as_of, reason__in=BILLING_ERROR_DISPUTE_REASONS)


def _found_wrong(as_of: dt.date) -> Q:
    """An invoice (the outer row) with a billing-error credit note or dispute by d."""
    error_note = _error_credit_notes(as_of).filter(credited_invoice=OuterRef("pk"))
    error_dispute = _error_disputes(as_of).filter(invoice=OuterRef("pk"))
    return Q(Exists(error_note)) | Q(Exists(error_dispute))


def invoices_in_error(as_of: dt.date, period_days: int) -> QuerySet[Invoice]:
    """Invoices issued in the period found wrong by d (billing-error credit note or dispute),
    each once."""
    return invoices_issued(as_of, period_days).filter(_found_wrong(as_of))


def invoice_error_rate(as_of: dt.date, period_days: int) -> Decimal | None:
    issued = invoices_issued(as_of, period_days).count()
    return ratio(invoices_in_error(as_of, period_days).count(), issued)


# --- all of them in one pass ----------------------------------------------------------------


@dataclass(frozen=True)
class PeriodRates:
    """The figures of kpis.md 1, 2 and 5 over the period, as the functions above give them,
    and the period's sales TTC (`levier.kpis.receivables.sales_ttc`), read in the same pass."""

    invoicing_delay: Decimal | None
    invoicing_delay_weighted: Decimal | None
    credit_note_rate: Decimal | None
    credit_note_rate_amount: Decimal | None
    invoice_error_rate: Decimal | None
    dispute_rate: Decimal | None
    sales_ttc: Decimal


def period_rates(as_of: dt.date, period_days: int) -> PeriodRates:
    """`invoicing_delay`, `credit_note_rates`, `invoice_error_rate` and `dispute_rate` from
    one aggregate over the period's invoices (and one over its credit notes), where each
    function alone reads them again (bench/kpis.py: seven queries, 180 ms at 1,000,000
    invoices). The same conditions, so the same figures: test_figures checks it."""
    issued = with_invoicing_delay(invoices_issued(as_of, period_days))
    # As "pk IN (…)" over the credit notes and disputes alone: PostgreSQL hashes each list
    # once, where EXISTS in the aggregate's filter runs per invoice (bench/kpis.py: 134
    # against 242 ms), and where the invoices of the period filtered by them read the
    # period a second and a third time (bench/kpis.py, median of 7 on 2026-11-29: 145–180
    # → 100–130 ms).
    error = Q(pk__in=_error_credit_notes(as_of).values("credited_invoice")) | Q(
        pk__in=_error_disputes(as_of).values("invoice")
    )
    disputed = Q(pk__in=Dispute.objects.filter(opened_on__lte=as_of).values("invoice"))
    sums = issued.aggregate(
        n=Count("pk"),
        ht=Coalesce(Sum("total_net"), Value(ZERO)),
        ttc=Coalesce(Sum("total_gross"), Value(ZERO)),
        mean=Avg("delay_days"),
        weighted=Sum(F("delay_days") * F("total_net")),
        in_error=Count("pk", filter=error),
        disputed=Count("pk", filter=disputed),
    )
    notes = credit_notes_issued(as_of, period_days).aggregate(
        n=Count("pk"),
        ht=Coalesce(Sum("total_net"), Value(ZERO)),
        ttc=Coalesce(Sum("total_gross"), Value(ZERO)),
    )
    weighted = None
    if sums["ht"]:
        weighted = Decimal(sums["weighted"]) / Decimal(sums["ht"])
    return PeriodRates(
        invoicing_delay=one_decimal(sums["mean"]),
        invoicing_delay_weighted=one_decimal(weighted),
        credit_note_rate=ratio(notes["n"], sums["n"]),
        credit_note_rate_amount=ratio(notes["ht"], sums["ht"]),
        invoice_error_rate=ratio(sums["in_error"], sums["n"]),
        dispute_rate=ratio(sums["disputed"], sums["n"]),
        sales_ttc=(Decimal(sums["ttc"]) - Decimal(notes["ttc"])).quantize(CENT),
    )


# --- 5. disputes -----------------------------------------------------------------------------


def _disputed(as_of: dt.date) -> Q:
    """An invoice (the outer row) with at least one dispute opened by d."""
    return Q(Exists(Dispute.objects.filter(invoice=OuterRef("pk"), opened_on__lte=as_of)))


def disputed_invoices(as_of: dt.date, period_days: int) -> QuerySet[Invoice]:
    """Invoices issued in the period with at least one dispute opened by d."""
    return invoices_issued(as_of, period_days).filter(_disputed(as_of))


def dispute_rate(as_of: dt.date, period_days: int) -> Decimal | None:
    issued = invoices_issued(as_of, period_days).count()
    return ratio(disputed_invoices(as_of, period_days).count(), issued)


def disputes_resolved(as_of: dt.date, period_days: int) -> QuerySet[Dispute]:
    """Disputes resolved in the period, annotated with `resolution_days`."""
    after, until = window(as_of, period_days)
    return Dispute.objects.filter(resolved_on__gt=after, resolved_on__lte=until).annotate(
        resolution_days=DaysBetween("resolved_on", "opened_on")
    )


def dispute_resolution_days(as_of: dt.date, period_days: int) -> Decimal | None:
    mean = disputes_resolved(as_of, period_days).aggregate(mean=Avg("resolution_days"))["mean"]
    return one_decimal(mean)


def open_disputes(as_of: dt.date) -> QuerySet[Dispute]:
    """Disputes open at d: opened by d and not resolved by d."""
    return Dispute.objects.filter(
        Q(resolved_on__isnull=True) | Q(resolved_on__gt=as_of), opened_on__lte=as_of
    )


def open_disputes_total(as_of: dt.date) -> tuple[int, Decimal]:
    sums = open_disputes(as_of).aggregate(n=Count("pk"), amount=Coalesce(Sum("amount"), ZERO))
    return sums["n"], Decimal(sums["amount"]).quantize(Decimal("0.01"))
