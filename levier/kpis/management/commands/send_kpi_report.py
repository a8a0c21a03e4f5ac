"""`levier send-kpi-report [--as-of YYYY-MM-DD]`: email the weekly KPI report now.

The report of the week containing --as-of (default: this week): the figures of its stored
snapshot (as of the Sunday before its Monday, taken first if missing), as a PDF, to the
recipients set in Administration › Indicateurs (every active Direction user by default).
It always sends, even when the Monday job already did; the sending is logged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from levier.audit.choices import Channel
from levier.audit.context import channel
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

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = dt.date.fromisoformat(options["as_of"]) if options["as_of"] else None
        except ValueError:
            raise CommandError(f"--as-of {options['as_of']!r}: expected YYYY-MM-DD") from None
        try:
            with channel(Channel.CLI):
                sent_to = send_weekly_report(day, trigger=SendingTrigger.ON_DEMAND)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Weekly KPI report sent to {', '.join(sent_to)}")
