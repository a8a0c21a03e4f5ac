"""Catalog screens: list/search, create, edit. The services check the rules and the role."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from levier.accounts.permissions import Action, require
from levier.audit.selectors import events_for
from levier.catalog.choices import InvoicingMode, Unit, VatRate
from levier.catalog.models import Product
from levier.catalog.selectors import search_products
from levier.catalog.services import create_product, update_product
from levier.lib.errors import StaleVersion, ValidationFailed
from levier.web.views.customers import put_errors, request_actor


class ProductForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=30, required=False)
    label = forms.CharField(label=gettext_lazy("Label"), max_length=200, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    unit = forms.ChoiceField(label=gettext_lazy("Unit"), choices=Unit.choices, initial=Unit.DAY)
    unit_price = forms.CharField(
        label=gettext_lazy("Unit price excl. VAT"), max_length=20, required=False
    )
    vat_rate = forms.ChoiceField(
        label=gettext_lazy("VAT rate"), choices=VatRate.choices, initial=VatRate.STANDARD
    )
    vat_exemption_mention = forms.CharField(
        label=gettext_lazy("VAT exemption mention (for a zero VAT rate)"),
        max_length=200,
        required=False,
    )
    revenue_account = forms.CharField(
        label=gettext_lazy("Revenue account"), max_length=12, initial="706000", required=False
    )
    default_invoicing_mode = forms.ChoiceField(
        label=gettext_lazy("Default invoicing mode"),
        choices=InvoicingMode.choices,
        initial=InvoicingMode.ON_ORDER,
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)


def _initial(product: Product) -> dict[str, Any]:
    initial = {name: getattr(product, name) for name in ProductForm.base_fields}
    initial["vat_rate"] = f"{product.vat_rate:.2f}"
    initial["unit_price"] = str(product.unit_price.normalize())
    return initial


@login_required
@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    show_inactive = request.GET.get("inactive") == "1"
    products = search_products(query, active_only=not show_inactive, limit=5000)
    page = Paginator(products, 50).get_page(request.GET.get("page"))
    context = {"page": page, "query": query, "show_inactive": show_inactive}
    return render(request, "web/catalog/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    status = 200
    if request.method == "POST":
        form = ProductForm(request.POST)
        if form.is_valid():
            try:
                product = create_product(actor=actor, data=form.cleaned_data)
            except ValidationFailed as exc:
                put_errors(form, exc)
            else:
                messages.success(request, _("Product %(code)s created.") % {"code": product.code})
                return redirect("web:product_list")
        status = 400
    else:
        require(actor, Action.MANAGE_CATALOG)
        form = ProductForm()
    return render(request, "web/catalog/form.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    actor = request_actor(request)
    status, version = 200, product.version
    if request.method == "POST":
        form = ProductForm(request.POST)
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            raise Http404("version missing") from None
        if form.is_valid():
            try:
                update_product(
                    actor=actor, product=product, data=form.cleaned_data, expected_version=version
                )
            except StaleVersion as exc:
                form.add_error(None, exc.message)
                status = 409
            except ValidationFailed as exc:
                put_errors(form, exc)
                status = 400
            else:
                messages.success(request, _("Product %(code)s saved.") % {"code": product.code})
                return redirect("web:product_list")
        else:
            status = 400
    else:
        require(actor, Action.MANAGE_CATALOG)
        form = ProductForm(initial=_initial(product))
    context = {
        "form": form,
        "product": product,
        "version": version,
        "events": events_for(product)[:50],
    }
    return render(request, "web/catalog/form.html", context, status=status)
