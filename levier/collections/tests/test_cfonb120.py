"""CFONB 120 parser: structure is enforced, layout is tolerated, amounts are exact."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levier.collections.statements.cfonb120 import looks_like_cfonb120, parse_cfonb120
from levier.collections.statements.model import StatementError

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "cfonb120"


def balance(code: str, date: str, amount: str, account: str = "98765432100") -> str:
    """A 01 or 07 record, 120 characters."""
    record = f"{code}15589    00000EUR2 {account:<11}  {date}".ljust(90) + amount
    return record.ljust(120)


def operation(date: str, label: str, amount: str, reference: str = "") -> str:
    head = f"0415589916200000EUR2 98765432100B1{date}  {date}{label:<31}"
    return (head.ljust(90) + amount + reference).ljust(120)


def complement(qualifier: str, text: str) -> str:
    return f"0515589916200000EUR2 98765432100B1160519     {qualifier}{text}".ljust(120)


def build(*records: str, newline: str = "\r\n") -> bytes:
    return newline.join(records).encode("latin-1")


GOOD = [
    balance("01", "150519", "0000000001904}"),
    operation("160519", "PRLV SEPA TEST CABINET", "0000000000322J", "REF123"),
    complement("NPY", "INTERNET SFR"),
    complement("LIB", "FACTURE RF18539007547034"),
    operation("160519", "VIR SEPA CLIENT Évry", "0000000012345{"),
    balance("07", "160519", "0000000010118I"),
]


def test_a_statement_has_balances_operations_and_complements() -> None:
    (statement,) = parse_cfonb120(build(*GOOD))
    assert statement.account_iban == "98765432100"
    assert statement.currency == "EUR"
    assert statement.opening_date == dt.date(2019, 5, 15)
    assert statement.opening_balance == Decimal("-190.40")
    assert statement.closing_balance == Decimal("1011.89")
    first, second = statement.lines
    assert first.amount == Decimal("-32.21")
    assert first.booking_date == dt.date(2019, 5, 16)
    assert first.label == "PRLV SEPA TEST CABINET"
    assert first.counterparty_name == "INTERNET SFR"
    assert first.remittance == "FACTURE RF18539007547034"
    assert first.bank_reference == "REF123"
    assert second.amount == Decimal("1234.50")
    assert second.label == "VIR SEPA CLIENT Évry"
    assert statement.warnings == ()


def test_lf_and_no_line_breaks_read_the_same_as_crlf() -> None:
    expected = parse_cfonb120(build(*GOOD))
    assert parse_cfonb120(build(*GOOD, newline="\n")) == expected
    assert parse_cfonb120(build(*GOOD, newline="")) == expected


def test_sign_characters_map_to_the_last_digit_and_sign() -> None:
    for char, value in [("{", "0.00"), ("A", "0.01"), ("I", "0.09"), ("}", "-0.00")]:
        data = build(
            balance("01", "150519", "0000000000000" + char),
            balance("07", "150519", "0000000000000" + char),
        )
        assert parse_cfonb120(data)[0].opening_balance == Decimal(value)
    data = build(
        balance("01", "150519", "0000000000012R"), balance("07", "150519", "0000000000012R")
    )
    assert parse_cfonb120(data)[0].opening_balance == Decimal("-1.29")


def test_a_balance_mismatch_is_a_warning_not_an_error() -> None:
    records = [*GOOD[:-1], balance("07", "160519", "0000000010119I")]
    (statement,) = parse_cfonb120(build(*records))
    assert statement.closing_balance == Decimal("1011.99")
    assert "do not add up" in statement.warnings[0]


@pytest.mark.parametrize(
    ("records", "line", "words"),
    [
        ([GOOD[1], *GOOD], "line 1", "outside a statement"),
        ([GOOD[0], GOOD[2]], "line 2", "without an operation"),
        ([GOOD[5]], "line 1", "without an old balance"),
        ([GOOD[0], GOOD[1], GOOD[0]], "line 3", "before the statement"),
        ([GOOD[0].replace("150519", "320519")], "line 1", "invalid old balance date"),
        ([GOOD[0][:90] + "00000000019X4}" + GOOD[0][104:]], "line 1", "bad amount"),
        ([GOOD[0], GOOD[1][:100]], "line 2", "not 120"),
        ([GOOD[0], "09" + GOOD[1][2:]], "line 2", "unknown record code"),
    ],
)
def test_structural_errors_name_the_line(records: list[str], line: str, words: str) -> None:
    with pytest.raises(StatementError) as error:
        parse_cfonb120(build(*records), "releve.txt")
    assert error.value.where == f"releve.txt {line}"
    assert words in error.value.message


def test_a_superscript_digit_in_a_date_is_an_error_naming_the_line() -> None:
    with pytest.raises(StatementError) as error:
        parse_cfonb120(build(GOOD[0].replace("150519", "15051³")), "releve.txt")
    assert error.value.where == "releve.txt line 1"


def test_detection_accepts_cfonb_and_refuses_other_content() -> None:
    assert looks_like_cfonb120(build(*GOOD))
    assert not looks_like_cfonb120(b"OFXHEADER:100\nDATA:OFXSGML\n")
    assert not looks_like_cfonb120(b"")


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_statement_error(data: bytes) -> None:
    with contextlib.suppress(StatementError):
        parse_cfonb120(data)


@given(st.lists(st.sampled_from(GOOD), max_size=8))
def test_any_sequence_of_valid_records_raises_only_statement_error(records: list[str]) -> None:
    with contextlib.suppress(StatementError):
        parse_cfonb120(build(*records))


def sample(name: str) -> bytes:
    if not SAMPLES.parent.exists():
        pytest.skip(f"{SAMPLES.parent} does not exist (shared samples not checked out)")
    return (SAMPLES / name).read_bytes()


def test_akretion_sample_reads_four_operations_with_a_balance_warning() -> None:
    (statement,) = parse_cfonb120(sample("akretion-python-cfonb-bank_statement.cfo.txt"))
    assert [line.amount for line in statement.lines] == [
        Decimal("-2000.00"),
        Decimal("-1000.00"),
        Decimal("4000.00"),
        Decimal("-3000.00"),
    ]
    assert statement.currency == "EUR"
    assert any("do not add up" in warning for warning in statement.warnings)


def test_pennylane_example_reads_two_statements() -> None:
    first, second = parse_cfonb120(sample("pennylane-example.txt"))
    assert first.opening_balance == Decimal("-190.40")
    assert first.lines[0].amount == Decimal("-32.21")
    assert first.lines[0].counterparty_name == "INTERNET SFR"
    assert "REFERENCE" in first.lines[0].remittance
    assert first.lines[1].amount == Decimal("-10.70")
    assert second.account_iban == "00123456789"


def test_pennylane_bare_operation_is_imported_with_a_warning() -> None:
    (statement,) = parse_cfonb120(sample("pennylane-operation.txt"))
    assert statement.opening_balance is None and statement.closing_balance is None
    assert statement.lines[0].amount == Decimal("-32.21")
    assert statement.warnings == ("the file has operations only, no balances",)


def test_pennylane_repeated_bare_operation_is_imported_with_a_duplicate_warning() -> None:
    (statement,) = parse_cfonb120(sample("pennylane-operation_already_defined.txt"))
    assert len(statement.lines) == 2
    assert "line 6: same operation as an earlier one" in statement.warnings


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("pennylane-end_of_statement_without_beginning.txt", "line 9"),
        ("pennylane-invalid_date.txt", "line 1"),
        ("pennylane-new_statement_without_previous_ended.txt", "line 6"),
        ("pennylane-operation_detail_without_operation.txt", "line 3"),
        ("pennylane-operation_out_of_statement.txt", "line 1"),
        ("pennylane-operation_unstarted.txt", "line 1"),
    ],
)
def test_broken_pennylane_samples_are_rejected_naming_the_line(name: str, line: str) -> None:
    with pytest.raises(StatementError) as error:
        parse_cfonb120(sample(name), name)
    assert error.value.where == f"{name} {line}"


@pytest.mark.parametrize(
    "name",
    [
        "silarhi-complex-test.txt",
        "silarhi-non-strict-test.txt",
        "silarhi-simple-test.txt",
        "silarhi-test-unused-parts.txt",
    ],
)
def test_silarhi_samples_read_with_balances_that_add_up(name: str) -> None:
    statements = parse_cfonb120(sample(name))
    assert statements
    assert all(statement.warnings == () for statement in statements)


def test_silarhi_complex_sample_reads_operation_amounts_to_the_cent() -> None:
    statements = parse_cfonb120(sample("silarhi-complex-test.txt"))
    assert statements[0].opening_balance == Decimal("16695.65")
    assert statements[0].lines[0].amount == Decimal("-22.79")
    assert [line.amount for line in statements[1].lines] == [Decimal("-20.11"), Decimal("-5000.00")]
