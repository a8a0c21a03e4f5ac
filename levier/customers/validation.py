"""Checking customer, contact and delivery-address input before the services write it.

Input comes from forms, the CSV import and tests, so every value may be a string: each
`clean_*` function parses it, collects one message per field naming the field and the check
that failed, and raises a single `ValidationFailed` with all of them, so the user fixes
everything in one round instead of one error at a time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from babel import Locale
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from stdnum.eu.vat import MEMBER_STATES

from levier.customers.choices import InvoiceChannel, TermsBasis
from levier.customers.matching import normalize_name
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


def parse_bool(value: Any, field: str, errors: Errors) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        errors.setdefault(field, []).append(
            f"{field}: {value!r} is not yes/no (use 1/0, yes/no, oui/non)"
        )
    return False


def _text(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    return "" if value is None else str(value).strip()


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _raise_if(errors: Errors, what: str) -> None:
    if errors:
        summary = "; ".join(m for msgs in errors.values() for m in msgs)
        raise ValidationFailed(f"{what} is invalid: {summary}", errors=errors)


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
            _add(errors, field, f"{field}: longer than {limit} characters")
        out[field] = value
    if not out["name"]:
        _add(errors, "name", "legal name: required")
    out["search_name"] = normalize_name(out["name"])
    out["notes"] = _text(data, "notes")

    country = (_text(data, "country") or "FR").upper()
    if country not in COUNTRIES:
        _add(errors, "country", f"country: {country!r} is not an ISO 3166 two-letter code")
    out["country"] = country

    _clean_identity(data, out, errors)
    _clean_terms(data, out, errors)

    channel = _text(data, "invoice_channel") or InvoiceChannel.EMAIL.value
    if channel not in InvoiceChannel.values:
        _add(
            errors,
            "invoice_channel",
            f"invoice channel: {channel!r} is not one of {', '.join(InvoiceChannel.values)}",
        )
    out["invoice_channel"] = channel
    out["po_number_required"] = parse_bool(
        data.get("po_number_required"), "po_number_required", errors
    )
    out["is_strategic"] = parse_bool(data.get("is_strategic"), "is_strategic", errors)
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
    _raise_if(errors, "Customer")
    return out


def _clean_identity(data: Mapping[str, Any], out: dict[str, Any], errors: Errors) -> None:
    country = out["country"]
    siren, siret, vat = _text(data, "siren"), _text(data, "siret"), _text(data, "vat_number")
    out["siren"] = out["siret"] = out["vat_number"] = ""
    if country == "FR":
        if not siren:
            _add(errors, "siren", "SIREN: required for a French customer")
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
                        "VAT number: a French customer's number starts with FR",
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
            _add(errors, field, f"{field.upper()}: only French customers have one")
    if country in EU_COUNTRIES:
        if not vat:
            _add(errors, "vat_number", "VAT number: required for a customer in another EU country")
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
                f"VAT number: country prefix is not {prefix} (country {country})",
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
                f"payment terms: {raw_days!r} is not a whole number of days",
            )
    basis = _text(data, "payment_terms_basis") or TermsBasis.NET.value
    if basis not in TermsBasis.values:
        _add(
            errors,
            "payment_terms_basis",
            f"payment terms basis: {basis!r} is not one of {', '.join(TermsBasis.values)}",
        )
        basis = TermsBasis.NET.value
    try:
        PaymentTerms(days, LibTermsBasis(basis)).check_legal()
    except PaymentTermsError as exc:
        _add(errors, "payment_terms_days", f"payment terms: {exc}")
    out["payment_terms_days"], out["payment_terms_basis"] = days, basis


def _clean_credit_limit(value: Any, errors: Errors) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        _add(errors, "credit_limit", f"credit limit: {exc}")
        return None
    if amount < 0:
        _add(errors, "credit_limit", "credit limit: cannot be negative")
    elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
        _add(errors, "credit_limit", "credit limit: more than 2 decimals")
    elif amount >= Decimal("1e12"):
        _add(errors, "credit_limit", "credit limit: too large")
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
        _add(errors, "last_name", "last name: required")
    for field, limit in (("first_name", 100), ("last_name", 100), ("phone", 30), ("email", 254)):
        if len(out[field]) > limit:
            _add(errors, field, f"{field}: longer than {limit} characters")
    if out["email"]:
        try:
            validate_email(out["email"])
        except ValidationError:
            _add(errors, "email", f"email: {out['email']!r} is not a valid address")
    if out["phone"] and not re.fullmatch(r"\+?[0-9 .()-]{6,30}", out["phone"]):
        _add(errors, "phone", "phone: digits, spaces, dots, dashes and a leading + only")
    for flag in ("is_purchasing", "is_accounts_payable", "is_dunning"):
        out[flag] = parse_bool(data.get(flag), flag, errors)
    _raise_if(errors, "Contact")
    return out


def clean_delivery_address(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: Errors = {}
    out: dict[str, Any] = {
        field: _text(data, field) for field in ("label", "line1", "line2", "postcode", "city")
    }
    for field, label in (
        ("label", "label"),
        ("line1", "address"),
        ("postcode", "postcode"),
        ("city", "city"),
    ):
        if not out[field]:
            _add(errors, field, f"{label}: required")
    for field, limit in (
        ("label", 100),
        ("line1", 200),
        ("line2", 200),
        ("postcode", 10),
        ("city", 100),
    ):
        if len(out[field]) > limit:
            _add(errors, field, f"{field}: longer than {limit} characters")
    country = (_text(data, "country") or "FR").upper()
    if country not in COUNTRIES:
        _add(errors, "country", f"country: {country!r} is not an ISO 3166 two-letter code")
    if country == "FR" and out["postcode"] and not re.fullmatch(r"\d{5}", out["postcode"]):
        _add(errors, "postcode", "postcode: a French postcode has 5 digits")
    out["country"] = country
    out["is_default"] = parse_bool(data.get("is_default"), "is_default", errors)
    _raise_if(errors, "Delivery address")
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
            return f"{field}: no live check for this field"
    except identifiers.IdentifierError as exc:
        return str(exc)
    return ""


def identifiers_ok(siren: str) -> bool:
    try:
        identifiers.clean_siren(siren)
    except identifiers.IdentifierError:
        return False
    return True
