"""Contracts built through the real services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from levier.accounts.models import User
from levier.contracts.models import Contract
from levier.contracts.services import create_contract
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory


def contract_line(mode: str, price: str = "1000", qty: str = "1", **kw: Any) -> dict[str, Any]:
    return {
        "description": kw.pop("description", f"Prestation {mode}"),
        "quantity": qty,
        "unit": kw.pop("unit", "month" if mode == "recurring" else "day"),
        "unit_price": price,
        "vat_rate": kw.pop("vat_rate", "20"),
        "mode": mode,
        **kw,
    }


def make_contract(
    actor: User,
    lines: list[dict[str, Any]],
    customer: Customer | None = None,
    start: dt.date = dt.date(2026, 1, 1),
    **kw: Any,
) -> Contract:
    return create_contract(
        actor=actor,
        customer=customer or CustomerFactory(),
        title=kw.pop("title", "Contrat de services"),
        signed_on=kw.pop("signed_on", start),
        start_date=start,
        lines=lines,
        **kw,
    )
