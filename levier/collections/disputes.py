"""Disputes (litiges): opened on an invoice or some of its lines, resolved, closed.

An open dispute stops dunning for its invoice only (levier.collections.dunning reads the
status). A resolution says how it ended: a credit note on the invoice, a corrected invoice,
or a rejection (the invoice stands); each move is checked against DISPUTE_TRANSITIONS and
logged with who, when and why. Reasons and durations feed the KPIs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice, InvoiceLine
from levier.collections.choices import DisputeReason, DisputeResolution, DisputeStatus
from levier.collections.models import Dispute
from levier.collections.transitions import check_dispute_transition
from levier.integrations.events import EventName, record_domain_event
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.money import ZERO, document_totals

CENT = Decimal("0.01")


def _lines_gross(lines: Sequence[InvoiceLine]) -> Decimal:
    """TTC of the disputed lines, with VAT per rate as on the invoice (levier.lib.money)."""
    return document_totals((line.net_amount, line.vat_rate) for line in lines).gross


def _fully_credited(invoice: Invoice) -> bool:
    credited = Invoice.objects.filter(
        credited_invoice=invoice, kind=DocumentKind.CREDIT_NOTE, status=InvoiceStatus.ISSUED
    ).aggregate(total=Sum("total_gross"))["total"]
    return (credited or ZERO) >= invoice.total_gross


def _payload(dispute: Dispute) -> dict[str, object]:
    return {
        "dispute_id": dispute.pk,
        "invoice_id": dispute.invoice_id,
        "invoice_number": dispute.invoice.number,
        "customer_id": dispute.invoice.customer_id,
        "reason": dispute.reason,
        "amount": str(dispute.amount),
        "status": dispute.status,
        "resolution": dispute.resolution,
        "opened_on": dispute.opened_on.isoformat(),
        "due_on": dispute.due_on.isoformat(),
        "resolved_on": dispute.resolved_on.isoformat() if dispute.resolved_on else None,
    }


@transaction.atomic
def open_dispute(
    *,
    actor: User,
    invoice: Invoice,
    reason: DisputeReason | str,
    owner: User,
    due_on: dt.date,
    notes: str = "",
    lines: Sequence[InvoiceLine] = (),
    opened_on: dt.date | None = None,
) -> Dispute:
    """Record that the customer contests the invoice (all of it, or the lines given)."""
    require(actor, Action.MANAGE_DISPUTES)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.ISSUED or invoice.kind != DocumentKind.INVOICE:
        raise NotAllowed(_("only an issued invoice can be disputed"), code="not_an_invoice")
    if reason not in DisputeReason.values:
        raise ValidationFailed.on("reason", _("choose a reason from the list"), "reason")
    if not owner.is_active:
        raise ValidationFailed.on("owner", _("the owner must be an active user"), "owner")
    opened_on = opened_on or timezone.localdate()
    if due_on < opened_on:
        raise ValidationFailed.on(
            "due_on", _("the resolution is due on or after the opening day"), "due_on"
        )
    already = Dispute.objects.filter(invoice=invoice, status=DisputeStatus.OPEN).first()
    if already is not None:
        raise NotAllowed(
            _("%(number)s is already disputed (%(dispute)s): add to that dispute")
            % {"number": invoice.number, "dispute": already},
            code="already_disputed",
        )
    foreign = [line for line in lines if line.invoice_id != invoice.pk]
    if foreign:
        raise ValidationFailed.on("lines", _("a disputed line must belong to the invoice"), "lines")
    open_amount = invoice.open_amount if invoice.open_amount is not None else invoice.total_gross
    amount = _lines_gross(lines) if lines else max(open_amount, ZERO)
    dispute = Dispute.objects.create(
        invoice=invoice,
        reason=reason,
        amount=amount,
        owner=owner,
        due_on=due_on,
        notes=notes.strip(),
        opened_on=opened_on,
        opened_by=actor,
    )
    if lines:
        dispute.lines.set(lines)
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=dispute,
        changes={
            "invoice": invoice.number,
            "reason": str(reason),
            "amount": str(amount),
            "owner": owner.username,
            "due_on": str(due_on),
            "lines": [line.pk for line in lines],
        },
        comment=notes.strip()[:1000],
    )
    record_domain_event(EventName.DISPUTE_OPENED, dispute, _payload(dispute))
    return dispute


@transaction.atomic
def resolve_dispute(
    *,
    actor: User,
    dispute: Dispute,
    resolution: DisputeResolution | str,
    note: str = "",
    credit_note: Invoice | None = None,
    corrected_invoice: Invoice | None = None,
    resolved_on: dt.date | None = None,
) -> Dispute:
    """End the dispute: with the credit note or corrected invoice that settles it, or not."""
    require(actor, Action.MANAGE_DISPUTES)
    dispute = Dispute.objects.select_for_update().select_related("invoice").get(pk=dispute.pk)
    check_dispute_transition(dispute.status, DisputeStatus.RESOLVED)
    if resolution not in DisputeResolution.values:
        raise ValidationFailed.on("resolution", _("choose how the dispute ended"), "resolution")
    if resolution == DisputeResolution.CREDIT_NOTE and (
        credit_note is None
        or credit_note.kind != DocumentKind.CREDIT_NOTE
        or credit_note.status != InvoiceStatus.ISSUED
        or credit_note.credited_invoice_id != dispute.invoice_id
    ):
        raise ValidationFailed.on(
            "credit_note",
            _("give the issued credit note of %(number)s that settles the dispute")
            % {"number": dispute.invoice.number},
            "credit_note_required",
        )
    if resolution == DisputeResolution.CORRECTED_INVOICE and (
        corrected_invoice is None
        or corrected_invoice.kind != DocumentKind.INVOICE
        or corrected_invoice.status != InvoiceStatus.ISSUED
        or corrected_invoice.customer_id != dispute.invoice.customer_id
        or corrected_invoice.pk == dispute.invoice_id
    ):
        raise ValidationFailed.on(
            "corrected_invoice",
            _("give the issued invoice that replaces %(number)s")
            % {"number": dispute.invoice.number},
            "corrected_invoice_required",
        )
    if (
        resolution == DisputeResolution.CORRECTED_INVOICE
        and (dispute.invoice.open_amount or ZERO) > ZERO
        and not _fully_credited(dispute.invoice)
    ):
        raise ValidationFailed.on(
            "corrected_invoice",
            _(
                "cancel %(number)s with a full credit note first: otherwise it stays due "
                "beside the corrected invoice, and both are reminded"
            )
            % {"number": dispute.invoice.number},
            "original_not_cancelled",
        )
    if resolution == DisputeResolution.REJECTED and not note.strip():
        raise ValidationFailed.on("note", _("say why the dispute is rejected"), "note_required")
    before = dispute.status
    dispute.status = DisputeStatus.RESOLVED
    dispute.resolution = resolution
    dispute.resolution_note = note.strip()
    dispute.credit_note = credit_note if resolution == DisputeResolution.CREDIT_NOTE else None
    dispute.corrected_invoice = (
        corrected_invoice if resolution == DisputeResolution.CORRECTED_INVOICE else None
    )
    dispute.resolved_on = resolved_on or timezone.localdate()
    if dispute.resolved_on < dispute.opened_on:
        raise ValidationFailed.on(
            "resolved_on", _("a dispute is resolved after it was opened"), "date"
        )
    dispute.save()
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=dispute,
        changes={
            "status": [before, dispute.status],
            "resolution": str(resolution),
            "credit_note": dispute.credit_note.number if dispute.credit_note else None,
            "corrected_invoice": (
                dispute.corrected_invoice.number if dispute.corrected_invoice else None
            ),
        },
        comment=note.strip()[:1000],
    )
    record_domain_event(EventName.DISPUTE_RESOLVED, dispute, _payload(dispute))
    return dispute


@transaction.atomic
def reopen_dispute(*, actor: User, dispute: Dispute, reason: str) -> Dispute:
    """The customer does not accept the resolution: the dispute (and the dunning stop) again."""
    require(actor, Action.MANAGE_DISPUTES)
    dispute = Dispute.objects.select_for_update().select_related("invoice").get(pk=dispute.pk)
    check_dispute_transition(dispute.status, DisputeStatus.OPEN)
    if not reason.strip():
        raise ValidationFailed.on("reason", _("say why the dispute is reopened"), "reason_required")
    if Dispute.objects.filter(invoice=dispute.invoice, status=DisputeStatus.OPEN).exists():
        raise NotAllowed(_("another dispute is open on this invoice"), code="already_disputed")
    dispute.status, dispute.resolution, dispute.resolved_on = DisputeStatus.OPEN, "", None
    dispute.credit_note = dispute.corrected_invoice = None
    dispute.save()
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=dispute,
        changes={"status": [DisputeStatus.RESOLVED, DisputeStatus.OPEN]},
        comment=reason.strip()[:1000],
    )
    record_domain_event(EventName.DISPUTE_OPENED, dispute, _payload(dispute))
    return dispute


@transaction.atomic
def close_dispute(
    *, actor: User, dispute: Dispute, note: str = "", closed_on: dt.date | None = None
) -> Dispute:
    """Archive a resolved dispute once its resolution is applied."""
    require(actor, Action.MANAGE_DISPUTES)
    dispute = Dispute.objects.select_for_update().select_related("invoice").get(pk=dispute.pk)
    check_dispute_transition(dispute.status, DisputeStatus.CLOSED)
    dispute.status = DisputeStatus.CLOSED
    dispute.closed_on = closed_on or timezone.localdate()
    dispute.save(update_fields=["status", "closed_on"])
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=dispute,
        changes={"status": [DisputeStatus.RESOLVED, DisputeStatus.CLOSED]},
        comment=note.strip()[:1000],
    )
    record_domain_event(EventName.DISPUTE_CLOSED, dispute, _payload(dispute))
    return dispute
