"""Background jobs of the sales app (run in-process or on Celery, see levier/jobs.py)."""

from __future__ import annotations

import datetime as dt
import logging
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.jobs import enqueue, job
from levier.sales.choices import OrderStatus, SendStatus
from levier.sales.emails import (
    CONFIRMATION_KIND,
    confirmation_recipients,
    confirmation_subject,
    render_order_confirmation,
)
from levier.sales.models import Order, OrderEmail

log = logging.getLogger(__name__)

# Stored on the send log row, which the ADV team reads in French.
NO_RECIPIENT_REASON = (
    "Aucun destinataire : le client n'a ni contact achats ni contact comptabilité "
    "fournisseurs avec une adresse e-mail."
)

# After this many failed attempts the sweeper stops retrying a confirmation on its own
# (dispatching the job by hand still does).
MAX_SEND_ATTEMPTS = 5


def _error_text(exc: BaseException) -> str:
    # smtplib errors often carry the server's reply as args; the class name tells a refused
    # connection from a refused recipient when the message itself is terse.
    return f"{exc.__class__.__name__}: {exc}"


def _message_id_domain() -> str:
    """The sender's domain, so Message-IDs do not depend on the host's (slow) FQDN lookup."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "levier.localhost"


def claim_timeout() -> dt.timedelta:
    """How long a "sending" row belongs to the run that claimed it (then it is stale)."""
    return dt.timedelta(seconds=settings.LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS)


def _latest_confirmation(order: Order) -> OrderEmail | None:
    return (
        OrderEmail.objects.filter(order=order, kind=CONFIRMATION_KIND)
        .order_by("-created_at", "-pk")
        .first()
    )


def queue_order_confirmation(order: Order) -> OrderEmail:
    """Record the confirmation of `order` as pending, then enqueue the job that sends it.

    Call it inside the transaction that validates the order: the "queued" row commits with
    the validation or not at all, and the job is dispatched only after the commit. If the
    dispatch is lost (broker down, process killed), the row stays "queued" where
    `levier send-pending-emails` finds it.

    One row per order: an existing row is reused. A row already "sent" is returned as is and
    nothing is enqueued; a row "sending" is left to the run holding it (the job enqueued
    here takes it over only if that claim goes stale).
    """
    if order.status != OrderStatus.VALIDATED:
        raise ValueError(
            f"queue_order_confirmation({order.number}): the order is {order.status}, "
            "call it once the order is validated"
        )
    with transaction.atomic():
        row = _latest_confirmation(order)
        if row is not None and row.status == SendStatus.SENT:
            return row
        if row is None:
            row = OrderEmail(order=order, kind=CONFIRMATION_KIND)
        if row.status != SendStatus.SENDING:
            row.status = SendStatus.QUEUED
            row.subject = confirmation_subject(order)
            row.recipients = ", ".join(confirmation_recipients(order.customer))[:500]
            row.error = ""
            row.message_id = ""
            row.claimed_at = None
            row.save()
        enqueue(send_order_confirmation, order_id=order.pk)
    return row


def _claim_confirmation(order_id: int) -> tuple[Order, OrderEmail, list[str]] | None:
    """Decide, under a lock on the order, whether this run sends; write the log row.

    Returns None when there is nothing to send: already sent, another run is sending it
    (row "sending" claimed less than LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS ago), order gone or
    not validated, no recipient (the last two leave a "skipped" row saying why). Otherwise
    the row is "sending", stamped `claimed_at`, and committed before any SMTP I/O, so a
    second run (redelivered message, sweeper, manual dispatch) leaves it alone.
    """
    with transaction.atomic():
        # Two runs for one order decide one after the other, so the second sees the first's
        # claim.
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            log.warning("order confirmation: order %s does not exist (deleted?)", order_id)
            return None
        rows = OrderEmail.objects.filter(order=order, kind=CONFIRMATION_KIND)
        if rows.filter(status=SendStatus.SENT).exists():
            log.info("order confirmation of %s already sent: nothing to do", order.number)
            return None
        # One log row per order: a retry after a failure or a skip updates it, so the row
        # shows the number of attempts and the last outcome.
        row = _latest_confirmation(order) or OrderEmail(order=order, kind=CONFIRMATION_KIND)
        now = timezone.now()
        if (
            row.status == SendStatus.SENDING
            and row.claimed_at is not None
            and row.claimed_at > now - claim_timeout()
        ):
            log.info(
                "order confirmation of %s is being sent by another run (claimed at %s)",
                order.number,
                row.claimed_at.isoformat(),
            )
            return None
        if row.status == SendStatus.SENDING:
            log.warning(
                "order confirmation of %s: taking over a stale claim (claimed at %s)",
                order.number,
                row.claimed_at.isoformat() if row.claimed_at else "?",
            )
        row.subject = confirmation_subject(order)
        recipients = confirmation_recipients(order.customer)
        row.recipients = ", ".join(recipients)[:500]
        row.message_id = ""
        if order.status != OrderStatus.VALIDATED:
            row.status = SendStatus.SKIPPED
            row.error = f"La commande n'est pas validée (statut : {order.status})."
            row.claimed_at = None
        elif not recipients:
            row.status = SendStatus.SKIPPED
            row.error = NO_RECIPIENT_REASON
            row.claimed_at = None
        else:
            row.status = SendStatus.SENDING
            row.claimed_at = now
            row.error = ""
            row.attempts += 1
            row.message_id = make_msgid(domain=_message_id_domain())
        row.save()
        if row.status == SendStatus.SKIPPED:
            log.warning("order confirmation of %s skipped: %s", order.number, row.error)
            return None
        return order, row, recipients


def pending_confirmations(older_than: dt.timedelta) -> QuerySet[OrderEmail]:
    """Confirmation rows a job should have sent by now, oldest first (for the sweeper).

    "queued" (the job was lost or has not run yet), "failed" with fewer than
    MAX_SEND_ATTEMPTS attempts, and "sending" whose claim is stale. A row's age counts from
    its last claim, else its creation, and must exceed `older_than`; a "sending" row must
    also be older than the claim timeout, or the job would refuse it anyway. "skipped" rows
    wait for a human fix (a contact's address) and a manual dispatch.
    """
    now = timezone.now()
    cutoff = now - older_than
    stale_claim = min(cutoff, now - claim_timeout())
    return (
        OrderEmail.objects.filter(kind=CONFIRMATION_KIND)
        .annotate(last_activity=Coalesce("claimed_at", "created_at"))
        .filter(
            Q(status=SendStatus.QUEUED, last_activity__lte=cutoff)
            | Q(
                status=SendStatus.FAILED,
                attempts__lt=MAX_SEND_ATTEMPTS,
                last_activity__lte=cutoff,
            )
            | Q(status=SendStatus.SENDING, last_activity__lte=stale_claim)
        )
        .exclude(
            Exists(
                OrderEmail.objects.filter(
                    order=OuterRef("order"), kind=CONFIRMATION_KIND, status=SendStatus.SENT
                )
            )
        )
        .select_related("order")
        .order_by("last_activity", "pk")
    )


def _record_failure(row: OrderEmail, exc: BaseException) -> None:
    row.status = SendStatus.FAILED
    row.error = _error_text(exc)
    row.save(update_fields=["status", "error"])


@job
def send_order_confirmation(*, order_id: int) -> None:
    """Email the French order confirmation to the customer's purchasing contact.

    Idempotent: once a confirmation of the order is logged as sent, running again does
    nothing, and while a run holds the row ("sending", claimed less than
    LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS ago) another run does nothing either. The send happens
    outside any transaction (no database lock held during SMTP I/O), so delivery is at least
    once: a worker killed between the SMTP acceptance and the "sent" row leaves a "sending"
    row that is sent again once its claim is stale, which beats a lost confirmation. An SMTP
    failure is recorded on the log row (status failed, error text) and does not raise:
    re-dispatching the job (or `levier send-pending-emails`) is the retry.
    """
    claimed = _claim_confirmation(order_id)
    if claimed is None:
        return
    order, row, recipients = claimed
    try:
        rendered = render_order_confirmation(order)
        message = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
            headers={"Message-ID": row.message_id},
        )
        message.attach_alternative(rendered.html, "text/html")
        message.send(fail_silently=False)
    except OSError as exc:  # smtplib.SMTPException, refused connection, timeout, TLS errors
        _record_failure(row, exc)
        log.warning("order confirmation of %s failed: %s", order.number, _error_text(exc))
        return
    except Exception as exc:
        # A bug (template, data), not the mail server: logged on the row, then raised so it
        # shows in the job runner's logs.
        _record_failure(row, exc)
        raise
    with transaction.atomic():
        row.status = SendStatus.SENT
        row.error = ""
        row.sent_at = timezone.now()
        row.save(update_fields=["status", "error", "sent_at"])
        record_event(
            actor=None,
            verb=Verb.SEND,
            instance=order,
            changes={"email": CONFIRMATION_KIND, "to": recipients, "message_id": row.message_id},
            comment=f"{rendered.subject} envoyée à {', '.join(recipients)}",
        )
    log.info("order confirmation of %s sent to %s", order.number, ", ".join(recipients))
