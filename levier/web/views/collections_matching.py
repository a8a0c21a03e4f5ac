"""Encaissements › Rapprochement: the matcher's proposals for a person, and what it left.

Proposals come highest confidence first; each shows the payment as the bank gave it
(date, payer, IBAN, remittance text), the invoices and amounts proposed, the reason, the
confidence and the explanation. "Confirmer" accepts it as it is; "Modifier" opens the
payment's allocation form prefilled, whose amounts are then accepted in its place (the
service records that as a match by hand); "Rejeter" needs a reason, and the matcher will
not propose the same thing for that payment again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from levier.accounts.permissions import Action
from levier.billing.models import Invoice
from levier.collections.choices import PaymentStatus, ProposalStatus
from levier.collections.matching import (
    MatchReport,
    accept_proposal,
    match_payments,
    reject_proposal,
)
from levier.collections.models import MatchProposal, Payment
from levier.web.forms_collections import ReasonForm, posted_allocations
from levier.web.views.collections_common import (
    PAGE_SIZE,
    REFUSALS,
    paginate,
    permission_flags,
    refusal_status,
    refuse,
    require_reader,
)
from levier.web.views.collections_payments import payment_page, posted_rows
from levier.web.views.orders import refusal_text


@dataclass
class ProposedItem:
    invoice: Invoice | None  # None: the invoice is gone from the open items (shown by number)
    number: str
    amount: Decimal | None


@dataclass
class ProposalRow:
    proposal: MatchProposal
    items: list[ProposedItem]

    @property
    def percent(self) -> int:
        return int((self.proposal.confidence * 100).to_integral_value())

    @property
    def total(self) -> Decimal:
        return sum((i.amount for i in self.items if i.amount is not None), Decimal(0))


def _amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() else None


def proposal_rows(proposals: list[MatchProposal]) -> list[ProposalRow]:
    """The proposals with their invoices, read in one query for the whole page."""
    wanted: set[int] = set()
    for proposal in proposals:
        for item in proposal.allocations if isinstance(proposal.allocations, list) else []:
            if isinstance(item, dict) and str(item.get("invoice", "")).isdigit():
                wanted.add(int(item["invoice"]))
    invoices = Invoice.objects.select_related("customer").in_bulk(list(wanted))
    rows = []
    for proposal in proposals:
        items = []
        for item in proposal.allocations if isinstance(proposal.allocations, list) else []:
            if not isinstance(item, dict):
                continue
            raw_id = str(item.get("invoice", ""))
            invoice = invoices.get(int(raw_id)) if raw_id.isdigit() else None
            number = str(item.get("number") or (invoice.number if invoice else raw_id))
            items.append(ProposedItem(invoice, number, _amount(item.get("amount"))))
        rows.append(ProposalRow(proposal, items))
    return rows


def _page(
    request: HttpRequest, *, report: MatchReport | None = None, status: int = 200
) -> HttpResponse:
    actor = require_reader(request, Action.MATCH_PAYMENTS)
    pending = (
        MatchProposal.objects.filter(status=ProposalStatus.PENDING)
        .select_related("payment__customer", "payment__bank_transaction", "customer")
        .order_by("-confidence", "pk")
    )
    page = paginate(request, pending)
    has_pending = MatchProposal.objects.filter(
        payment=OuterRef("pk"), status=ProposalStatus.PENDING
    )
    alone = (
        Payment.objects.filter(status__in=[PaymentStatus.UNMATCHED, PaymentStatus.PARTIAL])
        .exclude(Exists(has_pending))
        .select_related("customer")
        .order_by("received_on", "pk")
    )
    unmatched = Paginator(alone, PAGE_SIZE).get_page(request.GET.get("upage"))
    context = {
        "page": page,
        "rows": proposal_rows(list(page.object_list)),
        "unmatched": unmatched,
        "report": report,
        "reject_form": ReasonForm(),
        **permission_flags(actor),
    }
    return render(request, "web/collections/reconciliation.html", context, status=status)


@login_required
@require_GET
def reconciliation(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def matching_run(request: HttpRequest) -> HttpResponse:
    """ "Lancer le lettrage automatique": every payment not fully matched, and the report."""
    actor = require_reader(request, Action.MATCH_PAYMENTS)
    try:
        report = match_payments(actor=actor)
    except REFUSALS as exc:
        return _page(request, status=refuse(request, exc))
    return _page(request, report=report)


def _proposal(pk: int) -> MatchProposal:
    return get_object_or_404(
        MatchProposal.objects.select_related(
            "customer", "payment__customer", "payment__bank_transaction"
        ),
        pk=pk,
    )


@login_required
@require_POST
def proposal_accept(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm the proposal, or (from the allocation form) the amounts typed in its place."""
    proposal = _proposal(pk)
    actor = require_reader(request, Action.MATCH_PAYMENTS)
    payment = proposal.payment
    modified = bool(posted_allocations(request.POST))
    if not modified:
        try:
            accept_proposal(actor=actor, proposal=proposal)
        except REFUSALS as exc:
            return _page(request, status=refuse(request, exc))
        messages.success(
            request,
            _("Matching confirmed: payment of %(amount)s € from %(payer)s.")
            % {"amount": payment.amount, "payer": payment.payer_name or "?"},
        )
        return redirect("web:reconciliation")
    rows, portions, ok = posted_rows(request, payment, proposal.customer)
    if not ok or not portions:
        error = _("Check the amounts typed.") if not ok else _("Type at least one amount.")
        return payment_page(
            request, payment, proposal=proposal, rows=rows, errors=[error], status=400
        )
    try:
        accept_proposal(actor=actor, proposal=proposal, portions=portions)
    except REFUSALS as exc:
        return payment_page(
            request,
            payment,
            proposal=proposal,
            rows=rows,
            errors=[refusal_text(exc)],
            status=refusal_status(exc),
        )
    messages.success(request, _("Matching confirmed with your amounts."))
    return redirect("web:reconciliation")


@login_required
@require_POST
def proposal_reject(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _proposal(pk)
    actor = require_reader(request, Action.MATCH_PAYMENTS)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the proposal is wrong (1,000 characters at most)."))
        return _page(request, status=400)
    try:
        reject_proposal(actor=actor, proposal=proposal, reason=form.cleaned_data["reason"])
    except REFUSALS as exc:
        return _page(request, status=refuse(request, exc))
    messages.success(request, _("Proposal rejected: it will not be made again for this payment."))
    return redirect("web:reconciliation")
