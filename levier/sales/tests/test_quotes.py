import datetime as dt

import pytest

from levier.accounts.models import User
from levier.customers.tests.factories import CustomerFactory
from levier.lib.errors import NotAllowed
from levier.sales.choices import OrderStatus, QuoteStatus
from levier.sales.services import convert_quote_to_order, create_quote, send_quote
from levier.sales.tests.factories import line
from levier.sales.transitions import InvalidTransition

pytestmark = pytest.mark.django_db


def test_accepted_quote_becomes_a_draft_order_with_the_same_lines(commercial: User) -> None:
    quote = create_quote(
        actor=commercial,
        customer=CustomerFactory(),
        lines=[line("5", "650", discount="5"), line("1", "1500")],
    )
    order = convert_quote_to_order(actor=commercial, quote=quote, po_number="PO-77")
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    assert order.status == OrderStatus.DRAFT
    assert order.quote == quote
    assert (order.total_net, order.total_gross) == (quote.total_net, quote.total_gross)
    assert order.lines.count() == 2


def test_a_quote_converts_only_once(commercial: User) -> None:
    quote = create_quote(actor=commercial, customer=CustomerFactory(), lines=[line()])
    convert_quote_to_order(actor=commercial, quote=quote)
    with pytest.raises(InvalidTransition):
        convert_quote_to_order(actor=commercial, quote=quote)


def test_expired_sent_quote_cannot_be_converted(commercial: User) -> None:
    quote = create_quote(
        actor=commercial,
        customer=CustomerFactory(),
        lines=[line()],
        valid_until=dt.date(2020, 1, 31),
    )
    send_quote(actor=commercial, quote=quote)
    with pytest.raises(NotAllowed):
        convert_quote_to_order(actor=commercial, quote=quote)


def test_an_expired_draft_quote_cannot_be_converted_either(commercial: User) -> None:
    quote = create_quote(
        actor=commercial,
        customer=CustomerFactory(),
        lines=[line()],
        valid_until=dt.date(2020, 1, 31),
    )
    with pytest.raises(NotAllowed):
        convert_quote_to_order(actor=commercial, quote=quote)
