"""Price revision by index (levier/lib/revision.py)."""

import datetime as dt
import pickle
from decimal import Decimal

import pytest
from django.utils.translation import override
from hypothesis import given
from hypothesis import strategies as st

from levier.lib.errors import DomainError
from levier.lib.revision import (
    SYNTEC_REVISE,
    IndexValue,
    MissingIndex,
    ReferenceMonths,
    RevisionError,
    RevisionLimit,
    index_value,
    last_published_month,
    reference_months,
    revise_on_anniversary,
    revise_price,
    round_unit_price,
)

D = dt.date


def syntec(year: int, month: int, value: str) -> IndexValue:
    return IndexValue(SYNTEC_REVISE, D(year, month, 1), Decimal(value))


prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000000"), places=4)
index_values = st.decimals(min_value=Decimal("50"), max_value=Decimal("1000"), places=1)
fixed_parts = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.99"), places=2)


# --- worked examples -------------------------------------------------------------------


def test_syntec_with_a_fixed_part_matches_the_reference_worked_example() -> None:
    # france-invoicing.md §10: 1 767 × (0,15 + 0,85 × 294,6 / 280) = 1 845,32
    result = revise_price(
        Decimal("1767"),
        syntec(2025, 1, "280"),
        syntec(2026, 1, "294.6"),
        fixed_part=Decimal("0.15"),
    )
    assert result.new_price == Decimal("1845.3160")
    assert result.new_price.quantize(Decimal("0.01")) == Decimal("1845.32")
    assert result.formula_fr == "P1 = 1\u202f767,00 × (0,15 + 0,85 × 294,6 / 280) = 1\u202f845,316"
    assert result.limited_by is None


def test_day_rate_revision_is_written_out_in_french_for_the_invoice() -> None:
    result = revise_price(
        Decimal("750.00"),
        syntec(2025, 1, "280.4"),
        syntec(2026, 1, "290.1"),
        fixed_part=Decimal("0.15"),
    )
    # 750 × (0,15 + 0,85 × 1,03459…) = 772,05331… → 4 decimals, half up
    assert result.new_price == Decimal("772.0533")
    assert result.formula_fr == "P1 = 750,00 × (0,15 + 0,85 × 290,1 / 280,4) = 772,0533"
    assert result.changed


def test_plain_syntec_clause_is_p0_times_s1_over_s0() -> None:
    result = revise_price(Decimal("600"), syntec(2025, 3, "280"), syntec(2026, 3, "287"))
    assert result.coefficient == Decimal("1.025")
    assert result.new_price == Decimal("615.0000")
    assert result.formula_fr == "P1 = 600,00 × 287 / 280 = 615,00"


def test_new_price_keeps_four_decimals_rounded_half_up() -> None:
    # 100 × 301 / 300 = 100,33333… → 100,3333; 1 × 2,00005 → 2,0001 (half up, not half even)
    assert revise_price(
        Decimal("100"), syntec(2025, 1, "300"), syntec(2026, 1, "301")
    ).new_price == Decimal("100.3333")
    assert round_unit_price(Decimal("2.00005")) == Decimal("2.0001")
    assert round_unit_price(Decimal("2.00015")) == Decimal("2.0002")


def test_floor_of_one_keeps_the_price_when_the_index_falls() -> None:
    result = revise_price(
        Decimal("750.00"), syntec(2025, 1, "300"), syntec(2026, 1, "294.6"), floor=Decimal("1")
    )
    assert result.new_price == Decimal("750.0000")
    assert result.limited_by is RevisionLimit.FLOOR
    assert result.raw_coefficient == Decimal("0.982")
    assert result.formula_fr == "P1 = 750,00 × max(1 ; 294,6 / 300) = 750,00"
    assert not result.changed


def test_floor_above_one_is_the_minimum_increase_of_the_clause() -> None:
    # P0 × max(1,05 ; S1/S0) with a small index rise: the 5 % apply.
    result = revise_price(
        Decimal("1000"), syntec(2025, 1, "280"), syntec(2026, 1, "283"), floor=Decimal("1.05")
    )
    assert result.new_price == Decimal("1050.0000")
    assert result.limited_by is RevisionLimit.FLOOR


