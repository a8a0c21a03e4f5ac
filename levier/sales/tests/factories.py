"""Building orders through the real services, so tests exercise what users do."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from levier.accounts.models import User
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.sales.models import ApprovalRule, Order
from levier.sales.services import create_order


def line(
    quantity: str = "10", unit_price: str = "800", discount: str = "0", vat: str = "20", **kw: Any
) -> dict[str, Any]:
    return {
        "description": kw.pop("description", "Développement"),
        "quantity": quantity,
        "unit": kw.pop("unit", "day"),
        "unit_price": unit_price,
        "discount_percent": discount,
        "vat_rate": vat,
        **kw,
    }


def make_order(
    actor: User,
    customer: Customer | None = None,
    lines: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> Order:
    return create_order(
        actor=actor,
        customer=customer or CustomerFactory(),
        lines=lines or [line()],
        **kw,
    )


def standard_rules() -> list[ApprovalRule]:
    return [
        ApprovalRule.objects.create(
            name="Gros montant",
            kind="amount_over",
            threshold=Decimal("50000"),
            approver_role="direction",
        ),
        ApprovalRule.objects.create(
            name="Remise forte",
            kind="discount_over",
            threshold=Decimal("15"),
            approver_role="direction",
        ),
        ApprovalRule.objects.create(
            name="Délai allongé", kind="terms_longer", approver_role="comptabilite"
        ),
        ApprovalRule.objects.create(
            name="Encours", kind="over_credit_limit", approver_role="comptabilite"
        ),
    ]
