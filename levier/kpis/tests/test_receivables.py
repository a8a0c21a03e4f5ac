"""AR, sales and DSO at a date, against the worked examples of kpis.md and hand-made books."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.billing.choices import CreditReason
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import issued_invoice, payment
from levier.customers.tests.factories import CustomerFactory
from levier.kpis.receivables import dso_countback, dso_simple, receivables, sales_ttc

D = Decimal


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def test_the_simple_dso_of_the_worked_example_is_45_days(adv: User, compta: User) -> None:
    # Receivables 30,000 TTC, sales over the last 90 days 60,000 → 45 days.
    customer = CustomerFactory()
    first = issued_invoice(adv, customer, net="30000", vat="0", issue_date=dt.date(2025, 11, 3))
    issued_invoice(adv, customer, net="30000", vat="0", issue_date=dt.date(2025, 12, 1))
    paid = payment(compta, customer, "30000.00", received_on=dt.date(2025, 12, 10))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(first.pk, D("30000"))])
    as_of = dt.date(2025, 12, 31)
    assert receivables(as_of) == D("30000.00")
    assert sales_ttc(as_of - dt.timedelta(days=90), as_of) == D("60000.00")
    assert dso_simple(as_of) == D("45.0")


def test_the_countback_dso_of_the_worked_example_is_53_and_a_half_days(
    adv: User, compta: User
) -> None:
    # AR at 31/12 = 20,000; December sales 12,500 → 7,500 left, 31 days; November 10,000 →
    # 7,500 ÷ 10,000 × 30 = 22.5 days; DSO = 53.5 days.
    customer = CustomerFactory()
    november = issued_invoice(adv, customer, net="10000", vat="0", issue_date=dt.date(2025, 11, 5))
    issued_invoice(adv, customer, net="12500", vat="0", issue_date=dt.date(2025, 12, 5))
    paid = payment(compta, customer, "2500.00", received_on=dt.date(2025, 12, 20))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(november.pk, D("2500"))])
    assert receivables(dt.date(2025, 12, 31)) == D("20000.00")
    assert dso_countback(dt.date(2025, 12, 31)) == D("53.5")


def test_receivables_of_a_past_date_ignore_what_came_after(adv: User, compta: User) -> None:
    customer = CustomerFactory()
    invoice = issued_invoice(adv, customer, net="1000", issue_date=dt.date(2025, 10, 1))
    note = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason=CreditReason.PRICE_ERROR,
        lines=[{"description": "Remise", "quantity": "1", "unit_price": "100", "vat_rate": "20"}],
    )
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2025, 10, 20))
    paid = payment(compta, customer, "1080.00", received_on=dt.date(2025, 11, 15))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1080"))])
    later = issued_invoice(adv, customer, net="500", issue_date=dt.date(2025, 12, 1))
    assert receivables(dt.date(2025, 9, 30)) == D("0.00")
    assert receivables(dt.date(2025, 10, 10)) == D("1200.00")
    assert receivables(dt.date(2025, 10, 31)) == D("1080.00")  # credit note issued
    assert receivables(dt.date(2025, 11, 30)) == D("0.00")  # paid
    assert receivables(dt.date(2025, 12, 31)) == later.total_gross
    assert sales_ttc(dt.date(2025, 9, 30), dt.date(2025, 10, 31)) == D("1080.00")


def test_dso_is_undefined_not_an_error_without_sales(adv: User) -> None:
    issued_invoice(adv, net="1000", issue_date=dt.date(2025, 1, 6))
    as_of = dt.date(2025, 12, 31)
    assert receivables(as_of) == D("1200.00")
    assert dso_simple(as_of) is None
    assert dso_countback(dt.date(2023, 6, 30)) is None


def test_the_command_prints_the_figures_under_the_names_of_kpis_md(adv: User, compta: User) -> None:
    import io
    import json

    from django.core.management import CommandError, call_command

    issued_invoice(adv, net="1000", issue_date=dt.date(2025, 12, 1))
    out = io.StringIO()
    call_command("kpis", "--as-of", "2025-12-31", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["receivables_ttc"] == "1200.00" and result["sales_ttc_period"] == "1200.00"
    assert result["dso_simple"] == 90.0 and result["aged_balance"]["total"] == "1200.00"
    assert result["aged_balance"]["not_due"] == "1200.00"  # due 31/12: not late that day
    with pytest.raises(CommandError):
        call_command("kpis", "--as-of", "31/12/2025")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=4),
    paid=st.lists(st.integers(min_value=0, max_value=1000), min_size=4, max_size=4),
    pay_days=st.lists(st.integers(min_value=0, max_value=120), min_size=4, max_size=4),
    as_of_days=st.integers(min_value=0, max_value=200),
)
def test_the_aged_balance_buckets_sum_to_the_receivables_at_any_date(
    adv: User,
    compta: User,
    amounts: list[int],
    paid: list[int],
    pay_days: list[int],
    as_of_days: int,
) -> None:
    from django.db.models import Max

    from levier.billing.models import Invoice
    from levier.collections.aging import aged_balance

    # Examples share the database: each starts after the last issue date (numbers follow dates).
    last = Invoice.objects.aggregate(last=Max("issue_date"))["last"] or dt.date(2025, 3, 2)
    start = last + dt.timedelta(days=1)
    customer = CustomerFactory()
    invoices = [
        issued_invoice(adv, customer, net=str(a), vat="20", issue_date=start + dt.timedelta(days=n))
        for n, a in enumerate(amounts)
    ]
    for invoice, share, day in zip(invoices, paid, pay_days, strict=False):
        amount = (invoice.total_gross * share / 1000).quantize(D("0.01"))
        if amount > 0:
            money = payment(
                compta, customer, str(amount), received_on=start + dt.timedelta(days=day)
            )
            allocate_payment(actor=compta, payment=money, portions=[Portion(invoice.pk, amount)])
    as_of = start + dt.timedelta(days=as_of_days)
    aged = aged_balance(None, as_of)
    buckets = aged.not_due + aged.days_1_30 + aged.days_31_60 + aged.days_61_90 + aged.over_90
    assert buckets == aged.total == receivables(as_of)


def test_an_invoice_credited_after_it_was_paid_owes_money_back_at_later_dates(
    adv: User, compta: User
) -> None:
    from levier.collections.aging import aged_balance

    customer = CustomerFactory()
    invoice = issued_invoice(adv, customer, net="1000", issue_date=dt.date(2025, 10, 1))
    paid = payment(compta, customer, "1200.00", received_on=dt.date(2025, 10, 20))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200"))])
    note = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason=CreditReason.COMMERCIAL_GESTURE,
        lines=[{"description": "Geste", "quantity": "1", "unit_price": "100", "vat_rate": "20"}],
    )
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2025, 11, 5))
    # Settled on 20/10; from 05/11 the customer is owed 120 back: AR counts it.
    assert receivables(dt.date(2025, 10, 25)) == D("0.00")
    assert receivables(dt.date(2025, 11, 10)) == D("-120.00")
    assert aged_balance(None, dt.date(2025, 10, 25)).total == D("0.00")
    assert aged_balance(None, dt.date(2025, 11, 10)).total == D("-120.00")
    assert aged_balance(customer, dt.date(2025, 11, 10)).total == D("-120.00")


def _countback_over_24_months(
    as_of: dt.date, ar: Decimal, sales: dict[dt.date, Decimal]
) -> Decimal | None:
    """kpis.md's countback read literally: every one of the 24 months at once."""
    from levier.lib.periods import add_months

    if not any(amount > 0 for amount in sales.values()):
        return None
    left, days, month = ar, Decimal(0), as_of.replace(day=1)
    for n in range(24):
        if left <= 0:
            break
        month_days = as_of.day if n == 0 else (add_months(month, 1) - month).days
        month_sales = sales.get(month, Decimal(0))
        if left >= month_sales:
            left, days = left - month_sales, days + month_days
        else:
            days += left / month_sales * month_days
            break
        month = add_months(month, -1)
    return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@given(
    monthly=st.lists(
        st.decimals(min_value=-2000, max_value=20000, places=2, allow_nan=False),
        min_size=24,
        max_size=24,
    ),
    ar=st.decimals(min_value=-1000, max_value=400000, places=2, allow_nan=False),
)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_reading_six_months_first_gives_the_countback_of_all_24(
    monthly: list[Decimal], ar: Decimal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levier.kpis import receivables as module
    from levier.lib.periods import add_months

    as_of = dt.date(2026, 10, 17)
    first = as_of.replace(day=1)
    every = {add_months(first, -n): amount for n, amount in enumerate(monthly)}

    def monthly_sales(day: dt.date, months: int = 24) -> dict[dt.date, Decimal]:
        return {add_months(first, -n): every[add_months(first, -n)] for n in range(months)}

    monkeypatch.setattr(module, "monthly_sales", monthly_sales)
    assert dso_countback(as_of, ar) == _countback_over_24_months(as_of, ar, every)
