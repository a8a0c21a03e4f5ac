"""Sending issued invoices and credit notes: the services the issuing code and the screens call.

`queue_invoice_dispatch` runs inside the issuing transaction: the "queued" send log row
commits with the number or not at all, and the job that sends it is dispatched after the
commit. `resend_invoice` is the "Send again" button; `mark_printed` closes a postal sending.
The sending itself is `levier.billing.jobs_sending.send_invoice_dispatch`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.choices import InvoiceStatus
from levier.billing.company import company_profile
from levier.billing.jobs_sending import (
    CHANNEL_FR,
    claim_timeout,
    dispatch_subject,
    postal_recipient,
    recipients_for,
    send_invoice_dispatch,
)
from levier.billing.models import Invoice, InvoiceDispatch
from levier.billing.platform import platform_label
from levier.customers.choices import InvoiceChannel
from levier.customers.models import Contact
from levier.jobs import enqueue
from levier.lib.errors import NotAllowed

__all__ = ["mark_printed", "queue_invoice_dispatch", "queue_invoice_dispatches", "resend_invoice"]

Status = InvoiceDispatch.Status
# Left undone by a sending that a new one replaces (see `resend_invoice`).
REPLACEABLE = (Status.QUEUED, Status.FAILED, Status.TO_PRINT, Status.SENDING)


def _new_dispatch(invoice: Invoice, actor: User | None) -> InvoiceDispatch:
    """A "queued" row on the customer's current channel, its job enqueued for the commit."""
    channel = invoice.customer.invoice_channel
    row = InvoiceDispatch.objects.create(
        invoice=invoice,
        channel=channel,
        status=Status.QUEUED,
        # What the job will use if nothing changes meanwhile; it writes what it really used.
        recipients=", ".join(recipients_for(channel, invoice))[:500],
        subject=dispatch_subject(invoice)[:300],
        created_by=actor,
    )
    enqueue(send_invoice_dispatch, dispatch_id=row.pk)
    return row


def queue_invoice_dispatch(invoice: Invoice, *, actor: User | None = None) -> InvoiceDispatch:
    """Log the sending of a just-issued document as pending; enqueue its job for the commit.

    Call it inside the issuing transaction, after the document is saved as issued. Once per
    document: when it already has a sending, that row is returned (its job enqueued again if
    it is still queued or failed, which its claim makes harmless) and nothing new is created,
    so calling it twice, or from a retried issuing path, never sends twice. Sending again is
    `resend_invoice`.
    """
    return queue_invoice_dispatches([invoice], actor=actor)[0]


def queue_invoice_dispatches(
    invoices: Sequence[Invoice], *, actor: User | None = None
) -> list[InvoiceDispatch]:
    """`queue_invoice_dispatch` for a batch of issued documents, in a constant number of queries.

    For `issue_invoices`: one query for the existing sendings, one for the accounts-payable
    addresses, one bulk insert, whatever the batch size. Returns one row per document, in
    the order given. Each row's job is enqueued for the commit (so without Celery the batch
    is sent in this process right after the commit; with Celery the workers share it).
    """
    for invoice in invoices:
        if invoice.status != InvoiceStatus.ISSUED or not invoice.number:
            raise ValueError(
                f"queue_invoice_dispatch({invoice}): the document is {invoice.status}, "
                "call it once it is issued"
            )
    if not invoices:
        return []
    with transaction.atomic():
        latest: dict[int, InvoiceDispatch] = {}
        for row in InvoiceDispatch.objects.filter(
            invoice_id__in=[invoice.pk for invoice in invoices]
        ).order_by("pk"):
            latest[row.invoice_id] = row
        profile = company_profile()
        customers = {invoice.customer_id: invoice.customer for invoice in invoices}
        payables: dict[int, list[str]] = {}
        for customer_id, email in (
            Contact.objects.filter(customer_id__in=list(customers), is_accounts_payable=True)
            .exclude(email="")
            .values_list("customer_id", "email")
        ):
            if email not in payables.setdefault(customer_id, []):
                payables[customer_id].append(email)
        platform = platform_label()
        new: list[InvoiceDispatch] = []
        for invoice in invoices:
            if invoice.pk in latest:
                continue
            customer = customers[invoice.customer_id]
            channel = customer.invoice_channel
            if channel == InvoiceChannel.EMAIL:
                recipients = (
                    [customer.invoice_email]
                    if customer.invoice_email
                    else payables.get(customer.pk, [])
                )
            elif channel == InvoiceChannel.EINVOICING:
                recipients = [platform]
            else:
                recipients = [postal_recipient(invoice)]
            row = InvoiceDispatch(
                invoice=invoice,
                channel=channel,
                status=Status.QUEUED,
                # What the job will use if nothing changes meanwhile; it writes what it used.
                recipients=", ".join(recipients)[:500],
                subject=dispatch_subject(invoice, profile)[:300],
                created_by=actor,
            )
            latest[invoice.pk] = row
            new.append(row)
        InvoiceDispatch.objects.bulk_create(new, batch_size=500)
        rows = [latest[invoice.pk] for invoice in invoices]
        for row in dict.fromkeys(rows):
            if row.status in (Status.QUEUED, Status.FAILED):
                enqueue(send_invoice_dispatch, dispatch_id=row.pk)
    return rows


