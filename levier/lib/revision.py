"""Contract price revision by index (clause de révision / indexation).

The formula is ``P1 = P0 × (a + b × S1/S0)`` with ``b = 1 − a``:

- ``a`` is the fixed, non-revisable part (0 ≤ a < 1); ``a = 0`` gives the plain Syntec
  clause ``P1 = P0 × S1/S0``, ``a = 0.15`` the common "0,15 + 0,85 × S1/S0";
- ``S0`` is the reference index (the last published at signature or at the previous
  revision), ``S1`` the last published at the revision date (see ``reference_months``);
- an optional **floor** and **cap** bound the coefficient: ``P1`` is never below
  ``P0 × floor`` nor above ``P0 × cap`` (floor 1 = "no decrease", cap 1.05 = "+5 % at most").

Since September 2022 only the *indice Syntec révisé* is published; it is the usual series
for French IT services and engineering contracts.

Rounding: the coefficient is kept exact (34 significant digits, whatever the ambient
decimal context) and the new price is rounded **once**, to 4 decimals, ROUND_HALF_UP:
unit prices are stored as ``DECIMAL(14,4)`` (docs/money.md) and the line net is then
rounded to the cent by ``levier.lib.money.line_net`` as for any other line. Rounding the
price to the cent here would round twice.

A missing index value raises ``MissingIndex`` naming the series and the month: the revision
is blocked until the value is entered, never skipped silently (a skipped revision is a loss
nobody sees).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import Final

from babel.numbers import format_decimal
from django.utils import dateformat
from django.utils.translation import gettext

from levier.lib.errors import DomainError
from levier.lib.periods import add_months, first_of_month

SYNTEC_REVISE: Final = "syntec_revise"
SERIES_LABELS: Final = {SYNTEC_REVISE: "Syntec révisé"}

UNIT_PRICE_STEP: Final = Decimal("0.0001")
ONE: Final = Decimal(1)
_CONTEXT: Final = Context(prec=34, rounding=ROUND_HALF_EVEN)  # decimal128, for intermediates


class RevisionError(ValueError):
    """A revision formula or its inputs that cannot be applied (a setup error)."""


class MissingIndex(DomainError):
    """The index value a revision needs is not known yet: the revision is blocked."""

    http_status = 409
    code = "missing_index"

    def __init__(self, series: str, month: dt.date) -> None:
        self.series = series
        self.month = first_of_month(month)
        message = gettext(
            "The %(index)s index for %(month)s (%(iso)s) is missing: the price revision is "
            "blocked until it is entered."
        ) % {
            "index": series_label(series),
            "month": dateformat.format(self.month, "F Y"),
            "iso": f"{self.month:%Y-%m}",
        }
        super().__init__(message)

    def __reduce__(self) -> tuple[type[MissingIndex], tuple[str, dt.date]]:
        # Rebuilt from its fields, so it survives pickling (a Celery billing-run job).
        return (MissingIndex, (self.series, self.month))


class RevisionLimit(StrEnum):
    FLOOR = "floor"
    CAP = "cap"


@dataclass(frozen=True)
class IndexValue:
    """One published value of an index series; ``month`` is the first day of its month."""

    series: str
    month: dt.date
    value: Decimal

    def __post_init__(self) -> None:
        if self.month.day != 1:
            raise RevisionError(f"an index month is given by its first day, not {self.month}")
        if not isinstance(self.value, Decimal) or not self.value.is_finite() or self.value <= 0:
            raise RevisionError(f"index {self.series} {self.month:%Y-%m}: {self.value!r}")


@dataclass(frozen=True)
class ReferenceMonths:
    s0: dt.date
    s1: dt.date


@dataclass(frozen=True)
class RevisionResult:
    previous_price: Decimal
    new_price: Decimal  # rounded to 4 decimals, ROUND_HALF_UP
    s0: IndexValue
    s1: IndexValue
    fixed_part: Decimal
    raw_coefficient: Decimal  # a + b × S1/S0, exact
    coefficient: Decimal  # after floor and cap: the one applied
    limited_by: RevisionLimit | None
    formula_fr: str  # "P1 = 750,00 × (0,15 + 0,85 × 290,1 / 280,4) = 772,0533"

    @property
    def changed(self) -> bool:
        return self.new_price != self.previous_price


def series_label(series: str) -> str:
    return SERIES_LABELS.get(series, series)


def _require_decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RevisionError(f"{name} must be a finite Decimal, not {value!r}")
    return value


def revise_price(
    p0: Decimal,
    s0: IndexValue,
    s1: IndexValue,
    *,
    fixed_part: Decimal = Decimal(0),
    floor: Decimal | None = None,
    cap: Decimal | None = None,
) -> RevisionResult:
    """``P1 = P0 × (a + b × S1/S0)``, bounded by ``floor`` and ``cap``, rounded once.

    ``floor`` and ``cap`` bound the whole coefficient (so with ``a = 0`` the floor is the
    ``P0 × max(floor, S1/S0)`` of the clauses); the result says which one applied.
    """
    p0 = _require_decimal("P0", p0)
    a = _require_decimal("the fixed part", fixed_part)
    if p0 < 0:
        raise RevisionError(f"a price to revise cannot be negative: {p0}")
    if not 0 <= a < 1:
        raise RevisionError(f"the fixed part must be at least 0 and below 1, not {a}")
    if s0.series != s1.series:
        raise RevisionError(f"S0 ({s0.series}) and S1 ({s1.series}) are different series")
    if s1.month < s0.month:
        raise RevisionError(f"S1 ({s1.month:%Y-%m}) is older than S0 ({s0.month:%Y-%m})")
    for name, bound in (("floor", floor), ("cap", cap)):
        if bound is not None and _require_decimal(name, bound) <= 0:
            raise RevisionError(f"the {name} must be positive, not {bound}")
    if floor is not None and cap is not None and floor > cap:
        raise RevisionError(f"the floor ({floor}) is above the cap ({cap})")

    b = ONE - a
    raw = _CONTEXT.add(a, _CONTEXT.multiply(b, _CONTEXT.divide(s1.value, s0.value)))
    coefficient, limited_by = raw, None
    if floor is not None and raw < floor:
        coefficient, limited_by = floor, RevisionLimit.FLOOR
    elif cap is not None and raw > cap:
        coefficient, limited_by = cap, RevisionLimit.CAP
    new_price = round_unit_price(_CONTEXT.multiply(p0, coefficient))
    return RevisionResult(
        previous_price=p0,
        new_price=new_price,
        s0=s0,
        s1=s1,
        fixed_part=a,
        raw_coefficient=raw,
        coefficient=coefficient,
        limited_by=limited_by,
        formula_fr=_formula_fr(p0, a, s0.value, s1.value, floor, cap, new_price),
    )


def round_unit_price(price: Decimal) -> Decimal:
    """A unit price to 4 decimals, half up: the precision of the unit-price columns."""
    return price.quantize(UNIT_PRICE_STEP, rounding=ROUND_HALF_UP)


def _price_fr(value: Decimal) -> str:
    """At least 2 decimals, up to 4 (750 → "750,00", 772.0533 → "772,0533")."""
    return format_decimal(value, format="#,##0.00##", locale="fr_FR")


def _number_fr(value: Decimal) -> str:
    """As given, without trailing zeros (290.1 → "290,1", 0.85 → "0,85")."""
    return format_decimal(value, format="#,##0.##", locale="fr_FR", decimal_quantization=False)


def _formula_fr(
    p0: Decimal,
    a: Decimal,
    s0: Decimal,
    s1: Decimal,
    floor: Decimal | None,
    cap: Decimal | None,
    new_price: Decimal,
) -> str:
    """The computation as printed on the invoice and kept for the audit trail.

    ``P1 = 750,00 × (0,15 + 0,85 × 290,1 / 280,4) = 772,0533``; bounds are written with
    ``max``/``min`` and the French argument separator ``;`` (the comma is the decimal mark):
    ``P1 = 750,00 × max(1 ; 290,1 / 300) = 750,00``.
    """
    ratio = f"{_number_fr(s1)} / {_number_fr(s0)}"
    term = ratio if a == 0 else f"{_number_fr(a)} + {_number_fr(ONE - a)} × {ratio}"
    if floor is not None:
        term = f"max({_number_fr(floor)} ; {term})"
    if cap is not None:
        term = f"min({_number_fr(cap)} ; {term})"
    if floor is None and cap is None and a != 0:
        term = f"({term})"
    return f"P1 = {_price_fr(p0)} × {term} = {_price_fr(new_price)}"


def last_published_month(on: dt.date, publication_lag_months: int) -> dt.date:
    """The month of the last index value published on ``on``.

    ``publication_lag_months`` is how many months after its own month an index value is
    published (an index of January published in March has a lag of 2).
    """
    if publication_lag_months < 0:
        raise RevisionError("a publication lag cannot be negative")
    return first_of_month(add_months(on, -publication_lag_months))


def reference_months(
    anniversary: dt.date, publication_lag_months: int, *, interval_months: int = 12
) -> ReferenceMonths:
    """Which index months are S0 and S1 for the revision on ``anniversary``.

    S1 is the last index published on the anniversary date; S0 is the one that was S1 at
    the previous revision (``interval_months`` earlier: a yearly revision by default), which
    for the first revision is the last published at the start of the contract. A contract
    that records its own base month (signature earlier than start, a revision blocked and
    applied late) should pass that month as S0 instead: see ``revise_on_anniversary``.
    """
    s1 = last_published_month(anniversary, publication_lag_months)
    return ReferenceMonths(s0=add_months(s1, -interval_months), s1=s1)


def index_value(values: Mapping[dt.date, Decimal], series: str, month: dt.date) -> IndexValue:
    """The value of ``series`` for ``month`` from a month → value table, or MissingIndex."""
    month = first_of_month(month)
    value = values.get(month)
    if value is None:
        raise MissingIndex(series, month)
    return IndexValue(series, month, value)


def revise_on_anniversary(
    p0: Decimal,
    series: str,
    values: Mapping[dt.date, Decimal],
    anniversary: dt.date,
    *,
    publication_lag_months: int,
    base_month: dt.date | None = None,
    fixed_part: Decimal = Decimal(0),
    floor: Decimal | None = None,
    cap: Decimal | None = None,
) -> RevisionResult:
    """The revision due on ``anniversary``, from one series' month → value table.

    ``base_month`` is the contract's recorded S0 month (the S1 of its last applied
    revision); without it S0 is twelve months before S1. Raises MissingIndex, naming the
    series and the month, when either value is not in the table.
    """
    months = reference_months(anniversary, publication_lag_months)
    s0_month = first_of_month(base_month) if base_month is not None else months.s0
    return revise_price(
        p0,
        index_value(values, series, s0_month),
        index_value(values, series, months.s1),
        fixed_part=fixed_part,
        floor=floor,
        cap=cap,
    )
