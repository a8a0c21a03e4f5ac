"""Order screens: list, line editor (create/edit), detail with the validation circuit.

Views parse the request, call one service and render; the services check permissions and
transitions. A refused action becomes a message on the order page, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import APPROVAL_ACTION, Action, PermissionDenied, can, require
from levier.audit.selectors import events_for
from levier.catalog.choices import Unit, VatRate
from levier.catalog.selectors import sellable_products
from levier.customers.models import Customer
from levier.customers.selectors import search_customers
from levier.lib.errors import DomainError, StaleVersion, ValidationFailed
from levier.lib.money import document_totals
from levier.sales.choices import OrderStatus
from levier.sales.models import ApprovalStep, Order, Quote
from levier.sales.selectors import approval_history, procedure_sheet_for
from levier.sales.services import (
    approve_order,
    cancel_order,
    create_order,
    current_step,
    missing_for_submission,
    reject_order,
    reopen_order,
    submit_order,
    update_order,
)
from levier.sales.transitions import InvalidTransition
from levier.web.forms import (
    CommentForm,
    OrderEditForm,
    OrderHeaderForm,
    QuoteHeaderForm,
    VersionForm,
    apply_service_errors,
    line_rows,
    plain_decimal,
    preview_totals,
    raw_lines_from_document,
    raw_lines_from_post,
    with_price_format,
)

PAGE_SIZE = 50
CUSTOMER_OPTIONS = 30
BLANK_ROWS = 3
MAX_PRODUCTS_IN_SELECT = 500


def actor_of(request: HttpRequest) -> User:
    return cast(User, request.user)


def refusal_text(exc: Exception) -> str:
    """What the user reads when a service says no."""
    if isinstance(exc, PermissionDenied):
        return _("You are not allowed to do this (%(detail)s).") % {"detail": exc}
    if isinstance(exc, InvalidTransition):
        return _("This action is not possible in the document's current status (%(detail)s).") % {
            "detail": exc
        }
    if isinstance(exc, DomainError):
        return exc.message
    return str(exc)


# ---------------------------------------------------------------- list


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    orders = Order.objects.select_related("customer", "created_by").order_by("-created_at", "-pk")
    status = request.GET.get("status", "")
    if status in OrderStatus.values:
        orders = orders.filter(status=status)
    query = request.GET.get("q", "").strip()[:100]
    if query:
        orders = orders.filter(
            Q(number__icontains=query)
            | Q(customer__name__icontains=query)
            | Q(po_number__icontains=query)
        )
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/orders/list.html",
        {
            "page": page,
            "status": status,
            "q": query,
            "statuses": OrderStatus.choices,
            "can_create": can(actor_of(request), Action.EDIT_ORDER),
        },
    )


# ---------------------------------------------------------------- line editor


def customer_options(selected: Customer | None, query: str = "") -> list[Customer]:
    options = list(search_customers(query, CUSTOMER_OPTIONS))
    if selected is not None and selected not in options:
        options.insert(0, selected)
    return options


def _selected_customer(form: Any) -> Customer | None:
    raw = form["customer"].value()
    if isinstance(raw, Customer):
        return raw
    if raw in (None, "") or not str(raw).isdigit():
        return None
    return Customer.objects.filter(pk=int(raw)).first()


def editor_context(
    form: Any,
    raw_lines: list[dict[str, str]],
    errors: dict[str, list[str]] | None = None,
    blanks: int = BLANK_ROWS,
) -> dict[str, Any]:
    """What the shared line-editor partial needs (orders and quotes alike)."""
    rows = line_rows(raw_lines, errors, blanks)
    preview = preview_totals(raw_lines) if not errors else None
    selected = _selected_customer(form)
    return {
        "form": form,
        "rows": rows,
        "next_index": len(rows) + 1,
        "preview": preview,
        "selected_customer": selected,
        "customer_options": customer_options(selected),
        "products": sellable_products()[:MAX_PRODUCTS_IN_SELECT],
        "units": Unit.choices,
        "vat_rates": VatRate.choices,
    }


def create_document(
    request: HttpRequest,
    *,
    header_form: type[OrderHeaderForm] | type[QuoteHeaderForm],
    create: Callable[..., Order | Quote],
    template: str,
    created: str,
    detail_route: str,
) -> HttpResponse:
    """The create screen shared by orders and quotes: header form + line editor.

    GET shows an empty editor (customer preselected by ?customer=); POST with "add_line"
    re-renders with one more row; otherwise the service creates the document or its
    field and line errors are put back on the form (400), what was typed kept.
    """
    actor = actor_of(request)
    require(actor, Action.EDIT_ORDER)
    if request.method != "POST":
        initial: dict[str, Any] = {}
        customer_id = request.GET.get("customer", "")
        if customer_id.isdigit():
            initial["customer"] = customer_id
        return render(request, template, editor_context(header_form(initial=initial), []))
    form = header_form(request.POST)
    raw = raw_lines_from_post(request.POST)
    if "add_line" in request.POST:
        return render(request, template, editor_context(form, raw, blanks=1))
    errors: dict[str, list[str]] = {}
    problems: list[str] = []
    if form.is_valid():
        try:
            document = create(actor=actor, lines=raw, **form.service_kwargs())
        except ValidationFailed as exc:
            errors = exc.errors
            problems = apply_service_errors(form, exc)
        else:
            messages.success(request, created % {"number": document.number})
            return redirect(detail_route, pk=document.pk)
    ctx = editor_context(form, raw, errors, blanks=1 if raw else BLANK_ROWS)
    ctx["problems"] = problems
    return render(request, template, ctx, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def order_create(request: HttpRequest) -> HttpResponse:
    return create_document(
        request,
        header_form=OrderHeaderForm,
        create=create_order,
        template="web/orders/form.html",
        created=_("Order %(number)s created."),
        detail_route="web:order_detail",
    )


@login_required
@require_http_methods(["GET", "POST"])
def order_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    order = get_object_or_404(Order.objects.select_related("customer"), pk=pk)
    require(actor, Action.EDIT_ORDER)
    if order.status != OrderStatus.DRAFT:
        messages.error(
            request,
            _("%(number)s is %(status)s: only drafts can be edited.")
            % {"number": order.number, "status": order.get_status_display()},
        )
        return redirect("web:order_detail", pk=order.pk)
    ctx: dict[str, Any]
    if request.method != "POST":
        form = OrderEditForm(initial=OrderHeaderForm.initial_for(order))
        ctx = editor_context(form, raw_lines_from_document(order.lines.all()), blanks=1)
        ctx["order"] = order
        return render(request, "web/orders/form.html", ctx)
    form = OrderEditForm(request.POST)
    raw = raw_lines_from_post(request.POST)
    if "add_line" in request.POST:
        ctx = editor_context(form, raw, blanks=1)
        ctx["order"] = order
        return render(request, "web/orders/form.html", ctx)
    errors: dict[str, list[str]] = {}
    problems: list[str] = []
    status = 400
    if form.is_valid():
        kwargs = form.service_kwargs()
        try:
            order = update_order(
                actor=actor,
                order=order,
                expected_version=form.cleaned_data["version"],
                lines=raw,
                **kwargs,
            )
        except StaleVersion as exc:
            status = 409
            problems = [
                exc.message,
                _(
                    "Your changes were not saved. Open the order again to see the current "
                    "version, then redo your change."
                ),
            ]
        except ValidationFailed as exc:
            errors = exc.errors
            problems = apply_service_errors(form, exc)
        else:
            messages.success(request, _("Order %(number)s saved.") % {"number": order.number})
            return redirect("web:order_detail", pk=order.pk)
    ctx = editor_context(form, raw, errors, blanks=1)
    ctx.update(order=order, problems=problems, conflict=status == 409)
    return render(request, "web/orders/form.html", ctx, status=status)


@login_required
@require_POST
def order_totals(request: HttpRequest) -> HttpResponse:
    """Live totals of the line editor: parsed and summed server-side, in Decimal."""
    preview = preview_totals(raw_lines_from_post(request.POST))
    wants_json = "application/json" in request.headers.get("Accept", "")
    if wants_json:
        totals = preview.totals
        return JsonResponse(
            {
                "errors": preview.errors,
                "net": str(totals.net) if totals else None,
                "vat": str(totals.vat) if totals else None,
                "gross": str(totals.gross) if totals else None,
                "breakdown": [
                    {"rate": plain_decimal(b.rate), "basis": str(b.basis), "vat": str(b.vat)}
                    for b in (totals.breakdown if totals else ())
                ],
            }
        )
    return render(request, "web/orders/_totals.html", {"preview": preview})


@login_required
@require_GET
def order_line_row(request: HttpRequest) -> HttpResponse:
    """One empty editor row (the HTMX "add line" button)."""
    raw = request.GET.get("index", "")
    index = int(raw) if raw.isdigit() and len(raw) <= 5 else 1
    ctx = editor_context(OrderHeaderForm(), [], blanks=0)
    ctx["row"] = line_rows([], blanks=1)[0]
    ctx["row"].n = index
    return render(request, "web/orders/_line_row.html", ctx)


@login_required
@require_GET
def order_customer_search(request: HttpRequest) -> HttpResponse:
    """<option>s of the customers matching the typed text (name, SIREN, SIRET, postcode)."""
    query = (request.GET.get("customer_q") or request.GET.get("q") or "").strip()[:100]
    customers = list(search_customers(query, CUSTOMER_OPTIONS))
    return render(
        request, "web/orders/_customer_options.html", {"customers": customers, "query": query}
    )


# ---------------------------------------------------------------- detail


def _rounds(order: Order) -> list[tuple[int, list[ApprovalStep]]]:
    rounds: dict[int, list[ApprovalStep]] = {}
    for step in approval_history(order):
        rounds.setdefault(step.round, []).append(step)
    return sorted(rounds.items(), reverse=True)


def can_edit_document(actor: User, created_by_id: int) -> bool:
    """Mirrors the services' rule (sales reps: their own documents; ADV: all) for buttons."""
    if not can(actor, Action.EDIT_ORDER):
        return False
    return actor.role != Role.COMMERCIAL or created_by_id == actor.pk


