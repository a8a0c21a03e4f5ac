"""`levier send-invoices [--older-than-minutes 5] [--json]`: the invoice sending sweeper.

Re-dispatches every sending of an issued invoice or credit note that a job should have done
by now: "queued" (the job was lost, e.g. the broker was down when the document was issued),
"failed" with fewer than 5 attempts, and "sending" whose claim is stale (the worker died).
Meant for cron, every 5 minutes. The job's claim makes a re-dispatch safe: two runs never
send the same row at once. Postal sendings "to print" wait for a person, not for this.

Exit status 0, also when some sendings failed or the broker is unreachable: the outcome is on
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
from levier.billing.jobs_sending import pending_dispatches, send_invoice_dispatch
from levier.billing.models import InvoiceDispatch
from levier.jobs import dispatch, uses_celery

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
        "Send again the invoices and credit notes whose sending is left queued, failed "
        "(fewer than 5 attempts) or stuck sending. Run it from cron every 5 minutes."
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
            for row in list(pending_dispatches(older_than)):
                before = {"status": row.status, "attempts": row.attempts}
                ok = dispatch(send_invoice_dispatch, dispatch_id=row.pk)
                results.append(self._result(row, before, ok, mode))
        if options["json"]:
            report: dict[str, Any] = {
                "mode": mode,
                "older_than_minutes": options["older_than_minutes"],
                "dispatches": results,
            }
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        if not results:
            self.stdout.write("No pending invoice sending.")
            return
        for result in results:
            line = (
                f"{result['number']} ({result['channel']}): {result['previous_status']} "
                f"(attempt {result['previous_attempts']}) -> {result['result']}"
            )
            if result["error"]:
                line += f" ({result['error']})"
            self.stdout.write(line)
        counts: dict[str, int] = {}
        for result in results:
            counts[result["result"]] = counts.get(result["result"], 0) + 1
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        self.stdout.write(f"{len(results)} pending sending(s) re-dispatched ({mode}): {summary}")

    def _result(
        self, row: InvoiceDispatch, before: dict[str, Any], ok: bool, mode: str
    ) -> dict[str, Any]:
        outcome, error = (DISPATCHED if ok else NOT_DISPATCHED), ""
        if mode == "in-process":
            # The job ran here: its outcome is on the row.
            row.refresh_from_db(fields=["status", "attempts", "error"])
            outcome, error = row.status, row.error
        return {
            "number": row.invoice.number,
            "invoice_id": row.invoice_id,
            "dispatch_id": row.pk,
            "channel": row.channel,
            "previous_status": before["status"],
            "previous_attempts": before["attempts"],
            "result": outcome,
            "attempts": row.attempts,
            "error": error,
        }
