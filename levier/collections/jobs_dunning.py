"""Producing the reminders a dunning run queued, and the daily run itself.

Same rules as the invoice sendings (`levier.billing.jobs_sending`): the run writes each
`DunningMessage` "queued" in its transaction and enqueues this job for after the commit;
the job claims the row once (a "sending" claim younger than LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS
keeps other runs away), does the I/O outside any transaction and writes the outcome; what is
left queued, failed or stale is retried by `levier send-reminders`. Delivery is at least
once: a worker killed between the mail server's acceptance and the "sent" row sends again.

- email: the stored French text, with the account statement PDF attached, and for a formal
  notice the letter PDF too, to the customer's dunning contacts (else its invoice mailbox,
  else its accounts-payable contacts);
- letter: the letter PDF rendered (so a letter that cannot be produced fails here, not in
  front of the printer) and the row left "to print" for a person, who marks it printed.

The text was written by the run; the job may come later (a retry, automatic sending off).
When it claims a reminder it checks each invoice again: one paid, disputed, promised or with
a payment to match since the run is withdrawn and the text is rendered again for the
others; a reminder left with nothing to chase is not sent ("failed", with the reason).

`reminder.sent` is recorded when the customer really has the reminder: the email accepted
by the mail server, or the letter marked printed and posted
(`levier.collections.dunning.mark_reminder_printed`).
"""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from levier.accounts.models import User
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.company import company_profile
from levier.billing.jobs_sending import _error_text, _message_id_domain, claim_timeout
from levier.collections.choices import DunningChannel, MessageStatus
from levier.collections.models import DunningItem, DunningMessage, StatementEmail
from levier.jobs import job

log = logging.getLogger(__name__)

__all__ = [
    "daily_dunning_run",
    "pending_messages",
    "send_dunning_message",
    "send_statement_email",
]

Status = MessageStatus
NO_RECIPIENT_REASON = (
    "Aucun destinataire : le client n'a ni contact relances, ni adresse e-mail de "
    "facturation, ni contact comptabilité fournisseurs avec une adresse e-mail."
)
# After this many failed attempts the sweeper leaves a row to a person.
MAX_SEND_ATTEMPTS = 5
SENT_CHANNELS = (DunningChannel.EMAIL, DunningChannel.LETTER)


def _claim(message_id: int) -> tuple[DunningMessage, list[str]] | None:
    """Decide under a lock on the row whether this run produces it; commit the claim first.

    None when there is nothing to do: row gone, already done (sent, to print, printed), a
    task (nothing to send), claimed by another run less than the claim timeout ago,
    nothing left to chase (every invoice paid, disputed, promised or with a payment to
    match since the run: "failed" with the reason, never sent), or impossible (no
    recipient: "failed" with the reason, counted as an attempt). When only some invoices
    are withdrawn, the reminder is rewritten for the others before it goes
    (`levier.collections.dunning.recheck_message`).
    """
    from levier.collections.dunning import recheck_message, recipients_of

    with transaction.atomic():
        row = (
            DunningMessage.objects.select_for_update(of=("self",))
            .select_related("customer", "step", "run")
            .filter(pk=message_id)
            .first()
        )
        if row is None:
            log.warning("reminder %s does not exist", message_id)
            return None
        if row.channel not in SENT_CHANNELS:
            return None
        if row.status not in (Status.QUEUED, Status.FAILED, Status.SENDING):
            log.info("reminder %s is %s: nothing to do", row.pk, row.status)
            return None
        now = timezone.now()
        if row.status == Status.SENDING:
            if row.claimed_at is not None and row.claimed_at > now - claim_timeout():
                log.info("reminder %s is being sent by another run", row.pk)
                return None
            log.warning("reminder %s: taking over a stale claim", row.pk)
        row.attempts += 1
        row.claimed_at = now
        row.message_id = ""
        checked = recheck_message(row)
        if checked.nothing_left:
            row.status, row.error = Status.CANCELLED, checked.error()
            row.save()
            log.info("reminder %s not sent: %s", row.pk, row.error)
            return None
        recipients: list[str] = []
        if row.channel == DunningChannel.EMAIL:
            recipients = recipients_of(row.customer)
            row.recipients = ", ".join(recipients)[:500]
        if row.channel == DunningChannel.EMAIL and not recipients:
            row.status = Status.FAILED
            row.error = NO_RECIPIENT_REASON
        else:
            row.status = Status.SENDING
            row.error = ""
            if row.channel == DunningChannel.EMAIL:
                row.message_id = make_msgid(domain=_message_id_domain())
        row.save()
        if row.status == Status.FAILED:
            log.warning("reminder %s failed: %s", row.pk, row.error)
            return None
        return row, recipients


