"""Scheduled billing: every morning, drafts for what became billable (ADV reviews, then issues).

On Celery, beat runs it (`beat_schedule` in levier/celery.py); without Celery, a cron line
calls `levier billing-run` instead (docs/operations/billing.md).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing import jobs_sending  # noqa: F401  (registers send_invoice_dispatch)
from levier.billing.run import run_billing
from levier.jobs import job

log = logging.getLogger(__name__)


def billing_actor() -> User | None:
    """The user the scheduled run is recorded as: LEVIER_BILLING_USER, else the first ADV."""
    users = User.objects.filter(is_active=True)
    if settings.LEVIER_BILLING_USER:
        return users.filter(username=settings.LEVIER_BILLING_USER).first()
    return users.filter(role=Role.ADV).order_by("pk").first()


@job
def daily_billing_run(as_of: str = "") -> int | None:
    """Returns the BillingRun id, or None when no ADV user can be recorded as the biller."""
    actor = billing_actor()
    if actor is None:
        log.error("scheduled billing run skipped: no active ADV user (set LEVIER_BILLING_USER)")
        return None
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return run_billing(actor=actor, as_of=day).pk
