"""Checking customer, contact and delivery-address input before the services write it.

Input comes from forms, the CSV import and tests, so every value may be a string: each
`clean_*` function parses it, collects one message per field naming the field and the check
that failed, and raises a single `ValidationFailed` with all of them, so the user fixes
everything in one round instead of one error at a time. Messages are built in the active
language (the request's); the `errors` keys stay the model field names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from babel import Locale
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from stdnum.eu.vat import MEMBER_STATES

from levier.customers.choices import InvoiceChannel, TermsBasis
from levier.customers.matching import normalize_name
from levier.customers.models import Contact, Customer, DeliveryAddress
from levier.lib import identifiers
from levier.lib.errors import ValidationFailed
from levier.lib.money import MoneyError, to_decimal
from levier.lib.payment_terms import DEFAULT_DAYS, PaymentTerms, PaymentTermsError
from levier.lib.payment_terms import TermsBasis as LibTermsBasis

Errors = dict[str, list[str]]

# ISO 3166 alpha-2 codes known to CLDR (Babel ships them; no extra dependency).
COUNTRIES = frozenset(
    code for code in map(str, Locale("en").territories) if len(code) == 2 and code.isalpha()
)
# stdnum uses "gr" for Greece's country but VAT numbers start with "EL"; "xi" is Northern Ireland.
EU_COUNTRIES = frozenset(code.upper() for code in MEMBER_STATES if code != "xi")
_VAT_PREFIX = {"GR": "EL"}

_TRUE = {"1", "true", "yes", "y", "oui", "o", "x", "on", "vrai"}
_FALSE = {"0", "false", "no", "n", "non", "off", "faux", ""}

TEXT_LIMITS = {
    "name": 200,
    "trade_name": 200,
    "address_line1": 200,
    "address_line2": 200,
    "postcode": 10,
    "city": 100,
    "segment": 50,
}


# Between the messages of a one-line summary: "; " in English, " ; " in French.
LIST_SEPARATOR = pgettext_lazy("list separator", "; ")


def label_of(model: type[models.Model], field: str) -> str:
    """The field's verbose name in the active language (the raw name if it is no field)."""
    try:
        found = model._meta.get_field(field)
    except FieldDoesNotExist:
        return field
    return str(getattr(found, "verbose_name", field))


def parse_bool(value: Any, field: str, errors: Errors, label: str | Promise | None = None) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        errors.setdefault(field, []).append(
            gettext("%(field)s: “%(value)s” is not yes/no (use 1/0, yes/no, oui/non)")
            % {"field": label or field, "value": value}
        )
    return False


