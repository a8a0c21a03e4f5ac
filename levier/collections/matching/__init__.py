"""Automatic payment matching (lettrage): which invoices each payment received settles.

`engine.propose` holds the rules (pure, no query); `services.match_payments` runs them on
the stored payments and applies what is certain through `levier.collections.payments`.
"""

from levier.collections.matching.engine import (
    OpenItem,
    OpenItems,
    PaymentFacts,
    Proposal,
    propose,
)
from levier.collections.matching.services import (
    MatchReport,
    accept_proposal,
    load_open_items,
    load_payments,
    match_payments,
    reject_proposal,
)

__all__ = [
    "MatchReport",
    "OpenItem",
    "OpenItems",
    "PaymentFacts",
    "Proposal",
    "accept_proposal",
    "load_open_items",
    "load_payments",
    "match_payments",
    "propose",
    "reject_proposal",
]
