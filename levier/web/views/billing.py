"""Billing screens: the billing run, invoices and credit notes, cut-off, the company profile.

Views parse the request, call one service and render. The services check roles, statuses
and amounts; a refusal (`PermissionDenied`, `ValidationFailed`, `NotAllowed`, a status that
does not allow the move) becomes a form error or a message with a 4xx, never a 500.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, F, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.permissions import Action, PermissionDenied, can, require
from levier.audit.selectors import events_for
from levier.billing.choices import CreditReason, DocumentKind, InvoiceStatus
from levier.billing.company import (
    EDITABLE_FIELDS,
    MAX_LOGO_BYTES,
    legal_footer,
    missing_seller_mentions,
    update_company_profile,
)
from levier.billing.company import company_profile as load_company_profile
from levier.billing.models import (
    BillingRun,
    CompanyProfile,
    Invoice,
    InvoiceDispatch,
    InvoiceLine,
)
from levier.billing.run import issue_drafts, preview, run_billing
from levier.billing.sending import mark_printed, resend_invoice
from levier.billing.services import (
    create_credit_note,
    discard_draft,
    issue_invoice,
    missing_mentions,
    remaining_to_credit,
)
from levier.lib.errors import DomainError, ValidationFailed
from levier.lib.money import ZERO, document_totals
from levier.sales.lines import raw_lines_of
from levier.sales.transitions import InvalidTransition
from levier.web.forms import DateInput, with_price_format
from levier.web.views.customers import put_errors, request_actor
from levier.web.views.orders import refusal_text

log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_DRAFTS_SHOWN = 500
RECENT_RUNS = 15
# A billing date further ahead is a typo: and each month of it costs a period per line.
MAX_DAYS_AHEAD = 366
MAX_IDS = 1000
XML_SYNTAXES = ("cii", "ubl")
# Identifiers the service normalises (spaces, dots…): the form lets their raw text through.
LOOSE_IDENTIFIERS = frozenset({"siren", "siret", "vat_number", "iban"})
_LINE_ERROR_KEY = re.compile(r"^lines\.(\d+)(?:\.|$)")


def _today() -> dt.date:
    return timezone.localdate()


def _redirect_back(request: HttpRequest, default: str) -> HttpResponse:
    """Back to the screen the button was on (`next`), when it is one of ours."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _refuse(request: HttpRequest, exc: Exception) -> None:
    """A service's refusal as messages: its text, then each listed problem."""
    messages.error(request, refusal_text(exc))
    if isinstance(exc, ValidationFailed):
        for problem in exc.errors.get("__all__", []):
            if problem != exc.message:
                messages.error(request, problem)


def _refusal_status(exc: Exception) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, InvalidTransition):
        return 409
    if isinstance(exc, DomainError):
        return exc.http_status
    return 400


class BillingDateForm(forms.Form):
    as_of = forms.DateField(label=gettext_lazy("Billing date"), widget=DateInput())

    def clean_as_of(self) -> dt.date:
        value: dt.date = self.cleaned_data["as_of"]
        if value > _today() + dt.timedelta(days=MAX_DAYS_AHEAD):
            raise forms.ValidationError(
                _("The date is more than a year ahead: check the year."), code="too_far"
            )
        return value


# ---------------------------------------------------------------- the billing run


def _date_form(data: Any, default: dt.date) -> tuple[BillingDateForm, dt.date | None]:
    """The date form and the date it gives (the default when nothing was asked)."""
    if data is None or "as_of" not in data:
        return BillingDateForm(initial={"as_of": default}), default
    form = BillingDateForm(data)
    return form, form.cleaned_data["as_of"] if form.is_valid() else None


