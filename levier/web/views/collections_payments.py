"""Encaissements › Paiements: the list, manual entry, a payment's page and its lettrage.

A payment's page shows its bank line, its allocations (each with "Annuler le lettrage",
reason required) and an allocation form: one amount per invoice, several amounts being a
split. The invoices offered are the customer's open ones, plus those found by a search
(any customer: a payer may settle a sister company's invoice), plus, when a match proposal
is being modified, the proposed ones prefilled with the proposed amounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.models import AuditEvent
from levier.audit.selectors import events_for
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.choices import ProposalStatus
from levier.collections.models import Allocation, MatchProposal, Payment
from levier.collections.payments import (
    Portion,
    allocate_payment,
    open_invoices,
    record_payment,
    unmatch,
)
from levier.customers.models import Customer
from levier.customers.selectors import search_customers
from levier.lib.errors import ValidationFailed
from levier.lib.money import ZERO
from levier.web.forms_collections import (
    MAX_ROWS,
    AllocationRow,
    InvoiceSearchForm,
    PaymentFilterForm,
    PaymentForm,
    ReasonForm,
    allocation_rows,
    parse_allocation_rows,
    posted_allocations,
)
from levier.web.views.collections_common import (
    REFUSALS,
    paginate,
    permission_flags,
    redirect_back,
    refusal_status,
    refuse,
    require_reader,
)
from levier.web.views.orders import CUSTOMER_OPTIONS, refusal_text

OPEN_INVOICES_SHOWN = 100
SEARCH_RESULTS = 30


# ---------------------------------------------------------------- list


def filtered_payments(values: Mapping[str, Any]) -> QuerySet[Payment]:
    """Payments matching the valid filters (invalid ones are shown with their error)."""
    payments = Payment.objects.all()
    if values.get("status"):
        payments = payments.filter(status=values["status"])
    if values.get("method"):
        payments = payments.filter(method=values["method"])
    if values.get("received_from"):
        payments = payments.filter(received_on__gte=values["received_from"])
    if values.get("received_to"):
        payments = payments.filter(received_on__lte=values["received_to"])
    text = str(values.get("customer") or "").strip()
    if text:
        payments = payments.filter(
            Q(customer__name__icontains=text)
            | Q(payer_name__icontains=text)
            | Q(reference__icontains=text)
        )
    return payments


@login_required
@require_GET
def payment_list(request: HttpRequest) -> HttpResponse:
    actor = require_reader(request, Action.RECORD_PAYMENT)
    form = PaymentFilterForm(request.GET)
    form.is_valid()
    payments = filtered_payments(form.cleaned_data)
    totals = payments.aggregate(
        count=Count("pk"), received=Sum("amount"), left=Sum(F("amount") - F("allocated"))
    )
    rows = payments.select_related("customer").order_by("-received_on", "-pk")
    context = {
        "form": form,
        "page": paginate(request, rows),
        "totals": {k: v or (0 if k == "count" else ZERO) for k, v in totals.items()},
        **permission_flags(actor),
    }
    return render(request, "web/collections/payment_list.html", context)


# ---------------------------------------------------------------- manual entry


def _customer_of(form: PaymentForm) -> Customer | None:
    raw = form["customer"].value()
    if isinstance(raw, Customer):
        return raw
    text = str(raw or "")
    if not text.isdigit() or len(text) > 12:
        return None
    return Customer.objects.filter(pk=int(text), is_active=True).first()


def _entry_page(
    request: HttpRequest,
    form: PaymentForm,
    rows: list[AllocationRow],
    status: int = 200,
    errors: Iterable[str] = (),
) -> HttpResponse:
    actor = require_reader(request, Action.RECORD_PAYMENT)
    selected = _customer_of(form)
    options = list(search_customers("", CUSTOMER_OPTIONS))
    if selected is not None and selected not in options:
        options.insert(0, selected)
    context = {
        "form": form,
        "rows": rows,
        "customer_options": options,
        "selected_customer": selected,
        "allocation_errors": list(errors),
        **permission_flags(actor),
    }
    return render(request, "web/collections/payment_form.html", context, status=status)


def _open_rows(customer: Customer | None, typed: Mapping[int, str]) -> list[AllocationRow]:
    if customer is None:
        return []
    return allocation_rows(open_invoices(customer)[:OPEN_INVOICES_SHOWN], typed)


@login_required
@require_http_methods(["GET", "POST"])
def payment_create(request: HttpRequest) -> HttpResponse:
    """Enter a payment received by hand; optionally allocate it at once, all or nothing.

    Recording and allocating run in one transaction: a refused allocation leaves no
    payment behind, and the form comes back with what was typed and why.
    """
    actor = require_reader(request, Action.RECORD_PAYMENT)
    if request.method != "POST":
        require(actor, Action.RECORD_PAYMENT)
        initial: dict[str, Any] = {"received_on": timezone.localdate()}
        if str(request.GET.get("customer", "")).isdigit():
            initial["customer"] = request.GET["customer"][:12]
        form = PaymentForm(initial=initial)
        return _entry_page(request, form, _open_rows(_customer_of(form), {}))
    form = PaymentForm(request.POST)
    typed = posted_allocations(request.POST)
    rows = _open_rows(_customer_of(form), typed)
    portions, rows_ok = parse_allocation_rows(rows)
    if not form.is_valid() or not rows_ok:
        return _entry_page(request, form, rows, 400)
    data = form.cleaned_data
    try:
        payment = record_payment(
            actor=actor,
            customer=data["customer"],
            method=data["method"],
            received_on=data["received_on"],
            amount=data["amount"],
            reference=data["reference"],
            payer_name=data["payer_name"],
            portions=[Portion(invoice_id, amount) for invoice_id, amount in portions],
        )
    except ValidationFailed as exc:
        leftover = []
        for name, msgs in exc.errors.items():
            for msg in msgs:
                if name in form.fields and name != "amount":
                    form.add_error(name, msg)
                else:
                    leftover.append(msg)
        return _entry_page(request, form, rows, 400, leftover or [exc.message])
    except REFUSALS as exc:
        return _entry_page(request, form, rows, refusal_status(exc), [refusal_text(exc)])
    messages.success(
        request,
        _("Payment of %(amount)s € recorded.") % {"amount": payment.amount}
        if not portions
        else _("Payment of %(amount)s € recorded and matched with %(n)d invoice(s).")
        % {"amount": payment.amount, "n": len(portions)},
    )
    return redirect("web:payment_detail", pk=payment.pk)


@login_required
@require_GET
def payment_open_invoices(request: HttpRequest) -> HttpResponse:
    """HTMX: the chosen customer's open invoices, an amount input next to each."""
    require_reader(request)
    raw = str(request.GET.get("customer", ""))
    customer = None
    if raw.isdigit() and len(raw) <= 12:
        customer = Customer.objects.filter(pk=int(raw)).first()
    rows = _open_rows(customer, {})
    return render(
        request, "web/collections/_allocation_rows.html", {"rows": rows, "customer": customer}
    )


