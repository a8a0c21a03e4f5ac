"""Sending issued invoices and credit notes on the customer's channel, as a background job.

Same rules as the order confirmation (levier/sales/jobs.py): the send log row
(`InvoiceDispatch`) is written "queued" with the business change, the job is dispatched after
the commit (`levier.jobs.enqueue`), claims the row once (a "sending" claim younger than
LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS keeps other runs away) and writes the outcome; what is
left queued, failed or stale is retried by `levier send-invoices`. Delivery is at least once:
a worker killed between the channel's acceptance and the "sent" row sends again later.

- email: a French email with the Factur-X PDF attached (a PDF any reader opens, with the
  structured XML inside), to the customer's invoice email, else its accounts-payable contacts;
- einvoicing: the Factur-X file handed to the configured platform (`levier.billing.platform`);
- post: the plain PDF rendered (so a document that cannot be generated fails here, not in
  front of the printer) and the row left "to print" for a person, who marks it printed.

Texts stored on the row and the email are in French: the customer and the ADV team read them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr
from typing import Any

from babel.dates import format_date
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.company import company_profile
from levier.billing.models import CompanyProfile, Invoice, InvoiceDispatch
from levier.billing.platform import PlatformError, get_platform, platform_label
from levier.customers.choices import InvoiceChannel
from levier.customers.models import Customer
from levier.jobs import job
from levier.lib.identifiers import creditor_reference

log = logging.getLogger(__name__)

Status = InvoiceDispatch.Status
LOCALE = "fr_FR"

NO_RECIPIENT_REASON = (
    "Aucun destinataire : le client n'a ni adresse e-mail de facturation ni contact "
    "comptabilité fournisseurs avec une adresse e-mail."
)
# After this many failed attempts the sweeper leaves a row to a person ("Send again").
MAX_SEND_ATTEMPTS = 5
# How the channels read in the French texts of the log and the audit trail.
CHANNEL_FR: dict[str, str] = {
    InvoiceChannel.EMAIL: "e-mail",
    InvoiceChannel.EINVOICING: "plateforme de facturation électronique",
    InvoiceChannel.POST: "courrier",
}


def claim_timeout() -> dt.timedelta:
    """How long a "sending" row belongs to the run that claimed it (then it is stale)."""
    return dt.timedelta(seconds=settings.LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS)


def _error_text(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


def _message_id_domain() -> str:
    """The sender's domain, so Message-IDs do not depend on the host's (slow) FQDN lookup."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or "levier.localhost"


# --- who, what --------------------------------------------------------------------------------


def email_recipients(customer: Customer) -> list[str]:
    """The customer's invoice email, else its accounts-payable contacts' addresses.

    No fallback to the purchasing contacts: an invoice sent to the buyer instead of the
    payer waits on a desk and is paid late. Deduplicated, in the contacts' display order.
    """
    if customer.invoice_email:
        return [customer.invoice_email]
    contacts = customer.contacts.filter(is_accounts_payable=True).exclude(email="")
    return list(dict.fromkeys(contacts.values_list("email", flat=True)))


def postal_recipient(invoice: Invoice) -> str:
    """The buyer and address printed on the document (frozen at issue), on one line."""
    lines = [invoice.buyer_name, *invoice.buyer_address.splitlines()]
    return ", ".join(line.strip() for line in lines if line.strip())


def recipients_for(channel: str, invoice: Invoice) -> list[str]:
    """What the log shows as the recipients; for email, the addresses really sent to."""
    if channel == InvoiceChannel.EMAIL:
        return email_recipients(invoice.customer)
    if channel == InvoiceChannel.EINVOICING:
        return [platform_label()]
    return [postal_recipient(invoice)]


def _seller_name(profile: CompanyProfile) -> str:
    return profile.trading_name or profile.legal_name or settings.LEVIER_COMPANY_NAME


def document_title(invoice: Invoice) -> str:
    return "Avoir" if invoice.kind == DocumentKind.CREDIT_NOTE else "Facture"


def dispatch_subject(invoice: Invoice, profile: CompanyProfile | None = None) -> str:
    """« Facture F2026-000123 – Levier Conseil »."""
    seller = _seller_name(profile or company_profile())
    return f"{document_title(invoice)} {invoice.number} – {seller}"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _long_date(day: dt.date | None) -> str:
    return format_date(day, format="long", locale=LOCALE) if day else ""