def _run_page(
    request: HttpRequest, form: BillingDateForm, as_of: dt.date | None, status: int = 200
) -> HttpResponse:
    actor = request_actor(request)
    billings = preview(as_of) if as_of is not None else []
    drafts = (
        Invoice.objects.filter(status=InvoiceStatus.DRAFT)
        .select_related("customer", "contract", "credited_invoice")
        .order_by("billable_on", "pk")
    )
    context = {
        "form": form,
        "as_of": as_of,
        "billings": billings,
        "blocked": [message for billing in billings for message in billing.blocked],
        "preview_items": sum(len(b.items) for b in billings),
        "preview_total": sum((b.net_total for b in billings), Decimal(0)),
        "drafts": drafts[:MAX_DRAFTS_SHOWN],
        "drafts_count": drafts.count(),
        "runs": BillingRun.objects.select_related("started_by")[:RECENT_RUNS],
        "can_run": can(actor, Action.RUN_BILLING),
        "can_issue": can(actor, Action.ISSUE_INVOICE),
    }
    return render(request, "web/billing/run.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def billing_run(request: HttpRequest) -> HttpResponse:
    """GET: what a run on the date would bill, and what blocks. POST: run it.

    "Create drafts" leaves drafts to check; "Create and issue" issues them at once, dated
    today like every issue made from the screens, so numbers and dates stay chronological.
    """
    if request.method != "POST":
        form, as_of = _date_form(request.GET, _today())
        return _run_page(request, form, as_of, 200 if as_of is not None else 400)
    form = BillingDateForm(request.POST)
    action = request.POST.get("action", "")
    if not form.is_valid():
        return _run_page(request, form, None, 400)
    as_of = form.cleaned_data["as_of"]
    if action not in ("drafts", "issue"):
        messages.error(request, _("Choose “Create drafts” or “Create and issue”."))
        return _run_page(request, form, as_of, 400)
    try:
        run = run_billing(
            actor=request_actor(request),
            as_of=as_of,
            issue=action == "issue",
            issue_date=_today() if action == "issue" else None,
        )
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refuse(request, exc)
        return _run_page(request, form, as_of, _refusal_status(exc))
    if run.drafts_count:
        messages.success(
            request,
            _("Billing run of %(date)s: %(drafts)d invoice(s) created, %(issued)d issued.")
            % {"date": f"{as_of:%d/%m/%Y}", "drafts": run.drafts_count, "issued": run.issued_count},
        )
    else:
        messages.info(request, _("Nothing left to bill on this date: no invoice was created."))
    return redirect("web:billing_run_detail", pk=run.pk)


@login_required
@require_GET
def billing_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """What one run made, issued and could not do (blocked revisions, refused issues)."""
    run = get_object_or_404(BillingRun.objects.select_related("started_by"), pk=pk)
    drafts = run.drafts.select_related("customer", "contract").order_by("pk")
    return render(request, "web/billing/run_detail.html", {"run": run, "drafts": drafts})


def _posted_ids(request: HttpRequest, name: str) -> list[int]:
    """The ticked ids; anything that is not a plausible id is ignored."""
    values = request.POST.getlist(name)[:MAX_IDS]
    return sorted({int(v) for v in values if v.isdigit() and len(v) <= 12})


@login_required
@require_POST
def drafts_issue(request: HttpRequest) -> HttpResponse:
    """Issue the ticked drafts, oldest billable first, each in its own transaction.

    One draft that cannot be issued (a missing mention…) stays a draft with its reason shown;
    the others are issued.
    """
    ids = _posted_ids(request, "invoice")
    drafts = list(
        Invoice.objects.filter(pk__in=ids, status=InvoiceStatus.DRAFT)
        .select_related("customer")
        .order_by("billable_on", "pk")
    )
    if not drafts:
        messages.error(request, _("Tick at least one draft to issue."))
        return _redirect_back(request, reverse("web:billing_run"))
    actor = request_actor(request)
    try:
        require(actor, Action.ISSUE_INVOICE)
        issued, errors = issue_drafts(actor=actor, invoices=drafts, issue_date=_today())
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refuse(request, exc)
        return _redirect_back(request, reverse("web:billing_run"))
    if issued:
        messages.success(request, _("%(count)d document(s) issued.") % {"count": issued})
    for error in errors:
        messages.error(request, error)
    return _redirect_back(request, reverse("web:billing_run"))


# ---------------------------------------------------------------- invoice list


def _kind_choices() -> list[tuple[str, str]]:
    return [
        ("", _("All documents")),
        *((value, str(label)) for value, label in DocumentKind.choices),
    ]


def _status_choices() -> list[tuple[str, str]]:
    return [
        ("", _("All statuses")),
        *((value, str(label)) for value, label in InvoiceStatus.choices),
    ]


class InvoiceFilterForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Document"), choices=_kind_choices, required=False)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=_status_choices, required=False
    )
    customer = forms.CharField(label=gettext_lazy("Customer"), max_length=100, required=False)
    number = forms.CharField(label=gettext_lazy("Number"), max_length=40, required=False)
    issued_from = forms.DateField(
        label=gettext_lazy("Issued from"), required=False, widget=DateInput()
    )
    issued_to = forms.DateField(label=gettext_lazy("Issued to"), required=False, widget=DateInput())


