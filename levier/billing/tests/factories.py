"""Invoices built through the real services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from levier.accounts.models import User
from levier.billing.models import CompanyProfile, Invoice
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


def complete_company_profile() -> CompanyProfile:
    """A seller with every mandatory mention (issuing is blocked otherwise)."""
    CompanyProfile.objects.update_or_create(
        pk=1,
        defaults={
            "legal_name": "Levier Conseil",
            "legal_form": "SAS",
            "share_capital": Decimal("50000"),
            "siren": "404833048",
            "siret": "40483304800014",
            "vat_number": "FR83404833048",
            "rcs_city": "Paris",
            "naf_code": "6202A",
            "address_line1": "12 rue de la Paix",
            "postcode": "75002",
            "city": "Paris",
            "email": "adv@levier.example",
            "phone": "01 23 45 67 89",
            "iban": "FR7630006000011234567890189",
            "bic": "AGRIFRPP",
            "bank_name": "Crédit Agricole",
        },
    )
    return CompanyProfile.objects.get(pk=1)
