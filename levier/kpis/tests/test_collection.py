"""The cash forecast uses each customer's habit, or the company's for a customer too new."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.billing.tests.factories import complete_company_profile
from levier.customers.tests.factories import CustomerFactory
from levier.kpis.collection import (
    cash_forecast,
    expected_collections,
    payment_delays,
)
from levier.kpis.tests.conftest import invoice, pay

D = Decimal
AS_OF = dt.date(2026, 6, 30)  # a Tuesday: week 1 starts Monday 29/06


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def test_a_new_customer_is_expected_at_the_company_delay(adv: User, compta: User) -> None:
    regular = CustomerFactory(payment_terms_days=30)
    newcomer = CustomerFactory(payment_terms_days=30)
    # The regular customer pays 10 days late, three times; the newcomer once, 40 days late.
    for month in (1, 2, 3):
        paid = invoice(adv, regular, "100", dt.date(2026, month, 1))
        pay(compta, paid, "120", paid.due_date + dt.timedelta(days=10))
    once = invoice(adv, newcomer, "100", dt.date(2026, 3, 2))
    pay(compta, once, "120", once.due_date + dt.timedelta(days=40))
    # Company: (10 + 10 + 10 + 40) ÷ 4 = 17.5 → 18 days (half away from zero).
    assert payment_delays(AS_OF) == ({regular.pk: 10}, 18)
    # Both owe 1,200 due Wednesday 15/07 (issued 15/06, 30 days).
    invoice(adv, regular, "1000", dt.date(2026, 6, 15))
    invoice(adv, newcomer, "1000", dt.date(2026, 6, 15))
    weeks = {week: amount for week, amount in cash_forecast(AS_OF).weeks if amount}
    # Regular: 15/07 + 10 = 25/07, week of 20/07. Newcomer: 15/07 + 18 = 02/08, week of 27/07.
    assert weeks == {dt.date(2026, 7, 20): D("1200.00"), dt.date(2026, 7, 27): D("1200.00")}


def test_what_is_expected_after_thirteen_weeks_is_given_apart(adv: User) -> None:
    # No settled invoice anywhere: everyone is expected on the due date.
    invoice(adv, CustomerFactory(payment_terms_days=60), "1000", dt.date(2026, 6, 29))
    invoice(adv, CustomerFactory(payment_terms_days=90), "500", dt.date(2026, 6, 30))
    forecast = cash_forecast(AS_OF)
    # Due 28/08 (a Friday): 60 days after Monday 29/06 → the ninth week, of 24/08.
    assert [(week, amount) for week, amount in forecast.weeks if amount] == [
        (dt.date(2026, 8, 24), D("1200.00"))
    ]
    # Due 28/09: 91 days after 29/06, the fourteenth week: after the forecast.
    assert forecast.later == D("600.00")


def test_overdue_amounts_are_expected_this_week_not_in_the_past(adv: User) -> None:
    old = CustomerFactory(payment_terms_days=30)
    invoice(adv, old, "1000", dt.date(2026, 1, 5))  # due 04/02, five months late
    forecast = cash_forecast(AS_OF)
    assert forecast.weeks[0] == (dt.date(2026, 6, 29), D("1200.00"))


def test_a_customers_half_day_mean_delay_rounds_away_from_zero_both_ways(
    adv: User, compta: User
) -> None:
    late = CustomerFactory(payment_terms_days=30)
    early = CustomerFactory(payment_terms_days=30)
    # Late: 1, 2, 3 and 4 days late, a mean of 2.5 → 3 days. Early: 2, 3, 2 and 3 days
    # early, a mean of −2.5 → −3 days.
    for month, late_by, early_by in ((1, 1, 2), (2, 2, 3), (3, 3, 2), (4, 4, 3)):
        paid = invoice(adv, late, "100", dt.date(2026, month, 2))
        pay(compta, paid, "120", paid.due_date + dt.timedelta(days=late_by))
        paid = invoice(adv, early, "100", dt.date(2026, month, 3))
        pay(compta, paid, "120", paid.due_date - dt.timedelta(days=early_by))
    invoice(adv, late, "1000", dt.date(2026, 6, 10))  # due Friday 10/07
    invoice(adv, early, "500", dt.date(2026, 6, 15))  # due Wednesday 15/07

    weeks = {week: amount for week, amount in cash_forecast(AS_OF).weeks if amount}

    # 10/07 + 3 = 13/07, the week of 13/07 (2 days: the week before). 15/07 − 3 = 12/07, the
    # week of 06/07 (−2 days: 13/07, the week after).
    assert weeks == {dt.date(2026, 7, 13): D("1200.00"), dt.date(2026, 7, 6): D("600.00")}
    listed = [
        (row.due_date, row.expected_delay, row.forecast_week)
        for customer in (late, early)
        for row in expected_collections(AS_OF, customer.pk)
    ]
    # The drill-down's weeks, counted from 29/06.
    assert listed == [(dt.date(2026, 7, 10), 3, 2), (dt.date(2026, 7, 15), -3, 1)]
