"""Timesheet CSV import: all rows or none, every problem named by file, line and column."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.choices import Verb
from levier.audit.models import AuditEvent
from levier.billing.models import InvoiceLine
from levier.billing.run import run_billing
from levier.contracts.choices import TimeEntrySource
from levier.contracts.models import Contract, TimeEntry
from levier.contracts.services import amend_contract, enter_time
from levier.contracts.tests.factories import contract_line, make_contract
from levier.contracts.timesheet import (
    MAX_BYTES,
    MAX_ROWS,
    TimesheetRejected,
    import_timesheet,
    parse_month,
    parse_quantity,
    parse_timesheet,
)
from levier.lib.errors import ValidationFailed

HEADER = "contract;line;month;quantity;comment\n"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are compared as written in the code (the French catalogue is not ours)."""
    with translation.override("en"):
        yield


@pytest.fixture
def contract(adv: User) -> Contract:
    """Line 1 and 3 are time and materials, line 2 a monthly subscription."""
    return make_contract(
        adv,
        [
            contract_line("time_and_materials", "650", description="Régie développeur"),
            contract_line("recurring", "1000", frequency="monthly", description="Infogérance"),
            contract_line("time_and_materials", "900", description="Régie chef de projet"),
        ],
    )


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return (header + "".join(f"{row}\n" for row in rows)).encode(encoding)


def rejected(actor: User, data: bytes, filename: str = "temps.csv") -> TimesheetRejected:
    """Import a file that must be refused, check nothing was written, return the refusal."""
    before = TimeEntry.objects.count()
    with pytest.raises(TimesheetRejected) as info:
        import_timesheet(actor=actor, data=data, filename=filename)
    assert TimeEntry.objects.count() == before
    return info.value


def where(exc: TimesheetRejected) -> list[tuple[int, str]]:
    return [(p.line, p.column) for p in exc.problems]


# --- a good file -------------------------------------------------------------------------


def test_a_good_file_enters_each_month_as_an_imported_time_entry(
    adv: User, contract: Contract
) -> None:
    n = contract.number
    data = csv_bytes(
        f"{n};1;2026-01;12,5;Janvier",
        f"{n};Régie chef de projet;02/2026;3.25;",
        f"{n};1;2026-02-28;4;",
    )
    result = import_timesheet(actor=adv, data=data, filename="temps.csv")
    assert (result.rows, result.created, result.replaced) == (3, 3, 0)
    entries = {
        (e.line.position, e.month): (e.quantity, e.comment, e.source, e.entered_by)
        for e in TimeEntry.objects.select_related("line")
    }
    assert entries == {
        (1, dt.date(2026, 1, 1)): (D("12.5"), "Janvier", TimeEntrySource.IMPORT, adv),
        (3, dt.date(2026, 2, 1)): (D("3.25"), "", TimeEntrySource.IMPORT, adv),
        (1, dt.date(2026, 2, 1)): (D("4"), "", TimeEntrySource.IMPORT, adv),
    }
    # The audit trail has each entry (enter_time) and which file they came from.
    events = AuditEvent.objects.filter(object_id=str(contract.pk))
    assert events.filter(verb=Verb.CREATE, changes__month="2026-01").exists()
    assert events.get(verb=Verb.IMPORT).changes == {"timesheet": "temps.csv", "entries": 3}


def test_a_month_already_entered_is_replaced_and_counted_as_such(
    adv: User, contract: Contract
) -> None:
    line = contract.lines.get(position=1)
    enter_time(actor=adv, line=line, month=dt.date(2026, 1, 1), quantity=D("10"))
    result = import_timesheet(
        actor=adv,
        data=csv_bytes(f"{contract.number};1;2026-01;11;", f"{contract.number};1;2026-02;2;"),
        filename="temps.csv",
    )
    assert (result.created, result.replaced) == (1, 1)
    assert TimeEntry.objects.get(line=line, month=dt.date(2026, 1, 1)).quantity == D("11")


def test_comma_separated_file_with_a_quoted_decimal_comma(adv: User, contract: Contract) -> None:
    data = csv_bytes(
        f'{contract.number},1,2026-03,"2,75",', header="contract,line,month,quantity,comment\n"
    )
    result = import_timesheet(actor=adv, data=data, filename="temps.csv")
    assert result.delimiter == ","
    assert TimeEntry.objects.get().quantity == D("2.75")


