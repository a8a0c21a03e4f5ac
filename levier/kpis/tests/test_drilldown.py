"""Each figure opens the documents it was computed from, and their total is the figure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from levier.billing.models import Invoice
from levier.kpis.drilldown import DRILLDOWN_KEYS, drilldown
from levier.kpis.services import compute_kpis
from levier.lib.errors import ValidationFailed

D = Decimal
AS_OF = dt.date(2026, 3, 31)


def numbers(key: str, **filters: str) -> list[str]:
    return [row["number"] for row in drilldown(key, AS_OF, 90, filters).rows]


def test_the_receivables_list_adds_up_to_the_receivables(book: dict[str, Invoice]) -> None:
    listed = drilldown("receivables", AS_OF, 90, {})
    assert listed.total == compute_kpis(AS_OF, 90).receivables_ttc == D("1880.00")
    assert [row["number"] for row in listed.rows] == [book["i2"].number, book["i3"].number]
    assert len(listed.rows) == 2 and listed.rows.count() == 2
    first = listed.rows[0]
    assert first["open_at"] == D("1400.00") and first["days_late"] == 14
    assert first["url"] == f"/invoices/{book['i2'].pk}/"


def test_an_aged_bucket_lists_only_its_invoices(book: dict[str, Invoice]) -> None:
    assert numbers("aged_balance", bucket="1_30") == [book["i2"].number]
    assert numbers("aged_balance", bucket="not_due") == [book["i3"].number]
    assert numbers("aged_balance", bucket="over_90") == []
    assert numbers("overdue") == [book["i2"].number]


def test_sales_list_the_credit_note_as_a_negative_amount(book: dict[str, Invoice]) -> None:
    listed = drilldown("sales", AS_OF, 90, {})
    assert listed.total == D("5880.00")
    amounts = sorted(row["signed_total"] for row in listed.rows)
    assert amounts[0] == D("-120.00") and len(amounts) == 5


def test_rate_lists_show_the_invoices_counted(book: dict[str, Invoice]) -> None:
    assert numbers("invoice_errors") == [book["i3"].number]
    assert sorted(numbers("disputed_invoices")) == sorted([book["i1"].number, book["i2"].number])
    assert [row["reason"] for row in drilldown("credit_notes", AS_OF, 90, {}).rows] == [
        "Erreur de prix ou de quantité"
    ]
    delays = {
        row["number"]: row["delay_days"] for row in drilldown("invoicing_delay", AS_OF, 90, {}).rows
    }
    assert delays == {
        book["i1"].number: 5,
        book["i2"].number: 0,
        book["i3"].number: 10,
        book["i4"].number: 1,
    }


def test_dispute_lists(book: dict[str, Invoice]) -> None:
    resolved = drilldown("dispute_resolution", AS_OF, 90, {})
    assert [(r["number"], r["resolution_days"]) for r in resolved.rows] == [(book["i1"].number, 10)]
    open_now = drilldown("open_disputes", AS_OF, 90, {})
    assert [r["number"] for r in open_now.rows] == [book["i2"].number]
    assert open_now.total == D("1400.00")
    assert numbers("disputes_opened", reason="not_delivered") == [book["i2"].number]
    assert numbers("disputes_opened", reason="price") == []


def test_payment_delay_list_shows_early_payments_negative(book: dict[str, Invoice]) -> None:
    delays = {
        r["number"]: r["payment_delay_days"] for r in drilldown("payment_delay", AS_OF, 90, {}).rows
    }
    assert delays == {book["i0"].number: 30, book["i1"].number: -8, book["i4"].number: 0}


def test_each_forecast_week_lists_invoices_adding_up_to_that_weeks_expected_amount(
    book: dict[str, Invoice],
) -> None:
    figures = compute_kpis(AS_OF, 90)
    weeks = [(week.week_start, week.expected) for week in figures.cash_forecast]
    weeks.append((weeks[-1][0] + dt.timedelta(weeks=1), figures.cash_forecast_later))
    for monday, expected in weeks:
        listed = drilldown("cash_forecast", AS_OF, 90, {"week": monday.isoformat()})
        assert listed.total == expected, monday
        assert sum((row["open_at"] for row in listed.rows), D(0)) == expected, monday
        assert all(row["week_start"] == monday for row in listed.rows)
    everything = drilldown("cash_forecast", AS_OF, 90, {})
    assert everything.total == sum((expected for _, expected in weeks), D(0)) == D("1880.00")
    # A page is a slice of the whole list, in the same order.
    assert everything.rows[0:1] == [everything.rows[0]] == list(everything.rows)[:1]
    assert len(everything.rows) == everything.rows.count() == 2
    assert everything.rows[-1] == list(everything.rows)[-1] != everything.rows[0]
    with pytest.raises(IndexError):
        everything.rows[2]


def test_a_list_read_by_pages_answers_any_index_as_a_list_would(book: dict[str, Invoice]) -> None:
    for key in ("receivables", "fae", "cash_forecast"):
        rows = drilldown(key, AS_OF, 90, {}).rows
        whole = list(rows)
        assert [rows[i] for i in range(-len(whole), len(whole))] == whole + whole, key
        assert rows[1:] == whole[1:] and rows[:0] == [], key
        for beyond in (len(whole), -len(whole) - 1):
            with pytest.raises(IndexError):
                rows[beyond]


def test_cash_forecast_week_lists_the_invoices_expected_that_week(book: dict[str, Invoice]) -> None:
    assert numbers("cash_forecast", week="2026-03-30") == [book["i2"].number]
    assert numbers("cash_forecast", week="2026-04-20") == [book["i3"].number]
    assert numbers("cash_forecast", week="2026-04-06") == []
    assert drilldown("cash_forecast", AS_OF, 90, {}).total == D("1880.00")


def test_a_customer_filter_narrows_every_list(book: dict[str, Invoice]) -> None:
    other = book["i0"].customer_id + 1000
    for key in DRILLDOWN_KEYS:
        assert len(drilldown(key, AS_OF, 90, {"customer": str(other)}).rows) == 0, key
    assert numbers("receivables", customer=str(book["i2"].customer_id)) == [
        book["i2"].number,
        book["i3"].number,
    ]


@pytest.mark.parametrize(
    ("key", "filters", "field"),
    [
        ("aged_balance", {"bucket": "2_3"}, "bucket"),
        ("receivables", {"customer": "abc"}, "customer"),
        ("receivables", {"customer": "9" * 40}, "customer"),
        ("cash_forecast", {"week": "2026-04-01"}, "week"),  # a Wednesday
        ("cash_forecast", {"week": "2027-01-04"}, "week"),  # beyond the 13 weeks
        ("cash_forecast", {"week": "not a date"}, "week"),
        ("disputes_opened", {"reason": "weather"}, "reason"),
        ("order_validation", {"role": "pilot"}, "role"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(
    db: None, key: str, filters: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        drilldown(key, AS_OF, 90, filters)
    assert field in refused.value.errors


def test_an_unknown_list_is_a_key_error(db: None) -> None:
    with pytest.raises(KeyError):
        drilldown("happiness", AS_OF, 90, {})


def test_every_list_opens_on_an_empty_book(db: None) -> None:
    for key in DRILLDOWN_KEYS:
        listed = drilldown(key, AS_OF, 90, {})
        assert list(listed.rows) == [] and listed.total in (None, D("0.00")), key


def test_invoicing_delay_lists_by_invoicing_mode(book: dict[str, Invoice]) -> None:
    # The book's invoices are typed by hand: no contract, no order, so "other".
    listed = drilldown("invoicing_delay", AS_OF, 90, {"mode": "other"})
    assert len(listed.rows) == 4 and {row["mode"] for row in listed.rows} == {"Autre"}
    assert len(drilldown("invoicing_delay", AS_OF, 90, {"mode": "recurring"}).rows) == 0
    with pytest.raises(ValidationFailed) as refused:
        drilldown("invoicing_delay", AS_OF, 90, {"mode": "barter"})
    assert "mode" in refused.value.errors


def test_reading_a_whole_list_costs_the_same_queries_for_any_number_of_rows(
    book: dict[str, Invoice],
) -> None:
    """Each row shows columns already read with the page: none is fetched row by row (a
    field left out of `_shown` would be, one query per row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for key in DRILLDOWN_KEYS:
        listed = drilldown(key, AS_OF, 90, {})
        with CaptureQueriesContext(connection) as read:
            rows = list(listed.rows)
        # list() asks the length first: a COUNT, then the rows.
        assert len(read) <= 2, (key, len(rows), [q["sql"][:80] for q in read.captured_queries])