@login_required
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    order = get_object_or_404(
        Order.objects.select_related("customer", "created_by", "quote", "delivery_address"), pk=pk
    )
    lines = with_price_format(list(order.lines.select_related("product")))
    step = current_step(order) if order.status == OrderStatus.SUBMITTED else None
    can_decide = bool(
        step is not None
        and actor.role == step.role
        and can(actor, APPROVAL_ACTION[Role(step.role)])
        and order.created_by_id != actor.pk
    )
    editable = can_edit_document(actor, order.created_by_id)
    return render(
        request,
        "web/orders/detail.html",
        {
            "order": order,
            "lines": lines,
            "totals": document_totals((line.net_amount, line.vat_rate) for line in lines),
            "rounds": _rounds(order),
            "step": step,
            "can_decide": can_decide,
            "own_order_step": step is not None and order.created_by_id == actor.pk,
            "sheet": procedure_sheet_for(step.role) if can_decide and step else None,
            "can_edit": editable and order.status == OrderStatus.DRAFT,
            "can_submit": editable
            and can(actor, Action.SUBMIT_ORDER)
            and order.status == OrderStatus.DRAFT,
            "missing": missing_for_submission(order)
            if editable and order.status == OrderStatus.DRAFT
            else [],
            "can_reopen": editable and order.status == OrderStatus.REJECTED,
            "can_cancel": editable
            and order.status in (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.REJECTED),
            "emails": list(order.emails.all()),
            "events": list(events_for(order)[:200]),
        },
    )


