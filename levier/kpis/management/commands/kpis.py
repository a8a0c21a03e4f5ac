"""`levier kpis [--as-of YYYY-MM-DD] [--period-days 90] [--json]`: every figure of kpis.md.

The JSON uses kpis.md's "Names in JSON" (`KpiFigures.as_json`); the text form prints one
figure per line, for a terminal.
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from levier.kpis.services import DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS, compute_kpis


class Command(BaseCommand):
    help = "Print the KPIs of kpis.md at a date (all figures; --json for kpis.md's names)."
    # Read-only: Django's system checks would import every view of the web layer first
    # (bench/kpis.py: 1 s of the command's time); `levier check` runs them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--as-of", dest="as_of", default="")
        parser.add_argument(
            "--period-days", dest="period_days", type=int, default=DEFAULT_PERIOD_DAYS
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            as_of = (
                dt.date.fromisoformat(options["as_of"])
                if options["as_of"]
                else timezone.localdate()
            )
        except ValueError:
            raise CommandError(f"--as-of: not a date (YYYY-MM-DD): {options['as_of']!r}") from None
        period = options["period_days"]
        if not 1 <= period <= MAX_PERIOD_DAYS:
            raise CommandError(f"--period-days: between 1 and {MAX_PERIOD_DAYS}")
        result = compute_kpis(as_of, period).as_json()
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        for name, value in result.items():
            self.stdout.write(f"{name}: {value}")