def resend_invoice(*, actor: User, invoice: Invoice) -> InvoiceDispatch:
    """Send an issued document again, on the customer's current channel: a new logged row.

    For a lost email, a customer who changed channel, a failed sending given up by the
    sweeper. Sendings left pending (queued, failed, to print, stale "sending") are marked
    replaced, so the customer gets one copy, not one per click; a sending in progress right
    now is waited for (NotAllowed) rather than doubled. Audited on the document.
    """
    require(actor, Action.SEND_INVOICE)
    with transaction.atomic():
        # Serialises two "Send again" on the same document (double click, two tabs).
        locked = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("customer")
            .get(pk=invoice.pk)
        )
        if locked.status != InvoiceStatus.ISSUED or not locked.number:
            raise NotAllowed(_("Only an issued invoice or credit note can be sent."))
        pending = list(
            InvoiceDispatch.objects.select_for_update()
            .filter(invoice=locked, status__in=REPLACEABLE)
            .order_by("pk")
        )
        fresh_claim = timezone.now() - claim_timeout()
        for row in pending:
            if row.status == Status.SENDING and row.claimed_at and row.claimed_at > fresh_claim:
                raise NotAllowed(
                    _(
                        "%(number)s is being sent right now: wait for the outcome before "
                        "sending it again."
                    )
                    % {"number": locked.number}
                )
        row = _new_dispatch(locked, actor)
        for old in pending:
            old.status = Status.SUPERSEDED
            old.error = f"Remplacé par l'envoi n° {row.pk}."
            old.claimed_at = None
            old.save(update_fields=["status", "error", "claimed_at"])
        record_event(
            actor=actor,
            verb=Verb.SEND,
            instance=locked,
            changes={
                "dispatch": row.pk,
                "channel": row.channel,
                "to": row.recipients,
                "replaced": [old.pk for old in pending],
            },
            comment=f"Nouvel envoi demandé ({CHANNEL_FR.get(row.channel, row.channel)})",
        )
    return row


def mark_printed(*, actor: User, dispatch: InvoiceDispatch) -> InvoiceDispatch:
    """A person printed and posted a postal sending: it leaves the "to print" worklist."""
    require(actor, Action.SEND_INVOICE)
    with transaction.atomic():
        row = (
            InvoiceDispatch.objects.select_for_update(of=("self",))
            .select_related("invoice")
            .get(pk=dispatch.pk)
        )
        if row.status != Status.TO_PRINT:
            raise NotAllowed(
                _("This sending is not waiting to be printed (status: %(status)s).")
                % {"status": row.get_status_display()}
            )
        row.status = Status.PRINTED
        row.sent_at = timezone.now()
        row.printed_by = actor
        row.save(update_fields=["status", "sent_at", "printed_by"])
        record_event(
            actor=actor,
            verb=Verb.SEND,
            instance=row.invoice,
            changes={"channel": row.channel, "to": row.recipients, "dispatch": row.pk},
            comment="Imprimé et posté",
        )
    return row
