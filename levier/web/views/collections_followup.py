"""Ma journée (the collector's worklist) and what a collector records on an account.

Promises and notes are posted from the customer page; a refused one re-renders that page
with the form, what was typed and the error (400), like the contract page does.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from levier.accounts.permissions import Action, PermissionDenied, can
from levier.collections.choices import PaymentStatus, PromiseStatus
from levier.collections.followup import add_note, cancel_promise, complete_task, record_promise
from levier.collections.models import CollectionTask, DunningScenario, Payment, PromiseToPay
from levier.collections.payments import open_invoices
from levier.collections.scenarios import assign_scenario
from levier.collections.statement import (
    account_statement_pdf,
    send_account_statement,
    statement_filename,
)
from levier.collections.worklist import WorkItem, collector_worklist, unmatched_total
from levier.customers.models import Customer
from levier.customers.selectors import customer_360
from levier.lib.errors import ValidationFailed
from levier.web.forms_collections import (
    NoteForm,
    PromiseForm,
    ReasonForm,
    TaskDoneForm,
    bounded_day,
)
from levier.web.views.collections_common import (
    REFUSALS,
    form_errors_text,
    paginate,
    pdf_response,
    permission_flags,
    redirect_back,
    refusal_status,
    refuse,
    require_reader,
)
from levier.web.views.collections_sections import customer_collections
from levier.web.views.customers import put_errors, request_actor
from levier.web.views.orders import refusal_text

KIND_ORDER = ("task", "dispute", "promise", "payment")


def day_summary(today: dt.date) -> dict[str, Any]:
    """The counts the worklist's home section and the top of "Ma journée" show."""
    items = collector_worklist(today)
    counts = Counter(item.kind for item in items)
    return {
        "items": len(items),
        "counts": {kind: counts.get(kind, 0) for kind in KIND_ORDER},
        "unmatched_count": Payment.objects.filter(
            status__in=[PaymentStatus.UNMATCHED, PaymentStatus.PARTIAL]
        ).count(),
        "unmatched_total": unmatched_total(),
    }


def _link(item: WorkItem) -> str:
    if item.kind == "dispute":
        return reverse("web:dispute_detail", args=[item.object_id])
    if item.kind == "payment":
        return reverse("web:payment_detail", args=[item.object_id])
    if item.customer_id is None:
        return ""
    anchor = "#collections-tasks" if item.kind == "task" else "#collections-promises"
    return reverse("web:customer_detail", args=[item.customer_id]) + anchor


def _day_page(request: HttpRequest, status: int = 200) -> HttpResponse:
    actor = require_reader(request, Action.RUN_DUNNING)
    today = timezone.localdate()
    mine = request.GET.get("mine") == "1"
    kind = str(request.GET.get("kind", ""))
    items = collector_worklist(today, actor if mine else None)
    counts = Counter(item.kind for item in items)
    if kind in KIND_ORDER:
        items = [item for item in items if item.kind == kind]
    page = paginate(request, [(item, _link(item)) for item in items])
    promises = (
        PromiseToPay.objects.filter(
            status=PromiseStatus.OPEN, promised_on__lte=today + dt.timedelta(days=7)
        )
        .select_related("customer")
        .order_by("promised_on", "pk")[:50]
    )
    context = {
        "page": page,
        "today": today,
        "mine": mine,
        "kind": kind if kind in KIND_ORDER else "",
        "counts": {k: counts.get(k, 0) for k in KIND_ORDER},
        "promises": list(promises),
        "unmatched_count": Payment.objects.filter(
            status__in=[PaymentStatus.UNMATCHED, PaymentStatus.PARTIAL]
        ).count(),
        "unmatched_total": unmatched_total(),
        "task_form": TaskDoneForm(),
        **permission_flags(actor),
    }
    return render(request, "web/collections/my_day.html", context, status=status)


@login_required
@require_GET
def my_day(request: HttpRequest) -> HttpResponse:
    """Today's items, the biggest amount × days late first; "mine" keeps my tasks and disputes."""
    return _day_page(request)


def _refused_task(request: HttpRequest, task: CollectionTask, status: int) -> HttpResponse:
    """A refused completion: the customer page when it came from there, else the day."""
    customer_url = reverse("web:customer_detail", args=[task.customer_id])
    if str(request.POST.get("next", "")).startswith(customer_url):
        return customer_page(request, task.customer, status)
    return _day_page(request, status)


