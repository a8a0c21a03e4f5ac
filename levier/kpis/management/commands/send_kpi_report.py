"""`levier send-kpi-report [--as-of YYYY-MM-DD] [--weekly]`: email the weekly KPI report.

The report of the week containing --as-of (default: this week): the figures of its stored
snapshot (as of the Sunday before its Monday, taken first if missing), as a PDF, to the
recipients set in Administration › Indicateurs (every active Direction user by default).
It always sends, even when the Monday job already did; the sending is logged.

--weekly does what the Monday beat job does, for a cron line without Celery: the week's
snapshot, then the report unless the weekly job already sent it this week.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.kpis.jobs import weekly_kpi_report
from levier.kpis.models import SendingTrigger
from levier.kpis.report import send_weekly_report
from levier.lib.errors import DomainError


class Command(BaseCommand):
    help = (
        "Email the weekly KPI report (PDF) of a week to its recipients now (default: this "
        "week, figures as of last Sunday)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", dest="as_of", default="", help="a day of the week (default: today)"
        )
        parser.add_argument(
            "--weekly",
            action="store_true",
            help="as the Monday job: snapshot, then send unless already sent this week",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = dt.date.fromisoformat(options["as_of"]) if options["as_of"] else None
        except ValueError:
            raise CommandError(f"--as-of {options['as_of']!r}: expected YYYY-MM-DD") from None
        if options["weekly"]:
            try:
                sent_to = weekly_kpi_report(as_of=day.isoformat() if day else "")
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            if not sent_to:
                self.stdout.write(
                    "Weekly KPI report not sent: already sent this week, or see the send log"
                )
                return
        else:
            try:
                with channel(Channel.CLI):
                    sent_to = send_weekly_report(day, trigger=SendingTrigger.ON_DEMAND)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"Weekly KPI report sent to {', '.join(sent_to)}")
