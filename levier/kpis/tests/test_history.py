"""Weekly KPI snapshots: one per week, as reported then, never overwritten; backfill fills gaps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from levier.accounts.models import User
from levier.billing.choices import CreditReason
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.tests.factories import issued_invoice
from levier.customers.tests.factories import CustomerFactory
from levier.kpis import history
from levier.kpis.figures import KpiFigures
from levier.kpis.history import (
    backfill_snapshots,
    snapshot_for_week,
    take_snapshot,
    value_of,
    weekly_series,
)
from levier.kpis.models import KpiSnapshot, SnapshotSource
from levier.kpis.services import compute_kpis
from levier.lib.errors import ValidationFailed

pytestmark = pytest.mark.django_db

D = Decimal
MONDAY = dt.date(2026, 10, 12)
SUNDAY_BEFORE = dt.date(2026, 10, 11)


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def figures_at(as_of: dt.date, receivables: str = "1000.00") -> KpiFigures:
    """A hand-made set of figures (the computation is tested in its own modules)."""
    zero = D("0.00")
    return KpiFigures(
        as_of=as_of,
        period_days=90,
        receivables_ttc=D(receivables),
        sales_ttc_period=D("3000.00"),
        dso_simple=D("30.0"),
        dso_countback=None,
        invoicing_delay_days=D("2.5"),
        invoicing_delay_days_weighted=None,
        credit_note_rate=D("0.0300"),
        credit_note_rate_amount=None,
        invoice_error_rate=None,
        fae=zero,
        pca=zero,
        dispute_rate=None,
        dispute_resolution_days=None,
        open_disputes_count=2,
        open_disputes_amount=zero,
        aged_balance={
            "not_due": D(receivables),
            "1_30": zero,
            "31_60": zero,
            "61_90": zero,
            "over_90": D("12.50"),
            "total": D(receivables),
        },
        overdue_ratio=None,
        average_payment_delay_days=None,
        average_payment_delay_days_weighted=None,
        cei=None,
        order_validation_hours_median=None,
        order_validation_hours_p90=None,
        cash_forecast=[],
    )


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[dt.date]:
    """compute_kpis replaced by hand-made figures; returns the dates it was asked for."""
    calls: list[dt.date] = []

    def fake(as_of: dt.date, period_days: int) -> KpiFigures:
        calls.append(as_of)
        return figures_at(as_of, receivables=f"{1000 + len(calls)}.00")

    monkeypatch.setattr(history, "_compute", fake)
    return calls


def test_the_snapshot_of_a_week_reports_the_figures_of_the_sunday_before(
    computed: list[dt.date],
) -> None:
    snapshot = take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    assert snapshot.week_start == MONDAY
    assert snapshot.as_of == SUNDAY_BEFORE
    assert snapshot.period_days == 90
    assert snapshot.figures["as_of"] == "2026-10-11"
    assert snapshot.figures["receivables_ttc"] == "1001.00"
    assert computed == [SUNDAY_BEFORE]


def test_a_snapshot_taken_after_its_week_says_it_was_recomputed(computed: list[dt.date]) -> None:
    this_week = take_snapshot(timezone.localdate(), source=SnapshotSource.WEEKLY_JOB)
    assert not this_week.recomputed
    # Taken today for October: the books of today, not those the Direction read then.
    late = take_snapshot(MONDAY, source=SnapshotSource.ON_DEMAND)
    assert late.recomputed


def test_the_monday_job_run_twice_the_same_week_stores_one_row(computed: list[dt.date]) -> None:
    first = take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    again = take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    # A catch-up run on Wednesday belongs to the same week: same Sunday, same row.
    late = take_snapshot(MONDAY + dt.timedelta(days=2), source=SnapshotSource.ON_DEMAND)
    assert KpiSnapshot.objects.count() == 1
    assert first.pk == again.pk == late.pk
    assert late.source == SnapshotSource.WEEKLY_JOB
    assert computed == [SUNDAY_BEFORE]


def test_a_sunday_belongs_to_the_week_that_started_on_the_monday_before(
    computed: list[dt.date],
) -> None:
    snapshot = take_snapshot(SUNDAY_BEFORE, source=SnapshotSource.ON_DEMAND)
    assert snapshot.week_start == dt.date(2026, 10, 5)
    assert snapshot.as_of == dt.date(2026, 10, 4)
    assert snapshot_for_week(dt.date(2026, 10, 7)) == snapshot
    assert snapshot_for_week(MONDAY) is None


def test_a_week_that_has_not_started_cannot_be_snapshotted(computed: list[dt.date]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        take_snapshot(dt.date(2099, 1, 5), source=SnapshotSource.ON_DEMAND)
    assert "as_of" in refused.value.errors
    assert computed == []


def test_an_unknown_source_is_a_programming_error(computed: list[dt.date]) -> None:
    with pytest.raises(ValueError):
        take_snapshot(MONDAY, source="cron")


def test_a_later_correction_does_not_change_a_stored_week(adv: User) -> None:
    # The real computation: an invoice of 1,200 TTC open on Sunday 11/10.
    customer = CustomerFactory()
    invoice = issued_invoice(adv, customer, net="1000", vat="20", issue_date=dt.date(2026, 10, 1))
    stored = take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    assert stored.figures["receivables_ttc"] == "1200.00"
    # Later, a credit note dated 5/10, before that Sunday: the books as of 11/10 change...
    note = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason=CreditReason.PRICE_ERROR,
        lines=[{"description": "Remise", "quantity": "1", "unit_price": "100", "vat_rate": "20"}],
    )
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 10, 5))
    assert compute_kpis(SUNDAY_BEFORE).receivables_ttc == D("1080.00")
    # ...but the week stays as it was reported, even when the job runs again.
    again = take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    assert again.figures["receivables_ttc"] == "1200.00"
    assert snapshot_for_week(MONDAY).figures == stored.figures  # type: ignore[union-attr]
    assert weekly_series("receivables_ttc", MONDAY, weeks=1) == [(MONDAY, D("1200.00"))]
    # A backfill fills the weeks around it from today's books, and leaves it alone.
    assert backfill_snapshots(MONDAY + dt.timedelta(days=7), weeks=3) == 2
    series = weekly_series("receivables_ttc", MONDAY + dt.timedelta(days=7), weeks=3)
    assert series == [
        (dt.date(2026, 10, 5), D("1200.00")),  # as of 4/10: before the credit note
        (MONDAY, D("1200.00")),  # as reported on 12/10
        (dt.date(2026, 10, 19), D("1080.00")),  # as of 18/10, from today's books
    ]
    backfilled = snapshot_for_week(dt.date(2026, 10, 5))
    assert backfilled is not None
    assert backfilled.source == SnapshotSource.BACKFILL and backfilled.recomputed


def test_backfill_fills_only_the_missing_weeks(computed: list[dt.date]) -> None:
    take_snapshot(dt.date(2026, 9, 28), source=SnapshotSource.WEEKLY_JOB)
    take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    before = {s.week_start: s.figures for s in KpiSnapshot.objects.all()}
    computed.clear()
    added = backfill_snapshots(dt.date(2026, 10, 14), weeks=4)  # Mondays 21/9 … 12/10
    assert added == 2
    assert computed == [dt.date(2026, 9, 20), dt.date(2026, 10, 4)]
    assert sorted(KpiSnapshot.objects.values_list("week_start", flat=True)) == [
        dt.date(2026, 9, 21),
        dt.date(2026, 9, 28),
        dt.date(2026, 10, 5),
        MONDAY,
    ]
    for week, figures in before.items():
        assert KpiSnapshot.objects.get(week_start=week).figures == figures
    assert backfill_snapshots(dt.date(2026, 10, 14), weeks=4) == 0


def test_backfill_refuses_a_silly_number_of_weeks(computed: list[dt.date]) -> None:
    for weeks in (0, -3, 521):
        with pytest.raises(ValidationFailed) as refused:
            backfill_snapshots(MONDAY, weeks=weeks)
        assert "weeks" in refused.value.errors


def test_a_weekly_series_lists_the_mondays_with_none_for_missing_weeks_in_one_query(
    computed: list[dt.date],
) -> None:
    take_snapshot(dt.date(2026, 9, 28), source=SnapshotSource.WEEKLY_JOB)
    take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    with CaptureQueriesContext(connection) as queries:
        series = weekly_series("receivables_ttc", dt.date(2026, 10, 18), weeks=4)
    assert len(queries) == 1
    assert series == [
        (dt.date(2026, 9, 21), None),
        (dt.date(2026, 9, 28), D("1001.00")),
        (dt.date(2026, 10, 5), None),
        (MONDAY, D("1002.00")),
    ]


def test_a_series_reads_numbers_nulls_and_the_aged_balance_buckets(
    computed: list[dt.date],
) -> None:
    take_snapshot(MONDAY, source=SnapshotSource.WEEKLY_JOB)
    assert weekly_series("dso_simple", MONDAY, weeks=1) == [(MONDAY, D("30.0"))]
    assert weekly_series("credit_note_rate", MONDAY, weeks=1) == [(MONDAY, D("0.03"))]
    assert weekly_series("dso_countback", MONDAY, weeks=1) == [(MONDAY, None)]
    assert weekly_series("open_disputes_count", MONDAY, weeks=1) == [(MONDAY, D(2))]
    assert weekly_series("aged_balance.over_90", MONDAY, weeks=1) == [(MONDAY, D("12.50"))]
    assert len(weekly_series("fae", MONDAY)) == 52


@pytest.mark.parametrize("key", ["aged_balance", "cash_forecast", "as_of", "nope", "fae.x"])
def test_a_series_of_a_figure_that_is_not_a_number_is_refused(key: str) -> None:
    with pytest.raises(KeyError):
        weekly_series(key, MONDAY)


def test_a_value_missing_from_an_older_snapshot_format_is_none() -> None:
    figures: dict[str, Any] = {"dso_simple": 12.5, "aged_balance": {"total": "5.00"}}
    assert value_of(figures, "dso_simple") == D("12.5")
    assert value_of(figures, "cei") is None
    assert value_of(figures, "aged_balance.over_90") is None
    assert value_of(figures, "aged_balance.total") == D("5.00")
    assert value_of({"cei": "junk"}, "cei") is None


def test_the_command_takes_a_week_or_backfills(computed: list[dt.date]) -> None:
    out = StringIO()
    call_command("kpis_snapshot", "--as-of", "2026-10-14", stdout=out)
    assert "2026-10-12" in out.getvalue() and "2026-10-11" in out.getvalue()
    assert KpiSnapshot.objects.get().source == SnapshotSource.ON_DEMAND
    out = StringIO()
    call_command("kpis_snapshot", "--as-of", "2026-10-14", "--backfill", "3", stdout=out)
    assert "2 week(s) added" in out.getvalue()
    assert KpiSnapshot.objects.count() == 3
    with pytest.raises(CommandError):
        call_command("kpis_snapshot", "--as-of", "14/10/2026")
    with pytest.raises(CommandError):
        call_command("kpis_snapshot", "--as-of", "2099-01-05")
    with pytest.raises(CommandError):
        call_command("kpis_snapshot", "--backfill", "0")
