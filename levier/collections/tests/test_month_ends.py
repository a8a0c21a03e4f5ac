"""Open items stored at month ends stay what the facts say, whatever happens after they are
stored (`levier.collections.month_ends`), and an aged balance counted from them is the one
counted from today or forward from the invoices open that day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.billing.models import Invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections import aging
from levier.collections.aging import aged_balance, open_at, open_items
from levier.collections.models import Allocation, MonthEnd, MonthEndItem
from levier.collections.month_ends import (
    month_end_of,
    nearest_month_end,
    store_month_end,
    store_month_ends,
)
from levier.collections.payments import Portion, allocate_payment, unmatch
from levier.collections.tests.factories import gesture_credit_note, issued_invoice, payment
from levier.customers.tests.factories import CustomerFactory
from levier.kpis.receivables import receivables

D = Decimal
CENT = D("0.01")


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def _stored_items_match_the_facts() -> None:
    for month_end in MonthEnd.objects.all():
        stored = dict(
            MonthEndItem.objects.filter(month_end=month_end).values_list("invoice_id", "amount")
        )
        facts = {i.pk: open_at(i) for i in open_items(None, month_end.day)}
        assert stored == facts, month_end.day


# One invoice: net amount, share paid (‰), day paid, credit note (% of net, 0: none), and
# whether its payment comes before the month ends are stored or after (dated in the past).
invoice_plans = st.tuples(
    st.integers(min_value=1, max_value=900),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=80),
    st.integers(min_value=0, max_value=100),
    st.booleans(),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plans=st.lists(invoice_plans, min_size=1, max_size=5),
    two_customers=st.booleans(),
    undo_one=st.booleans(),
)
def test_stored_month_ends_follow_payments_credit_notes_and_undoing_dated_in_the_past(
    adv: User,
    compta: User,
    monkeypatch: pytest.MonkeyPatch,
    plans: list[tuple[int, int, int, int, bool]],
    two_customers: bool,
    undo_one: bool,
) -> None:
    # Each example in a savepoint rolled back at its end: every one starts from the same
    # empty books, on the same dates, all in the past.
    with transaction.atomic():
        _check_one_book(adv, compta, monkeypatch, plans, two_customers, undo_one)
        transaction.set_rollback(True)


def _check_one_book(
    adv: User,
    compta: User,
    monkeypatch: pytest.MonkeyPatch,
    plans: list[tuple[int, int, int, int, bool]],
    two_customers: bool,
    undo_one: bool,
) -> None:
    start = dt.date(2025, 1, 20)
    buyers = [CustomerFactory(), CustomerFactory()] if two_customers else [CustomerFactory()]
    # Half the invoices before the month ends are stored, half after: dated in the past, on
    # or before a stored month end (issue_invoices then recomputes their rows).
    half = (len(plans) + 1) // 2
    invoices: list[Invoice] = []
    later: list[tuple[Invoice, int, int, bool]] = []

    def pay(invoice: Invoice, share: int, day: int) -> None:
        paid_on = max(invoice.issue_date, start + dt.timedelta(days=day))
        amount = (invoice.total_gross * share / 1000).quantize(CENT)
        if amount > 0:
            money = payment(compta, invoice.customer, str(amount), received_on=paid_on)
            allocate_payment(actor=compta, payment=money, portions=[Portion(invoice.pk, amount)])

    for n, (net, share, day, _credit, paid_later) in enumerate(plans):
        if n == half:
            store_month_ends()
        invoice = issued_invoice(
            adv, buyers[n % len(buyers)], net=str(net), issue_date=start + dt.timedelta(days=n)
        )
        invoices.append(invoice)
        if paid_later:
            later.append((invoice, share, day, True))
        else:
            pay(invoice, share, day)
    store_month_ends()
    for invoice, share, day, _later in later:
        pay(invoice, share, day)
    after_invoices = start + dt.timedelta(days=len(plans))
    credits = sorted(
        (after_invoices + dt.timedelta(days=day), invoice.pk, invoice, credit)
        for invoice, (_net, _share, day, credit, _later) in zip(invoices, plans, strict=True)
        if credit
    )
    for credited_on, _pk, invoice, credit in credits:  # in date order: numbers follow dates
        gesture_credit_note(adv, invoice, credit, credited_on)
    allocation = Allocation.objects.filter(invoice__in=invoices).order_by("pk").first()
    if undo_one and allocation is not None:
        unmatch(actor=compta, allocation=allocation, reason="pas ce client")

    _stored_items_match_the_facts()
    latest = after_invoices + dt.timedelta(days=200)
    for offset in range(-25, (latest - start).days, 6):
        as_of = start + dt.timedelta(days=offset)
        whole = aged_balance(None, as_of)
        own = [aged_balance(buyer, as_of) for buyer in buyers]
        assert whole.total == receivables(as_of), as_of
        with monkeypatch.context() as without_month_ends:
            without_month_ends.setattr(aging, "nearest_month_end", lambda _day: None)
            assert aged_balance(None, as_of) == whole, as_of
            assert [aged_balance(buyer, as_of) for buyer in buyers] == own, as_of


def test_only_past_month_ends_are_stored(adv: User) -> None:
    today = timezone.localdate()
    with pytest.raises(ValueError, match="not the last day"):
        store_month_end(dt.date(2026, 1, 30))
    with pytest.raises(ValueError, match="not in the past"):
        store_month_end(month_end_of(today))
    issued_invoice(adv, issue_date=dt.date(2026, 1, 15))
    stored = store_month_ends()
    assert stored[0] == dt.date(2026, 1, 31)
    assert stored[-1] == today.replace(day=1) - dt.timedelta(days=1)
    assert store_month_ends() == []  # stored once
    assert MonthEndItem.objects.filter(month_end__day=dt.date(2026, 1, 31)).count() == 1


def test_the_nearest_stored_month_end_is_the_base_and_today_when_nearer(
    adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = timezone.localdate()
    issued_invoice(adv, issue_date=dt.date(2025, 1, 15))
    store_month_ends(until=dt.date(2025, 6, 30))
    assert nearest_month_end(dt.date(2025, 3, 14)).day == dt.date(2025, 2, 28)  # type: ignore[union-attr]
    assert nearest_month_end(dt.date(2025, 3, 17)).day == dt.date(2025, 3, 31)  # type: ignore[union-attr]
    calls: list[str] = []
    monkeypatch.setattr(aging, "_counted_from_month_end", lambda *a: calls.append("m+") or [])
    monkeypatch.setattr(aging, "_counted_back", lambda *a: calls.append(f"back{len(a)}") or [])
    aging.open_parts(None, dt.date(2025, 3, 14))  # forwards from February's end
    aging.open_parts(None, dt.date(2025, 3, 17))  # backwards from March's end
    aging.open_parts(None, today - dt.timedelta(days=3))  # from today: nearer
    assert calls == ["m+", "back3", "back2"]


def test_a_deposit_received_before_its_invoice_counts_after_the_month_end_it_precedes(
    adv: User, compta: User
) -> None:
    invoice = issued_invoice(adv, net="1000", issue_date=dt.date(2025, 2, 10))
    deposit = payment(compta, invoice.customer, "300.00", received_on=dt.date(2025, 1, 25))
    store_month_ends()
    allocate_payment(actor=compta, payment=deposit, portions=[Portion(invoice.pk, D("300.00"))])
    # From January's end forwards: the invoice is issued after it, the deposit before.
    assert aged_balance(None, dt.date(2025, 2, 12)).total == D("900.00")
    assert receivables(dt.date(2025, 2, 12)) == D("900.00")
    _stored_items_match_the_facts()
