"""Quote screens: list, creation with the order line editor, detail and its outcomes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.permissions import Action, PermissionDenied, can
from levier.audit.selectors import events_for
from levier.lib.errors import DomainError
from levier.lib.money import document_totals
from levier.sales.choices import QuoteStatus
from levier.sales.models import Quote
from levier.sales.services import convert_quote_to_order, create_quote, decline_quote, send_quote
from levier.sales.transitions import InvalidTransition
from levier.web.forms import (
    CommentForm,
    ConvertQuoteForm,
    QuoteHeaderForm,
    with_price_format,
)
from levier.web.views.orders import (
    PAGE_SIZE,
    actor_of,
    can_edit_document,
    create_document,
    refusal_text,
)


@login_required
@require_GET
def quote_list(request: HttpRequest) -> HttpResponse:
    quotes = Quote.objects.select_related("customer", "created_by").order_by("-created_at", "-pk")
    status = request.GET.get("status", "")
    if status in QuoteStatus.values:
        quotes = quotes.filter(status=status)
    query = request.GET.get("q", "").strip()[:100]
    if query:
        quotes = quotes.filter(Q(number__icontains=query) | Q(customer__name__icontains=query))
    page = Paginator(quotes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/quotes/list.html",
        {
            "page": page,
            "status": status,
            "q": query,
            "statuses": QuoteStatus.choices,
            "can_create": can(actor_of(request), Action.EDIT_ORDER),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def quote_create(request: HttpRequest) -> HttpResponse:
    return create_document(
        request,
        header_form=QuoteHeaderForm,
        create=create_quote,
        template="web/quotes/form.html",
        created=_("Quote %(number)s created."),
        detail_route="web:quote_detail",
    )


@login_required
@require_GET
def quote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    quote = get_object_or_404(Quote.objects.select_related("customer", "created_by"), pk=pk)
    lines = with_price_format(list(quote.lines.select_related("product")))
    editable = can_edit_document(actor, quote.created_by_id)
    open_statuses = (QuoteStatus.DRAFT, QuoteStatus.SENT)
    return render(
        request,
        "web/quotes/detail.html",
        {
            "quote": quote,
            "lines": lines,
            "totals": document_totals((line.net_amount, line.vat_rate) for line in lines),
            "can_send": editable and quote.status == QuoteStatus.DRAFT,
            "can_close": editable and quote.status in open_statuses,
            "order": getattr(quote, "order", None)
            if quote.status == QuoteStatus.ACCEPTED
            else None,
            "convert_form": ConvertQuoteForm(),
            "events": list(events_for(quote)[:200]),
        },
    )


def _refused(request: HttpRequest, exc: Exception) -> None:
    messages.error(request, refusal_text(exc))


@login_required
@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    quote = get_object_or_404(Quote, pk=pk)
    try:
        send_quote(actor=actor_of(request), quote=quote)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("Quote %(number)s marked as sent.") % {"number": quote.number})
    return redirect("web:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_decline(request: HttpRequest, pk: int) -> HttpResponse:
    quote = get_object_or_404(Quote, pk=pk)
    form = CommentForm({"comment": request.POST.get("reason", "")})
    reason = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        decline_quote(actor=actor_of(request), quote=quote, reason=reason)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("Quote %(number)s declined.") % {"number": quote.number})
    return redirect("web:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_convert(request: HttpRequest, pk: int) -> HttpResponse:
    quote = get_object_or_404(Quote, pk=pk)
    form = ConvertQuoteForm(request.POST)
    if not form.is_valid():
        for field_errors in form.errors.values():
            for message in field_errors:
                messages.error(request, str(message))
        return redirect("web:quote_detail", pk=quote.pk)
    try:
        order = convert_quote_to_order(
            actor=actor_of(request),
            quote=quote,
            po_number=form.cleaned_data["po_number"],
            requested_delivery_date=form.cleaned_data["requested_delivery_date"],
        )
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refused(request, exc)
        return redirect("web:quote_detail", pk=quote.pk)
    messages.success(
        request,
        _("Quote %(quote)s converted into order %(order)s.")
        % {"quote": quote.number, "order": order.number},
    )
    return redirect("web:order_detail", pk=order.pk)
