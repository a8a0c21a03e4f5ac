"""What each customer owed at a date, and how late it was: open items and the aged balance.

Kept apart from the statement's rendering and sending (`levier.collections.statement`), so
that the KPIs (`levier kpis`, the dashboard) import the counting alone, not the PDF and
e-mail machinery.

The aged balance is summed by the database (one SUM(CASE …) per bucket), so the customer
page and the ledger-wide view cost the same whatever the number of invoices. The buckets
count days late as the dunning does: due on the statement date is not late yet. An aged
balance "as of" a past date is that day's: each invoice's open amount at d is its total
less the credit notes issued and the payments received by d (kpis.md), so an invoice paid
since still shows what was owed then. From today on, the stored open amount is used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.models import Allocation, MonthEnd, MonthEndItem
from levier.collections.month_ends import nearest_month_end
from levier.customers.models import Customer

ZERO = Decimal("0.00")
_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=16, decimal_places=2)


@dataclass(frozen=True)
class AgedBalance:
    """Open amounts by lateness on `as_of`: not due, 1–30, 31–60, 61–90, over 90 days."""

    as_of: dt.date
    not_due: Decimal
    days_1_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    over_90: Decimal
    total: Decimal

    @property
    def overdue(self) -> Decimal:
        return self.total - self.not_due

    def buckets(self) -> list[tuple[str, Decimal]]:
        """(key, amount) in the order printed: the statement and the customer page label them."""
        return [
            ("not_due", self.not_due),
            ("1_30", self.days_1_30),
            ("31_60", self.days_31_60),
            ("61_90", self.days_61_90),
            ("over_90", self.over_90),
        ]


def open_items(customer: Customer | None, as_of: dt.date) -> QuerySet[Invoice]:
    """Issued invoices with something left to pay (or to pay back) at `as_of`, issued by then,
    each annotated with `open_at`: what was left on that day."""
    invoices = Invoice.objects.filter(
        status=InvoiceStatus.ISSUED, kind=DocumentKind.INVOICE, issue_date__lte=as_of
    )
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    if as_of >= timezone.localdate():
        return invoices.exclude(open_amount=0).annotate(open_at=F("open_amount"))
    # An invoice settled on or before the date owed nothing that day (`settled_on` is the
    # first day its credit notes and payments covered it), unless it was credited after it
    # was paid: then it owes the customer money back (a negative open amount), today as on
    # any later day. Leaving the others out spares the subqueries below for the (many)
    # invoices long paid.
    invoices = invoices.filter(
        Q(settled_on__isnull=True) | Q(settled_on__gt=as_of) | Q(open_amount__lt=0)
    )
    credited = (
        Invoice.objects.filter(
            credited_invoice=OuterRef("pk"),
            kind=DocumentKind.CREDIT_NOTE,
            status=InvoiceStatus.ISSUED,
            issue_date__lte=as_of,
        )
        .values("credited_invoice")
        .annotate(total=Sum("total_gross"))
        .values("total")
    )
    paid = (
        Allocation.objects.filter(invoice=OuterRef("pk"), payment__received_on__lte=as_of)
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return invoices.annotate(
        # Round: SQLite subtracts decimals as binary floats (see levier.collections.balances).
        open_at=Round(
            ExpressionWrapper(
                F("total_gross")
                - Coalesce(Subquery(credited, output_field=_AMOUNT), Value(ZERO))
                - Coalesce(Subquery(paid, output_field=_AMOUNT), Value(ZERO)),
                output_field=_AMOUNT,
            ),
            2,
            output_field=_AMOUNT,
        )
    ).exclude(open_at=0)


# How far back `open_parts` counts from today's open amounts; further back it counts forward
# from the invoices open that day. Both are exact: the choice is which reads fewer rows. The
# payments received since d grow with every month back, while the invoices open at a date
# stay about as many. bench/kpis.py, 1,000,000 invoices over four years, PostgreSQL, the
# aged balance counted back / forward: 8 days 119 / 568 ms, 11 months 490 / 634 ms, 15 months
# 635 / 723 ms, 21 months 631 / 589 ms, 29 months 600 / 383 ms: they cross at about 20 months.
COUNT_BACK_DAYS = 600


def open_parts(customer: Customer | None, as_of: dt.date) -> list[QuerySet[Any]]:
    """What made up the open amounts at `as_of`, as querysets to aggregate and add up, each
    row annotated with `due` (the invoice's due date), `debtor` (its customer's id) and
    `signed` (what it adds to the open amount).

    Today, one part: the invoices with something open now (`Invoice.open_amount`, kept exact
    by `levier.collections.balances`), read from the open-items index alone. For a past day,
    whichever exact counting reads less; no subquery per invoice as `open_items` needs to
    show each invoice's own amount:

    - from the nearest stored month end (`levier.collections.month_ends`) when it is nearer
      than today: its open items, then forwards (`_counted_from_month_end`) or backwards
      (`_counted_back`) over at most half a month of documents;
    - up to `COUNT_BACK_DAYS` ago, backwards from today (`_counted_back`): what an invoice
      owed then is what it owes now plus the credit notes issued and the payments received
      since, so the recent past costs what happened since;
    - before that, forwards (`_counted_forward`): the invoices open that day (issued by then
      and not yet settled: `settled_on`), less their credit notes and payments by then, so a
      date years back costs the invoices open then, not the years of payments since.
    """
    today = timezone.localdate()
    if as_of >= today:
        return [_now_open(customer, as_of)]
    base = nearest_month_end(as_of)
    if base is not None and abs((base.day - as_of).days) < min(
        (today - as_of).days, COUNT_BACK_DAYS
    ):
        if base.day < as_of:
            return _counted_from_month_end(customer, as_of, base)
        return _counted_back(customer, as_of, base)
    if (today - as_of).days <= COUNT_BACK_DAYS:
        return _counted_back(customer, as_of)
    return _counted_forward(customer, as_of)


_ISSUED_INVOICE = {"status": InvoiceStatus.ISSUED, "kind": DocumentKind.INVOICE}


def _now_open(customer: Customer | None, as_of: dt.date) -> QuerySet[Any]:
    # The same condition as the partial index "open_items" (billing.Invoice.Meta).
    now_open = Invoice.objects.filter(~Q(open_amount=0), issue_date__lte=as_of, **_ISSUED_INVOICE)
    if customer is not None:
        now_open = now_open.filter(customer=customer)
    return now_open.annotate(due=F("due_date"), debtor=F("customer_id"), signed=F("open_amount"))


def _of_invoice(prefix: str, as_of: dt.date, customer: Customer | None) -> Q:
    """The credit notes or allocations (`prefix`: their invoice) of invoices issued by d."""
    condition = Q(
        **{f"{prefix}__{name}": value for name, value in _ISSUED_INVOICE.items()},
        **{f"{prefix}__issue_date__lte": as_of},
    )
    if customer is not None:
        condition &= Q(**{f"{prefix}__customer": customer})
    return condition


def _credit_notes_of(as_of: dt.date, customer: Customer | None) -> QuerySet[Invoice]:
    """The issued credit notes of invoices issued by d, whatever their own date."""
    return Invoice.objects.filter(
        _of_invoice("credited_invoice", as_of, customer),
        status=InvoiceStatus.ISSUED,
        kind=DocumentKind.CREDIT_NOTE,
    )


def _allocations_of(as_of: dt.date, customer: Customer | None) -> QuerySet[Allocation]:
    """The allocations to invoices issued by d, whatever their payment's date."""
    return Allocation.objects.filter(_of_invoice("invoice", as_of, customer))