def pending_messages(older_than: dt.timedelta) -> QuerySet[DunningMessage]:
    """Reminders a job should have produced by now, oldest first (`levier send-reminders`).

    "queued" (the job was lost), "failed" with fewer than MAX_SEND_ATTEMPTS attempts, and
    "sending" whose claim is stale; untouched for longer than `older_than`. A reminder whose
    invoices were all withdrawn before it went (nothing left to chase) is not one of them.
    """
    now = timezone.now()
    cutoff = now - older_than
    stale_claim = min(cutoff, now - claim_timeout())
    return (
        DunningMessage.objects.filter(channel__in=SENT_CHANNELS)
        # A reminder left with no invoice (all withdrawn before it went) has nothing to send.
        .filter(Exists(DunningItem.objects.filter(message=OuterRef("pk"))))
        .annotate(last_activity=Coalesce("claimed_at", "created_at"))
        .filter(
            Q(status=Status.QUEUED, last_activity__lte=cutoff)
            | Q(status=Status.FAILED, attempts__lt=MAX_SEND_ATTEMPTS, last_activity__lte=cutoff)
            | Q(status=Status.SENDING, last_activity__lte=stale_claim)
        )
        .select_related("customer")
        .order_by("last_activity", "pk")
    )


def _finish(row: DunningMessage, **fields: Any) -> bool:
    """Write the outcome only if this run still holds the row (see jobs_sending._finish)."""
    done = DunningMessage.objects.filter(
        pk=row.pk, status=Status.SENDING, claimed_at=row.claimed_at
    ).update(**fields)
    if not done:
        log.warning("reminder %s was taken over meanwhile: its outcome is not recorded", row.pk)
    return bool(done)


def _send_email(row: DunningMessage, recipients: list[str]) -> str:
    from levier.collections.statement import (
        account_statement_pdf,
        letter_filename,
        reminder_letter_pdf,
        statement_filename,
    )

    profile = company_profile()
    message = EmailMessage(
        subject=row.subject,
        body=row.body + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        reply_to=[profile.email] if profile.email else None,
        headers={"Message-ID": row.message_id},
    )
    if row.step.is_formal_notice:
        message.attach(
            letter_filename(row), reminder_letter_pdf(row, profile=profile), "application/pdf"
        )
    message.attach(
        statement_filename(row.customer, row.run.run_date),
        account_statement_pdf(row.customer, row.run.run_date, profile=profile),
        "application/pdf",
    )
    message.send(fail_silently=False)
    return f"Relance envoyée par e-mail à {', '.join(recipients)}"


@job
def send_dunning_message(*, message_id: int) -> None:
    """Produce one queued reminder on its channel (email sent, or letter ready to print).

    Idempotent: a row already sent, to print or printed is left alone, and while a run
    holds the row another does nothing. An expected failure (mail server, file system) is
    recorded on the row and does not raise: `levier send-reminders` retries it. Anything
    else is recorded, then raised for the job runner's log.
    """
    from levier.collections.dunning import record_reminder_sent
    from levier.collections.statement import reminder_letter_pdf

    claimed = _claim(message_id)
    if claimed is None:
        return
    row, recipients = claimed
    try:
        if row.channel == DunningChannel.LETTER:
            reminder_letter_pdf(row)  # proves the letter renders before a person prints it
            comment = ""
        else:
            comment = _send_email(row, recipients)
    except OSError as exc:  # smtplib errors are OSErrors too
        _finish(row, status=Status.FAILED, error=_error_text(exc))
        log.warning("reminder %s failed: %s", row.pk, _error_text(exc))
        return
    except Exception as exc:
        _finish(row, status=Status.FAILED, error=_error_text(exc))
        raise
    with transaction.atomic():
        if row.channel == DunningChannel.LETTER:
            _finish(row, status=Status.TO_PRINT, error="")
            log.info("reminder %s is ready to print and post", row.pk)
            return
        row.status, row.sent_at = Status.SENT, timezone.now()
        if not _finish(row, status=row.status, error="", sent_at=row.sent_at):
            return
        record_event(
            actor=None,
            verb=Verb.SEND,
            instance=row,
            changes={"channel": row.channel, "to": recipients, "message_id": row.message_id},
            comment=comment,
        )
        record_reminder_sent(row)
    log.info("reminder %s sent to %s", row.pk, row.recipients)


