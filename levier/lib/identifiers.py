"""French and EU business identifiers, validated by python-stdnum and schwifty.

Uniform small API in the python-stdnum style: `clean_*` returns the compact, validated form
or raises `IdentifierError` whose message names the check that failed (length, format,
checksum, country), so a form can show the user exactly what is wrong.
"""

from __future__ import annotations

import random

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import luhn
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


class IdentifierError(ValueError):
    def __init__(self, kind: str, check: str, detail: str) -> None:
        self.kind, self.check = kind, check
        super().__init__(f"{kind}: {detail}")


_CHECK_NAMES: list[tuple[type[ValidationError], str, str]] = [
    (InvalidLength, "length", "wrong length"),
    (InvalidFormat, "format", "wrong format (digits expected)"),
    (InvalidChecksum, "checksum", "checksum (Luhn / control key) does not match"),
    (InvalidComponent, "component", "a component is invalid (country or prefix)"),
]


def _explain(kind: str, exc: ValidationError, expected: str) -> IdentifierError:
    for cls, check, text in _CHECK_NAMES:
        if isinstance(exc, cls):
            return IdentifierError(kind, check, f"{text}; {expected}")
    return IdentifierError(kind, "invalid", f"invalid; {expected}")


def clean_siren(value: str) -> str:
    try:
        return str(fr_siren.validate(value))
    except ValidationError as exc:
        raise _explain("SIREN", exc, "9 digits with a Luhn check digit") from None


def clean_siret(value: str, siren: str = "") -> str:
    try:
        number = str(fr_siret.validate(value))
    except ValidationError as exc:
        raise _explain("SIRET", exc, "14 digits: the SIREN then the 5-digit NIC") from None
    if siren and not number.startswith(siren):
        raise IdentifierError("SIRET", "siren", f"does not start with the SIREN {siren}")
    return number


def clean_vat(value: str) -> str:
    try:
        return str(eu_vat.validate(value))
    except ValidationError as exc:
        raise _explain(
            "VAT number", exc, "a 2-letter EU country code then the national number"
        ) from None


def vat_from_siren(siren: str) -> str:
    """The French intra-EU VAT number derived from a SIREN (key = (12 + 3 × (SIREN mod 97)) mod 97)."""
    return "FR" + str(fr_siren.to_tva(clean_siren(siren)))


def check_vat_matches_siren(vat: str, siren: str) -> None:
    if vat.startswith("FR") and siren and vat[4:] != siren:
        raise IdentifierError("VAT number", "siren", f"does not contain the SIREN {siren}")
    if vat.startswith("FR") and siren and vat != vat_from_siren(siren):
        raise IdentifierError(
            "VAT number", "checksum", f"key does not match; expected {vat_from_siren(siren)}"
        )


def clean_iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise IdentifierError("IBAN", type(exc).__name__, str(exc)) from None


def clean_bic(value: str) -> str:
    try:
        return str(BIC(value).compact)
    except SchwiftyException as exc:
        raise IdentifierError("BIC", type(exc).__name__, str(exc)) from None


def fake_siren(rng: random.Random) -> str:
    """A valid (Luhn) SIREN for demo data and tests; not a real company."""
    body = str(rng.randint(10_000_000, 99_999_999))
    return body + luhn.calc_check_digit(body)


def fake_siret(rng: random.Random, siren: str) -> str:
    for _ in range(100):
        body = siren + f"{rng.randint(1, 9999):04d}"
        digit = luhn.calc_check_digit(body)
        candidate = body + digit
        if fr_siret.is_valid(candidate):
            return candidate
    raise RuntimeError("could not build a SIRET")  # pragma: no cover - Luhn always has a digit