def _text(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    return "" if value is None else str(value).strip()


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _required(errors: Errors, field: str, label: str | Promise) -> None:
    _add(errors, field, gettext("%(field)s: required") % {"field": label})


def _too_long(errors: Errors, field: str, label: str | Promise, limit: int) -> None:
    _add(
        errors,
        field,
        gettext("%(field)s: longer than %(limit)s characters") % {"field": label, "limit": limit},
    )


def _not_a_country(errors: Errors, country: str) -> None:
    _add(
        errors,
        "country",
        gettext("%(field)s: “%(value)s” is not an ISO 3166 two-letter code")
        % {"field": gettext("country"), "value": country},
    )


def _not_one_of(errors: Errors, field: str, label: str | Promise, value: str, allowed: Any) -> None:
    _add(
        errors,
        field,
        gettext("%(field)s: “%(value)s” is not one of %(allowed)s")
        % {"field": label, "value": value, "allowed": ", ".join(allowed)},
    )


def summary(errors: Errors) -> str:
    """All the messages on one line, for the exception's own message."""
    return str(LIST_SEPARATOR).join(m for msgs in errors.values() for m in msgs)


def _raise_if(errors: Errors, what: Promise) -> None:
    """`what` is a lazy message with a %(summary)s placeholder, e.g. "Customer is invalid: …"."""
    if errors:
        raise ValidationFailed(str(what) % {"summary": summary(errors)}, errors=errors)


def clean_customer(data: Mapping[str, Any]) -> dict[str, Any]:
    """The model field values for a customer described by `data`, or ValidationFailed.

    French customers are identified by their SIREN (the VAT number is derived from it);
    other EU customers by their intra-EU VAT number, which reverse-charge invoices must carry.
    """
    errors: Errors = {}
    out: dict[str, Any] = {}

    for field, limit in TEXT_LIMITS.items():
        value = _text(data, field)
        if len(value) > limit:
            _too_long(errors, field, label_of(Customer, field), limit)
        out[field] = value
    if not out["name"]:
        _required(errors, "name", label_of(Customer, "name"))
    out["search_name"] = normalize_name(out["name"])
    out["notes"] = _text(data, "notes")

    country = (_text(data, "country") or "FR").upper()
    if country not in COUNTRIES:
        _not_a_country(errors, country)
    out["country"] = country

    _clean_identity(data, out, errors)
    _clean_terms(data, out, errors)

    channel = _text(data, "invoice_channel") or InvoiceChannel.EMAIL.value
    if channel not in InvoiceChannel.values:
        _not_one_of(
            errors,
            "invoice_channel",
            label_of(Customer, "invoice_channel"),
            channel,
            InvoiceChannel.values,
        )
    out["invoice_channel"] = channel
    out["invoice_email"] = _clean_invoice_email(data, errors)
    for flag in ("po_number_required", "is_strategic"):
        out[flag] = parse_bool(data.get(flag), flag, errors, label_of(Customer, flag))
    out["credit_limit"] = _clean_credit_limit(data.get("credit_limit"), errors)

    iban = _text(data, "iban")
    bic = _text(data, "bic")
    out["iban"] = out["bic"] = ""
    if iban:
        try:
            out["iban"] = identifiers.clean_iban(iban)
        except identifiers.IdentifierError as exc:
            _add(errors, "iban", str(exc))
    if bic:
        try:
            out["bic"] = identifiers.clean_bic(bic)
        except identifiers.IdentifierError as exc:
            _add(errors, "bic", str(exc))

    if "account_manager" in data:
        out["account_manager"] = data["account_manager"] or None
    _raise_if(errors, _("Customer is invalid: %(summary)s"))
    return out


def _clean_invoice_email(data: Mapping[str, Any], errors: Errors) -> str:
    """One address, or blank for the accounts-payable contacts: invoices are emailed to it."""
    email = _text(data, "invoice_email").lower()
    label = label_of(Customer, "invoice_email")
    if len(email) > 254:
        _too_long(errors, "invoice_email", label, 254)
    elif email:
        try:
            validate_email(email)
        except ValidationError:
            _add(
                errors,
                "invoice_email",
                gettext("%(field)s: “%(value)s” is not a valid address")
                % {"field": label, "value": email},
            )
    return email


def _clean_identity(data: Mapping[str, Any], out: dict[str, Any], errors: Errors) -> None:
    country = out["country"]
    siren, siret, vat = _text(data, "siren"), _text(data, "siret"), _text(data, "vat_number")
    out["siren"] = out["siret"] = out["vat_number"] = ""
    if country == "FR":
        if not siren:
            _add(errors, "siren", gettext("SIREN: required for a French customer"))
        else:
            try:
                out["siren"] = identifiers.clean_siren(siren)
            except identifiers.IdentifierError as exc:
                _add(errors, "siren", str(exc))
        if siret:
            try:
                out["siret"] = identifiers.clean_siret(siret, out["siren"])
            except identifiers.IdentifierError as exc:
                _add(errors, "siret", str(exc))
        if vat:
            try:
                out["vat_number"] = identifiers.clean_vat(vat)
                if not out["vat_number"].startswith("FR"):
                    _add(
                        errors,
                        "vat_number",
                        gettext("VAT number: a French customer's number starts with FR"),
                    )
                elif out["siren"]:
                    identifiers.check_vat_matches_siren(out["vat_number"], out["siren"])
            except identifiers.IdentifierError as exc:
                _add(errors, "vat_number", str(exc))
        elif out["siren"]:
            out["vat_number"] = identifiers.vat_from_siren(out["siren"])
        return
    # Outside France SIREN/SIRET do not exist; refuse them rather than store nonsense.
    for field, value in (("siren", siren), ("siret", siret)):
        if value:
            _add(
                errors,
                field,
                gettext("%(field)s: only French customers have one")
                % {"field": label_of(Customer, field)},
            )
    if country in EU_COUNTRIES:
        if not vat:
            _add(
                errors,
                "vat_number",
                gettext("VAT number: required for a customer in another EU country"),
            )
            return
        try:
            out["vat_number"] = identifiers.clean_vat(vat)
        except identifiers.IdentifierError as exc:
            _add(errors, "vat_number", str(exc))
            return
        prefix = _VAT_PREFIX.get(country, country)
        if not out["vat_number"].startswith(prefix):
            _add(
                errors,
                "vat_number",
                gettext("VAT number: country prefix is not %(prefix)s (country %(country)s)")
                % {"prefix": prefix, "country": country},
            )
    else:
        out["vat_number"] = re.sub(r"\s", "", vat).upper()[:20]


def _clean_terms(data: Mapping[str, Any], out: dict[str, Any], errors: Errors) -> None:
    raw_days = data.get("payment_terms_days")
    days = DEFAULT_DAYS
    if raw_days is not None and str(raw_days).strip() != "":
        try:
            days = int(str(raw_days).strip())
        except ValueError:
            _add(
                errors,
                "payment_terms_days",
                gettext("payment terms: “%(value)s” is not a whole number of days")
                % {"value": raw_days},
            )
    basis = _text(data, "payment_terms_basis") or TermsBasis.NET.value
    if basis not in TermsBasis.values:
        _not_one_of(
            errors,
            "payment_terms_basis",
            label_of(Customer, "payment_terms_basis"),
            basis,
            TermsBasis.values,
        )
        basis = TermsBasis.NET.value
    try:
        PaymentTerms(days, LibTermsBasis(basis)).check_legal()
    except PaymentTermsError as exc:
        _add(errors, "payment_terms_days", gettext("payment terms: %(problem)s") % {"problem": exc})
    out["payment_terms_days"], out["payment_terms_basis"] = days, basis


def _clean_credit_limit(value: Any, errors: Errors) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    label = label_of(Customer, "credit_limit")
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        _add(
            errors,
            "credit_limit",
            gettext("%(field)s: %(problem)s") % {"field": label, "problem": exc},
        )
        return None
    if amount < 0:
        _add(errors, "credit_limit", gettext("%(field)s: cannot be negative") % {"field": label})
    elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
        _add(
            errors,
            "credit_limit",
            gettext("%(field)s: more than %(places)s decimals") % {"field": label, "places": 2},
        )
    elif amount >= Decimal("1e12"):
        _add(errors, "credit_limit", gettext("%(field)s: too large") % {"field": label})
    return amount.quantize(Decimal("0.01")) if not errors.get("credit_limit") else amount


def clean_contact(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: Errors = {}
    out: dict[str, Any] = {
        "first_name": _text(data, "first_name"),
        "last_name": _text(data, "last_name"),
        "email": _text(data, "email").lower(),
        "phone": _text(data, "phone"),
    }
    if not out["last_name"]:
        _required(errors, "last_name", label_of(Contact, "last_name"))
    for field, limit in (("first_name", 100), ("last_name", 100), ("phone", 30), ("email", 254)):
        if len(out[field]) > limit:
            _too_long(errors, field, label_of(Contact, field), limit)
    if out["email"]:
        try:
            validate_email(out["email"])
        except ValidationError:
            _add(
                errors,
                "email",
                gettext("%(field)s: “%(value)s” is not a valid address")
                % {"field": label_of(Contact, "email"), "value": out["email"]},
            )
    if out["phone"] and not re.fullmatch(r"\+?[0-9 .()-]{6,30}", out["phone"]):
        _add(
            errors,
            "phone",
            gettext("%(field)s: digits, spaces, dots, dashes and a leading + only")
            % {"field": label_of(Contact, "phone")},
        )
    for flag in ("is_purchasing", "is_accounts_payable", "is_dunning"):
        out[flag] = parse_bool(data.get(flag), flag, errors, label_of(Contact, flag))
    _raise_if(errors, _("Contact is invalid: %(summary)s"))
    return out


def clean_delivery_address(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: Errors = {}
    out: dict[str, Any] = {
        field: _text(data, field) for field in ("label", "line1", "line2", "postcode", "city")
    }
    for field in ("label", "line1", "postcode", "city"):
        if not out[field]:
            _required(errors, field, label_of(DeliveryAddress, field))
    for field, limit in (
        ("label", 100),
        ("line1", 200),
        ("line2", 200),
        ("postcode", 10),
        ("city", 100),
    ):
        if len(out[field]) > limit:
            _too_long(errors, field, label_of(DeliveryAddress, field), limit)
    country = (_text(data, "country") or "FR").upper()
    if country not in COUNTRIES:
        _not_a_country(errors, country)
    if country == "FR" and out["postcode"] and not re.fullmatch(r"\d{5}", out["postcode"]):
        _add(
            errors,
            "postcode",
            gettext("%(field)s: a French postcode has 5 digits")
            % {"field": label_of(DeliveryAddress, "postcode")},
        )
    out["country"] = country
    out["is_default"] = parse_bool(
        data.get("is_default"), "is_default", errors, label_of(DeliveryAddress, "is_default")
    )
    _raise_if(errors, _("Delivery address is invalid: %(summary)s"))
    return out


def check_field(field: str, value: str, context: Mapping[str, Any]) -> str:
    """One identifier checked on its own for live form validation; '' when it is valid.

    `context` carries the other identifiers already typed (a SIRET must start with the
    SIREN, a French VAT number must contain it).
    """
    value = value.strip()
    if not value:
        return ""
    try:
        if field == "siren":
            identifiers.clean_siren(value)
        elif field == "siret":
            siren = str(context.get("siren") or "").replace(" ", "")
            identifiers.clean_siret(value, siren if identifiers_ok(siren) else "")
        elif field == "vat_number":
            vat = identifiers.clean_vat(value)
            siren = str(context.get("siren") or "").replace(" ", "")
            if identifiers_ok(siren):
                identifiers.check_vat_matches_siren(vat, siren)
        elif field == "iban":
            identifiers.clean_iban(value)
        elif field == "bic":
            identifiers.clean_bic(value)
        else:
            return gettext("%(field)s: no live check for this field") % {"field": field}
    except identifiers.IdentifierError as exc:
        return str(exc)
    return ""


def identifiers_ok(siren: str) -> bool:
    try:
        identifiers.clean_siren(siren)
    except identifiers.IdentifierError:
        return False
    return True
