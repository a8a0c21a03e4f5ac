"""French and EU business identifiers, validated by python-stdnum and schwifty.

Uniform small API in the python-stdnum style: `clean_*` returns the compact, validated form
or raises `IdentifierError` whose message names the check that failed (length, format,
checksum, country), so a form can show the user exactly what is wrong. Messages are
translated when raised, i.e. in the language of the current request.
"""

from __future__ import annotations

import random

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import iso11649, luhn
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)
from stdnum.fr import siren as fr_siren
from stdnum.fr import siret as fr_siret
from stdnum.iso7064 import mod_97_10

# Display names of the identifier kinds; `IdentifierError.kind` keeps the English key.
_KIND_LABELS: dict[str, Promise] = {
    "SIREN": _("SIREN"),
    "SIRET": _("SIRET"),
    "VAT number": _("VAT number"),
    "IBAN": _("IBAN"),
    "BIC": _("BIC"),
}


class IdentifierError(ValueError):
    """`kind` and `check` are stable English keys; the message is in the active language."""

    def __init__(self, kind: str, check: str, detail: str) -> None:
        self.kind, self.check = kind, check
        super().__init__(
            gettext("%(kind)s: %(detail)s")
            % {"kind": _KIND_LABELS.get(kind, kind), "detail": detail}
        )


_CHECK_NAMES: list[tuple[type[ValidationError], str, Promise]] = [
    (InvalidLength, "length", _("wrong length")),
    (InvalidFormat, "format", _("wrong format (digits expected)")),
    (InvalidChecksum, "checksum", _("checksum (Luhn / control key) does not match")),
    (InvalidComponent, "component", _("a component is invalid (country or prefix)")),
]

# schwifty's exceptions carry English text; its class name is the check, this the message.
_SCHWIFTY_TEXTS: dict[str, Promise] = {
    "InvalidLength": _("wrong length"),
    "InvalidStructure": _("wrong structure or characters"),
    "InvalidChecksumDigits": _("check digits do not match"),
    "InvalidBBANChecksum": _("the national account key does not match"),
    "InvalidCountryCode": _("unknown country code"),
    "InvalidBankCode": _("unknown bank code"),
    "InvalidBranchCode": _("unknown branch code"),
    "InvalidAccountCode": _("invalid account number"),
}


def _explain(kind: str, exc: ValidationError, expected: Promise) -> IdentifierError:
    for cls, check, text in _CHECK_NAMES:
        if isinstance(exc, cls):
            return IdentifierError(
                kind,
                check,
                gettext("%(problem)s; %(expected)s") % {"problem": text, "expected": expected},
            )
    return IdentifierError(
        kind, "invalid", gettext("invalid; %(expected)s") % {"expected": expected}
    )


def _schwifty(kind: str, exc: SchwiftyException) -> IdentifierError:
    name = type(exc).__name__
    text = _SCHWIFTY_TEXTS.get(name)
    return IdentifierError(kind, name, str(text) if text is not None else str(exc))


def clean_siren(value: str) -> str:
    try:
        return str(fr_siren.validate(value))
    except ValidationError as exc:
        raise _explain("SIREN", exc, _("9 digits with a Luhn check digit")) from None


def clean_siret(value: str, siren: str = "") -> str:
    try:
        number = str(fr_siret.validate(value))
    except ValidationError as exc:
        raise _explain("SIRET", exc, _("14 digits: the SIREN then the 5-digit NIC")) from None
    if siren and not number.startswith(siren):
        raise IdentifierError(
            "SIRET", "siren", gettext("does not start with the SIREN %(siren)s") % {"siren": siren}
        )
    return number


def clean_vat(value: str) -> str:
    try:
        return str(eu_vat.validate(value))
    except ValidationError as exc:
        raise _explain(
            "VAT number", exc, _("a 2-letter EU country code then the national number")
        ) from None


def vat_from_siren(siren: str) -> str:
    """The French intra-EU VAT number derived from a SIREN (key = (12 + 3 × (SIREN mod 97)) mod 97)."""
    return "FR" + str(fr_siren.to_tva(clean_siren(siren)))


def check_vat_matches_siren(vat: str, siren: str) -> None:
    if vat.startswith("FR") and siren and vat[4:] != siren:
        raise IdentifierError(
            "VAT number",
            "siren",
            gettext("does not contain the SIREN %(siren)s") % {"siren": siren},
        )
    if vat.startswith("FR") and siren and vat != vat_from_siren(siren):
        raise IdentifierError(
            "VAT number",
            "checksum",
            gettext("key does not match; expected %(vat)s") % {"vat": vat_from_siren(siren)},
        )


def clean_iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise _schwifty("IBAN", exc) from None


def clean_bic(value: str) -> str:
    try:
        return str(BIC(value).compact)
    except SchwiftyException as exc:
        raise _schwifty("BIC", exc) from None


def fake_siren(rng: random.Random) -> str:
    """A valid (Luhn) SIREN for demo data and tests; not a real company."""
    body = str(rng.randint(10_000_000, 99_999_999))
    return body + luhn.calc_check_digit(body)


def fake_siret(rng: random.Random, siren: str) -> str:
    for _attempt in range(100):
        body = siren + f"{rng.randint(1, 9999):04d}"
        digit = luhn.calc_check_digit(body)
        candidate = body + digit
        if fr_siret.is_valid(candidate):
            return candidate
    raise RuntimeError("could not build a SIRET")  # pragma: no cover - Luhn always has a digit


def creditor_reference(text: str) -> str:
    """The ISO 11649 structured creditor reference (RF…) for a document number.

    "F2026-000123" → "RF86F2026000123": letters and digits of the number, after "RF" and two
    check digits (ISO 7064 mod 97-10, as python-stdnum checks them). Payers who quote it
    let the bank matching find the invoice even when they mistype the rest.
    """
    body = "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())[:21]
    if not body:
        raise IdentifierError("RF", "format", gettext("letters or digits expected"))
    reference = f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"
    return str(iso11649.validate(reference))