def test_utf8_file_with_a_bom_imports(adv: User, contract: Contract) -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(f"{contract.number};Régie développeur;2026-03;1,5;é")
    result = import_timesheet(actor=adv, data=data, filename="temps.csv")
    assert result.encoding == "utf-8"
    entry = TimeEntry.objects.get()
    assert (entry.line.position, entry.quantity, entry.comment) == (1, D("1.5"), "é")


def test_windows_1252_file_from_french_excel_imports(adv: User, contract: Contract) -> None:
    data = csv_bytes(
        f"{contract.number};Régie chef de projet;03/2026;1;Déplacement à Lyon",
        encoding="cp1252",
    )
    assert b"\xe9" in data  # é as Windows-1252 writes it, invalid in UTF-8
    result = import_timesheet(actor=adv, data=data, filename="temps.csv")
    assert result.encoding == "cp1252"
    entry = TimeEntry.objects.get()
    assert (entry.line.position, entry.comment) == (3, "Déplacement à Lyon")


def test_a_description_shared_after_an_amendment_names_the_line_in_force_that_month(
    adv: User, contract: Contract
) -> None:
    """A price change continues a T&M line as a new line with the same description."""
    first = contract.lines.get(position=1)
    amend_contract(
        actor=adv,
        contract=contract,
        effective_on=dt.date(2026, 4, 1),
        reason="Nouveau TJM",
        line_changes={first.pk: {"unit_price": "700"}},
    )
    successor = contract.lines.get(position=4)
    import_timesheet(
        actor=adv,
        data=csv_bytes(
            f"{contract.number};Régie développeur;2026-03;5;",
            f"{contract.number};Régie développeur;2026-04;6;",
        ),
        filename="temps.csv",
    )
    assert {(e.line_id, e.quantity) for e in TimeEntry.objects.all()} == {
        (first.pk, D("5")),
        (successor.pk, D("6")),
    }


# --- bad rows: each named by line and column, nothing imported ---------------------------


def test_each_bad_row_is_reported_with_its_line_and_column_and_nothing_is_imported(
    adv: User, contract: Contract
) -> None:
    n = contract.number
    data = csv_bytes(
        f"{n};1;2026-01;1;",  # line 2: good, but not imported either
        "CT-2026-999999;1;2026-01;1;",  # 3: unknown contract
        f"{n};Régie testeur;2026-01;1;",  # 4: unknown line
        f"{n};2;2026-01;1;",  # 5: a recurring line
        f"{n};1;2026-13;1;",  # 6: no 13th month
        f"{n};1;2026-02;-1;",  # 7: negative
        f"{n};1;2026-03;1,2345;",  # 8: 4 decimals
        f"{n};1;2026-04;deux;",  # 9: not a number
        f"{n};Régie développeur;2026-01;2;",  # 10: same line and month as line 2
        f"{n};;;;",  # 11: contract only
        f"{n};1;2026-05;1;" + "x" * 201,  # 12: comment too long
        f"{n};1;2026-06;1;ok;extra",  # 13: one value too many
    )
    exc = rejected(adv, data)
    assert where(exc) == [
        (3, "contract"),
        (4, "line"),
        (5, "line"),
        (6, "month"),
        (7, "quantity"),
        (8, "quantity"),
        (9, "quantity"),
        (10, "month"),
        (11, "line"),
        (11, "month"),
        (11, "quantity"),
        (12, "comment"),
        (13, ""),
    ]
    assert isinstance(exc, ValidationFailed)
    first = exc.message.splitlines()
    assert first[0] == "temps.csv: 13 problem(s), nothing imported"
    assert first[1] == "temps.csv, line 3, column contract: no contract CT-2026-999999"
    assert exc.errors["month"][-1] == ("temps.csv, line 11, column month: required")
    assert "same contract, line and month as line 2" in exc.errors["month"][1]
    assert "not time and materials" in exc.errors["line"][1]
    assert exc.errors["__all__"] == ["temps.csv, line 13: 6 values for 5 columns"]