@login_required
@require_POST
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a collection task done (or cancelled, reason required); the note goes on the account."""
    task = get_object_or_404(CollectionTask.objects.select_related("customer"), pk=pk)
    form = TaskDoneForm(request.POST)
    if not form.is_valid():
        for line in form_errors_text(form):
            messages.error(request, line)
        return _refused_task(request, task, 400)
    try:
        complete_task(
            actor=request_actor(request),
            task=task,
            note=form.cleaned_data["note"],
            cancel=form.cleaned_data["cancel"],
        )
    except REFUSALS as exc:
        return _refused_task(request, task, refuse(request, exc))
    messages.success(
        request,
        (_("Task cancelled: %(title)s") if form.cleaned_data["cancel"] else _("Done: %(title)s"))
        % {"title": task.title},
    )
    return redirect_back(request, reverse("web:collections_today"))


# ---------------------------------------------------------------- on the customer page


def customer_page(
    request: HttpRequest, customer: Customer, status: int, **forms: Any
) -> HttpResponse:
    """The customer page with a collections form that came back refused."""
    context = {
        "c360": customer_360(customer),
        "collections": customer_collections(request, customer, **forms),
    }
    return render(request, "web/customers/detail.html", context, status=status)


def _customer(pk: int) -> Customer:
    return get_object_or_404(Customer, pk=pk)


@login_required
@require_POST
def promise_record(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(pk)
    form = PromiseForm(request.POST, open_invoices=open_invoices(customer))
    if not form.is_valid():
        return customer_page(request, customer, 400, promise_form=form)
    data = form.cleaned_data
    try:
        promise = record_promise(
            actor=request_actor(request),
            customer=customer,
            invoices=list(data["invoices"]),
            promised_on=data["promised_on"],
            amount=data["amount"],
            note=data["note"],
        )
    except ValidationFailed as exc:
        put_errors(form, exc)
        return customer_page(request, customer, 400, promise_form=form)
    except REFUSALS as exc:
        form.add_error(None, refusal_text(exc))
        return customer_page(request, customer, refusal_status(exc), promise_form=form)
    messages.success(
        request,
        _(
            "Promise to pay %(amount)s € by %(date)s recorded: no reminder for these invoices until then."
        )
        % {"amount": promise.amount, "date": f"{promise.promised_on:%d/%m/%Y}"},
    )
    return redirect(reverse("web:customer_detail", args=[customer.pk]) + "#collections-promises")


@login_required
@require_POST
def promise_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    promise = get_object_or_404(PromiseToPay.objects.select_related("customer"), pk=pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the promise is cancelled."))
        return customer_page(request, promise.customer, 400)
    try:
        cancel_promise(
            actor=request_actor(request), promise=promise, reason=form.cleaned_data["reason"]
        )
    except REFUSALS as exc:
        return customer_page(request, promise.customer, refuse(request, exc))
    messages.success(request, _("Promise to pay cancelled."))
    url = reverse("web:customer_detail", args=[promise.customer_id])
    return redirect(url + "#collections-promises")


@login_required
@require_POST
def note_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return customer_page(request, customer, 400, note_form=form)
    try:
        add_note(
            actor=request_actor(request),
            customer=customer,
            kind=form.cleaned_data["kind"],
            text=form.cleaned_data["text"],
        )
    except ValidationFailed as exc:
        put_errors(form, exc)
        return customer_page(request, customer, 400, note_form=form)
    except REFUSALS as exc:
        form.add_error(None, refusal_text(exc))
        return customer_page(request, customer, refusal_status(exc), note_form=form)
    messages.success(request, _("Note added."))
    return redirect(reverse("web:customer_detail", args=[customer.pk]) + "#collections-notes")


# ---------------------------------------------------------------- account statement


@login_required
@require_GET
def account_statement_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer's account statement (relevé de compte) as of a date (today unless asked)."""
    actor = request_actor(request)
    if not (can(actor, Action.FOLLOW_UP_ACCOUNT) or can(actor, Action.VIEW_COLLECTIONS)):
        raise PermissionDenied(actor, Action.FOLLOW_UP_ACCOUNT)
    customer = _customer(pk)
    form, as_of = bounded_day(request.GET.get("as_of"), timezone.localdate())
    if as_of is None:
        for line in form_errors_text(form):
            messages.error(request, line)
        return customer_page(request, customer, 400)
    return pdf_response(account_statement_pdf(customer, as_of), statement_filename(customer, as_of))


@login_required
@require_POST
def account_statement_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Email the statement to the customer's reminder addresses (sent by a job)."""
    customer = _customer(pk)
    form, as_of = bounded_day(request.POST.get("as_of"), timezone.localdate())
    if as_of is None:
        for line in form_errors_text(form):
            messages.error(request, line)
        return customer_page(request, customer, 400)
    try:
        recipients = send_account_statement(
            actor=request_actor(request), customer=customer, as_of=as_of
        )
    except REFUSALS as exc:
        return customer_page(request, customer, refuse(request, exc))
    messages.success(
        request,
        _("Account statement as of %(date)s sent to %(to)s.")
        % {"date": f"{as_of:%d/%m/%Y}", "to": ", ".join(recipients)},
    )
    return redirect(reverse("web:customer_detail", args=[customer.pk]) + "#collections")


@login_required
@require_POST
def customer_scenario(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the customer its own dunning scenario, or back to its segment's / the default."""
    customer = _customer(pk)
    raw = str(request.POST.get("scenario", ""))
    scenario = None
    if raw:
        scenario = (
            DunningScenario.objects.filter(pk=int(raw)).first()
            if raw.isascii() and raw.isdigit() and len(raw) < 12
            else None
        )
        if scenario is None:
            messages.error(request, _("Choose a scenario from the list."))
            return customer_page(request, customer, 400)
    try:
        assign_scenario(actor=request_actor(request), customer=customer, scenario=scenario)
    except REFUSALS as exc:
        messages.error(request, refusal_text(exc))
        return customer_page(request, customer, refusal_status(exc))
    messages.success(request, _("Dunning scenario saved."))
    return redirect(reverse("web:customer_detail", args=[customer.pk]) + "#dunning-scenario")
