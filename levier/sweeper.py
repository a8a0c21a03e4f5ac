"""The base of the cron sweepers that re-dispatch sends a job should have done by now.

Both the order confirmations (`levier send-pending-emails`) and the invoice sendings
(`levier send-invoices`) keep a send-log row per message; a row left "queued" (job lost),
"failed" (a few attempts) or "sending" with a stale claim (worker died) is handed to its job
again. The job's claim rule makes that safe: two runs never send one row at once.

Exit status 0, also when some sends failed or the broker is unreachable: the outcome is on
each row, and the next run tries again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import models

from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.jobs import uses_celery

# What became of a re-dispatched row: its status after an in-process run, or these.
DISPATCHED = "dispatched"  # handed to the broker; a worker sends it
NOT_DISPATCHED = "broker-unreachable"  # logged by levier.jobs; the row is left as it was


def non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


class SweeperCommand(BaseCommand):
    """Subclasses say which rows are pending, how to re-dispatch one and how to name it."""

    json_key = "rows"
    nothing_pending = "Nothing pending."
    noun = "row(s)"

    def pending(self, older_than: dt.timedelta) -> Iterable[Any]:
        raise NotImplementedError

    def redispatch(self, row: Any) -> bool:
        raise NotImplementedError

    def identify(self, row: Any) -> dict[str, Any]:
        """The row's identity in the report (document number, ids)."""
        raise NotImplementedError

    def label(self, result: dict[str, Any]) -> str:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-minutes",
            type=non_negative_int,
            default=5,
            help="only rows untouched for this long, so a job still on its way is not "
            "raced (default: 5)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        older_than = dt.timedelta(minutes=options["older_than_minutes"])
        mode = "celery" if uses_celery() else "in-process"
        results: list[dict[str, Any]] = []
        with channel(Channel.CLI):
            for row in list(self.pending(older_than)):
                before = {"status": row.status, "attempts": row.attempts}
                ok = self.redispatch(row)
                results.append(self._result(row, before, ok, mode))
        if options["json"]:
            report: dict[str, Any] = {
                "mode": mode,
                "older_than_minutes": options["older_than_minutes"],
                self.json_key: results,
            }
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        if not results:
            self.stdout.write(self.nothing_pending)
            return
        for result in results:
            line = (
                f"{self.label(result)}: {result['previous_status']} "
                f"(attempt {result['previous_attempts']}) -> {result['result']}"
            )
            if result["error"]:
                line += f" ({result['error']})"
            self.stdout.write(line)
        counts: dict[str, int] = {}
        for result in results:
            counts[result["result"]] = counts.get(result["result"], 0) + 1
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        self.stdout.write(f"{len(results)} pending {self.noun} re-dispatched ({mode}): {summary}")

    def _result(
        self, row: models.Model, before: dict[str, Any], ok: bool, mode: str
    ) -> dict[str, Any]:
        outcome, error = (DISPATCHED if ok else NOT_DISPATCHED), ""
        if mode == "in-process":
            # The job ran here: its outcome is on the row.
            row.refresh_from_db(fields=["status", "attempts", "error"])
            outcome, error = row.status, row.error  # type: ignore[attr-defined]
        return {
            **self.identify(row),
            "previous_status": before["status"],
            "previous_attempts": before["attempts"],
            "result": outcome,
            "attempts": row.attempts,  # type: ignore[attr-defined]
            "error": error,
        }