def test_a_month_already_invoiced_is_refused(adv: User, contract: Contract) -> None:
    line = contract.lines.get(position=1)
    enter_time(actor=adv, line=line, month=dt.date(2026, 1, 1), quantity=D("10"))
    run_billing(actor=adv, as_of=dt.date(2026, 2, 5))
    key = f"L{line.pk}:T:2026-01"
    assert InvoiceLine.objects.filter(billing_key=key).exists()
    n = contract.number
    exc = rejected(adv, csv_bytes(f"{n};1;2026-02;1;", f"{n};1;01/2026;12;", f"{n};3;2026-02;x;"))
    # Checked with the other rows before anything is written: every problem is listed.
    assert where(exc) == [(3, "month"), (4, "quantity")]
    assert "line 3, column month: 01/2026 is already invoiced on this line" in exc.message
    assert TimeEntry.objects.get(line=line, month=dt.date(2026, 1, 1)).quantity == D("10")


def test_a_discarded_or_unrelated_invoice_line_does_not_block_the_month(
    adv: User, contract: Contract
) -> None:
    """Only a live billing key of that line and month blocks (an emptied key does not)."""
    line = contract.lines.get(position=1)
    enter_time(actor=adv, line=line, month=dt.date(2026, 1, 1), quantity=D("10"))
    run_billing(actor=adv, as_of=dt.date(2026, 2, 5))
    InvoiceLine.objects.filter(billing_key=f"L{line.pk}:T:2026-01").update(billing_key="")
    import_timesheet(
        actor=adv, data=csv_bytes(f"{contract.number};1;2026-01;12;"), filename="temps.csv"
    )
    assert TimeEntry.objects.get(line=line).quantity == D("12")


@pytest.mark.parametrize(
    ("data", "line", "column", "message"),
    [
        (b"", 0, "", "empty file"),
        (HEADER.encode() + b"x" * MAX_BYTES, 0, "", "larger than 8 MB"),
        (b"\n\n", 0, "", "empty file"),
        (HEADER.encode(), 0, "", "no time entry: the file has only its header"),
        (b"contract;line;month\nCT;1;2026-01\n", 1, "quantity", "required column missing"),
        (HEADER.replace("\n", ";quantite\n").encode(), 1, "", "unknown column(s) 'quantite'"),
        (b"contract;line;line;month;quantity\n", 1, "line", "column repeated"),
        (b"\x81\x8d\x8f\x90", 0, "", "encoding is neither UTF-8 nor Windows-1252"),
        (HEADER.encode("utf-16"), 0, "", "UTF-16 is not supported"),
        (b"contract;line\x00;month;quantity\n", 0, "", "contains NUL bytes"),
    ],
)
def test_a_file_that_is_not_a_timesheet_is_refused_with_the_reason(
    adv: User, data: bytes, line: int, column: str, message: str
) -> None:
    exc = rejected(adv, data)
    assert [(p.line, p.column) for p in exc.problems] == [(line, column)]
    assert message in exc.problems[0].message
    assert exc.message.splitlines()[1].startswith("temps.csv")


def test_more_than_ten_thousand_rows_are_refused_before_any_lookup(
    adv: User, contract: Contract
) -> None:
    data = csv_bytes(*[f"{contract.number};1;2026-01;1;"] * (MAX_ROWS + 1))
    exc = rejected(adv, data)
    assert exc.problems[0].message == "more than 10000 rows: split the file"
    assert len(exc.problems) == 1


def test_problem_lines_are_file_lines_even_with_blank_lines_and_multiline_cells(
    adv: User, contract: Contract
) -> None:
    n = contract.number
    data = (HEADER + f'{n};1;2026-01;1;"deux\nlignes"\n\n{n};1;2026-02;x;\n').encode()
    assert where(rejected(adv, data)) == [(5, "quantity")]


def test_an_error_message_lists_twenty_problems_and_errors_keeps_them_all(
    adv: User, contract: Contract
) -> None:
    exc = rejected(
        adv, csv_bytes(*[f"{contract.number};1;{year}-01;x;" for year in range(2001, 2031)])
    )
    assert len(exc.errors["quantity"]) == 30
    lines = exc.message.splitlines()
    assert len(lines) == 1 + 20 + 1 and lines[-1] == "… and 10 more problem(s)"


def test_only_a_role_that_manages_contracts_may_import(
    commercial: User, contract: Contract
) -> None:
    with pytest.raises(PermissionDenied):
        import_timesheet(
            actor=commercial, data=csv_bytes(f"{contract.number};1;2026-01;1;"), filename="t.csv"
        )
    assert not TimeEntry.objects.exists()


