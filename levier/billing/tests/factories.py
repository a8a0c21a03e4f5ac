"""Invoices built through the real services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from levier.accounts.models import User
from levier.billing.models import Invoice
from levier.billing.services import create_draft_invoice
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.sales.tests.factories import line


def draft_invoice(actor: User, customer: Customer | None = None, **kw: Any) -> Invoice:
    return create_draft_invoice(
        actor=actor,
        customer=customer or CustomerFactory(),
        lines=kw.pop("lines", None) or [line("10", "800"), line("2", "150", vat="10")],
        billable_on=kw.pop("billable_on", dt.date(2026, 11, 2)),
        **kw,
    )
