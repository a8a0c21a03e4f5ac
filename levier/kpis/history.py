"""The KPI history: one stored snapshot per week, never recomputed once stored.

A snapshot belongs to a Monday and holds the figures as of the Sunday before (see
`levier.kpis.models`): `take_snapshot(day)` takes the snapshot of the week containing
`day`, whatever the weekday it runs on, so a late or repeated job stores the same figures
once. `backfill_snapshots` fills only the weeks that have none (computed from the books as
they are now, marked "backfill"); `weekly_series` reads one figure over the weeks in one
query, for the sparklines and trends, with None for a week without a snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from levier.kpis.figures import AGED_KEYS, KpiFigures
from levier.kpis.models import KpiSnapshot, SnapshotSource
from levier.lib.errors import ValidationFailed

log = logging.getLogger(__name__)

PERIOD_DAYS = 90  # kpis.md's default window (DSO, rates over "the period")
MAX_WEEKS = 520
ONE_DAY = dt.timedelta(days=1)
ONE_WEEK = dt.timedelta(days=7)
EARLIEST = dt.date(1990, 1, 1)  # a Monday: no snapshot of an earlier week (dates stay valid)

# The figures a series can follow: KpiFigures' scalar fields, and the aged balance's buckets
# as "aged_balance.over_90".
_NOT_SERIES = {"as_of", "period_days", "aged_balance", "cash_forecast", "order_validation_steps"}
SERIES_KEYS: frozenset[str] = frozenset(
    [f.name for f in dataclasses.fields(KpiFigures) if f.name not in _NOT_SERIES]
    + [f"aged_balance.{key}" for key in AGED_KEYS]
)


def monday_of(day: dt.date) -> dt.date:
    """The Monday of the week containing `day` (ISO weeks: Monday to Sunday)."""
    return day - dt.timedelta(days=day.weekday())


def figures_date(week_start: dt.date) -> dt.date:
    """The date a week's snapshot reports: the Sunday before its Monday."""
    return week_start - ONE_DAY


def _compute(as_of: dt.date, period_days: int) -> KpiFigures:
    from levier.kpis.services import compute_kpis

    return compute_kpis(as_of, period_days)


def snapshot_for_week(monday: dt.date) -> KpiSnapshot | None:
    """The stored snapshot of the week containing `monday` (any day of it is accepted)."""
    return KpiSnapshot.objects.filter(week_start=monday_of(monday)).first()


def _store(week_start: dt.date, source: str) -> tuple[KpiSnapshot, bool]:
    """Compute and store the week's snapshot unless one exists: (snapshot, created)."""
    existing = snapshot_for_week(week_start)
    if existing is not None:
        return existing, False
    as_of = figures_date(week_start)
    figures = _compute(as_of, PERIOD_DAYS)
    try:
        with transaction.atomic():
            row = KpiSnapshot.objects.create(
                week_start=week_start,
                as_of=as_of,
                period_days=PERIOD_DAYS,
                figures=figures.as_json(),
                source=source,
            )
    except IntegrityError:
        # Another run stored this week meanwhile: theirs stands, never overwritten.
        row = KpiSnapshot.objects.get(week_start=week_start)
        return row, False
    log.info("KPI snapshot of the week of %s stored (%s)", week_start, source)
    return row, True


def _check_week(week_start: dt.date, field: str) -> None:
    if week_start < EARLIEST:
        raise ValidationFailed.on(
            field,
            gettext("No KPI history before %(date)s") % {"date": EARLIEST.strftime("%d/%m/%Y")},
        )
    if week_start > monday_of(timezone.localdate()):
        raise ValidationFailed.on(
            field,
            gettext(
                "The week of %(monday)s has not started: its figures (as of the Sunday "
                "before) are not complete yet"
            )
            % {"monday": week_start.strftime("%d/%m/%Y")},
        )


def take_snapshot(as_of: dt.date | None = None, *, source: str) -> KpiSnapshot:
    """The snapshot of the week containing `as_of` (default: today), stored once.

    Its figures are as of the Sunday before that week's Monday, whichever day this runs.
    Idempotent: when the week is already stored, that snapshot is returned unchanged.
    """
    if source not in SnapshotSource.values:
        raise ValueError(f"unknown snapshot source {source!r}")
    week_start = monday_of(as_of or timezone.localdate())
    _check_week(week_start, "as_of")
    row, _created = _store(week_start, source)
    return row


def backfill_snapshots(until: dt.date, weeks: int = 52) -> int:
    """Store the missing snapshots of the `weeks` weeks up to the one containing `until`.

    Only the weeks with no snapshot are computed (from the books as they are now, marked
    "backfill"); the stored ones are left as they were reported. Returns how many were added.
    """
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValidationFailed.on(
            "weeks", gettext("Weeks: between 1 and %(max)d") % {"max": MAX_WEEKS}
        )
    last = monday_of(until)
    _check_week(last, "until")
    mondays = [last - ONE_WEEK * n for n in range(weeks)]
    stored = set(
        KpiSnapshot.objects.filter(week_start__in=mondays).values_list("week_start", flat=True)
    )
    added = 0
    for monday in sorted(set(mondays) - stored):
        _row, created = _store(monday, SnapshotSource.BACKFILL)
        added += created
    return added


def value_of(figures: Mapping[str, Any], key: str) -> Decimal | None:
    """One figure out of a snapshot's JSON (`KpiFigures.as_json()`), as a Decimal.

    `key` is a KpiFigures name or "aged_balance.<bucket>"; None when the figure is
    undefined (null) or absent from that snapshot (an older snapshot format).
    """
    value: Any = figures
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):  # `compute_headline`'s figures, not yet JSON
        return value
    if isinstance(value, int | float | str):
        try:
            return Decimal(str(value))
        except ArithmeticError:
            return None
    return None


def _check_key(key: str) -> None:
    if key not in SERIES_KEYS:
        raise KeyError(key)


def _mondays(until: dt.date, weeks: int) -> list[dt.date]:
    """The `weeks` Mondays up to the week of `until`, oldest first (ValueError if absurd)."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks: between 1 and {MAX_WEEKS}")
    try:
        last = monday_of(until)
        return [last - ONE_WEEK * n for n in range(weeks - 1, -1, -1)]
    except OverflowError:
        raise ValueError(f"until: {until} is too far in the past") from None


def weekly_series(
    key: str, until: dt.date, weeks: int = 52
) -> list[tuple[dt.date, Decimal | None]]:
    """(Monday, value) for the `weeks` Mondays up to `until`, oldest first, in one query.

    The value is the stored snapshot's (as reported that week), None for a week without a
    snapshot or where the figure was undefined. Raises KeyError for a figure that has no
    series (see SERIES_KEYS), ValueError for `weeks` outside 1..520 or a date before year 11.
    """
    _check_key(key)
    mondays = _mondays(until, weeks)
    last = mondays[-1]
    stored = dict(
        KpiSnapshot.objects.filter(week_start__range=(mondays[0], last)).values_list(
            "week_start", "figures"
        )
    )
    return [
        (monday, value_of(stored[monday], key) if monday in stored else None) for monday in mondays
    ]


def weekly_figures(until: dt.date, weeks: int = 52) -> dict[dt.date, dict[str, Any]]:
    """The stored snapshots' JSON by Monday over the `weeks` weeks up to `until` (one query).

    For a page that shows several series: `value_of(figures, key)` on each.
    """
    mondays = _mondays(until, weeks)
    first, last = mondays[0], mondays[-1]
    return dict(
        KpiSnapshot.objects.filter(week_start__range=(first, last)).values_list(
            "week_start", "figures"
        )
    )
