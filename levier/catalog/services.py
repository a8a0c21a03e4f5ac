"""The only code that writes the catalog: typed, permission-checked, audited services."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext

from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import diff, record_event, snapshot
from levier.catalog.choices import VAT_RATES, InvoicingMode, Unit, VatRate
from levier.catalog.models import Product
from levier.customers.validation import label_of, parse_bool, summary
from levier.lib.errors import StaleVersion, ValidationFailed
from levier.lib.money import MoneyError, to_decimal

if TYPE_CHECKING:
    from levier.accounts.models import User

_CODE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,29}")
FIELDS = (
    "code",
    "label",
    "description",
    "unit",
    "unit_price",
    "vat_rate",
    "vat_exemption_mention",
    "revenue_account",
    "default_invoicing_mode",
    "is_active",
)


def _decimal(
    value: Any, field: str, label: str, places: int, errors: dict[str, list[str]]
) -> Decimal | None:
    if value is None or str(value).strip() == "":
        errors.setdefault(field, []).append(gettext("%(field)s: required") % {"field": label})
        return None
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        errors.setdefault(field, []).append(
            gettext("%(field)s: %(problem)s") % {"field": label, "problem": exc}
        )
        return None
    if amount.as_tuple().exponent < -places:  # type: ignore[operator]
        errors.setdefault(field, []).append(
            gettext("%(field)s: more than %(places)s decimals") % {"field": label, "places": places}
        )
    elif abs(amount) >= Decimal("1e10"):
        errors.setdefault(field, []).append(gettext("%(field)s: too large") % {"field": label})
    else:
        # Same exponent as the column, so the audit trail shows "800.0000" before and after.
        amount = amount.quantize(Decimal(1).scaleb(-places))
    return amount


def clean_product(data: Mapping[str, Any], *, exclude_pk: int | None = None) -> dict[str, Any]:
    """Model values for a product, or ValidationFailed naming each field and failed check.

    A 0 % rate must carry the legal exemption mention printed on invoices (CGI art. 242
    nonies A), and sales go to a class 7 revenue account of the French chart of accounts.
    """
    errors: dict[str, list[str]] = {}
    text = {k: str(data.get(k) or "").strip() for k in FIELDS if k not in {"is_active"}}
    out: dict[str, Any] = {}
    code = text["code"].upper()
    code_label = label_of(Product, "code")
    if not code:
        errors["code"] = [gettext("%(field)s: required") % {"field": code_label}]
    elif not _CODE.fullmatch(code):
        errors["code"] = [
            gettext("%(field)s: letters, digits, '.', '_' or '-' only, at most 30 characters")
            % {"field": code_label}
        ]
    elif Product.objects.filter(code=code).exclude(pk=exclude_pk or 0).exists():
        errors["code"] = [
            gettext("%(field)s: %(code)s is already used by another product")
            % {"field": code_label, "code": code}
        ]
    out["code"] = code
    out["label"] = text["label"]
    label_label = label_of(Product, "label")
    if not out["label"]:
        errors["label"] = [gettext("%(field)s: required") % {"field": label_label}]
    elif len(out["label"]) > 200:
        errors["label"] = [
            gettext("%(field)s: longer than %(limit)s characters")
            % {"field": label_label, "limit": 200}
        ]
    out["description"] = text["description"]
    out["unit"] = text["unit"] or Unit.DAY.value
    if out["unit"] not in Unit.values:
        errors["unit"] = [
            gettext("%(field)s: “%(value)s” is not one of %(allowed)s")
            % {
                "field": label_of(Product, "unit"),
                "value": out["unit"],
                "allowed": ", ".join(Unit.values),
            }
        ]
    price_label = label_of(Product, "unit_price")
    price = _decimal(data.get("unit_price"), "unit_price", price_label, 4, errors)
    if price is not None and price < 0:
        errors.setdefault("unit_price", []).append(
            gettext("%(field)s: cannot be negative") % {"field": price_label}
        )
    out["unit_price"] = price
    rate = _decimal(data.get("vat_rate"), "vat_rate", label_of(Product, "vat_rate"), 2, errors)
    if rate is not None and rate not in VAT_RATES:
        allowed = ", ".join(VatRate.labels)
        errors.setdefault("vat_rate", []).append(
            gettext("VAT rate: %(rate)s %% is not a French rate (%(allowed)s)")
            % {"rate": rate, "allowed": allowed}
        )
    out["vat_rate"] = rate
    out["vat_exemption_mention"] = text["vat_exemption_mention"]
    if rate is not None and rate == 0 and not out["vat_exemption_mention"]:
        errors["vat_exemption_mention"] = [
            gettext(
                "VAT exemption mention: required with a %(rate)s %% rate "
                "(e.g. Autoliquidation, art. 283-2 du CGI)"
            )
            % {"rate": 0}
        ]
    elif rate is not None and rate != 0:
        out["vat_exemption_mention"] = ""  # a mention on a taxed product would print a false claim
    account = text["revenue_account"] or "706000"
    if not re.fullmatch(r"7\d{2,11}", account):
        errors["revenue_account"] = [
            gettext("%(field)s: “%(value)s” is not a class 7 account (digits starting with 7)")
            % {"field": label_of(Product, "revenue_account"), "value": account}
        ]
    out["revenue_account"] = account
    mode = text["default_invoicing_mode"] or InvoicingMode.ON_ORDER.value
    if mode not in InvoicingMode.values:
        errors["default_invoicing_mode"] = [
            gettext("%(field)s: “%(value)s” is not one of %(allowed)s")
            % {
                "field": label_of(Product, "default_invoicing_mode"),
                "value": mode,
                "allowed": ", ".join(InvoicingMode.values),
            }
        ]
    out["default_invoicing_mode"] = mode
    out["is_active"] = parse_bool(
        data.get("is_active", True), "is_active", errors, label_of(Product, "is_active")
    )
    if errors:
        raise ValidationFailed(
            gettext("Product is invalid: %(summary)s") % {"summary": summary(errors)},
            errors=errors,
        )
    return out


def create_product(*, actor: User | None, data: Mapping[str, Any]) -> Product:
    require(actor, Action.MANAGE_CATALOG)
    with transaction.atomic():
        values = clean_product(data)
        product = Product.objects.create(**values)
        record_event(actor=actor, verb=Verb.CREATE, instance=product, changes=snapshot(product))
    return product


def update_product(
    *, actor: User | None, product: Product, data: Mapping[str, Any], expected_version: int
) -> Product:
    """Change a product; quotes and orders keep the price they were written with."""
    require(actor, Action.MANAGE_CATALOG)
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if locked.version != int(expected_version):
            raise StaleVersion(
                gettext(
                    "Product %(code)s was changed by someone else (version %(version)s, "
                    "your form had version %(expected)s): reload it and apply your change again"
                )
                % {"code": locked.code, "version": locked.version, "expected": expected_version},
                errors={
                    "__all__": [gettext("version: the product was changed since you opened it")]
                },
            )
        before = snapshot(locked)
        current = {k: getattr(locked, k) for k in FIELDS}
        values = clean_product({**current, **data}, exclude_pk=locked.pk)
        for key, value in values.items():
            setattr(locked, key, value)
        changes = diff(before, snapshot(locked))
        if changes:
            locked.version += 1
            locked.save()
            record_event(actor=actor, verb=Verb.UPDATE, instance=locked, changes=changes)
    product.refresh_from_db()
    return product