def filtered_invoices(values: dict[str, Any]) -> QuerySet[Invoice]:
    """Invoices and credit notes matching the valid filters (the others are ignored)."""
    invoices = Invoice.objects.all()
    if values.get("kind"):
        invoices = invoices.filter(kind=values["kind"])
    if values.get("status"):
        invoices = invoices.filter(status=values["status"])
    customer = (values.get("customer") or "").strip()
    if customer:
        invoices = invoices.filter(
            Q(customer__name__icontains=customer)
            | Q(buyer_name__icontains=customer)
            | Q(customer__siren=customer.replace(" ", ""))
        )
    number = (values.get("number") or "").strip()
    if number:
        invoices = invoices.filter(number__icontains=number)
    if values.get("issued_from"):
        invoices = invoices.filter(issue_date__gte=values["issued_from"])
    if values.get("issued_to"):
        invoices = invoices.filter(issue_date__lte=values["issued_to"])
    return invoices


def invoice_totals(invoices: QuerySet[Invoice]) -> dict[str, Any]:
    """Totals of the whole filtered set in one SQL aggregate; credit notes come off."""
    is_invoice, is_credit = Q(kind=DocumentKind.INVOICE), Q(kind=DocumentKind.CREDIT_NOTE)
    sums = invoices.aggregate(
        count=Count("pk"),
        invoiced_net=Sum("total_net", filter=is_invoice),
        invoiced_gross=Sum("total_gross", filter=is_invoice),
        credited_net=Sum("total_net", filter=is_credit),
        credited_gross=Sum("total_gross", filter=is_credit),
    )
    for name in ("invoiced_net", "invoiced_gross", "credited_net", "credited_gross"):
        sums[name] = sums[name] or ZERO
    sums["balance_net"] = sums["invoiced_net"] - sums["credited_net"]
    sums["balance_gross"] = sums["invoiced_gross"] - sums["credited_gross"]
    return sums


@login_required
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    form = InvoiceFilterForm(request.GET)
    form.is_valid()  # invalid filters are shown with their error and left out
    invoices = filtered_invoices(form.cleaned_data)
    rows = invoices.select_related("customer").order_by(
        F("issue_date").desc(nulls_first=True), F("number").desc(nulls_first=True), "-pk"
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "totals": invoice_totals(invoices)}
    return render(request, "web/billing/invoice_list.html", context)


# ---------------------------------------------------------------- invoice page


