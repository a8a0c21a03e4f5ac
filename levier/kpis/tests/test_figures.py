"""Every KPI of kpis.md on a small book worked out by hand (the arithmetic is in the comments).

The book, one customer on 30-day terms, VAT 20 %, d = 31/03/2026, P = 90 days, so the
period is (31/12/2025, 31/03/2026]:

    I0  issued 15/11/2025  3,600 TTC  due 15/12/2025  paid 14/01/2026 (30 days late)
    I1  issued 10/01/2026  1,200 TTC  billable 05/01 (5 days)  due 09/02  paid 01/02 (8 early)
        a "quality" dispute opened 20/01, rejected 30/01 (10 days)
    I2  issued 15/02/2026  2,400 TTC  billable 15/02 (0 days)  due 17/03  1,000 paid 20/03;
        a "not delivered" dispute opened 25/03, still open at d (1,400 disputed)
    I3  issued 20/03/2026    600 TTC  billable 10/03 (10 days) due 19/04; credit note
        (price error) 120 TTC on 25/03
    I4  issued 01/03/2026  1,800 TTC  billable 28/02 (1 day)  due 31/03  paid 31/03 (on time)

December 2025 has no sales at all.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.billing.choices import CreditReason
from levier.billing.models import Invoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import DisputeReason
from levier.collections.disputes import open_dispute
from levier.customers.tests.factories import CustomerFactory
from levier.kpis import activity
from levier.kpis.figures import KpiFigures
from levier.kpis.receivables import sales_ttc
from levier.kpis.services import compute_kpis
from levier.kpis.tests.conftest import invoice
from levier.kpis.tests.kpis_md_names import LEVIER_NAMES

D = Decimal
AS_OF = dt.date(2026, 3, 31)


@pytest.fixture
def figures(book: dict[str, Invoice]) -> KpiFigures:
    return compute_kpis(AS_OF, 90)


def test_receivables_are_the_partly_paid_and_the_credited_invoices(figures: KpiFigures) -> None:
    # I2 2,400 − 1,000 = 1,400; I3 600 − 120 = 480; the others settled by d.
    assert figures.receivables_ttc == D("1880.00")
    # Invoices 1,200 + 2,400 + 1,800 + 600, less the credit note 120.
    assert figures.sales_ttc_period == D("5880.00")


def test_dso_simple_and_countback_of_the_book(figures: KpiFigures) -> None:
    # 1,880 ÷ 5,880 × 90 = 28.78 days.
    assert figures.dso_simple == D("28.8")
    # March sales 1,800 + 600 − 120 = 2,280 > 1,880: 1,880 ÷ 2,280 × 31 = 25.56 days.
    assert figures.dso_countback == D("25.6")


def test_countback_walks_through_a_month_without_sales(book: dict[str, Invoice]) -> None:
    # At 12/01/2026: AR = I0 3,600 + I1 1,200 = 4,800. January (12 days) 1,200 → 3,600 left;
    # December sold nothing: its 31 days count whole; November 3,600 → 0 left, 30 days.
    assert compute_kpis(dt.date(2026, 1, 12), 90).dso_countback == D("73.0")


def test_invoicing_delay_plain_and_weighted_by_amount(figures: KpiFigures) -> None:
    # (5 + 0 + 10 + 1) ÷ 4 = 4 days; weighted by HT: (5×1,000 + 0×2,000 + 10×500 + 1×1,500)
    # ÷ 5,000 = 2.3 days.
    assert figures.invoicing_delay_days == D("4.0")
    assert figures.invoicing_delay_days_weighted == D("2.3")


def test_credit_note_rate_by_count_and_amount(figures: KpiFigures) -> None:
    # One credit note for four invoices; 100 HT for 5,000 HT.
    assert figures.credit_note_rate == D("0.2500")
    assert figures.credit_note_rate_amount == D("0.0200")


def test_error_rate_counts_billing_errors_not_delivery_disputes(figures: KpiFigures) -> None:
    # Only I3 (price-error credit note); I1 (quality) and I2 (not delivered) are not errors.
    assert figures.invoice_error_rate == D("0.2500")


def test_dispute_figures(figures: KpiFigures) -> None:
    # I1 and I2 were disputed: 2 of 4; I1's dispute took 10 days; I2's is open for 1,400.
    assert figures.dispute_rate == D("0.5000")
    assert figures.dispute_resolution_days == D("10.0")
    assert figures.open_disputes_count == 1
    assert figures.open_disputes_amount == D("1400.00")


def test_aged_balance_and_overdue_ratio(figures: KpiFigures) -> None:
    # I2 due 17/03: 14 days late; I3 due 19/04: not due.
    assert figures.aged_balance == {
        "not_due": D("480.00"),
        "1_30": D("1400.00"),
        "31_60": D("0.00"),
        "61_90": D("0.00"),
        "over_90": D("0.00"),
        "total": D("1880.00"),
    }
    assert figures.overdue_ratio == D("0.7447")  # 1,400 ÷ 1,880


def test_payment_delay_counts_early_payments_as_negative(figures: KpiFigures) -> None:
    # Settled in the period: I0 +30, I1 −8, I4 0 → 22 ÷ 3 = 7.3 days; weighted by TTC:
    # (30×3,600 − 8×1,200 + 0×1,800) ÷ 6,600 = 14.9 days.
    assert figures.average_payment_delay_days == D("7.3")
    assert figures.average_payment_delay_days_weighted == D("14.9")


def test_cei_of_the_quarter(figures: KpiFigures) -> None:
    # (AR(a) 3,600 + sales 5,880 − AR(b) 1,880) ÷ (3,600 + 5,880 − current 480) = 84.4 %.
    assert figures.cei == D("84.4")


def test_cash_forecast_places_overdue_now_and_the_rest_after_the_customers_delay(
    figures: KpiFigures,
) -> None:
    # The customer settled 3 invoices in the year: its own delay, 7.3 → 7 days. Week 1 starts
    # Monday 30/03. I2 (due 17/03 + 7, overdue) → week 1; I3 due 19/04 + 7 = 26/04 → week of
    # 20/04.
    weeks = {week.week_start: week.expected for week in figures.cash_forecast}
    assert len(figures.cash_forecast) == 13
    assert figures.cash_forecast[0].week_start == dt.date(2026, 3, 30)
    assert weeks[dt.date(2026, 3, 30)] == D("1400.00")
    assert weeks[dt.date(2026, 4, 20)] == D("480.00")
    assert sum(weeks.values()) == figures.receivables_ttc
    assert figures.cash_forecast_later == D("0.00")


def test_no_fae_nor_pca_without_contracts_or_service_periods(figures: KpiFigures) -> None:
    assert figures.fae == D("0.00") and figures.pca == D("0.00")


def test_the_command_prints_every_name_of_kpis_md(book: dict[str, Invoice]) -> None:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("kpis", "--as-of", "2026-03-31", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert set(result) >= LEVIER_NAMES
    assert result["receivables_ttc"] == "1880.00"
    assert result["dso_simple"] == 28.8
    assert result["credit_note_rate"] == 0.25
    assert result["order_validation_hours_median"] is None  # no order validated
    assert result["cash_forecast"][0] == {"week_start": "2026-03-30", "expected": "1400.00"}
    assert result["aged_balance"]["1_30"] == "1400.00"


def test_figures_are_undefined_not_errors_on_an_empty_book(db: None) -> None:
    figures = compute_kpis(AS_OF, 90)
    assert figures.receivables_ttc == D("0.00")
    assert figures.dso_simple is None and figures.dso_countback is None
    assert figures.invoicing_delay_days is None and figures.credit_note_rate is None
    assert figures.dispute_rate is None and figures.overdue_ratio is None
    assert figures.cei is None and figures.average_payment_delay_days is None
    assert [week.expected for week in figures.cash_forecast] == [D("0.00")] * 13


@pytest.mark.parametrize(
    ("as_of", "period"),
    [(AS_OF, 90), (AS_OF, 30), (dt.date(2026, 1, 31), 45), (dt.date(2025, 12, 31), 31)],
)
def test_the_rates_read_in_one_pass_are_those_of_each_function(
    book: dict[str, Invoice], as_of: dt.date, period: int
) -> None:
    rates = activity.period_rates(as_of, period)
    assert (rates.invoicing_delay, rates.invoicing_delay_weighted) == activity.invoicing_delay(
        as_of, period
    )
    assert (rates.credit_note_rate, rates.credit_note_rate_amount) == activity.credit_note_rates(
        as_of, period
    )
    assert rates.invoice_error_rate == activity.invoice_error_rate(as_of, period)
    assert rates.dispute_rate == activity.dispute_rate(as_of, period)
    assert rates.sales_ttc == sales_ttc(as_of - dt.timedelta(days=period), as_of)


def test_errors_found_before_or_after_the_date_count_only_for_the_periods_invoices(
    adv: User, compta: User
) -> None:
    """Billing-error disputes and credit notes are read over the whole ledger, but only the
    invoices issued in the period count, and only what was found by d."""
    complete_company_profile()
    customer = CustomerFactory()
    older = invoice(adv, customer, "100", dt.date(2026, 1, 5))  # before the period
    priced_wrong = invoice(adv, customer, "100", dt.date(2026, 2, 10))
    credited = invoice(adv, customer, "100", dt.date(2026, 2, 20))
    found_late = invoice(adv, customer, "100", dt.date(2026, 3, 1))
    invoice(adv, customer, "100", dt.date(2026, 3, 10))  # right
    open_dispute(
        actor=compta,
        invoice=older,
        opened_on=dt.date(2026, 2, 1),
        reason=DisputeReason.DUPLICATE,
        owner=compta,
        due_on=dt.date(2026, 5, 1),
    )
    open_dispute(
        actor=compta,
        invoice=priced_wrong,
        opened_on=dt.date(2026, 3, 2),
        reason=DisputeReason.PRICE,
        owner=compta,
        due_on=dt.date(2026, 5, 1),
    )
    note = create_credit_note(actor=adv, invoice=credited, reason=CreditReason.DUPLICATE)
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 3, 5))
    open_dispute(
        actor=compta,
        invoice=found_late,
        opened_on=dt.date(2026, 4, 2),
        reason=DisputeReason.QUANTITY,
        owner=compta,
        due_on=dt.date(2026, 5, 1),
    )
    as_of, period = dt.date(2026, 3, 31), 60  # (30/01, 31/03]: four invoices

    rates = activity.period_rates(as_of, period)

    assert rates.invoice_error_rate == D("0.5000")  # priced wrong and credited, of 4
    assert rates.dispute_rate == D("0.2500")  # priced wrong (found late: after d)
    assert rates.invoice_error_rate == activity.invoice_error_rate(as_of, period)
    assert rates.dispute_rate == activity.dispute_rate(as_of, period)
    assert rates.sales_ttc == sales_ttc(as_of - dt.timedelta(days=period), as_of)
