"""Each quality check fires on a crafted file, at the right lines; only bad lines are left out."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.advaudit.fec.figures import compute_fec_figures
from levier.advaudit.fec.quality import QualityReport
from levier.advaudit.fec.reader import FecBook, load_fec
from levier.advaudit.tests.fec_builder import FecBuilder, fec_amount

CA = {"CompAuxNum": "CA", "CompAuxLib": "Client A"}


def crafted() -> tuple[FecBuilder, dict[str, int]]:
    """A 2025 book with one defect per check; `at` names the line of each."""
    fec = FecBuilder()
    at: dict[str, int] = {}
    # line 2–4: a clean invoice of 1,200 TTC to CA.
    fec.entry(
        "VE", "VE000001", "20250110",
        ("411000", "1200,00", "", CA),
        ("706000", "", "1000,00"),
        ("445710", "", "200,00"),
    )  # fmt: skip
    # line 5: a field missing (17 fields instead of 18): left out.
    fec.raw("\t".join(["VE", "Ventes", "VE000002", "20250111", "411000", "Clients", "CA", "Client A",
                       "R", "20250111", "Facture", "999,00", "0,00", "", "", "20250111", ""]))  # fmt: skip
    at["field_count"] = fec.last_line
    # lines 6–7: a piece whose 411 line has an unreadable EcritureDate (left out: the piece
    # no longer balances) and a PieceDate in another layout on its other line.
    fec.entry("VE", "VE000003", "20251301", ("411000", "50,00", "", CA), ValidDate="20250112")
    at["bad_ecriture_date"] = fec.last_line
    fec.entry("VE", "VE000003", "20250112", ("706000", "", "50,00"), PieceDate="2025-01-12")
    at["date_format"] = fec.last_line
    # line 8–9: an unreadable amount with thousands separators (left out), a decimal dot.
    fec.entry("OD", "OD000001", "20250115", ("512000", "1 000,00", ""))
    at["bad_amount"] = fec.last_line
    fec.entry("OD", "OD000001", "20250115", ("101000", "", "1000.00"))
    at["amount_format"] = fec.last_line
    # line 10–11: debit and credit on one line (net 70 debit), balanced by a 70 credit.
    fec.entry("OD", "OD000002", "20250116", ("471000", "100,00", "30,00"), ("101000", "", "70,00"))
    at["debit_and_credit"] = fec.last_line - 1
    # line 12–13: negative amounts.
    fec.entry("OD", "OD000003", "20250117", ("471000", "-5,00", ""), ("101000", "", "-5,00"))
    at["negative_amount"] = fec.last_line - 1
    # line 14–15: an empty account number.
    fec.entry("OD", "OD000004", "20250118", ("", "8,00", ""), ("101000", "", "8,00"))
    at["empty_account"] = fec.last_line - 1
    # line 16–17: an unbalanced piece (9 against 7).
    fec.entry("OD", "OD000005", "20250119", ("471000", "9,00", ""), ("101000", "", "7,00"))
    at["unbalanced_piece"] = fec.last_line - 1
    # line 18–19: numbering backwards (OD000000 after OD000005) and a date backwards.
    fec.entry("OD", "OD000000", "20250101", ("471000", "1,00", ""), ("101000", "", "1,00"))
    at["backwards"] = fec.last_line - 1
    # line 20–21: a date outside the fiscal year (in a journal of its own).
    fec.entry("EX", "EX000001", "20260105", ("471000", "2,00", ""), ("101000", "", "2,00"))
    at["outside"] = fec.last_line - 1
    # line 22–23: a gap (OD000009 after OD000005); validated before its entry date; an
    # unreadable ValidDate.
    fec.entry("OD", "OD000009", "20250120", ("471000", "3,00", "", {"ValidDate": "20250105"}),
              ("101000", "", "3,00", {"ValidDate": "31/02/2025"}))  # fmt: skip
    at["valid_before"] = fec.last_line - 1
    at["bad_valid_date"] = fec.last_line
    # line 24: a letter used on one line only.
    fec.entry("VE", "VE000004", "20250121", ("411000", "60,00", "", {**CA, "EcritureLet": "ZZ"}),
              ("706000", "", "60,00"))  # fmt: skip
    at["single_letter"] = fec.last_line - 1
    return fec, at


@pytest.fixture
def book(tmp_path: Path) -> FecBook:
    fec, _at = crafted()
    loaded = load_fec(fec.write(tmp_path / "123456789FEC20251231.txt"))
    yield loaded  # type: ignore[misc]
    loaded.close()


@pytest.fixture
def report(book: FecBook) -> QualityReport:
    return book.quality


LINES = crafted()[1]


@pytest.mark.parametrize(
    ("code", "severity", "lines"),
    [
        ("field_count", "error", (LINES["field_count"],)),
        ("bad_date.EcritureDate", "error", (LINES["bad_ecriture_date"],)),
        ("date_format.PieceDate", "warning", (LINES["date_format"],)),
        ("bad_amount.Debit", "error", (LINES["bad_amount"],)),
        ("amount_format.Credit", "warning", (LINES["amount_format"],)),
        ("debit_and_credit", "warning", (LINES["debit_and_credit"],)),
        ("negative_amount", "warning", (LINES["negative_amount"], LINES["negative_amount"] + 1)),
        ("empty_account", "error", (LINES["empty_account"],)),
        ("numbering_backwards", "warning", (LINES["backwards"],)),
        ("dates_backwards", "warning", (LINES["backwards"],)),
        ("outside_fiscal_year", "warning", (LINES["outside"], LINES["outside"] + 1)),
        ("valid_date_before_entry", "warning", (LINES["valid_before"],)),
        ("bad_date.ValidDate", "warning", (LINES["bad_valid_date"],)),
        ("single_line_letter", "warning", (LINES["single_letter"],)),
    ],
)
def test_each_check_fires_at_its_lines(
    report: QualityReport, code: str, severity: str, lines: tuple[int, ...]
) -> None:
    issue = report.issue(code)
    assert issue is not None, sorted(report.codes)
    assert issue.severity == severity
    assert issue.sample_lines == lines
    assert issue.count == len(lines)
    assert str(lines[0]) in issue.message


def test_unbalanced_pieces_are_named_with_their_first_line(report: QualityReport) -> None:
    issue = report.issue("unbalanced_pieces")
    assert issue is not None and issue.severity == "error"
    # VE000003 lost its 411 line (bad date): 0 against 50; OD000001 lost its debit (bad
    # amount); OD000005 is 9 against 7.
    assert issue.sample_lines == (7, 9, LINES["unbalanced_piece"])
    assert issue.details[2] == "OD OD000005 (ligne 16) : débit 9.00, crédit 7.00"
    assert report.totals.pieces_unbalanced == 3


def test_the_file_does_not_balance_over_the_lines_used(report: QualityReport) -> None:
    # Debits used: 1,200 + 100 − 5 + 8 + 9 + 1 + 2 + 3 + 60 = 1,378;
    # credits: 1,000 + 200 + 50 + 1,000 + 30 + 70 − 5 + 8 + 7 + 1 + 2 + 3 + 60 = 2,426.
    assert report.totals.total_debit == D("1378.00")
    assert report.totals.total_credit == D("2426.00")
    issue = report.issue("unbalanced_file")
    assert issue is not None and "-1048.00" in issue.message


def test_only_the_unreadable_lines_are_left_out(report: QualityReport, book: FecBook) -> None:
    # 24 records; out: the short line, the bad EcritureDate, the bad amount.
    assert (report.totals.records_read, report.totals.records_used) == (24, 21)
    excluded = {LINES["field_count"], LINES["bad_ecriture_date"], LINES["bad_amount"]}
    kept = {row[0] for row in book.connection.execute("SELECT line FROM lines").fetchall()}
    assert kept == set(range(2, 26)) - excluded
    # A bad ValidDate is read as empty, the line kept.
    row = book.connection.execute(
        "SELECT valid_date FROM lines WHERE line = $line", {"line": LINES["bad_valid_date"]}
    ).fetchone()
    assert row == (None,)


def test_figures_use_the_kept_lines_only(book: FecBook) -> None:
    figures = compute_fec_figures(book, as_of=None)
    # 411: 1,200 (VE000001) + 60 (VE000004); the 999 of the short line and the 50 with a
    # bad date are out.
    assert figures.receivables_ttc == D("1260.00")
    # Invoices: VE000001 and VE000004 (VE000003 kept only its 706 line: no 411, no invoice).
    assert figures.invoice_count == 2


def test_the_gap_in_numbering_is_reported_per_journal(report: QualityReport) -> None:
    issue = report.issue("numbering_gaps")
    assert issue is not None
    # OD: 1, 2, 3, 4, 5, then 9 → one gap; VE: 1, 3, 4 → one gap (VE000002 was left out).
    assert issue.count == 2
    assert set(issue.details) == {"OD: OD000005 → OD000009", "VE: VE000001 → VE000003"}


def test_a_file_name_off_the_standard_is_an_information(tmp_path: Path) -> None:
    fec, _at = crafted()
    with load_fec(fec.write(tmp_path / "export compta.txt")) as book:
        issue = book.quality.issue("file_name")
        assert issue is not None and issue.severity == "info"
        assert "export compta.txt" in issue.message
        # Without a closing date in the name, the fiscal year is the 12 months up to the
        # last entry's month: the 19 lines of January 2025 are outside February 2025 –
        # January 2026 (the 21 kept lines but the two of 05/01/2026).
        outside = book.quality.issue("outside_fiscal_year")
        assert outside is not None and outside.count == 19


def test_a_file_name_date_matching_no_entry_is_reported(tmp_path: Path) -> None:
    fec, _at = crafted()
    with load_fec(fec.write(tmp_path / "123456789FEC20500930.txt")) as book:
        assert "file_name_date_mismatch" in book.quality.codes


def test_a_piece_spread_over_several_dates_is_reported(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("ve", "0", "20250110", ("411000", "12,00", ""), ("706000", "", "12,00"))
    fec.entry("ve", "0", "20250111", ("411000", "24,00", ""), ("706000", "", "24,00"))
    with load_fec(fec.write(tmp_path / "f.txt")) as book:
        issue = book.quality.issue("piece_several_dates")
        assert issue is not None and issue.sample_lines == (2,)


def test_partial_lettering_is_reported(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("VE", "1", "20250110", ("411000", "100,00", "", {**CA, "EcritureLet": "A"}),
              ("706000", "", "100,00"))  # fmt: skip
    fec.entry("BQ", "1", "20250120", ("512000", "40,00", ""),
              ("411000", "", "40,00", {**CA, "EcritureLet": "A"}))  # fmt: skip
    with load_fec(fec.write(tmp_path / "f.txt")) as book:
        issue = book.quality.issue("unbalanced_letter")
        assert issue is not None and issue.details == ("411000/CA A: 60.00",)


def test_control_characters_are_replaced_and_reported(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("OD", "1", "20250110", ("512000", "10,00", "", {"EcritureLib": "bip\x07"}),
              ("101000", "", "10,00"))  # fmt: skip
    path = tmp_path / "f.txt"
    path.write_bytes(fec.text().encode("cp1252") + b"\x1a")  # DOS end-of-file mark
    with load_fec(path) as book:
        issue = book.quality.issue("control_characters")
        assert issue is not None and issue.count == 2 and issue.sample_lines == (2, 4)
        assert book.quality.totals.records_used == 2


def test_the_report_as_json(report: QualityReport) -> None:
    data = report.as_json()
    assert data["totals"]["records_excluded"] == 3
    assert data["totals"]["total_debit"] == "1378.00"
    first = data["issues"][0]
    assert set(first) == {"code", "severity", "message", "count", "sample_lines", "details"}
    severities = [issue["severity"] for issue in data["issues"]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)


def test_a_clean_book_has_no_error_or_warning(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("VE", "VE1", "20250110", ("411000", "120,00", "", {**CA, "EcritureLet": "A", "DateLet": "20250201"}),
              ("706000", "", "100,00"), ("445710", "", "20,00"))  # fmt: skip
    fec.entry("BQ", "BQ1", "20250201", ("512000", "120,00", ""),
              ("411000", "", "120,00", {**CA, "EcritureLet": "A", "DateLet": "20250201"}))  # fmt: skip
    with load_fec(fec.write(tmp_path / "123456789FEC20251231.txt")) as book:
        assert book.quality.issues == ()
        assert book.quality.totals.pieces == 2


@st.composite
def balanced_pieces(draw: st.DrawFn) -> list[list[tuple[str, D, D]]]:
    """Pieces whose debits sum to their credits, split over random lines."""
    amount = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
    pieces = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        debits = draw(st.lists(amount, min_size=1, max_size=4))
        total = sum(debits, D(0))
        cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=int(total * 100) - 1), max_size=3, unique=True))) if total > D("0.01") else []  # fmt: skip
        bounds = [0, *cuts, int(total * 100)]
        credits = [D(bounds[i + 1] - bounds[i]).scaleb(-2) for i in range(len(bounds) - 1)]
        lines = [("471000", debit, D(0)) for debit in debits]
        lines += [("401000", D(0), credit) for credit in credits]
        pieces.append(draw(st.permutations(lines)))
    return pieces


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=balanced_pieces())
def test_balanced_random_pieces_are_never_reported_unbalanced(
    tmp_path: Path, pieces: list[list[tuple[str, D, D]]]
) -> None:
    fec = FecBuilder()
    for number, piece in enumerate(pieces, start=1):
        fec.entry("OD", f"OD{number:04d}", "20250110",
                  *((account, fec_amount(debit), fec_amount(credit)) for account, debit, credit in piece))  # fmt: skip
    with load_fec(fec.write(tmp_path / "f.txt", separator="|")) as book:
        assert "unbalanced_pieces" not in book.quality.codes
        assert "unbalanced_file" not in book.quality.codes
        assert book.quality.totals.pieces == len(pieces)
        assert book.quality.totals.total_debit == sum(
            (line[1] for piece in pieces for line in piece), D(0)
        )


def test_placeholder_dates_are_unreadable_not_a_crash(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("OD", "1", "99991231", ("512000", "10,00", ""), ("101000", "", "10,00"))
    fec.entry("OD", "2", "20250110", ("512000", "10,00", "", {"DateLet": "00000000"}),
              ("101000", "", "10,00"))  # fmt: skip
    with load_fec(fec.write(tmp_path / "123456789FEC00010101.txt")) as book:
        assert book.closing_date_from_name is None
        bad = book.quality.issue("bad_date.EcritureDate")
        assert bad is not None and bad.sample_lines == (2, 3)
        assert book.quality.issue("bad_date.DateLet") is not None
        assert book.quality.totals.records_used == 2
        compute_fec_figures(book)
