"""The one place where Levier rounds money.

Rule (documented in docs/money.md): amounts are `Decimal`, never float. Rounding is
ROUND_HALF_UP to the cent and happens at exactly three points:

1. each line's net amount: ``quantity × unit_price × (1 − discount%)`` rounded to the cent;
2. VAT per rate: the sum of the rounded line nets of one rate, times the rate, rounded once
   (so the VAT breakdown printed on the document is what the totals add up to);
3. the document total: net + VAT, both already at the cent, so no further rounding.

This follows the EN 16931 logic (BT-116 basis per VAT category, BT-117 = basis × rate) that
the Factur-X invoices will carry later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")


class MoneyError(ValueError):
    """An amount that cannot be a sum of money (NaN, infinity, not a number)."""


def to_decimal(value: object) -> Decimal:
    """Parse a user or file value into a Decimal; accepts French decimal commas."""
    if isinstance(value, float):
        raise MoneyError("floats are not accepted for money; pass a string or Decimal")
    if isinstance(value, Decimal):
        result = value
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MoneyError(gettext("“%(value)s” is not a number") % {"value": value}) from None
    if not result.is_finite():
        raise MoneyError(gettext("“%(value)s” is not a finite number") % {"value": value})
    return result


def quantize(amount: Decimal) -> Decimal:
    """Round to the cent, half up (0.005 → 0.01, −0.005 → −0.01)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_net(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal = ZERO) -> Decimal:
    """Net amount of one line, rounded once (rule 1)."""
    gross = quantity * unit_price
    return quantize(gross - gross * discount_percent / HUNDRED)


@dataclass(frozen=True)
class VatBreakdown:
    rate: Decimal
    basis: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal
    breakdown: tuple[VatBreakdown, ...]


def document_totals(lines: Iterable[tuple[Decimal, Decimal]]) -> Totals:
    """Totals of a document from its (rounded line net, VAT rate %) pairs (rules 2 and 3)."""
    bases: dict[Decimal, Decimal] = {}
    for net, rate in lines:
        key = rate.normalize() if rate else ZERO
        bases[key] = bases.get(key, ZERO) + net
    breakdown = tuple(
        VatBreakdown(rate=rate, basis=basis, vat=quantize(basis * rate / HUNDRED))
        for rate, basis in sorted(bases.items())
    )
    net_total = sum((b.basis for b in breakdown), ZERO)
    vat_total = sum((b.vat for b in breakdown), ZERO)
    return Totals(net=net_total, vat=vat_total, gross=net_total + vat_total, breakdown=breakdown)
