"""`levier send-reminders [--older-than-minutes 5] [--json]`: the dunning sweeper.

Re-dispatches every reminder a job should have produced by now: "queued" (the job was lost,
e.g. the broker was down after the run), "failed" with fewer than 5 attempts, and "sending"
whose claim is stale (the worker died). Meant for cron, every 5 minutes; see
`levier.sweeper`. Letters "to print" and tasks wait for a person, not for this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from levier.collections.jobs_dunning import pending_messages, send_dunning_message
from levier.collections.models import DunningMessage
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

    def pending(self, older_than: dt.timedelta) -> Iterable[DunningMessage]:
        return pending_messages(older_than)

    def redispatch(self, row: DunningMessage) -> bool:
        return dispatch(send_dunning_message, message_id=row.pk)

    def identify(self, row: DunningMessage) -> dict[str, Any]:
        return {
            "message_id": row.pk,
            "customer": row.customer.name,
            "customer_id": row.customer_id,
            "channel": row.channel,
        }

    def label(self, result: dict[str, Any]) -> str:
        return f"reminder {result['message_id']} to {result['customer']} ({result['channel']})"
