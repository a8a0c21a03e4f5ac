"""Litiges: the list (overdue first), opening one from an invoice, a dispute's page.

Disputes concern sales as much as accounting (a Commercial may open one for their
customer), so every signed-in user reads them; the services decide who may act.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.permissions import Action, can
from levier.audit.selectors import events_for
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.choices import DisputeStatus
from levier.collections.disputes import close_dispute, open_dispute, reopen_dispute, resolve_dispute
from levier.collections.models import Dispute
from levier.lib.errors import ValidationFailed
from levier.web.forms_collections import (
    DisputeFilterForm,
    DisputeOpenForm,
    DisputeResolveForm,
    NoteOnlyForm,
    ReasonForm,
)
from levier.web.views.collections_common import (
    REFUSALS,
    form_errors_text,
    paginate,
    refusal_status,
    refuse,
)
from levier.web.views.customers import put_errors, request_actor
from levier.web.views.orders import refusal_text

DEFAULT_DUE_DAYS = 15


@login_required
@require_GET
def dispute_list(request: HttpRequest) -> HttpResponse:
    """Open disputes past their due date first, then by due date; closed ones last."""
    form = DisputeFilterForm(request.GET)
    form.is_valid()
    values = form.cleaned_data
    today = timezone.localdate()
    disputes = Dispute.objects.select_related("invoice__customer", "owner")
    if values.get("status"):
        disputes = disputes.filter(status=values["status"])
    if values.get("reason"):
        disputes = disputes.filter(reason=values["reason"])
    if values.get("owner"):
        disputes = disputes.filter(owner=values["owner"])
    text = str(values.get("q") or "").strip()
    if text:
        disputes = disputes.filter(
            Q(invoice__number__icontains=text)
            | Q(invoice__customer__name__icontains=text)
            | Q(invoice__buyer_name__icontains=text)
        )
    rank = Case(
        When(status=DisputeStatus.OPEN, due_on__lt=today, then=Value(0)),
        When(status=DisputeStatus.OPEN, then=Value(1)),
        When(status=DisputeStatus.RESOLVED, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    rows = disputes.annotate(rank=rank).order_by("rank", "due_on", "pk")
    context = {
        "form": form,
        "page": paginate(request, rows),
        "today": today,
        "can_manage": can(request_actor(request), Action.MANAGE_DISPUTES),
    }
    return render(request, "web/collections/dispute_list.html", context)


def _disputable(pk: int) -> Invoice:
    invoice = get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)
    if invoice.status != InvoiceStatus.ISSUED or invoice.kind != DocumentKind.INVOICE:
        raise Http404("not an issued invoice")
    return invoice


@login_required
@require_http_methods(["GET", "POST"])
def dispute_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a dispute on an issued invoice (all of it, or the lines ticked)."""
    invoice = _disputable(pk)
    actor = request_actor(request)
    status = 200
    if request.method == "POST":
        form = DisputeOpenForm(request.POST, invoice=invoice)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                dispute = open_dispute(
                    actor=actor,
                    invoice=invoice,
                    reason=data["reason"],
                    owner=data["owner"],
                    due_on=data["due_on"],
                    notes=data["notes"],
                    lines=list(data["lines"]),
                )
            except ValidationFailed as exc:
                put_errors(form, exc)
            except REFUSALS as exc:
                form.add_error(None, refusal_text(exc))
                status = refusal_status(exc)
            else:
                messages.success(
                    request,
                    _("Dispute %(dispute)s opened on %(number)s: its reminders stop.")
                    % {"dispute": dispute, "number": invoice.number},
                )
                return redirect("web:dispute_detail", pk=dispute.pk)
    else:
        form = DisputeOpenForm(
            invoice=invoice,
            initial={
                "owner": actor.pk,
                "due_on": timezone.localdate() + dt.timedelta(days=DEFAULT_DUE_DAYS),
            },
        )
    context = {
        "form": form,
        "invoice": invoice,
        "can_manage": can(actor, Action.MANAGE_DISPUTES),
        "open_disputes": list(Dispute.objects.filter(invoice=invoice, status=DisputeStatus.OPEN)),
    }
    return render(request, "web/collections/dispute_open.html", context, status=status)


def _dispute(pk: int) -> Dispute:
    return get_object_or_404(
        Dispute.objects.select_related(
            "invoice__customer", "owner", "opened_by", "credit_note", "corrected_invoice"
        ),
        pk=pk,
    )


def _detail_page(
    request: HttpRequest,
    dispute: Dispute,
    resolve_form: DisputeResolveForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = request_actor(request)
    context: dict[str, Any] = {
        "dispute": dispute,
        "invoice": dispute.invoice,
        "lines": list(dispute.lines.order_by("position")),
        "resolve_form": resolve_form or DisputeResolveForm(invoice=dispute.invoice),
        "reason_form": ReasonForm(),
        "close_form": NoteOnlyForm(),
        "can_manage": can(actor, Action.MANAGE_DISPUTES),
        "today": timezone.localdate(),
        "events": list(events_for(dispute)[:200]),
    }
    return render(request, "web/collections/dispute_detail.html", context, status=status)


@login_required
@require_GET
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, _dispute(pk))


@login_required
@require_POST
def dispute_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve: with the issued credit note or corrected invoice that settles it, or rejected."""
    dispute = _dispute(pk)
    form = DisputeResolveForm(request.POST, invoice=dispute.invoice)
    if not form.is_valid():
        return _detail_page(request, dispute, form, 400)
    data = form.cleaned_data
    try:
        resolve_dispute(
            actor=request_actor(request),
            dispute=dispute,
            resolution=data["resolution"],
            note=data["note"],
            credit_note=data["credit_note"],
            corrected_invoice=data["corrected_invoice"],
        )
    except ValidationFailed as exc:
        put_errors(form, exc)
        return _detail_page(request, dispute, form, 400)
    except REFUSALS as exc:
        form.add_error(None, refusal_text(exc))
        return _detail_page(request, dispute, form, refusal_status(exc))
    messages.success(request, _("Dispute %(dispute)s resolved.") % {"dispute": dispute})
    return redirect("web:dispute_detail", pk=dispute.pk)


@login_required
@require_POST
def dispute_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer does not accept the resolution: open again (reason required)."""
    dispute = _dispute(pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        for line in form_errors_text(form):
            messages.error(request, line)
        return _detail_page(request, dispute, status=400)
    try:
        reopen_dispute(
            actor=request_actor(request), dispute=dispute, reason=form.cleaned_data["reason"]
        )
    except REFUSALS as exc:
        return _detail_page(request, dispute, status=refuse(request, exc))
    messages.success(request, _("Dispute %(dispute)s reopened.") % {"dispute": dispute})
    return redirect("web:dispute_detail", pk=dispute.pk)


@login_required
@require_POST
def dispute_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Archive a resolved dispute once its resolution is applied."""
    dispute = _dispute(pk)
    form = NoteOnlyForm(request.POST)
    if not form.is_valid():
        for line in form_errors_text(form):
            messages.error(request, line)
        return _detail_page(request, dispute, status=400)
    try:
        close_dispute(actor=request_actor(request), dispute=dispute, note=form.cleaned_data["note"])
    except REFUSALS as exc:
        return _detail_page(request, dispute, status=refuse(request, exc))
    messages.success(request, _("Dispute %(dispute)s closed.") % {"dispute": dispute})
    return redirect("web:dispute_detail", pk=dispute.pk)
