"""Issued invoices and payments for collections tests, built through the real services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from levier.accounts.models import User
from levier.billing.choices import CreditReason
from levier.billing.models import Invoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.collections.models import Payment
from levier.collections.payments import record_payment
from levier.customers.models import Customer
from levier.sales.tests.factories import line


def issued_invoice(
    adv: User,
    customer: Customer | None = None,
    *,
    net: str = "1000",
    vat: str = "20",
    issue_date: dt.date = dt.date(2026, 10, 1),
    **kw: Any,
) -> Invoice:
    """An issued invoice of one line (`net` HT at `vat` %), due 30 days after issue."""
    draft = draft_invoice(
        adv,
        customer,
        lines=[line("1", net, vat=vat)],
        billable_on=issue_date,
        **kw,
    )
    invoice = issue_invoice(actor=adv, invoice=draft, issue_date=issue_date)
    invoice.refresh_from_db()
    return invoice


def payment(
    compta: User,
    customer: Customer | None,
    amount: str,
    *,
    received_on: dt.date = dt.date(2026, 11, 5),
    reference: str = "",
) -> Payment:
    return record_payment(
        actor=compta,
        customer=customer,
        method="transfer",
        received_on=received_on,
        amount=Decimal(amount),
        reference=reference,
    )


def gesture_credit_note(adv: User, invoice: Invoice, percent: int, issue_date: dt.date) -> Invoice:
    """A commercial-gesture credit note of `percent` % of the invoice's net, issued that day
    (credit notes are numbered in date order: issue them in that order)."""
    note = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason=CreditReason.COMMERCIAL_GESTURE,
        lines=[
            {
                "description": "Geste",
                "quantity": "1",
                "unit_price": str((invoice.total_net * percent / 100).quantize(Decimal("0.01"))),
                "vat_rate": "20",
            }
        ],
    )
    return issue_invoice(actor=adv, invoice=note, issue_date=issue_date)
