"""Scheduled KPI jobs: the Monday snapshot and the weekly report to the Direction.

On Celery, beat runs `weekly_kpi_report` every Monday (`"weekly-kpi-report"` in
`levier.celery.beat_schedule`, at LEVIER_KPI_REPORT_HOUR:30, default 7:30): it stores the week's
snapshot, then emails the report; both first store the open items of the month ends not
stored yet (`levier.collections.month_ends`), which the past dates' aged balances count from. Without Celery, a cron line runs
`levier send-kpi-report --weekly` instead (the same function). Both jobs are safe to run again: the
snapshot is stored once per week, and the report goes once per week from the job (the
Administrateur's "send now" always sends).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from levier.collections.month_ends import store_month_ends
from levier.jobs import job
from levier.kpis.history import monday_of, take_snapshot
from levier.kpis.models import SnapshotSource
from levier.kpis.report import ReportNotSent, already_sent, send_weekly_report

log = logging.getLogger(__name__)


def _day(as_of: str) -> dt.date:
    return dt.date.fromisoformat(as_of) if as_of else timezone.localdate()


@job
def weekly_kpi_snapshot(as_of: str = "") -> str:
    """Store the snapshot of the week containing `as_of` (default: today); its Monday. The
    month ends not stored yet are stored first (`levier.collections.month_ends`)."""
    store_month_ends()
    snapshot = take_snapshot(_day(as_of), source=SnapshotSource.WEEKLY_JOB)
    return snapshot.week_start.isoformat()


@job
def weekly_kpi_report(as_of: str = "") -> list[str]:
    """The Monday job: the week's snapshot, then the report emailed to its recipients.

    Returns the addresses it went to; [] when this week's report was already sent by the
    job, or could not go (no recipient, mail server down: logged in the send log, which the
    Administrateur's screen shows, and here).
    """
    day = _day(as_of)
    store_month_ends()
    take_snapshot(day, source=SnapshotSource.WEEKLY_JOB)
    if already_sent(monday_of(day)):
        log.info("weekly KPI report of %s already sent: not sent again", monday_of(day))
        return []
    try:
        return send_weekly_report(day)
    except ReportNotSent as exc:
        log.error("weekly KPI report of %s not sent: %s", monday_of(day), exc.message)
        return []
