"""The open amounts at a past date are the same counted back from today or forward from the
invoices open that day (`levier.collections.aging.open_parts` picks one by how far back
the date is): a book of random invoices, partial and full payments and credit notes
issued before or after the payments (some fully paid first: money owed back), read at every date around it both ways."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Max
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.billing.models import Invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections import aging
from levier.collections.aging import AgedBalance, aged_balance
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import gesture_credit_note, issued_invoice, payment
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.kpis.receivables import open_receivables, receivables

D = Decimal
CENT = D("0.01")


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def _both_ways(
    monkeypatch: pytest.MonkeyPatch, customer: Customer | None, as_of: dt.date
) -> tuple[AgedBalance, AgedBalance]:
    monkeypatch.setattr(aging, "COUNT_BACK_DAYS", 100_000)
    back = aged_balance(customer, as_of)
    monkeypatch.setattr(aging, "COUNT_BACK_DAYS", -1)
    forward = aged_balance(customer, as_of)
    return back, forward


# One invoice: net amount, share paid (‰), day paid, credit note (% of
# net, 0: none) and whether it is issued after the payment.
invoice_plans = st.tuples(
    st.integers(min_value=1, max_value=900),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=0, max_value=100),
    st.booleans(),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plans=st.lists(invoice_plans, min_size=1, max_size=4), two_customers=st.booleans())
def test_the_open_amounts_of_a_past_date_are_the_same_counted_back_or_forward(
    adv: User,
    compta: User,
    monkeypatch: pytest.MonkeyPatch,
    plans: list[tuple[int, int, int, int, bool]],
    two_customers: bool,
) -> None:
    # Examples share the database: each starts after the last issue date (numbers follow dates),
    # at most ~70 days later than the one before, so that every date read stays in the past.
    last = Invoice.objects.aggregate(last=Max("issue_date"))["last"] or dt.date(2020, 1, 6)
    start = last + dt.timedelta(days=1)
    buyers = [CustomerFactory(), CustomerFactory()] if two_customers else [CustomerFactory()]
    invoices = [
        issued_invoice(
            adv, buyers[n % len(buyers)], net=str(net), issue_date=start + dt.timedelta(days=n)
        )
        for n, (net, *_rest) in enumerate(plans)
    ]
    after_invoices = start + dt.timedelta(days=len(plans))
    credits: list[tuple[dt.date, Invoice, int]] = []
    for invoice, (_net, share, day, credit, after_payment) in zip(invoices, plans, strict=True):
        paid_on = max(invoice.issue_date, start + dt.timedelta(days=day))
        amount = (invoice.total_gross * share / 1000).quantize(CENT)
        if amount > 0:
            money = payment(compta, invoice.customer, str(amount), received_on=paid_on)
            allocate_payment(actor=compta, payment=money, portions=[Portion(invoice.pk, amount)])
        if credit:
            credited_on = max(
                after_invoices, paid_on + dt.timedelta(days=1 if after_payment else -1)
            )
            credits.append((credited_on, invoice, credit))
    # Credit notes in date order, after every invoice (their numbers follow dates too).
    for credited_on, invoice, credit in sorted(credits, key=lambda row: (row[0], row[1].pk)):
        gesture_credit_note(adv, invoice, credit, credited_on)

    latest = max([after_invoices, *(day for day, _invoice, _credit in credits)])
    for offset in range(-2, (latest - start).days + 200, 9):
        as_of = start + dt.timedelta(days=offset)
        back, forward = _both_ways(monkeypatch, None, as_of)
        assert back == forward, as_of
        assert back.total == receivables(as_of) == open_receivables(as_of)
        for buyer in buyers:
            back, forward = _both_ways(monkeypatch, buyer, as_of)
            assert back == forward, (buyer.name, as_of)


def test_a_date_within_the_horizon_is_counted_back_and_an_older_one_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.utils import timezone

    today = timezone.localdate()
    recent = today - dt.timedelta(days=aging.COUNT_BACK_DAYS)
    older = recent - dt.timedelta(days=1)
    calls: list[str] = []
    monkeypatch.setattr(aging, "_counted_back", lambda *args: calls.append("back") or [])
    monkeypatch.setattr(aging, "_counted_forward", lambda *args: calls.append("fwd") or [])
    aging.open_parts(None, recent)
    aging.open_parts(None, older)
    assert calls == ["back", "fwd"]
    assert len(aging.open_parts(None, today)) == 1  # today: the stored open amounts alone
