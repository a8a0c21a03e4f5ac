"""Receivables, sales and DSO at any date, computed by the database (kpis.md).

Every figure is a handful of aggregate queries whatever the number of documents: AR(d) is
the invoices issued by d, less the credit notes issued by d on them, less the payments
received by d allocated to them — never a loop over invoices. DSO is None (shown "n/a"),
never a division error, when there were no sales over the window.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.aging import open_parts, sum_open_parts
from levier.collections.models import Allocation
from levier.lib.periods import add_months

ZERO = Decimal("0.00")
_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=2)
COUNTBACK_MONTHS = 24


def _sum(queryset: object, field: str) -> Decimal:
    total = queryset.aggregate(  # type: ignore[attr-defined]
        total=Coalesce(Sum(field), Value(ZERO), output_field=_AMOUNT)
    )["total"]
    return Decimal(total).quantize(Decimal("0.01"))


def _issued(kind: DocumentKind) -> Q:
    return Q(status=InvoiceStatus.ISSUED, kind=kind)


def receivables(as_of: dt.date) -> Decimal:
    """AR(d): open amounts at d of the invoices issued on or before d."""
    invoiced = _sum(
        Invoice.objects.filter(_issued(DocumentKind.INVOICE), issue_date__lte=as_of),
        "total_gross",
    )
    credited = _sum(
        Invoice.objects.filter(
            _issued(DocumentKind.CREDIT_NOTE),
            issue_date__lte=as_of,
            credited_invoice__issue_date__lte=as_of,
        ),
        "total_gross",
    )
    paid = _sum(
        Allocation.objects.filter(payment__received_on__lte=as_of, invoice__issue_date__lte=as_of),
        "amount",
    )
    return invoiced - credited - paid


def open_receivables(as_of: dt.date) -> Decimal:
    """AR(d) summed over the open amounts at d (`open_parts`), the way the aged balance
    counts it: the same figure as `receivables`, which reads every document ever issued
    (1.1 s at 1,000,000 invoices), for what the invoices open at d and the recent payments
    cost (bench/kpis.py: 30 to 400 ms). levier/collections/tests/test_open_parts.py checks
    that both agree at any date."""
    parts = open_parts(None, as_of)
    return sum_open_parts(parts, total=Sum("signed", output_field=_AMOUNT))["total"]


def sales_ttc(after: dt.date, until: dt.date) -> Decimal:
    """Sales TTC over (after, until]: invoices less credit notes issued in that window."""
    window = Q(issue_date__gt=after, issue_date__lte=until)
    invoiced = _sum(Invoice.objects.filter(window & _issued(DocumentKind.INVOICE)), "total_gross")
    credited = _sum(
        Invoice.objects.filter(window & _issued(DocumentKind.CREDIT_NOTE)), "total_gross"
    )
    return invoiced - credited


def dso_simple(
    as_of: dt.date,
    period_days: int = 90,
    ar: Decimal | None = None,
    sales: Decimal | None = None,
) -> Decimal | None:
    """AR(d) ÷ SalesTTC(d − P, d] × P, in days (one decimal); None without sales. `ar` (AR(d))
    and `sales` (over the period): when the caller has them already."""
    if sales is None:
        sales = sales_ttc(as_of - dt.timedelta(days=period_days), as_of)
    if sales == 0:
        return None
    days = (open_receivables(as_of) if ar is None else ar) / sales * period_days
    return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def monthly_sales(as_of: dt.date, months: int = COUNTBACK_MONTHS) -> dict[dt.date, Decimal]:
    """Sales TTC per calendar month (first day → amount), for the months up to d's, the
    current month counted up to d: one row of a sum per month for the invoices (read from
    the issued-invoices index alone) and one for the credit notes. Sums filtered by date
    rather than GROUP BY month: truncating a million dates cost more than the sums
    (bench/kpis.py: 111 → 50 ms for six months)."""
    first = add_months(as_of.replace(day=1), -(months - 1))
    starts = [add_months(first, n) for n in range(months)]
    sums = {
        f"m{n}": Sum(
            "total_gross", filter=Q(issue_date__gte=start, issue_date__lt=add_months(start, 1))
        )
        for n, start in enumerate(starts)
    }
    window = Q(status=InvoiceStatus.ISSUED, issue_date__gte=first, issue_date__lte=as_of)
    invoiced = Invoice.objects.filter(window, kind=DocumentKind.INVOICE).aggregate(**sums)
    credited = Invoice.objects.filter(window, kind=DocumentKind.CREDIT_NOTE).aggregate(**sums)
    return {
        start: Decimal(invoiced[f"m{n}"] or ZERO) - Decimal(credited[f"m{n}"] or ZERO)
        for n, start in enumerate(starts)
    }


# Months read first: AR rarely covers more than six months of sales, and each month more is a
# month of invoices to scan (bench/kpis.py: 24 months 0.38 s at 1M invoices).
COUNTBACK_FIRST_MONTHS = 6


def _countback_days(
    as_of: dt.date,
    left: Decimal,
    sales: dict[dt.date, Decimal],
    months: int,
    *,
    final: bool = False,
) -> Decimal | None:
    """The countback walk over `months` months; None when AR is not exhausted after them
    and they are not the `final` 24 (the caller then reads them all)."""
    month = as_of.replace(day=1)
    days = Decimal(0)
    for n in range(months):
        if left <= 0:
            return days
        month_days = as_of.day if n == 0 else (add_months(month, 1) - month).days
        month_sales = sales.get(month, ZERO)
        if left >= month_sales:
            left -= month_sales
            days += month_days
        else:
            return days + left / month_sales * month_days
        month = add_months(month, -1)
    return days if final or left <= 0 else None


def dso_countback(as_of: dt.date, ar: Decimal | None = None) -> Decimal | None:
    """The countback method of kpis.md: walking back from d's month (counted up to d), whole
    months while what is left of AR(d) covers their sales, then the fraction of the next;
    at most 24 months. None when there were no sales at all over those months.

    The last six months are read first, all 24 only when AR outlasts them (or they had no
    sales): the same figure, for a quarter of the scan most of the time."""
    left = open_receivables(as_of) if ar is None else ar
    sales = monthly_sales(as_of, COUNTBACK_FIRST_MONTHS)
    days = None
    if any(amount > 0 for amount in sales.values()):
        days = _countback_days(as_of, left, sales, COUNTBACK_FIRST_MONTHS)
    if days is None:
        sales = monthly_sales(as_of)
        if not any(amount > 0 for amount in sales.values()):
            return None
        days = _countback_days(as_of, left, sales, COUNTBACK_MONTHS, final=True)
        assert days is not None  # final: never None
    return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