def test_cap_limits_the_increase() -> None:
    result = revise_price(
        Decimal("500"),
        syntec(2025, 1, "280"),
        syntec(2026, 1, "308"),
        fixed_part=Decimal("0.15"),
        floor=Decimal("1"),
        cap=Decimal("1.05"),
    )
    # raw: 0,15 + 0,85 × 1,1 = 1,085 → capped at 1,05
    assert result.raw_coefficient == Decimal("1.085")
    assert result.coefficient == Decimal("1.05")
    assert result.new_price == Decimal("525.0000")
    assert result.limited_by is RevisionLimit.CAP
    assert (
        result.formula_fr == "P1 = 500,00 × min(1,05 ; max(1 ; 0,15 + 0,85 × 308 / 280)) = 525,00"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fixed_part": Decimal("1")}, "fixed part"),
        ({"fixed_part": Decimal("-0.1")}, "fixed part"),
        ({"floor": Decimal("0")}, "floor must be positive"),
        ({"cap": Decimal("-1")}, "cap must be positive"),
        ({"floor": Decimal("1.1"), "cap": Decimal("1.05")}, "above the cap"),
    ],
)
def test_impossible_formulas_are_refused(kwargs: dict[str, Decimal], message: str) -> None:
    with pytest.raises(RevisionError, match=message):
        revise_price(Decimal("100"), syntec(2025, 1, "280"), syntec(2026, 1, "290"), **kwargs)


def test_floats_and_mixed_series_are_refused() -> None:
    with pytest.raises(RevisionError, match="Decimal"):
        revise_price(100.0, syntec(2025, 1, "280"), syntec(2026, 1, "290"))  # type: ignore[arg-type]
    with pytest.raises(RevisionError, match="different series"):
        revise_price(
            Decimal("100"),
            syntec(2025, 1, "280"),
            IndexValue("other", D(2026, 1, 1), Decimal("290")),
        )
    with pytest.raises(RevisionError, match="older than S0"):
        revise_price(Decimal("100"), syntec(2026, 1, "280"), syntec(2025, 1, "290"))


def test_index_values_are_positive_and_dated_by_the_first_of_their_month() -> None:
    with pytest.raises(RevisionError):
        IndexValue(SYNTEC_REVISE, D(2026, 1, 15), Decimal("290"))
    with pytest.raises(RevisionError):
        IndexValue(SYNTEC_REVISE, D(2026, 1, 1), Decimal("0"))


def test_reference_months_are_the_last_published_at_the_anniversary_and_a_year_before() -> None:
    # An index is published two months after its own month: on 15 March 2026 the last one
    # out is January's.
    assert last_published_month(D(2026, 3, 15), 2) == D(2026, 1, 1)
    assert reference_months(D(2026, 3, 15), 2) == ReferenceMonths(
        s0=D(2025, 1, 1), s1=D(2026, 1, 1)
    )
    assert reference_months(D(2026, 1, 1), 0) == ReferenceMonths(s0=D(2025, 1, 1), s1=D(2026, 1, 1))


def test_missing_index_blocks_the_revision_naming_series_and_month() -> None:
    table = {D(2025, 1, 1): Decimal("280.4")}  # January 2026 not entered yet
    with override("en"), pytest.raises(MissingIndex) as caught:
        revise_on_anniversary(
            Decimal("750"), SYNTEC_REVISE, table, D(2026, 3, 1), publication_lag_months=2
        )
    error = caught.value
    assert (error.series, error.month) == (SYNTEC_REVISE, D(2026, 1, 1))
    assert "Syntec révisé" in error.message
    assert "January 2026" in error.message and "2026-01" in error.message
    assert isinstance(error, DomainError) and error.code == "missing_index"


