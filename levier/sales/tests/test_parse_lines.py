"""Whatever a form or file sends as lines, parsing answers with a clean error or valid lines."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.lib.errors import ValidationFailed
from levier.sales.lines import parse_lines

junk = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e25", "-0", "1e-30", "9" * 40, "0x10", "1_000", " 3 ", "1,5"]),
)
raw_line = st.fixed_dictionaries(
    {},
    optional={
        name: junk
        for name in (
            "product_id",
            "description",
            "quantity",
            "unit",
            "unit_price",
            "discount_percent",
            "vat_rate",
        )
    },
)


@pytest.mark.django_db
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(raw_line, min_size=0, max_size=4))
def test_any_line_input_gives_valid_lines_or_a_named_error(lines: list[dict[str, str]]) -> None:
    try:
        parsed = parse_lines(lines)
    except ValidationFailed as exc:
        assert exc.message
        return
    for line in parsed:
        assert line.quantity > 0
        assert line.net_amount == line.net_amount.quantize(Decimal("0.01"))


@pytest.mark.django_db
def test_absurd_numbers_and_ids_are_refused_cleanly() -> None:
    base = {"description": "x", "quantity": "1", "unit_price": "1", "vat_rate": "20"}
    for bad in (
        {"quantity": "1e25"},
        {"unit_price": "9" * 40},
        {"product_id": "9" * 25},
        {"discount_percent": "10.123"},
    ):
        with pytest.raises(ValidationFailed):
            parse_lines([{**base, **bad}])


@pytest.mark.django_db
def test_a_line_or_total_too_large_for_the_ledger_is_refused_not_stored() -> None:
    base = {"description": "x", "vat_rate": "20"}
    with pytest.raises(ValidationFailed) as err:
        parse_lines([{**base, "quantity": "1000", "unit_price": "2000000000"}])
    assert "lines.1.quantity" in err.value.errors
    # each line fits, the sum does not
    line = {**base, "quantity": "9000", "unit_price": "90000000"}  # 810 000 000 000 € each
    with pytest.raises(ValidationFailed) as err:
        parse_lines([line, line])
    assert "lines" in err.value.errors