def _open_on(prefix: str, as_of: dt.date) -> Q:
    """Invoices (through `prefix`) that may owe something at d: not settled by then, or
    credited after they were paid (they owe the customer money back from then on)."""
    field = f"{prefix}__" if prefix else ""
    return (
        Q(**{f"{field}settled_on__isnull": True})
        | Q(**{f"{field}settled_on__gt": as_of})
        | Q(**{f"{field}open_amount__lt": 0})
    )


def _with_invoice_columns(queryset: QuerySet[Any], prefix: str, signed: Any) -> QuerySet[Any]:
    return queryset.annotate(
        due=F(f"{prefix}__due_date"), debtor=F(f"{prefix}__customer_id"), signed=signed
    )


def _stored(customer: Customer | None, base: MonthEnd, as_of: dt.date) -> QuerySet[Any]:
    """The open items stored at a month end, of the invoices issued by d."""
    items = MonthEndItem.objects.filter(month_end=base, issue_date__lte=as_of)
    if customer is not None:
        items = items.filter(customer=customer)
    return items.annotate(due=F("due_date"), debtor=F("customer_id"), signed=F("amount"))


def _counted_back(
    customer: Customer | None, as_of: dt.date, base: MonthEnd | None = None
) -> list[QuerySet[Any]]:
    """Backwards to d from today's open amounts, or from a later stored month end (`base`):
    what was open then, plus the credit notes issued and the payments received since d."""
    credited_since = _credit_notes_of(as_of, customer).filter(issue_date__gt=as_of)
    paid_since = _allocations_of(as_of, customer).filter(payment__received_on__gt=as_of)
    if base is None:
        start = _now_open(customer, as_of)
    else:
        start = _stored(customer, base, as_of)
        credited_since = credited_since.filter(issue_date__lte=base.day)
        paid_since = paid_since.filter(payment__received_on__lte=base.day)
    return [
        start,
        _with_invoice_columns(credited_since, "credited_invoice", F("total_gross")),
        _with_invoice_columns(paid_since, "invoice", F("amount")),
    ]