def test_missing_index_survives_pickling_for_background_jobs() -> None:
    error = pickle.loads(pickle.dumps(MissingIndex(SYNTEC_REVISE, D(2026, 1, 1))))
    assert (error.series, error.month, error.code) == (
        SYNTEC_REVISE,
        D(2026, 1, 1),
        "missing_index",
    )


def test_missing_index_month_is_named_in_french_by_default() -> None:
    with pytest.raises(MissingIndex, match="janvier 2026"):
        index_value({}, SYNTEC_REVISE, D(2026, 1, 20))


def test_revision_on_anniversary_reads_both_months_from_the_series_table() -> None:
    table = {D(2025, 1, 1): Decimal("280.4"), D(2026, 1, 1): Decimal("290.1")}
    result = revise_on_anniversary(
        Decimal("750.00"),
        SYNTEC_REVISE,
        table,
        D(2026, 3, 1),
        publication_lag_months=2,
        fixed_part=Decimal("0.15"),
    )
    assert (result.s0.month, result.s1.month) == (D(2025, 1, 1), D(2026, 1, 1))
    assert result.new_price == Decimal("772.0533")


def test_a_recorded_base_month_is_used_as_s0() -> None:
    # The contract was signed in October 2024: its S0 is October's index, not January's.
    table = {D(2024, 10, 1): Decimal("276"), D(2026, 1, 1): Decimal("290.1")}
    result = revise_on_anniversary(
        Decimal("1000"),
        SYNTEC_REVISE,
        table,
        D(2026, 3, 1),
        publication_lag_months=2,
        base_month=D(2024, 10, 1),
    )
    assert result.s0.value == Decimal("276")
    with pytest.raises(MissingIndex):
        revise_on_anniversary(
            Decimal("1000"), SYNTEC_REVISE, table, D(2026, 3, 1), publication_lag_months=2
        )


# --- properties ------------------------------------------------------------------------


@given(prices, index_values, index_values, fixed_parts)
def test_revision_with_floor_one_never_lowers_a_price(
    p0: Decimal, s0: Decimal, s1: Decimal, a: Decimal
) -> None:
    result = revise_price(
        p0,
        IndexValue(SYNTEC_REVISE, D(2025, 1, 1), s0),
        IndexValue(SYNTEC_REVISE, D(2026, 1, 1), s1),
        fixed_part=a,
        floor=Decimal("1"),
    )
    assert result.new_price >= p0


@given(prices, index_values, fixed_parts)
def test_unchanged_index_gives_coefficient_one_and_the_same_price(
    p0: Decimal, s: Decimal, a: Decimal
) -> None:
    result = revise_price(
        p0,
        IndexValue(SYNTEC_REVISE, D(2025, 1, 1), s),
        IndexValue(SYNTEC_REVISE, D(2026, 1, 1), s),
        fixed_part=a,
    )
    assert result.coefficient == 1
    assert result.new_price == p0
    assert not result.changed


@given(
    prices,
    index_values,
    index_values,
    fixed_parts,
    st.decimals(min_value=Decimal("1"), max_value=Decimal("1.2"), places=3),
)
def test_revised_price_stays_between_floor_and_cap_and_within_half_a_unit_of_the_exact_value(
    p0: Decimal, s0: Decimal, s1: Decimal, a: Decimal, cap: Decimal
) -> None:
    result = revise_price(
        p0,
        IndexValue(SYNTEC_REVISE, D(2025, 1, 1), s0),
        IndexValue(SYNTEC_REVISE, D(2026, 1, 1), s1),
        fixed_part=a,
        floor=Decimal("0.9"),
        cap=cap,
    )
    assert Decimal("0.9") <= result.coefficient <= cap
    assert abs(result.new_price - p0 * result.coefficient) <= Decimal("0.00005")
    assert result.new_price == result.new_price.quantize(Decimal("0.0001"))
    # The fixed part dampens the move: the revised coefficient lies between 1 and S1/S0.
    ratio = s1 / s0
    assert (
        min(Decimal(1), ratio) - Decimal("1e-20")
        <= result.raw_coefficient
        <= max(Decimal(1), ratio) + Decimal("1e-20")
    )