# ---------------------------------------------------------------- detail and lettrage


def _search_invoices(text: str) -> list[Invoice]:
    """Open invoices of any customer whose number or customer name contains the text."""
    text = text.strip()
    if not text:
        return []
    invoices = (
        Invoice.objects.filter(status=InvoiceStatus.ISSUED, kind=DocumentKind.INVOICE)
        .exclude(open_amount=0)
        .filter(
            Q(number__icontains=text)
            | Q(customer__name__icontains=text)
            | Q(buyer_name__icontains=text)
        )
        .select_related("customer")
        .order_by("due_date", "pk")
    )
    return list(invoices[:SEARCH_RESULTS])


def _proposal_amounts(proposal: MatchProposal | None) -> dict[int, str]:
    """The proposed amount per invoice, as the form shows it (« 1234,56 »)."""
    if proposal is None:
        return {}
    out: dict[int, str] = {}
    for item in proposal.allocations if isinstance(proposal.allocations, list) else []:
        try:
            invoice_id = int(item["invoice"])
            amount = Decimal(str(item["amount"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
        out[invoice_id] = f"{amount:.2f}".replace(".", ",")
    return out


def offered_invoices(
    payment: Payment,
    search: str,
    extra_ids: Iterable[int] = (),
    payer: Customer | None = None,
) -> list[Invoice]:
    """The invoices the allocation form lists, each once: typed or proposed ones first,
    then the open ones of the payer (the payment's customer, else the one a proposal names),
    then those the search found."""
    ids = [i for i in extra_ids][:MAX_ROWS]
    chosen = {
        i.pk: i
        for i in Invoice.objects.filter(
            pk__in=ids, status=InvoiceStatus.ISSUED, kind=DocumentKind.INVOICE
        ).select_related("customer")
    }
    ordered = [chosen[i] for i in ids if i in chosen]
    payer = payment.customer or payer
    if payer is not None:
        ordered += list(open_invoices(payer).select_related("customer")[:OPEN_INVOICES_SHOWN])
    ordered += _search_invoices(search)
    seen: set[int] = set()
    unique = []
    for invoice in ordered:
        if invoice.pk not in seen:
            seen.add(invoice.pk)
            unique.append(invoice)
    return unique


def _payment(pk: int) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related("customer", "bank_transaction__file", "created_by"), pk=pk
    )


def payment_history(payment: Payment) -> list[AuditEvent]:
    """The payment's trail with its allocations' (made, undone with the reason) and its
    proposals' (confirmed, rejected with the reason): the lettrage is read in one place."""
    live = [
        str(pk) for pk in Allocation.objects.filter(payment=payment).values_list("pk", flat=True)
    ]
    proposals = [
        str(pk) for pk in MatchProposal.objects.filter(payment=payment).values_list("pk", flat=True)
    ]
    allocation = "collections.allocation"
    events = (
        events_for(payment)
        | AuditEvent.objects.filter(object_type=allocation, object_id__in=live)
        | AuditEvent.objects.filter(
            object_type=allocation, verb=Verb.DELETE, changes__payment=payment.pk
        )
        | AuditEvent.objects.filter(
            object_type="collections.matchproposal", object_id__in=proposals
        )
    )
    return list(events.select_related("actor").order_by("-created_at", "-id")[:200])


def payment_page(
    request: HttpRequest,
    payment: Payment,
    *,
    proposal: MatchProposal | None = None,
    typed: Mapping[int, str] | None = None,
    rows: list[AllocationRow] | None = None,
    errors: Iterable[str] = (),
    status: int = 200,
) -> HttpResponse:
    """The payment's page; `rows` and `errors` when an allocation came back refused."""
    actor = require_reader(request, Action.RECORD_PAYMENT)
    search_form = InvoiceSearchForm(request.GET)
    search = search_form.cleaned_data.get("q", "") if search_form.is_valid() else ""
    if rows is None:
        typed = dict(typed or _proposal_amounts(proposal))
        payer = proposal.customer if proposal is not None else None
        rows = allocation_rows(offered_invoices(payment, search, typed, payer), typed)
    allocations = Allocation.objects.filter(payment=payment).select_related("invoice", "created_by")
    context = {
        "payment": payment,
        "line": payment.bank_transaction,
        "allocations": list(allocations),
        "proposals": list(
            MatchProposal.objects.filter(payment=payment)
            .select_related("customer", "decided_by")
            .order_by("-created_at", "-pk")[:20]
        ),
        "proposal": proposal,
        "rows": rows,
        "search_form": search_form,
        "allocation_errors": list(errors),
        "unmatch_form": ReasonForm(),
        "events": payment_history(payment),
        **permission_flags(actor),
    }
    return render(request, "web/collections/payment_detail.html", context, status=status)


@login_required
@require_GET
def payment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    payment = _payment(pk)
    proposal = None
    raw = str(request.GET.get("proposal", ""))
    if raw.isdigit() and len(raw) <= 12:
        proposal = MatchProposal.objects.filter(
            pk=int(raw), payment=payment, status=ProposalStatus.PENDING
        ).first()
    return payment_page(request, payment, proposal=proposal)


def posted_rows(
    request: HttpRequest, payment: Payment, payer: Customer | None = None
) -> tuple[list[AllocationRow], list[Portion], bool]:
    """The allocation rows as posted, the portions they make, and whether all parse."""
    typed = posted_allocations(request.POST)
    search = str(request.POST.get("q", ""))[:100]
    rows = allocation_rows(offered_invoices(payment, search, typed, payer), typed)
    unknown = set(typed) - {row.invoice.pk for row in rows}
    parsed, ok = parse_allocation_rows(rows)
    portions = [Portion(invoice_id, amount) for invoice_id, amount in parsed]
    if unknown:
        ok = False
    return rows, portions, ok


@login_required
@require_POST
def payment_allocate(request: HttpRequest, pk: int) -> HttpResponse:
    """Allocate the payment to the invoices with an amount typed (several: a split)."""
    payment = _payment(pk)
    actor = require_reader(request, Action.RECORD_PAYMENT)
    rows, portions, ok = posted_rows(request, payment)
    if not ok:
        return payment_page(
            request, payment, rows=rows, errors=[_("Check the amounts typed.")], status=400
        )
    if not portions:
        return payment_page(
            request,
            payment,
            rows=rows,
            errors=[_("Type the amount to allocate next to at least one invoice.")],
            status=400,
        )
    try:
        allocate_payment(actor=actor, payment=payment, portions=portions)
    except REFUSALS as exc:
        return payment_page(
            request, payment, rows=rows, errors=[refusal_text(exc)], status=refusal_status(exc)
        )
    messages.success(
        request,
        _("%(n)d allocation(s) made: %(left)s € left on the payment.")
        % {"n": len(portions), "left": payment.unallocated},
    )
    return redirect("web:payment_detail", pk=payment.pk)


@login_required
@require_POST
def allocation_unmatch(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo one allocation ("Annuler le lettrage"): the reason goes to the audit trail.

    Done: back to the page the button was on. Refused: the payment's page with the reason.
    """
    allocation = get_object_or_404(Allocation.objects.select_related("invoice", "payment"), pk=pk)
    actor: User = require_reader(request, Action.MATCH_PAYMENTS)
    payment = _payment(allocation.payment_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the allocation is undone (1,000 characters at most)."))
        return payment_page(request, payment, status=400)
    try:
        unmatch(actor=actor, allocation=allocation, reason=form.cleaned_data["reason"])
    except REFUSALS as exc:
        return payment_page(request, payment, status=refuse(request, exc))
    messages.success(
        request,
        _("Allocation of %(amount)s € to %(number)s undone.")
        % {"amount": allocation.amount, "number": allocation.invoice.number},
    )
    return redirect_back(request, reverse("web:payment_detail", args=[payment.pk]))
