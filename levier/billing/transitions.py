"""Allowed status moves of invoices and credit notes (one table, checked in one place)."""

from __future__ import annotations

from levier.billing.choices import InvoiceStatus
from levier.sales.transitions import InvalidTransition

INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.ISSUED, InvoiceStatus.DISCARDED}),
    # Issued is final: a mistake is corrected by a credit note, never by a status change.
    InvoiceStatus.ISSUED: frozenset(),
    InvoiceStatus.DISCARDED: frozenset(),
}


def check_invoice_transition(current: str, target: str) -> None:
    if InvoiceStatus(target) not in INVOICE_TRANSITIONS[InvoiceStatus(current)]:
        raise InvalidTransition("invoice", current, target)
