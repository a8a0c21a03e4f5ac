"""`levier kpis [--as-of YYYY-MM-DD] [--period-days 90] [--json]`: the figures of kpis.md.

Work in progress (issue 5): receivables, sales, DSO (simple and countback) and the aged
balance so far, under the names of kpis.md's "Names in JSON"; the others come next.
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from levier.collections.statement import aged_balance
from levier.kpis.receivables import dso_countback, dso_simple, receivables, sales_ttc


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _days(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def figures(as_of: dt.date, period_days: int) -> dict[str, Any]:
    aged = aged_balance(None, as_of)
    return {
        "as_of": as_of.isoformat(),
        "period_days": period_days,
        "receivables_ttc": _money(receivables(as_of)),
        "sales_ttc_period": _money(sales_ttc(as_of - dt.timedelta(days=period_days), as_of)),
        "dso_simple": _days(dso_simple(as_of, period_days)),
        "dso_countback": _days(dso_countback(as_of)),
        "aged_balance": {
            "not_due": _money(aged.not_due),
            "1_30": _money(aged.days_1_30),
            "31_60": _money(aged.days_31_60),
            "61_90": _money(aged.days_61_90),
            "over_90": _money(aged.over_90),
            "total": _money(aged.total),
        },
    }


class Command(BaseCommand):
    help = "Print the KPIs of kpis.md at a date (receivables, sales, DSO, aged balance so far)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--as-of", dest="as_of", default="")
        parser.add_argument("--period-days", dest="period_days", type=int, default=90)
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
        if not 1 <= period <= 3660:
            raise CommandError("--period-days: between 1 and 3660")
        result = figures(as_of, period)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        for name, value in result.items():
            self.stdout.write(f"{name}: {value}")