def _grouped_iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def email_context(invoice: Invoice, profile: CompanyProfile) -> dict[str, object]:
    from levier.billing.documents import money  # Babel's fr_FR rules, as printed

    credited = invoice.credited_invoice if invoice.kind == DocumentKind.CREDIT_NOTE else None
    return {
        "seller_name": _seller_name(profile),
        "seller_email": profile.email,
        "seller_phone": profile.phone,
        "buyer_name": invoice.buyer_name,
        "is_credit": invoice.kind == DocumentKind.CREDIT_NOTE,
        "title": document_title(invoice),
        "number": invoice.number,
        "issue_date": _long_date(invoice.issue_date),
        "due_date": _long_date(invoice.due_date),
        "total_gross": money(invoice.total_gross),
        "po_number": invoice.po_number,
        "credited_number": credited.number if credited else "",
        "credited_date": _long_date(credited.issue_date) if credited else "",
        "iban": _grouped_iban(profile.iban),
        "bic": profile.bic,
        "bank_name": profile.bank_name,
        # BT-83, what the Factur-X XML asks the payer to quote: the RF creditor reference.
        "payment_reference": creditor_reference(invoice.number or ""),
    }


def render_invoice_email(invoice: Invoice, profile: CompanyProfile | None = None) -> RenderedEmail:
    """Subject, plain-text and HTML bodies of the email that carries `invoice`."""
    seller = profile or company_profile()
    context = email_context(invoice, seller)
    return RenderedEmail(
        subject=dispatch_subject(invoice, seller),
        text=render_to_string("billing/email/invoice.txt", context),
        html=render_to_string("billing/email/invoice.html", context),
    )


# --- claiming ---------------------------------------------------------------------------------


def _claim(dispatch_id: int) -> tuple[InvoiceDispatch, list[str]] | None:
    """Decide, under a lock on the row, whether this run sends; commit the claim before I/O.

    Returns None when there is nothing to do: row gone, already done (sent, to print,
    printed), replaced by a newer sending, claimed by another run less than the claim timeout
    ago, or impossible (no recipient, document not issued: "failed" with the reason, counted
    as an attempt so the sweeper gives up after MAX_SEND_ATTEMPTS).
    """
    with transaction.atomic():
        row = (
            InvoiceDispatch.objects.select_for_update(of=("self",))
            .select_related("invoice", "invoice__customer", "invoice__credited_invoice")
            .filter(pk=dispatch_id)
            .first()
        )
        if row is None:
            log.warning("invoice sending %s does not exist", dispatch_id)
            return None
        invoice = row.invoice
        if row.status not in (Status.QUEUED, Status.FAILED, Status.SENDING):
            log.info("sending of %s is %s: nothing to do", invoice.number, row.status)
            return None
        now = timezone.now()
        if row.status == Status.SENDING:
            if row.claimed_at is not None and row.claimed_at > now - claim_timeout():
                log.info(
                    "sending of %s is in progress in another run (claimed at %s)",
                    invoice.number,
                    row.claimed_at.isoformat(),
                )
                return None
            log.warning(
                "sending of %s: taking over a stale claim (claimed at %s)",
                invoice.number,
                row.claimed_at.isoformat() if row.claimed_at else "?",
            )
        row.attempts += 1
        row.claimed_at = now
        row.message_id = ""
        recipients: list[str] = []
        if invoice.status != InvoiceStatus.ISSUED or not invoice.number:
            row.status = Status.FAILED
            row.error = f"Le document n'est pas émis (statut : {invoice.status})."
        else:
            recipients = recipients_for(row.channel, invoice)
            row.recipients = ", ".join(recipients)[:500]
            row.subject = dispatch_subject(invoice)[:300]
            if row.channel == InvoiceChannel.EMAIL and not recipients:
                row.status = Status.FAILED
                row.error = NO_RECIPIENT_REASON
            else:
                row.status = Status.SENDING
                row.error = ""
                if row.channel == InvoiceChannel.EMAIL:
                    row.message_id = make_msgid(domain=_message_id_domain())
        row.save()
        if row.status == Status.FAILED:
            log.warning("sending of %s failed: %s", invoice.number or invoice.pk, row.error)
            return None
        return row, recipients


def pending_dispatches(older_than: dt.timedelta) -> QuerySet[InvoiceDispatch]:
    """Rows a job should have finished by now, oldest first (for `levier send-invoices`).

    "queued" (the job was lost or has not run yet), "failed" with fewer than
    MAX_SEND_ATTEMPTS attempts, and "sending" whose claim is stale. A row's age counts from
    its last claim, else its creation, and must exceed `older_than`; a "sending" row must
    also be older than the claim timeout, or the job would refuse it anyway.
    """
    now = timezone.now()
    cutoff = now - older_than
    stale_claim = min(cutoff, now - claim_timeout())
    return (
        InvoiceDispatch.objects.annotate(last_activity=Coalesce("claimed_at", "created_at"))
        .filter(
            Q(status=Status.QUEUED, last_activity__lte=cutoff)
            | Q(status=Status.FAILED, attempts__lt=MAX_SEND_ATTEMPTS, last_activity__lte=cutoff)
            | Q(status=Status.SENDING, last_activity__lte=stale_claim)
        )
        .select_related("invoice")
        .order_by("last_activity", "pk")
    )