class CreditNoteForm(forms.Form):
    reason = forms.ChoiceField(
        label=gettext_lazy("Reason"), choices=[("", "—"), *CreditReason.choices]
    )
    scope = forms.ChoiceField(
        label=gettext_lazy("What to credit"),
        choices=[
            ("full", gettext_lazy("The whole invoice")),
            ("lines", gettext_lazy("Some lines: the quantities or unit prices entered below")),
        ],
        initial="full",
        widget=forms.RadioSelect,
    )
    notes = forms.CharField(
        label=gettext_lazy("Note (internal)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


@dataclass
class CreditRow:
    """One invoice line in the credit-note form, with what was typed and its errors."""

    line: InvoiceLine
    quantity: str = ""
    unit_price: str = ""
    errors: list[str] = field(default_factory=list)


def _credit_rows(lines: list[InvoiceLine], data: Any = None) -> list[CreditRow]:
    if data is None:
        return [CreditRow(line) for line in lines]
    return [
        CreditRow(
            line,
            quantity=str(data.get(f"quantity-{line.pk}", "")).strip()[:30],
            unit_price=str(data.get(f"unit_price-{line.pk}", "")).strip()[:30],
        )
        for line in lines
    ]


def _detail_context(
    request: HttpRequest,
    invoice: Invoice,
    credit_form: CreditNoteForm | None = None,
    credit_rows: list[CreditRow] | None = None,
) -> dict[str, Any]:
    from levier.web.views.collections_sections import invoice_collections

    actor = request_actor(request)
    lines = with_price_format(list(invoice.lines.select_related("product")))
    is_credit = invoice.kind == DocumentKind.CREDIT_NOTE
    is_draft = invoice.status == InvoiceStatus.DRAFT
    issued = invoice.status == InvoiceStatus.ISSUED
    seller = load_company_profile()
    remaining = remaining_to_credit(invoice) if issued and not is_credit else None
    can_issue = is_draft and can(
        actor, Action.CREATE_CREDIT_NOTE if is_credit else Action.ISSUE_INVOICE
    )
    return {
        "invoice": invoice,
        "is_credit": is_credit,
        "is_draft": is_draft,
        "issued": issued,
        "lines": lines,
        "totals": document_totals((line.net_amount, line.vat_rate) for line in lines),
        "seller": seller,
        "legal_footer": legal_footer(seller),
        "missing": (missing_seller_mentions(seller) + missing_mentions(invoice, invoice.customer))
        if is_draft
        else [],
        "credit_notes": list(invoice.credit_notes.order_by("pk")) if not is_credit else [],
        "remaining": remaining,
        "can_issue": can_issue,
        "can_discard": is_draft and can(actor, Action.ISSUE_INVOICE),
        "can_credit": bool(
            remaining is not None and remaining > ZERO and can(actor, Action.CREATE_CREDIT_NOTE)
        ),
        "credit_form": credit_form or CreditNoteForm(),
        "credit_rows": credit_rows or _credit_rows(lines),
        "xml_syntaxes": XML_SYNTAXES,
        "events": list(events_for(invoice)[:200]),
        "dispatches": _dispatches(invoice) if issued else [],
        "can_send": issued and can(actor, Action.SEND_INVOICE),
        "collections": invoice_collections(request, invoice),
    }


def _invoice(pk: int) -> Invoice:
    return get_object_or_404(
        Invoice.objects.select_related(
            "customer",
            "contract",
            "order",
            "credited_invoice",
            "issued_by",
            "created_by",
            "series",
        ),
        pk=pk,
    )


@login_required
@require_GET
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(pk)
    return render(request, "web/billing/invoice_detail.html", _detail_context(request, invoice))


@login_required
@require_POST
def invoice_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue one draft, dated today: numbered, chained and frozen for good."""
    invoice = get_object_or_404(Invoice, pk=pk)
    try:
        issued = issue_invoice(actor=request_actor(request), invoice=invoice)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refuse(request, exc)
    else:
        messages.success(request, _("%(number)s issued.") % {"number": issued.number})
    return _redirect_back(request, reverse("web:invoice_detail", args=[invoice.pk]))


class DiscardForm(forms.Form):
    reason = forms.CharField(max_length=2000)


@login_required
@require_POST
def invoice_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Drop a draft (never numbered); what it billed becomes billable again."""
    invoice = get_object_or_404(Invoice, pk=pk)
    form = DiscardForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for discarding the draft (2,000 characters)."))
        return _redirect_back(request, reverse("web:invoice_detail", args=[invoice.pk]))
    try:
        discard_draft(
            actor=request_actor(request), invoice=invoice, reason=form.cleaned_data["reason"]
        )
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refuse(request, exc)
    else:
        messages.success(request, _("Draft %(draft)s discarded.") % {"draft": invoice})
    return _redirect_back(request, reverse("web:invoice_detail", args=[invoice.pk]))


def _credit_lines(rows: list[CreditRow]) -> list[tuple[CreditRow, dict[str, Any]]]:
    """The raw lines of a partial credit note: each line with a quantity or price typed.

    A line keeps its description, unit, discount and VAT rate; a blank quantity means the
    invoiced quantity, a blank price the invoiced unit price.
    """
    chosen = []
    for row in rows:
        if not (row.quantity or row.unit_price):
            continue
        raw = raw_lines_of([row.line])[0]
        if row.quantity:
            raw["quantity"] = row.quantity
        if row.unit_price:
            raw["unit_price"] = row.unit_price
        chosen.append((row, raw))
    return chosen


def _put_credit_errors(
    form: CreditNoteForm, chosen: list[tuple[CreditRow, dict[str, Any]]], exc: ValidationFailed
) -> None:
    """Line errors ("lines.<n>.<field>") go to their row, the rest to the form."""
    for key, msgs in exc.errors.items():
        match = _LINE_ERROR_KEY.match(key)
        if match and 1 <= int(match.group(1)) <= len(chosen):
            chosen[int(match.group(1)) - 1][0].errors.extend(msgs)
        elif key == "credit_reason":
            for msg in msgs:
                form.add_error("reason", msg)
        else:
            for msg in msgs:
                form.add_error(None, msg)
    if not exc.errors:
        form.add_error(None, exc.message)


@login_required
@require_POST
def credit_note_create(request: HttpRequest, pk: int) -> HttpResponse:
    """A draft credit note on an issued invoice; then its page, where it is issued."""
    invoice = _invoice(pk)
    form = CreditNoteForm(request.POST)
    rows = _credit_rows(list(invoice.lines.select_related("product")), request.POST)
    status = 400
    if form.is_valid():
        lines: list[dict[str, Any]] | None = None
        chosen = _credit_lines(rows)
        if form.cleaned_data["scope"] == "lines":
            lines = [raw for _row, raw in chosen]
        if lines == []:
            form.add_error(
                None, _("Enter the quantity or the unit price to credit on at least one line.")
            )
        else:
            try:
                note = create_credit_note(
                    actor=request_actor(request),
                    invoice=invoice,
                    reason=form.cleaned_data["reason"],
                    lines=lines,
                    notes=form.cleaned_data["notes"],
                )
            except ValidationFailed as exc:
                _put_credit_errors(form, chosen if lines is not None else [], exc)
            except (DomainError, PermissionDenied, InvalidTransition) as exc:
                form.add_error(None, refusal_text(exc))
                status = _refusal_status(exc)
            else:
                messages.success(
                    request,
                    _(
                        "Draft credit note of %(amount)s € incl. VAT created on %(number)s: "
                        "check it, then issue it."
                    )
                    % {"amount": note.total_gross, "number": invoice.number},
                )
                return redirect("web:invoice_detail", pk=note.pk)
    context = _detail_context(request, invoice, form, rows)
    return render(request, "web/billing/invoice_detail.html", context, status=status)


# ---------------------------------------------------------------- downloads


def _issued(pk: int) -> Invoice:
    """An issued document, or 404: a draft has no number, hence no legal document."""
    invoice = get_object_or_404(
        Invoice.objects.select_related("customer", "credited_invoice"), pk=pk
    )
    if invoice.status != InvoiceStatus.ISSUED or not invoice.number:
        raise Http404("not issued")
    return invoice


def _download(
    request: HttpRequest, invoice: Invoice, kind: str, ext: str, content_type: str
) -> HttpResponse:
    from levier.billing import documents  # WeasyPrint and the XML writers: only when asked

    renderers = {
        "pdf": documents.invoice_pdf,
        "facturx": documents.facturx_pdf,
        "cii": documents.cii_xml,
        "ubl": documents.ubl_xml,
    }
    try:
        content = renderers[kind](invoice)
    except ValueError as exc:  # NotIssued, InvoiceDataError: the data cannot make it
        log.exception("%s of %s could not be generated", kind, invoice.number)
        messages.error(
            request,
            _("The %(kind)s of %(number)s could not be generated: %(detail)s")
            % {"kind": kind.upper(), "number": invoice.number, "detail": exc},
        )
        return redirect("web:invoice_detail", pk=invoice.pk)
    response = HttpResponse(content, content_type=content_type)
    filename = documents.document_filename(invoice, ext)
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=filename) or "attachment"
    )
    return response


