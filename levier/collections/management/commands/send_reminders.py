"""`levier send-reminders [--older-than-minutes 5] [--json]`: the dunning sweeper.

Re-dispatches every reminder a job should have produced by now: "queued" (the job was lost,
e.g. the broker was down after the run), "failed" with fewer than 5 attempts, and "sending"
whose claim is stale (the worker died); and the account statements emailed on request, under
the same rules. Meant for cron, every 5 minutes; see `levier.sweeper`. Letters "to print" and
tasks wait for a person, not for this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from levier.collections.jobs_dunning import (
    pending_messages,
    pending_statement_emails,
    send_dunning_message,
    send_statement_email,
)
from levier.collections.models import DunningMessage, StatementEmail
from levier.jobs import dispatch
from levier.sweeper import SweeperCommand


class Command(SweeperCommand):
    help = (
        "Send again the payment reminders left queued, failed (fewer than 5 attempts) or "
        "stuck sending. Run it from cron every 5 minutes."
    )
    json_key = "reminders"
    nothing_pending = "No pending reminder."
    noun = "reminder(s)"

    def pending(self, older_than: dt.timedelta) -> Iterable[DunningMessage | StatementEmail]:
        yield from pending_messages(older_than)
        yield from pending_statement_emails(older_than)

    def redispatch(self, row: DunningMessage | StatementEmail) -> bool:
        if isinstance(row, StatementEmail):
            return dispatch(send_statement_email, statement_email_id=row.pk)
        return dispatch(send_dunning_message, message_id=row.pk)

    def identify(self, row: DunningMessage | StatementEmail) -> dict[str, Any]:
        if isinstance(row, StatementEmail):
            return {
                "statement_email_id": row.pk,
                "customer": row.customer.name,
                "customer_id": row.customer_id,
                "channel": "statement",
            }
        return {
            "message_id": row.pk,
            "customer": row.customer.name,
            "customer_id": row.customer_id,
            "channel": row.channel,
        }

    def label(self, result: dict[str, Any]) -> str:
        if "statement_email_id" in result:
            return f"account statement {result['statement_email_id']} to {result['customer']}"
        return f"reminder {result['message_id']} to {result['customer']} ({result['channel']})"
