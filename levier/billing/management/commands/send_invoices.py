"""`levier send-invoices [--older-than-minutes 5] [--json]`: the invoice sending sweeper.

Re-dispatches every sending of an issued invoice or credit note that a job should have done
by now: "queued" (the job was lost, e.g. the broker was down when the document was issued),
"failed" with fewer than 5 attempts, and "sending" whose claim is stale (the worker died).
Meant for cron, every 5 minutes; see `levier.sweeper`. Postal sendings "to print" wait for
a person, not for this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from levier.billing.jobs_sending import pending_dispatches, send_invoice_dispatch
from levier.billing.models import InvoiceDispatch
from levier.jobs import dispatch
from levier.sweeper import SweeperCommand


class Command(SweeperCommand):
    help = (
        "Send again the invoices and credit notes whose sending is left queued, failed "
        "(fewer than 5 attempts) or stuck sending. Run it from cron every 5 minutes."
    )
    json_key = "dispatches"
    nothing_pending = "No pending invoice sending."
    noun = "sending(s)"

    def pending(self, older_than: dt.timedelta) -> Iterable[InvoiceDispatch]:
        return pending_dispatches(older_than)

    def redispatch(self, row: InvoiceDispatch) -> bool:
        return dispatch(send_invoice_dispatch, dispatch_id=row.pk)

    def identify(self, row: InvoiceDispatch) -> dict[str, Any]:
        return {
            "number": row.invoice.number,
            "invoice_id": row.invoice_id,
            "dispatch_id": row.pk,
            "channel": row.channel,
        }

    def label(self, result: dict[str, Any]) -> str:
        return f"{result['number']} ({result['channel']})"
