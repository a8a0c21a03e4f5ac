"""`levier send-pending-emails [--older-than-minutes 5] [--json]`: the confirmation sweeper.

Re-dispatches every order confirmation a job should have sent by now: "queued" (the job was
lost, e.g. the broker was down at validation time), "failed" with fewer than 5 attempts, and
"sending" whose claim is stale (the worker died). Meant for cron, every 5 minutes; see
`levier.sweeper` for the rules shared with `levier send-invoices`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from levier.jobs import dispatch
from levier.sales.jobs import pending_confirmations, send_order_confirmation
from levier.sales.models import OrderEmail
from levier.sweeper import SweeperCommand


class Command(SweeperCommand):
    help = (
        "Send again the order confirmations left queued, failed (fewer than 5 attempts) or "
        "stuck sending. Run it from cron every 5 minutes."
    )
    json_key = "emails"
    nothing_pending = "No pending order confirmation."
    noun = "confirmation(s)"

    def pending(self, older_than: dt.timedelta) -> Iterable[OrderEmail]:
        return pending_confirmations(older_than)

    def redispatch(self, row: OrderEmail) -> bool:
        return dispatch(send_order_confirmation, order_id=row.order_id)

    def identify(self, row: OrderEmail) -> dict[str, Any]:
        return {"order": row.order.number, "order_id": row.order_id, "email_id": row.pk}

    def label(self, result: dict[str, Any]) -> str:
        return str(result["order"])