# ---------------------------------------------------------------- circuit actions


def _act(
    request: HttpRequest, pk: int, action: Callable[[User, Order], Any], success: str
) -> HttpResponse:
    order = get_object_or_404(Order, pk=pk)
    try:
        action(actor_of(request), order)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        messages.error(request, refusal_text(exc))
        if isinstance(exc, ValidationFailed) and exc.errors.get("__all__"):
            for problem in exc.errors["__all__"]:
                messages.error(request, problem)
    else:
        messages.success(request, success % {"number": order.number})
    return redirect(reverse("web:order_detail", args=[order.pk]))


def _comment(request: HttpRequest, name: str = "comment") -> str | None:
    """The posted comment, or None when it is too long (never silently dropped)."""
    form = CommentForm({"comment": request.POST.get(name, "")})
    return form.cleaned_data["comment"] if form.is_valid() else None


def _version(request: HttpRequest) -> int:
    """The version the user looked at; -1 when the form did not carry a valid one."""
    form = VersionForm(request.POST)
    return form.cleaned_data["version"] if form.is_valid() else -1


def _checked(version: int, comment: str | None = "") -> tuple[int, str]:
    if version == -1:
        raise ValidationFailed(_("The form was damaged (bad version): reload the page."))
    if comment is None:
        raise ValidationFailed(_("The comment is too long (5,000 characters at most)."))
    return version, comment


@login_required
@require_POST
def order_submit(request: HttpRequest, pk: int) -> HttpResponse:
    version = _version(request)

    def act(actor: User, order: Order) -> Order:
        return submit_order(actor=actor, order=order, expected_version=_checked(version)[0])

    return _act(request, pk, act, _("Order %(number)s submitted for validation."))


@login_required
@require_POST
def order_approve(request: HttpRequest, pk: int) -> HttpResponse:
    comment, version = _comment(request), _version(request)

    def act(actor: User, order: Order) -> Order:
        checked_version, checked_comment = _checked(version, comment)
        return approve_order(
            actor=actor, order=order, comment=checked_comment, expected_version=checked_version
        )

    return _act(request, pk, act, _("Order %(number)s approved."))


@login_required
@require_POST
def order_reject(request: HttpRequest, pk: int) -> HttpResponse:
    comment, version = _comment(request), _version(request)

    def act(actor: User, order: Order) -> Order:
        checked_version, checked_comment = _checked(version, comment)
        return reject_order(
            actor=actor, order=order, comment=checked_comment, expected_version=checked_version
        )

    return _act(request, pk, act, _("Order %(number)s rejected and sent back to its author."))


@login_required
@require_POST
def order_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda actor, order: reopen_order(actor=actor, order=order),
        _("Order %(number)s is a draft again: correct it and submit it."),
    )


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    reason = _comment(request, "reason")

    def act(actor: User, order: Order) -> Order:
        if reason is None:
            raise ValidationFailed(_("The comment is too long (5,000 characters at most)."))
        return cancel_order(actor=actor, order=order, reason=reason)

    return _act(request, pk, act, _("Order %(number)s cancelled."))
