"""The hand-made book of the KPI tests (the arithmetic is in test_figures.py's docstring)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.billing.choices import CreditReason
from levier.billing.models import Invoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile, draft_invoice
from levier.collections.choices import DisputeReason, DisputeResolution
from levier.collections.disputes import open_dispute, resolve_dispute
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import payment
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.sales.tests.factories import line

D = Decimal


def invoice(
    adv: User, customer: Customer, net: str, issued: dt.date, billable: dt.date | None = None
) -> Invoice:
    draft = draft_invoice(
        adv, customer, lines=[line("1", net, vat="20")], billable_on=billable or issued
    )
    issued_invoice = issue_invoice(actor=adv, invoice=draft, issue_date=issued)
    issued_invoice.refresh_from_db()
    return issued_invoice


def pay(compta: User, target: Invoice, amount: str, on: dt.date) -> None:
    received = payment(compta, target.customer, amount, received_on=on)
    allocate_payment(actor=compta, payment=received, portions=[Portion(target.pk, D(amount))])


@pytest.fixture
def book(adv: User, compta: User) -> dict[str, Invoice]:
    complete_company_profile()
    customer = CustomerFactory(payment_terms_days=30)
    i0 = invoice(adv, customer, "3000", dt.date(2025, 11, 15))
    i1 = invoice(adv, customer, "1000", dt.date(2026, 1, 10), dt.date(2026, 1, 5))
    dispute = open_dispute(
        actor=compta,
        invoice=i1,
        reason=DisputeReason.QUALITY,
        owner=compta,
        due_on=dt.date(2026, 2, 20),
        opened_on=dt.date(2026, 1, 20),
    )
    resolve_dispute(
        actor=compta,
        dispute=dispute,
        resolution=DisputeResolution.REJECTED,
        note="Livré conforme",
        resolved_on=dt.date(2026, 1, 30),
    )
    i2 = invoice(adv, customer, "2000", dt.date(2026, 2, 15))
    i4 = invoice(adv, customer, "1500", dt.date(2026, 3, 1), dt.date(2026, 2, 28))
    i3 = invoice(adv, customer, "500", dt.date(2026, 3, 20), dt.date(2026, 3, 10))
    note = create_credit_note(
        actor=adv,
        invoice=i3,
        reason=CreditReason.PRICE_ERROR,
        lines=[{"description": "Remise", "quantity": "1", "unit_price": "100", "vat_rate": "20"}],
    )
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 3, 25))
    pay(compta, i0, "3600", dt.date(2026, 1, 14))
    pay(compta, i1, "1200", dt.date(2026, 2, 1))
    pay(compta, i2, "1000", dt.date(2026, 3, 20))
    pay(compta, i4, "1800", dt.date(2026, 3, 31))
    i2.refresh_from_db()
    open_dispute(
        actor=compta,
        invoice=i2,
        reason=DisputeReason.NOT_DELIVERED,
        owner=compta,
        due_on=dt.date(2026, 4, 30),
        opened_on=dt.date(2026, 3, 25),
    )
    return {"i0": i0, "i1": i1, "i2": i2, "i3": i3, "i4": i4}