# --- cells -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2026-03", dt.date(2026, 3, 1)),
        ("2026-3", dt.date(2026, 3, 1)),
        ("03/2026", dt.date(2026, 3, 1)),
        ("3/2026", dt.date(2026, 3, 1)),
        ("2026-03-31", dt.date(2026, 3, 1)),
        ("2026-03-31 00:00:00", dt.date(2026, 3, 1)),
        ("31/03/2026", dt.date(2026, 3, 1)),
        ("29/02/2028", dt.date(2028, 2, 1)),
    ],
)
def test_a_month_is_written_as_year_month_month_year_or_a_date_in_it(
    text: str, month: dt.date
) -> None:
    assert parse_month(text) == month


@pytest.mark.parametrize("text", ["2026-13", "00/2026", "31/02/2026", "mars 2026", "2026", "26-03"])
def test_anything_else_is_not_a_month(text: str) -> None:
    with pytest.raises(ValueError):
        parse_month(text)


@pytest.mark.parametrize(
    ("text", "quantity"),
    [("1,5", D("1.5")), ("1.5", D("1.5")), ("0", D("0")), ("1 000,125", D("1000.125")),
     ("2,500", D("2.5")), (",5", D("0.5"))],
)  # fmt: skip
def test_a_quantity_takes_a_decimal_comma_or_point(text: str, quantity: D) -> None:
    assert parse_quantity(text) == quantity


@pytest.mark.parametrize(
    "text", ["-1", "1,2345", "1e3", "NaN", "1.5.2", "1 234,5,6", "", "10000000000"]
)
def test_a_quantity_is_a_plain_non_negative_number_with_three_decimals_at_most(
    text: str,
) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_parsing_gives_each_row_its_file_line() -> None:
    rows = parse_timesheet(csv_bytes("ct-2026-000001;1;2026-01;1;", "", "CT-1;x;02/2026;0;"), "t")
    assert [(r.line, r.contract, r.line_ref, r.month, r.quantity) for r in rows] == [
        (2, "CT-2026-000001", "1", dt.date(2026, 1, 1), D("1")),
        (4, "CT-1", "x", dt.date(2026, 2, 1), D("0")),
    ]


# --- arbitrary input ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_anything_but_validation_failed(data: bytes) -> None:
    try:
        rows = parse_timesheet(data, "x.csv")
    except ValidationFailed as exc:
        assert exc.message.startswith("x.csv: ") and exc.errors
    else:
        assert rows and all(row.line >= 2 and row.quantity >= 0 for row in rows)


_CELLS = st.sampled_from(
    ["", "1", "2", "3", "Régie développeur", "2026-01", "02/2026", "2026-02-30", "1,5", "-1",
     "0,0001", "x", '"', "\r", "CT-2026-000001", "CT-2026-000002", "9" * 30, "\x00"]
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(_CELLS, min_size=1, max_size=6), max_size=6), st.booleans())
def test_any_rows_are_imported_whole_or_refused_with_nothing_written(
    adv: User, contract: Contract, rows: list[list[str]], cp1252: bool
) -> None:
    assert contract.number == "CT-2026-000001"
    text = HEADER + "".join(";".join(cells) + "\n" for cells in rows)
    data = text.encode("cp1252" if cp1252 else "utf-8", errors="replace")
    before = set(TimeEntry.objects.values_list("line_id", "month", "quantity"))
    try:
        result = import_timesheet(actor=adv, data=data, filename="x.csv")
    except ValidationFailed:
        assert set(TimeEntry.objects.values_list("line_id", "month", "quantity")) == before
    else:
        assert result.rows >= 1


# --- the command -------------------------------------------------------------------------


def test_the_command_imports_and_prints_what_it_did(
    adv: User, contract: Contract, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "temps.csv"
    path.write_bytes(csv_bytes(f"{contract.number};1;2026-01;1;"))
    call_command("import_timesheet", str(path))
    out = capsys.readouterr().out
    assert "temps.csv: 1 time entries imported (1 new, 0 replaced)" in out
    assert "claire.adv" in out
    assert TimeEntry.objects.count() == 1


def test_the_command_lists_the_problems_and_fails(
    adv: User, contract: Contract, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "temps.csv"
    path.write_bytes(
        csv_bytes(f"{contract.number};1;2026-01;1;", f"{contract.number};9;2026-01;1;")
    )
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_timesheet", str(path), user=adv.username)
    assert "temps.csv, line 3, column line:" in capsys.readouterr().err
    assert not TimeEntry.objects.exists()