def dunning_actor() -> User | None:
    """Who the scheduled run is recorded as: LEVIER_DUNNING_USER, else the first accountant."""
    from levier.accounts.permissions import MATRIX, Action

    users = User.objects.filter(is_active=True)
    username = getattr(settings, "LEVIER_DUNNING_USER", "")
    if username:
        return users.filter(username=username).first()
    return users.filter(role__in=MATRIX[Action.RUN_DUNNING]).order_by("pk").first()


@job
def daily_dunning_run(run_date: str = "") -> int | None:
    """The scheduled run (celery beat): returns the DunningRun id, None when it did not run."""
    from levier.collections.dunning import run_dunning
    from levier.lib.errors import NotAllowed

    actor = dunning_actor()
    if actor is None:
        log.error("scheduled dunning run skipped: no active user may run dunning")
        return None
    day = dt.date.fromisoformat(run_date) if run_date else timezone.localdate()
    try:
        return run_dunning(actor=actor, run_date=day).pk
    except NotAllowed as exc:
        log.warning("scheduled dunning run of %s skipped: %s", day, exc)
        return None


def _claim_statement(row_id: int) -> StatementEmail | None:
    """Take a statement email for sending (same rules as `_claim` for reminders)."""
    with transaction.atomic():
        row = (
            StatementEmail.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(pk=row_id)
            .first()
        )
        if row is None or row.status not in (Status.QUEUED, Status.FAILED, Status.SENDING):
            return None
        now = timezone.now()
        if (
            row.status == Status.SENDING
            and row.claimed_at
            and row.claimed_at > now - claim_timeout()
        ):
            return None
        row.attempts += 1
        row.claimed_at, row.status, row.error = now, Status.SENDING, ""
        row.save(update_fields=["attempts", "claimed_at", "status", "error"])
        return row


def pending_statement_emails(older_than: dt.timedelta) -> QuerySet[StatementEmail]:
    now = timezone.now()
    cutoff = now - older_than
    stale_claim = min(cutoff, now - claim_timeout())
    return (
        StatementEmail.objects.annotate(last_activity=Coalesce("claimed_at", "created_at"))
        .filter(
            Q(status=Status.QUEUED, last_activity__lte=cutoff)
            | Q(status=Status.FAILED, attempts__lt=MAX_SEND_ATTEMPTS, last_activity__lte=cutoff)
            | Q(status=Status.SENDING, last_activity__lte=stale_claim)
        )
        .select_related("customer")
        .order_by("last_activity", "pk")
    )


@job
def send_statement_email(*, statement_email_id: int) -> None:
    """Render and email one requested statement; the outcome on its row and the audit trail."""
    from levier.collections.dunning import recipients_of, seller_name
    from levier.collections.statement import (
        account_statement_pdf,
        french_date,
        statement_context,
        statement_filename,
    )

    row = _claim_statement(statement_email_id)
    if row is None:
        return
    customer, day = row.customer, row.as_of

    def finish(**fields: Any) -> bool:
        return bool(
            StatementEmail.objects.filter(
                pk=row.pk, status=Status.SENDING, claimed_at=row.claimed_at
            ).update(**fields)
        )

    recipients = recipients_of(customer)
    if not recipients:
        finish(status=Status.FAILED, error=NO_RECIPIENT_REASON)
        return
    profile = company_profile()
    context = {
        "customer_name": customer.name,
        "as_of": french_date(day),
        "seller_name": seller_name(profile),
        "seller_email": profile.email,
        "seller_phone": profile.phone,
        "balance": statement_context(customer, day, profile)["balance"],
    }
    email = EmailMessage(
        subject=f"Relevé de compte au {french_date(day)} – {seller_name(profile)}",
        body=render_to_string("collections/email/account_statement.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        reply_to=[profile.email] if profile.email else None,
    )
    try:
        email.attach(
            statement_filename(customer, day),
            account_statement_pdf(customer, day, profile=profile),
            "application/pdf",
        )
        email.send(fail_silently=False)
    except OSError as exc:  # smtplib errors are OSErrors too
        finish(status=Status.FAILED, error=_error_text(exc))
        log.warning("statement email %s failed: %s", row.pk, _error_text(exc))
        return
    except Exception as exc:
        finish(status=Status.FAILED, error=_error_text(exc))
        raise
    with transaction.atomic():
        if not finish(
            status=Status.SENT,
            sent_at=timezone.now(),
            recipients=", ".join(recipients)[:500],
        ):
            return
        record_event(
            actor=row.requested_by,
            verb=Verb.SEND,
            instance=customer,
            changes={"statement_as_of": day, "to": recipients},
            comment=f"Relevé de compte au {french_date(day)} envoyé à {', '.join(recipients)}",
        )