def _counted_forward(customer: Customer | None, as_of: dt.date) -> list[QuerySet[Any]]:
    issued = Invoice.objects.filter(_open_on("", as_of), issue_date__lte=as_of, **_ISSUED_INVOICE)
    if customer is not None:
        issued = issued.filter(customer=customer)
    credited = _credit_notes_of(as_of, customer).filter(
        _open_on("credited_invoice", as_of), issue_date__lte=as_of
    )
    paid = _allocations_of(as_of, customer).filter(
        _open_on("invoice", as_of), payment__received_on__lte=as_of
    )
    return [
        issued.annotate(due=F("due_date"), debtor=F("customer_id"), signed=F("total_gross")),
        _with_invoice_columns(credited, "credited_invoice", -F("total_gross")),
        _with_invoice_columns(paid, "invoice", -F("amount")),
    ]


def _counted_from_month_end(
    customer: Customer | None, as_of: dt.date, base: MonthEnd
) -> list[QuerySet[Any]]:
    """Forwards to d from an earlier stored month end m: what was open at m, plus the
    invoices issued in (m, d], less what reduced an invoice issued by d and counts at d but
    not at m: a credit note or a payment dated in (m, d], or one dated by m on an invoice
    issued after m (a payment received before its invoice, such as a deposit)."""
    m = base.day
    issued = Invoice.objects.filter(issue_date__gt=m, issue_date__lte=as_of, **_ISSUED_INVOICE)
    if customer is not None:
        issued = issued.filter(customer=customer)
    credit_notes = _credit_notes_of(as_of, customer).filter(issue_date__lte=as_of)
    allocations = _allocations_of(as_of, customer).filter(payment__received_on__lte=as_of)
    return [
        _stored(customer, base, as_of),
        issued.annotate(due=F("due_date"), debtor=F("customer_id"), signed=F("total_gross")),
        _with_invoice_columns(
            credit_notes.filter(issue_date__gt=m), "credited_invoice", -F("total_gross")
        ),
        _with_invoice_columns(
            credit_notes.filter(issue_date__lte=m, credited_invoice__issue_date__gt=m),
            "credited_invoice",
            -F("total_gross"),
        ),
        _with_invoice_columns(
            allocations.filter(payment__received_on__gt=m), "invoice", -F("amount")
        ),
        _with_invoice_columns(
            allocations.filter(payment__received_on__lte=m, invoice__issue_date__gt=m),
            "invoice",
            -F("amount"),
        ),
    ]


def sum_open_parts(parts: list[QuerySet[Any]], **sums: Any) -> dict[str, Decimal]:
    """`aggregate(**sums)` on each part, added up and rounded to the cent."""
    totals = {name: ZERO for name in sums}
    for part in parts:
        for name, value in part.aggregate(**sums).items():
            totals[name] += Decimal(value or 0)
    cent = Decimal("0.01")
    # + ZERO: SQLite sums in floats, and -1e-12 must not print as « -0,00 € ».
    return {name: total.quantize(cent) + ZERO for name, total in totals.items()}


def open_at(invoice: Invoice) -> Decimal:
    """The `open_at` annotation of an invoice from `open_items` (what was left that day)."""
    return Decimal(invoice.__dict__.get("open_at") or ZERO)


def aged_balance(customer: Customer | None, as_of: dt.date) -> AgedBalance:
    """The aged balance of one customer, or of the whole ledger (None), in one query."""

    def late_between(first: int, last: int | None) -> Q:
        condition = Q(due__lte=as_of - dt.timedelta(days=first))
        if last is not None:
            condition &= Q(due__gte=as_of - dt.timedelta(days=last))
        return condition

    def total_where(condition: Q) -> Sum:
        return Sum(
            Case(When(condition, then=F("signed")), default=Value(ZERO)), output_field=_AMOUNT
        )

    sums = sum_open_parts(
        open_parts(customer, as_of),
        not_due=total_where(Q(due__gte=as_of) | Q(due__isnull=True)),
        days_1_30=total_where(late_between(1, 30)),
        days_31_60=total_where(late_between(31, 60)),
        days_61_90=total_where(late_between(61, 90)),
        over_90=total_where(late_between(91, None)),
        total=Sum("signed", output_field=_AMOUNT),
    )
    return AgedBalance(as_of=as_of, **sums)