@login_required
@require_GET
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return _download(request, _issued(pk), "pdf", "pdf", "application/pdf")


@login_required
@require_GET
def invoice_facturx(request: HttpRequest, pk: int) -> HttpResponse:
    """The PDF/A-3 with its CII inside: the document sent to customers."""
    return _download(request, _issued(pk), "facturx", "pdf", "application/pdf")


@login_required
@require_GET
def invoice_xml(request: HttpRequest, pk: int, syntax: str) -> HttpResponse:
    if syntax not in XML_SYNTAXES:
        raise Http404("unknown syntax")
    return _download(request, _issued(pk), syntax, f"{syntax}.xml", "application/xml")


# ---------------------------------------------------------------- cut-off


def _last_month_end() -> dt.date:
    """The usual closing date: the last day of the previous month."""
    return _today().replace(day=1) - dt.timedelta(days=1)


@login_required
@require_GET
def cutoff(request: HttpRequest) -> HttpResponse:
    """Accrued revenue (FAE) and deferred revenue (PCA) per contract, and the entries."""
    form, as_of = _date_form(request.GET, _last_month_end())
    result, unavailable = None, False
    if as_of is not None:
        try:
            from levier.contracts.cutoff import compute_cutoff
        except ImportError:
            unavailable = True
        else:
            result = compute_cutoff(as_of)
    context = {"form": form, "as_of": as_of, "cutoff": result, "unavailable": unavailable}
    return render(request, "web/billing/cutoff.html", context, status=200 if as_of else 400)


