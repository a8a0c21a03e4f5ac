"""`levier send-pending-emails [--older-than-minutes 5] [--json]`: the confirmation sweeper.

Re-dispatches every order confirmation a job should have sent by now: "queued" (the job was
lost, e.g. the broker was down at validation time), "failed" with fewer than 5 attempts, and
"sending" whose claim is stale (the worker died). Meant for cron, every 5 minutes. The job's
claim rule makes a re-dispatch safe: a confirmation is never sent twice by two runs at once.

Exit status 0, also when some sends failed or the broker is unreachable: the outcome is on
each send log row, and the next run tries again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.jobs import dispatch, uses_celery
from levier.sales.jobs import pending_confirmations, send_order_confirmation
from levier.sales.models import OrderEmail

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


class Command(BaseCommand):
    help = (
        "Send again the order confirmations left queued, failed (fewer than 5 attempts) or "
        "stuck sending. Run it from cron every 5 minutes."
    )

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
            for row in list(pending_confirmations(older_than)):
                before = {"status": row.status, "attempts": row.attempts}
                ok = dispatch(send_order_confirmation, order_id=row.order_id)
                results.append(self._result(row, before, ok, mode))
        if options["json"]:
            report = {"mode": mode, "older_than_minutes": options["older_than_minutes"]}
            report["emails"] = results
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        if not results:
            self.stdout.write("No pending order confirmation.")
            return
        for result in results:
            line = (
                f"{result['order']}: {result['previous_status']} "
                f"(attempt {result['previous_attempts']}) -> {result['result']}"
            )
            if result["error"]:
                line += f" ({result['error']})"
            self.stdout.write(line)
        counts: dict[str, int] = {}
        for result in results:
            counts[result["result"]] = counts.get(result["result"], 0) + 1
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        self.stdout.write(
            f"{len(results)} pending confirmation(s) re-dispatched ({mode}): {summary}"
        )

    def _result(
        self, row: OrderEmail, before: dict[str, Any], ok: bool, mode: str
    ) -> dict[str, Any]:
        outcome, error = (DISPATCHED if ok else NOT_DISPATCHED), ""
        if mode == "in-process":
            # The job ran here: its outcome is on the row.
            row.refresh_from_db(fields=["status", "attempts", "error"])
            outcome, error = row.status, row.error
        return {
            "order": row.order.number,
            "order_id": row.order_id,
            "email_id": row.pk,
            "previous_status": before["status"],
            "previous_attempts": before["attempts"],
            "result": outcome,
            "attempts": row.attempts,
            "error": error,
        }
