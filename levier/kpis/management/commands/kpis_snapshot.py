"""`levier kpis-snapshot [--as-of YYYY-MM-DD] [--backfill WEEKS] [--json]`: the KPI history.

Without --backfill: store the snapshot of the week containing --as-of (default: today), as
of the Sunday before its Monday, unless that week is already stored (a stored week is never
recomputed). With --backfill N: store the missing snapshots of the N weeks up to that one;
the weeks already stored are left as they were reported.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.kpis.history import (
    backfill_snapshots,
    figures_date,
    monday_of,
    snapshot_for_week,
    take_snapshot,
)
from levier.kpis.models import SnapshotSource
from levier.lib.errors import ValidationFailed


class Command(BaseCommand):
    help = (
        "Store the KPI snapshot of a week (figures as of the Sunday before its Monday), or "
        "with --backfill N the missing snapshots of the N weeks up to it. Stored weeks are "
        "never recomputed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", dest="as_of", default="", help="a day of the week (default: today)"
        )
        parser.add_argument(
            "--backfill",
            type=int,
            default=None,
            metavar="WEEKS",
            help="store the missing snapshots of the WEEKS weeks up to that one",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable report")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = dt.date.fromisoformat(options["as_of"]) if options["as_of"] else None
        except ValueError:
            raise CommandError(f"--as-of {options['as_of']!r}: expected YYYY-MM-DD") from None
        day = day or timezone.localdate()
        week = monday_of(day)
        try:
            with channel(Channel.CLI):
                if options["backfill"] is not None:
                    added = backfill_snapshots(day, weeks=options["backfill"])
                    self._report(
                        {"backfill_weeks": options["backfill"], "until": week, "added": added},
                        f"{added} week(s) added up to the week of {week.isoformat()}; the "
                        "weeks already stored were left as they were",
                        options["json"],
                    )
                    return
                existing = snapshot_for_week(week)
                snapshot = existing or take_snapshot(day, source=SnapshotSource.ON_DEMAND)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        verb = "already stored" if existing else "stored"
        self._report(
            {
                "week_start": snapshot.week_start,
                "as_of": snapshot.as_of,
                "source": snapshot.source,
                "created": existing is None,
            },
            f"Week of {snapshot.week_start.isoformat()} (figures as of "
            f"{figures_date(snapshot.week_start).isoformat()}): {verb} ({snapshot.source})",
            options["json"],
        )

    def _report(self, data: dict[str, Any], text: str, as_json: bool) -> None:
        if as_json:
            plain = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in data.items()}
            self.stdout.write(json.dumps(plain, ensure_ascii=False))
        else:
            self.stdout.write(text)
