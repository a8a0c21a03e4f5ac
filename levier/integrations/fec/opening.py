"""The receivable items open the day before a period: the opening balances (AN) of a FEC.

A FEC covers one fiscal year and opens with the balances the earlier years left (formats.md
§5), so an audit of that file alone finds the receivables Levier shows. The items are
computed the way the earlier files booked them, line by line:

- per invoice: its total TTC if issued before `from`, less its credit notes issued and the
  allocations received before `from` (an allocation received before its invoice was issued,
  an advance, leaves a credit item on that invoice);
- per payer: the payments received before `from` and allocated to nothing (per customer, or
  in one suspense item when the payer is unknown).

An invoice settled before `from` (and not over-settled) has nothing left, so every query is
limited to the open part of the ledger: a handful of rows per open invoice, not the history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Q

from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.models import Allocation, Payment
from levier.lib.money import ZERO

# The currency the books are kept in: a document in another one has no amount to book.
ACCOUNTING_CURRENCY = "EUR"
CHUNK = 2000


@dataclass
class InvoiceItem:
    invoice_id: int
    number: str
    issue_date: dt.date
    customer_id: int
    customer_name: str
    amount: Decimal  # debit (positive) or credit (negative) on the customer's account


@dataclass
class CreditItem:
    customer_name: str
    amount: Decimal = ZERO  # money received and allocated to nothing (positive)


@dataclass
class OpenItems:
    invoices: list[InvoiceItem] = field(default_factory=list)
    # Customer id (None: payer unknown) → what it paid and nothing settles yet.
    credits: dict[int | None, CreditItem] = field(default_factory=dict)


def open_items(date_from: dt.date) -> OpenItems:
    """The non-zero items open at the end of the day before `date_from`, in a stable order."""
    candidate = Q(settled_on__isnull=True) | Q(settled_on__gte=date_from) | Q(open_amount__lt=0)
    in_ledger = Q(status=InvoiceStatus.ISSUED, currency=ACCOUNTING_CURRENCY)
    earlier = Invoice.objects.filter(candidate, kind=DocumentKind.INVOICE, issue_date__lt=date_from)
    items: dict[int, InvoiceItem] = {}
    invoices = Invoice.objects.filter(
        in_ledger, candidate, kind=DocumentKind.INVOICE, issue_date__lt=date_from
    ).values_list("pk", "number", "issue_date", "customer_id", "customer__name", "total_gross")
    for pk, number, issue_date, customer_id, name, total in invoices.iterator(chunk_size=CHUNK):
        assert number is not None and issue_date is not None  # issued: numbered and dated
        items[pk] = InvoiceItem(pk, number, issue_date, customer_id, name, total)
    credited = Invoice.objects.filter(
        in_ledger,
        kind=DocumentKind.CREDIT_NOTE,
        issue_date__lt=date_from,
        credited_invoice__in=earlier,
    ).values_list("credited_invoice_id", "total_gross")
    for invoice_id, total in credited.iterator(chunk_size=CHUNK):
        if invoice_id in items:
            items[invoice_id].amount -= total
    allocated = Allocation.objects.filter(
        Q(invoice__issue_date__gte=date_from) | Q(invoice__in=earlier),
        payment__received_on__lt=date_from,
        payment__currency=ACCOUNTING_CURRENCY,
    ).values_list(
        "invoice_id",
        "amount",
        "invoice__number",
        "invoice__issue_date",
        "invoice__customer_id",
        "invoice__customer__name",
    )
    for invoice_id, amount, number, issue_date, customer_id, name in allocated.iterator(
        chunk_size=CHUNK
    ):
        assert number is not None and issue_date is not None  # allocated: issued
        item = items.setdefault(
            invoice_id, InvoiceItem(invoice_id, number, issue_date, customer_id, name, ZERO)
        )
        item.amount -= amount
    result = OpenItems(
        invoices=sorted(
            (item for item in items.values() if item.amount),
            key=lambda item: (item.customer_id, item.issue_date, item.number),
        )
    )
    unallocated = (
        Payment.objects.filter(received_on__lt=date_from, currency=ACCOUNTING_CURRENCY)
        .exclude(allocated=F("amount"))
        .values_list("customer_id", "customer__name", "amount", "allocated")
    )
    credits: dict[int | None, CreditItem] = {}
    for customer_id, name, amount, allocated_amount in unallocated.iterator(chunk_size=CHUNK):
        credits.setdefault(customer_id, CreditItem(name or "")).amount += amount - allocated_amount
    result.credits = {
        payer: credits[payer]
        for payer in sorted(credits, key=lambda pk: (pk is None, pk or 0))
        if credits[payer].amount
    }
    return result