# ---------------------------------------------------------------- company profile


def _money_text(raw: str) -> Decimal | None:
    """« 50 000,00 » → Decimal("50000.00"); None when empty. Refuses what the column cannot
    store (the database would fail on it rather than say which field is wrong)."""
    text = re.sub(r"[\s\u00a0\u202f]", "", raw).replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise forms.ValidationError(_("not an amount"), code="invalid") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
        raise forms.ValidationError(_("an amount between 0 and 999 999 999 999,99"), code="range")
    if value != value.quantize(Decimal("0.01")):
        raise forms.ValidationError(_("at most two decimals"), code="decimals")
    return value.quantize(Decimal("0.01"))


class CompanyForm(forms.Form):
    """The profile's editable fields, built from the model so they never drift apart.

    Identifiers stay text: the service normalises them and names the failed check.
    """

    logo = forms.FileField(label=gettext_lazy("Logo (PNG or JPEG, 500 KB at most)"), required=False)
    remove_logo = forms.BooleanField(label=gettext_lazy("Remove the logo"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: dict[str, forms.Field] = {}
        for model_field in CompanyProfile._meta.concrete_fields:
            name = model_field.name
            if name not in EDITABLE_FIELDS:
                continue
            label = capfirst(str(getattr(model_field, "verbose_name", name)))
            internal = model_field.get_internal_type()
            form_field: forms.Field
            if internal == "BooleanField":
                form_field = forms.BooleanField(label=label, required=False)
            elif internal == "TextField":
                form_field = forms.CharField(
                    label=label,
                    max_length=2000,
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )
            elif internal == "DecimalField":
                form_field = forms.CharField(label=label, max_length=30, required=False)
            elif isinstance(model_field, models.EmailField):
                form_field = forms.EmailField(label=label, max_length=254, required=False)
            else:
                limit = 50 if name in LOOSE_IDENTIFIERS else getattr(model_field, "max_length", 200)
                form_field = forms.CharField(label=label, max_length=limit, required=False)
            fields[name] = form_field
        self.fields = {
            **fields,
            "logo": self.fields["logo"],
            "remove_logo": self.fields["remove_logo"],
        }

    def clean_share_capital(self) -> Decimal | None:
        return _money_text(self.cleaned_data.get("share_capital") or "")

    def clean_country(self) -> str:
        value = str(self.cleaned_data.get("country") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise forms.ValidationError(_("two letters (ISO 3166), e.g. FR"), code="invalid")
        return value

    def clean_logo(self) -> Any:
        upload = self.cleaned_data.get("logo")
        if upload and upload.size > MAX_LOGO_BYTES:
            raise forms.ValidationError(_("the logo must weigh less than 500 KB"), code="size")
        return upload

    def changes(self, profile: CompanyProfile) -> dict[str, Any]:
        """Only what differs from the stored profile: the audit trail shows real changes."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name in EDITABLE_FIELDS and value != getattr(profile, name)
        }


def _image_type(data: bytes) -> str:
    """The type the bytes are, not the one the browser claimed."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return "application/octet-stream"


def _readable(value: Any) -> Any:
    """Amounts as the locale writes them (« 50 000,00 »); anything else as it is."""
    if isinstance(value, Decimal):
        return number_format(value, decimal_pos=2, force_grouping=True)
    return value


def _company_initial(profile: CompanyProfile) -> dict[str, Any]:
    initial = {name: getattr(profile, name) for name in EDITABLE_FIELDS}
    if profile.share_capital is not None:
        initial["share_capital"] = f"{profile.share_capital:.2f}".replace(".", ",")
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def company_profile(request: HttpRequest) -> HttpResponse:
    """The seller's identity: editable by an administrator, read-only for everyone else."""
    actor = request_actor(request)
    profile = load_company_profile()
    can_edit = can(actor, Action.MANAGE_COMPANY)
    status = 200
    if request.method == "POST":
        form = CompanyForm(request.POST, request.FILES)
        if form.is_valid():
            logo: bytes | None = None
            logo_type = ""
            upload = form.cleaned_data["logo"]
            if upload:
                logo = upload.read(MAX_LOGO_BYTES + 1)
                logo_type = _image_type(logo)
            elif form.cleaned_data["remove_logo"] and profile.logo:
                logo = b""
            changes = form.changes(profile)
            try:
                update_company_profile(actor=actor, changes=changes, logo=logo, logo_type=logo_type)
            except ValidationFailed as exc:
                put_errors(form, exc)
                status = 400
            except PermissionDenied as exc:
                messages.error(request, refusal_text(exc))
                status = 403
            except DjangoValidationError as exc:
                # A value the column refuses although the service let it through: today an
                # emptied share capital, which the service stores as "" in a decimal column.
                cleared = "share_capital" in changes and changes["share_capital"] is None
                form.add_error("share_capital" if cleared else None, "; ".join(exc.messages))
                status = 400
            else:
                messages.success(request, _("Company profile saved."))
                return redirect("web:company_profile")
        else:
            status = 400
    else:
        form = CompanyForm(initial=_company_initial(profile))
    context = {
        "form": form,
        "profile": profile,
        "can_edit": can_edit,
        "missing": missing_seller_mentions(profile),
        "legal_footer": legal_footer(profile),
        "readonly_rows": [
            (form.fields[name].label, _readable(getattr(profile, name)))
            for name in form.fields
            if name in EDITABLE_FIELDS
        ],
        "events": list(events_for(profile)[:50]) if profile.pk else [],
    }
    return render(request, "web/billing/company.html", context, status=status)


@login_required
@require_GET
def company_logo(request: HttpRequest) -> HttpResponse:
    """The stored logo, so the profile page can show what documents will print."""
    profile = load_company_profile()
    if not profile.logo or profile.logo_content_type not in ("image/png", "image/jpeg"):
        raise Http404("no logo")
    response = HttpResponse(bytes(profile.logo), content_type=profile.logo_content_type)
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- sending


def _dispatches(invoice: Invoice) -> list[InvoiceDispatch]:
    """The document's send log, newest first (a handful of rows: no paging)."""
    return list(
        InvoiceDispatch.objects.filter(invoice=invoice)
        .select_related("created_by", "printed_by")
        .order_by("-created_at", "-pk")
    )


@login_required
@require_POST
def invoice_resend(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Send again" button: a new logged sending on the customer's current channel."""
    invoice = get_object_or_404(Invoice, pk=pk)
    try:
        row = resend_invoice(actor=request_actor(request), invoice=invoice)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refuse(request, exc)
    else:
        messages.success(
            request,
            _("%(number)s: new sending requested (%(channel)s); its outcome is under “Sending”.")
            % {"number": invoice.number, "channel": row.get_channel_display()},
        )
    return redirect(reverse("web:invoice_detail", args=[invoice.pk]) + "#sending")


@login_required
@require_POST
def dispatch_mark_printed(request: HttpRequest, pk: int) -> HttpResponse:
    """A postal sending was printed and posted: it leaves the "to print" list."""
    row = get_object_or_404(InvoiceDispatch.objects.select_related("invoice"), pk=pk)
    try:
        mark_printed(actor=request_actor(request), dispatch=row)
    except (DomainError, PermissionDenied, InvalidTransition) as exc:
        _refuse(request, exc)
    else:
        messages.success(
            request, _("%(number)s marked printed and posted.") % {"number": row.invoice.number}
        )
    return _redirect_back(
        request, reverse("web:invoice_detail", args=[row.invoice_id]) + "#sending"
    )


@login_required
@require_GET
def sendings_to_handle(request: HttpRequest) -> HttpResponse:
    """The worklist of sendings waiting for a person: to print and post, and failed ones.

    A failed sending is retried by `levier send-invoices` up to 5 times; a missing address or
    a refused document needs someone to fix the customer record and "Send again".
    """
    rows = InvoiceDispatch.objects.select_related("invoice", "invoice__customer").order_by(
        "created_at", "pk"
    )
    to_print = list(rows.filter(status=InvoiceDispatch.Status.TO_PRINT)[:MAX_DRAFTS_SHOWN])
    failed = list(rows.filter(status=InvoiceDispatch.Status.FAILED)[:MAX_DRAFTS_SHOWN])
    context = {
        "to_print": to_print,
        "failed": failed,
        "can_send": can(request_actor(request), Action.SEND_INVOICE),
    }
    return render(request, "web/billing/sendings.html", context)
