"""Background jobs of the sales app (run in-process or on Celery, see levier/jobs.py)."""

from __future__ import annotations

import logging
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.jobs import job
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


def _error_text(exc: BaseException) -> str:
    # smtplib errors often carry the server's reply as args; the class name tells a refused
    # connection from a refused recipient when the message itself is terse.
    return f"{exc.__class__.__name__}: {exc}"


def _message_id_domain() -> str:
    """The sender's domain, so Message-IDs do not depend on the host's (slow) FQDN lookup."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "levier.localhost"


def _claim_confirmation(order_id: int) -> tuple[Order, OrderEmail, list[str]] | None:
    """Decide, under a lock on the order, whether this run sends; write the log row.

    Returns None when there is nothing to send (already sent, order gone or not validated,
    no recipient: the last two leave a "skipped" row saying why).
    """
    with transaction.atomic():
        # Two runs for one order (a redelivered Celery message, a second dispatch) decide
        # one after the other, so the second sees the first's row.
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
        row = rows.order_by("-created_at", "-pk").first() or OrderEmail(
            order=order, kind=CONFIRMATION_KIND
        )
        row.subject = confirmation_subject(order)
        recipients = confirmation_recipients(order.customer)
        row.recipients = ", ".join(recipients)[:500]
        row.message_id = ""
        if order.status != OrderStatus.VALIDATED:
            row.status = SendStatus.SKIPPED
            row.error = f"La commande n'est pas validée (statut : {order.status})."
        elif not recipients:
            row.status = SendStatus.SKIPPED
            row.error = NO_RECIPIENT_REASON
        else:
            row.status = SendStatus.QUEUED
            row.error = ""
            row.attempts += 1
            row.message_id = make_msgid(domain=_message_id_domain())
        row.save()
        if row.status == SendStatus.SKIPPED:
            log.warning("order confirmation of %s skipped: %s", order.number, row.error)
            return None
        return order, row, recipients


def _record_failure(row: OrderEmail, exc: BaseException) -> None:
    row.status = SendStatus.FAILED
    row.error = _error_text(exc)
    row.save(update_fields=["status", "error"])


@job
def send_order_confirmation(*, order_id: int) -> None:
    """Email the French order confirmation to the customer's purchasing contact.

    Idempotent: once a confirmation of the order is logged as sent, running again does
    nothing. The send happens outside any transaction (no database lock held during SMTP
    I/O), so delivery is at least once: a worker killed between the SMTP acceptance and the
    "sent" row may send again when its message is redelivered, which beats a lost
    confirmation. An SMTP failure is recorded on the log row (status failed, error text) and
    does not raise: re-dispatching the job is the retry.
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