# --- sending ----------------------------------------------------------------------------------


def _finish(row: InvoiceDispatch, **fields: Any) -> bool:
    """Write the outcome only if this run still holds the row.

    A claim that went stale may have been taken over, or the row replaced by "Send again"
    (superseded): writing "failed" over that would make the sweeper send it once more.
    """
    done = InvoiceDispatch.objects.filter(
        pk=row.pk, status=Status.SENDING, claimed_at=row.claimed_at
    ).update(**fields)
    if not done:
        log.warning("sending %s was taken over meanwhile: its outcome is not recorded", row.pk)
    return bool(done)


def _record_failure(row: InvoiceDispatch, exc: BaseException) -> None:
    row.status = Status.FAILED
    row.error = _error_text(exc)
    _finish(row, status=row.status, error=row.error)


def _send_email(row: InvoiceDispatch, invoice: Invoice, recipients: list[str]) -> str:
    from levier.billing.documents import document_filename, facturx_pdf

    profile = company_profile()
    rendered = render_invoice_email(invoice, profile)
    attachment = facturx_pdf(invoice, profile=profile)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        reply_to=[profile.email] if profile.email else None,
        headers={"Message-ID": row.message_id},
    )
    message.attach_alternative(rendered.html, "text/html")
    message.attach(document_filename(invoice, "pdf"), attachment, "application/pdf")
    message.send(fail_silently=False)
    return f"Envoi par e-mail à {', '.join(recipients)}"


def _submit_to_platform(row: InvoiceDispatch, invoice: Invoice) -> str:
    from levier.billing.documents import document_filename, facturx_pdf

    platform = get_platform()
    facturx = facturx_pdf(invoice)
    external_id = platform.submit(invoice, facturx, document_filename(invoice, "pdf"))
    row.external_id = str(external_id)[:200]
    return f"Dépôt sur la plateforme : {row.recipients} (référence {row.external_id})"


def _prepare_print(invoice: Invoice) -> None:
    from levier.billing.documents import invoice_pdf

    invoice_pdf(invoice)  # proves the document renders before someone is asked to print it


@job
def send_invoice_dispatch(*, dispatch_id: int) -> None:
    """Send one logged dispatch of an issued document on its channel.

    Idempotent: a row already sent, to print, printed or replaced is left alone, and while a
    run holds the row another run does nothing. The I/O runs outside any transaction (no lock
    held while talking to the SMTP server or the platform). An expected failure (mail server,
    file system, `PlatformError`) is recorded on the row ("failed", error text) and does not
    raise: `levier send-invoices` retries it. Anything else is recorded, then raised for the
    job runner's log.
    """
    claimed = _claim(dispatch_id)
    if claimed is None:
        return
    row, recipients = claimed
    invoice = row.invoice
    try:
        if row.channel == InvoiceChannel.POST:
            _prepare_print(invoice)
            comment = ""
        elif row.channel == InvoiceChannel.EINVOICING:
            comment = _submit_to_platform(row, invoice)
        elif row.channel == InvoiceChannel.EMAIL:
            comment = _send_email(row, invoice, recipients)
        else:
            raise ValueError(f"unknown invoice channel {row.channel!r}")
    except (OSError, PlatformError) as exc:  # smtplib errors are OSErrors too
        _record_failure(row, exc)
        log.warning("sending of %s failed: %s", invoice.number, _error_text(exc))
        return
    except Exception as exc:
        _record_failure(row, exc)
        raise
    with transaction.atomic():
        row.error = ""
        if row.channel == InvoiceChannel.POST:
            row.status = Status.TO_PRINT
            _finish(row, status=row.status, error="")
            log.info("%s is ready to print and post", invoice.number)
            return
        row.status = Status.SENT
        row.sent_at = timezone.now()
        _finish(row, status=row.status, error="", sent_at=row.sent_at, external_id=row.external_id)
        record_event(
            actor=None,
            verb=Verb.SEND,
            instance=invoice,
            changes={
                "channel": row.channel,
                "to": recipients,
                "dispatch": row.pk,
                "message_id": row.message_id,
                "platform_reference": row.external_id,
            },
            comment=comment,
        )
    log.info("%s sent (%s) to %s", invoice.number, row.channel, row.recipients)
