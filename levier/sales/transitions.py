"""Allowed status moves, in one table per document (django-oscar's `pipeline`).

Services call `check_transition` before every status change; nothing else sets a status.
"""

from __future__ import annotations

from levier.sales.choices import OrderStatus, QuoteStatus


class InvalidTransition(Exception):
    def __init__(self, document: str, current: str, target: str) -> None:
        self.current, self.target = current, target
        super().__init__(f"{document}: cannot go from {current!r} to {target!r}")


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.SUBMITTED, OrderStatus.CANCELLED}),
    OrderStatus.SUBMITTED: frozenset(
        {OrderStatus.VALIDATED, OrderStatus.REJECTED, OrderStatus.CANCELLED}
    ),
    OrderStatus.REJECTED: frozenset({OrderStatus.DRAFT, OrderStatus.CANCELLED}),
    OrderStatus.VALIDATED: frozenset(),  # later issues add in progress, delivered, closed
    OrderStatus.CANCELLED: frozenset(),
}

QUOTE_TRANSITIONS: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    QuoteStatus.DRAFT: frozenset({QuoteStatus.SENT, QuoteStatus.ACCEPTED, QuoteStatus.DECLINED}),
    QuoteStatus.SENT: frozenset({QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.DRAFT}),
    QuoteStatus.ACCEPTED: frozenset(),
    QuoteStatus.DECLINED: frozenset(),
}


def check_order_transition(current: str, target: str) -> None:
    if OrderStatus(target) not in ORDER_TRANSITIONS[OrderStatus(current)]:
        raise InvalidTransition("order", current, target)


def check_quote_transition(current: str, target: str) -> None:
    if QuoteStatus(target) not in QUOTE_TRANSITIONS[QuoteStatus(current)]:
        raise InvalidTransition("quote", current, target)
