"""Customer screens: list and search, 360° page, create/edit, contacts, addresses, merge, import.

Views parse the request, call one service and render. Forms only check types and sizes;
`levier.customers.services` decides, and its `ValidationFailed` errors are put back on the
form fields so the user sees which check failed next to what they typed.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from levier.accounts.models import User
from levier.accounts.permissions import Action, can, require
from levier.customers.choices import InvoiceChannel, TermsBasis
from levier.customers.matching import find_duplicates
from levier.customers.models import Customer
from levier.customers.selectors import customer_360, list_customers, search_customers
from levier.customers.services import (
    DuplicatesFound,
    add_contact,
    add_delivery_address,
    create_customer,
    import_customers,
    merge_customers,
    update_customer,
)
from levier.customers.validation import check_field
from levier.lib.errors import StaleVersion, ValidationFailed

PAGE_SIZE = 50
LIVE_FIELDS = ("siren", "siret", "vat_number", "iban", "bic")
IMPORT_MAX_BYTES = 10 * 1024 * 1024
# Decide whether Comptabilité must approve an order: Action.EDIT_CREDIT_TERMS only.
CREDIT_TERMS_FIELDS = ("payment_terms_days", "payment_terms_basis", "credit_limit", "is_strategic")


def request_actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def put_errors(form: forms.Form, exc: ValidationFailed) -> None:
    """Attach a service's field errors to the form (unknown fields become form-wide)."""
    for name, msgs in exc.errors.items():
        for msg in msgs:
            form.add_error(name if name in form.fields else None, msg)
    if not exc.errors:
        form.add_error(None, exc.message)


class CustomerForm(forms.Form):
    # Identifiers and amounts stay text: the service parses them and names the failed check.
    name = forms.CharField(label=gettext_lazy("Legal name"), max_length=200, required=False)
    trade_name = forms.CharField(label=gettext_lazy("Trade name"), max_length=200, required=False)
    country = forms.CharField(
        label=gettext_lazy("Country"), max_length=2, initial="FR", required=False
    )
    siren = forms.CharField(label=gettext_lazy("SIREN"), max_length=20, required=False)
    siret = forms.CharField(label=gettext_lazy("SIRET"), max_length=30, required=False)
    vat_number = forms.CharField(label=gettext_lazy("VAT number"), max_length=30, required=False)
    address_line1 = forms.CharField(
        label=gettext_lazy("Billing address"), max_length=200, required=False
    )
    address_line2 = forms.CharField(
        label=gettext_lazy("Address line 2"), max_length=200, required=False
    )
    postcode = forms.CharField(label=gettext_lazy("Postcode"), max_length=10, required=False)
    city = forms.CharField(label=gettext_lazy("City"), max_length=100, required=False)
    payment_terms_days = forms.CharField(
        label=gettext_lazy("Payment terms (days)"), max_length=5, initial="30", required=False
    )
    payment_terms_basis = forms.ChoiceField(
        label=gettext_lazy("Terms basis"), choices=TermsBasis.choices, initial=TermsBasis.NET
    )
    invoice_channel = forms.ChoiceField(
        label=gettext_lazy("Invoice channel"),
        choices=InvoiceChannel.choices,
        initial=InvoiceChannel.EMAIL,
    )
    invoice_email = forms.CharField(
        label=gettext_lazy("Invoice email"),
        max_length=254,
        required=False,
        help_text=gettext_lazy("Blank: the accounts-payable contacts receive emailed invoices."),
    )
    po_number_required = forms.BooleanField(
        label=gettext_lazy("PO number required"), required=False
    )
    credit_limit = forms.CharField(
        label=gettext_lazy("Credit limit (€ incl. VAT)"), max_length=20, required=False
    )
    is_strategic = forms.BooleanField(label=gettext_lazy("Strategic account"), required=False)
    iban = forms.CharField(label=gettext_lazy("IBAN"), max_length=50, required=False)
    bic = forms.CharField(label=gettext_lazy("BIC"), max_length=15, required=False)
    segment = forms.CharField(label=gettext_lazy("Segment"), max_length=50, required=False)
    notes = forms.CharField(
        label=gettext_lazy("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args: Any, can_edit_terms: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.can_edit_terms = can_edit_terms
        if not can_edit_terms:
            # Shown for information, never sent: see `service_data`.
            for name in CREDIT_TERMS_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = gettext_lazy(
                    "Set by Comptabilité or an administrator."
                )
        check_url = reverse("web:customer_validate_field")
        for name in LIVE_FIELDS:
            self.fields[name].widget.attrs.update(
                {
                    "hx-get": f"{check_url}?field={name}",
                    "hx-trigger": "change, keyup changed delay:500ms",
                    "hx-target": f"#check-{name}",
                    "hx-include": "[name=siren]",
                    "autocomplete": "off",
                }
            )

    def service_data(self) -> dict[str, Any]:
        """The cleaned data for the service, without the fields this user may not change."""
        data = dict(self.cleaned_data)
        if not self.can_edit_terms:
            for name in CREDIT_TERMS_FIELDS:
                data.pop(name, None)
        return data


class ContactForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False)
    email = forms.CharField(label=gettext_lazy("Email"), max_length=254, required=False)
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=30, required=False)
    is_purchasing = forms.BooleanField(label=gettext_lazy("Purchasing"), required=False)
    is_accounts_payable = forms.BooleanField(label=gettext_lazy("Accounts payable"), required=False)
    is_dunning = forms.BooleanField(label=gettext_lazy("Dunning"), required=False)


class DeliveryAddressForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("Label"), max_length=100, required=False)
    line1 = forms.CharField(label=gettext_lazy("Address"), max_length=200, required=False)
    line2 = forms.CharField(label=gettext_lazy("Address line 2"), max_length=200, required=False)
    postcode = forms.CharField(label=gettext_lazy("Postcode"), max_length=10, required=False)
    city = forms.CharField(label=gettext_lazy("City"), max_length=100, required=False)
    country = forms.CharField(
        label=gettext_lazy("Country"), max_length=2, initial="FR", required=False
    )
    is_default = forms.BooleanField(label=gettext_lazy("Default address"), required=False)


class MergeForm(forms.Form):
    remove = forms.IntegerField(label=gettext_lazy("Number of the customer to merge into this one"))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"))


def _customer_initial(customer: Customer) -> dict[str, Any]:
    initial = {name: getattr(customer, name) for name in CustomerForm.base_fields}
    initial["credit_limit"] = "" if customer.credit_limit is None else str(customer.credit_limit)
    return initial


@login_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    customers = search_customers(query, limit=500) if query else list_customers()
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "query": query}
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results":
        return render(request, "web/customers/_results.html", context)
    return render(request, "web/customers/list.html", context)


@login_required
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from levier.web.views.collections_sections import customer_collections

    customer = get_object_or_404(Customer, pk=pk)
    context = {
        "c360": customer_360(customer),
        "collections": customer_collections(request, customer),
    }
    return render(request, "web/customers/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest) -> HttpResponse:
    candidates: list[Any] = []
    actor = request_actor(request)
    may_set_terms = can(actor, Action.EDIT_CREDIT_TERMS)
    if request.method == "POST":
        form = CustomerForm(request.POST, can_edit_terms=may_set_terms)
        if form.is_valid():
            allow = request.POST.get("allow_duplicate") == "1"
            try:
                customer = create_customer(
                    actor=actor, data=form.service_data(), allow_duplicate=allow
                )
            except DuplicatesFound as exc:
                candidates = exc.candidates
            except ValidationFailed as exc:
                put_errors(form, exc)
            else:
                messages.success(request, _("Customer %(name)s created.") % {"name": customer.name})
                return redirect("web:customer_detail", pk=customer.pk)
        status = 200 if candidates else 400
    else:
        require(actor, Action.MANAGE_CUSTOMER)
        form, status = CustomerForm(can_edit_terms=may_set_terms), 200
    context = {"form": form, "candidates": candidates, "creating": True}
    return render(request, "web/customers/form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    actor = request_actor(request)
    may_set_terms = can(actor, Action.EDIT_CREDIT_TERMS)
    status = 200
    stale = False
    version = customer.version
    if request.method == "POST":
        # The disabled terms fields show the stored values, not the defaults.
        form = CustomerForm(
            request.POST, initial=_customer_initial(customer), can_edit_terms=may_set_terms
        )
        raw_version = request.POST.get("version", "").strip()
        posted_version = int(raw_version) if raw_version.isdecimal() else None
        if posted_version is not None:
            version = posted_version  # kept when the form comes back with errors
        if posted_version is None:
            # Without the version the edit cannot be checked against concurrent saves.
            form.is_valid()
            form.add_error(
                None,
                _("version: missing from the form; reload the customer and apply your change"),
            )
            status = 400
        elif form.is_valid():
            try:
                update_customer(
                    actor=actor,
                    customer=customer,
                    data=form.service_data(),
                    expected_version=version,
                )
            except StaleVersion as exc:
                stale, status = True, 409
                form.add_error(None, exc.message)
            except ValidationFailed as exc:
                put_errors(form, exc)
                status = 400
            else:
                messages.success(request, _("Customer %(name)s saved.") % {"name": customer.name})
                return redirect("web:customer_detail", pk=customer.pk)
        else:
            status = 400
    else:
        require(actor, Action.MANAGE_CUSTOMER)
        form = CustomerForm(initial=_customer_initial(customer), can_edit_terms=may_set_terms)
    context = {"form": form, "customer": customer, "version": version, "stale": stale}
    return render(request, "web/customers/form.html", context, status=status)


@login_required
@require_GET
def customer_validate_field(request: HttpRequest) -> HttpResponse:
    """HTMX: one identifier checked as it is typed; an error naming the check, or an OK mark."""
    field = request.GET.get("field", "")
    if field not in LIVE_FIELDS:
        return HttpResponse(status=400)
    value = request.GET.get(field, "")[:50]
    error = check_field(field, value, {"siren": request.GET.get("siren", "")[:20]})
    return render(
        request,
        "web/customers/_field_check.html",
        {"error": error, "empty": not value.strip()},
    )


@login_required
@require_GET
def customer_duplicates(request: HttpRequest) -> HttpResponse:
    """HTMX: existing customers resembling what is being typed in the creation form."""
    data = {key: request.GET.get(key, "")[:200] for key in ("name", "siren", "postcode")}
    candidates = find_duplicates(data) if any(data.values()) else []
    return render(request, "web/customers/_duplicates.html", {"candidates": candidates})


@login_required
@require_http_methods(["GET", "POST"])
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    keep = get_object_or_404(Customer, pk=pk)
    actor = request_actor(request)
    require(actor, Action.MERGE_CUSTOMERS)
    status = 200
    if request.method == "POST":
        form = MergeForm(request.POST)
        if form.is_valid():
            remove = Customer.objects.filter(pk=form.cleaned_data["remove"]).first()
            if remove is None:
                form.add_error("remove", _("No customer with this number."))
            else:
                try:
                    merge_customers(
                        actor=actor, keep=keep, remove=remove, reason=form.cleaned_data["reason"]
                    )
                except ValidationFailed as exc:
                    put_errors(form, exc)
                else:
                    messages.success(
                        request,
                        _("%(removed)s merged into %(kept)s.")
                        % {"removed": remove.name, "kept": keep.name},
                    )
                    return redirect("web:customer_detail", pk=keep.pk)
        status = 400
    else:
        form = MergeForm(initial={"remove": request.GET.get("remove", "")})
    data = {"name": keep.name, "siren": keep.siren, "postcode": keep.postcode}
    candidates = find_duplicates(data, exclude_pk=keep.pk)
    context = {"form": form, "customer": keep, "candidates": candidates}
    return render(request, "web/customers/merge.html", context, status=status)


def _import_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@login_required
@require_http_methods(["GET", "POST"])
def customer_import(request: HttpRequest) -> HttpResponse:
    """Upload → preview (dry run, per-row report) → confirm. The file waits under a random name."""
    actor = request_actor(request)
    require(actor, Action.IMPORT_CUSTOMERS)
    context: dict[str, Any] = {"form": ImportForm()}
    status = 200
    if request.method == "POST" and request.POST.get("token"):
        token = request.POST["token"]
        if not re.fullmatch(r"[0-9a-f]{32}", token):
            raise Http404("unknown import")
        path = _import_dir() / f"{token}.csv"
        # Claim the file atomically: of two confirmations of the same preview (double click,
        # two tabs), only the one whose rename succeeds imports; the other is told so.
        claimed = path.with_name(f"{token}.claimed-{uuid.uuid4().hex}")
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            context["claim_error"] = _(
                "This file was already imported or has expired: check the customer list, "
                "or upload it again."
            )
            return render(request, "web/customers/import.html", context, status=409)
        skip = request.POST.get("skip_invalid") == "1"
        try:
            report = import_customers(actor=actor, file=claimed.read_bytes(), skip_invalid=skip)
        except BaseException:
            os.rename(claimed, path)  # nothing was imported: the preview may be confirmed again
            raise
        if report.imported or report.ok:
            claimed.unlink(missing_ok=True)
        else:
            os.rename(claimed, path)  # refused (all or nothing): may be confirmed with skip
        context.update(report=report, done=True)
    elif request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        context["form"] = form
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > IMPORT_MAX_BYTES:
                form.add_error("file", _("The file is larger than 10 MB."))
                status = 400
            else:
                raw = upload.read()
                report = import_customers(actor=actor, file=raw, dry_run=True)
                token = uuid.uuid4().hex
                if not report.file_errors:
                    (_import_dir() / f"{token}.csv").write_bytes(raw)
                context.update(report=report, token=token)
        else:
            status = 400
    return render(request, "web/customers/import.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    status = 200
    if request.method == "POST":
        form = ContactForm(request.POST)
        if form.is_valid():
            try:
                add_contact(actor=request_actor(request), customer=customer, data=form.cleaned_data)
            except ValidationFailed as exc:
                put_errors(form, exc)
            else:
                messages.success(request, _("Contact added."))
                return redirect("web:customer_detail", pk=customer.pk)
        status = 400
    else:
        require(request_actor(request), Action.MANAGE_CUSTOMER)
        form = ContactForm()
    context = {"form": form, "customer": customer, "title": _("New contact")}
    return render(request, "web/customers/child_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def delivery_address_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    status = 200
    if request.method == "POST":
        form = DeliveryAddressForm(request.POST)
        if form.is_valid():
            try:
                add_delivery_address(
                    actor=request_actor(request), customer=customer, data=form.cleaned_data
                )
            except ValidationFailed as exc:
                put_errors(form, exc)
            else:
                messages.success(request, _("Delivery address added."))
                return redirect("web:customer_detail", pk=customer.pk)
        status = 400
    else:
        require(request_actor(request), Action.MANAGE_CUSTOMER)
        form = DeliveryAddressForm()
    context = {"form": form, "customer": customer, "title": _("New delivery address")}
    return render(request, "web/customers/child_form.html", context, status=status)
