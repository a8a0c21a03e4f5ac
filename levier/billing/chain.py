"""The hash chain of issued documents: each stores SHA-256(its content + previous hash).

Altering any issued invoice, or deleting or inserting one, breaks every later link, which
`levier verify-chain` reports. The content is a canonical JSON of the legal fields and lines
(sorted keys, Decimals as strings), so the hash does not depend on Python or database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from levier.billing.models import Invoice, InvoiceLine

GENESIS = "0" * 64
HASHED_FIELDS = (
    "kind",
    "number",
    "customer_id",
    "credited_invoice_id",
    "credit_reason",
    "issue_date",
    "due_date",
    "billable_on",
    "service_date",
    "payment_terms_days",
    "payment_terms_basis",
    "po_number",
    "nature_of_operations",
    "vat_on_debits",
    "buyer_name",
    "buyer_siren",
    "buyer_vat_number",
    "buyer_address",
    "delivery_address",
    "currency",
    "total_net",
    "total_vat",
    "total_gross",
    "chain_index",
)
LINE_FIELDS = (
    "position",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "vat_rate",
    "vat_exemption_mention",
    "period_start",
    "period_end",
    "net_amount",
)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def canonical_content(invoice: Invoice, lines: Iterable[InvoiceLine]) -> bytes:
    body = {
        "document": {name: _plain(getattr(invoice, name)) for name in HASHED_FIELDS},
        "lines": [{name: _plain(getattr(line, name)) for name in LINE_FIELDS} for line in lines],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(previous_hash: str, content: bytes) -> str:
    return hashlib.sha256(previous_hash.encode() + content).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    chain_index: int
    number: str
    problem: str


def verify(documents: Iterator[tuple[Invoice, list[InvoiceLine]]]) -> tuple[int, list[ChainBreak]]:
    """Walk issued documents in chain order; return how many were checked and the breaks."""
    expected_previous, expected_index, checked = GENESIS, 1, 0
    breaks: list[ChainBreak] = []
    for invoice, lines in documents:
        checked += 1
        index = invoice.chain_index or 0
        number = invoice.number or "?"
        if index != expected_index:
            breaks.append(ChainBreak(index, number, f"expected position {expected_index}"))
        if invoice.previous_hash != expected_previous:
            breaks.append(ChainBreak(index, number, "previous hash does not match"))
        if (
            link_hash(invoice.previous_hash, canonical_content(invoice, lines))
            != invoice.content_hash
        ):
            breaks.append(ChainBreak(index, number, "content changed since issue"))
        expected_previous, expected_index = invoice.content_hash, index + 1
    return checked, breaks
