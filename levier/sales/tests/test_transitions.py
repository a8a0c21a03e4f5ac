import itertools

import pytest

from levier.sales.choices import OrderStatus, QuoteStatus
from levier.sales.transitions import (
    ORDER_TRANSITIONS,
    QUOTE_TRANSITIONS,
    InvalidTransition,
    check_order_transition,
    check_quote_transition,
)

EXPECTED_ORDER_MOVES = {
    ("draft", "submitted"),
    ("draft", "cancelled"),
    ("submitted", "validated"),
    ("submitted", "rejected"),
    ("submitted", "cancelled"),
    ("rejected", "draft"),
    ("rejected", "cancelled"),
}


@pytest.mark.parametrize("current,target", itertools.product(OrderStatus.values, repeat=2))
def test_order_transition_table_allows_exactly_the_documented_moves(
    current: str, target: str
) -> None:
    if (current, target) in EXPECTED_ORDER_MOVES:
        check_order_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_order_transition(current, target)


def test_every_order_status_has_a_row_in_the_table() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    assert set(QUOTE_TRANSITIONS) == set(QuoteStatus)


def test_accepted_quote_is_final() -> None:
    for target in QuoteStatus.values:
        with pytest.raises(InvalidTransition):
            check_quote_transition(QuoteStatus.ACCEPTED, target)
