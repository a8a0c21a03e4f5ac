"""Reading FEC files as the various accounting programs write them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levier.advaudit.fec.columns import STANDARD_NAMES, parse_amounts
from levier.advaudit.fec.reader import FecUnreadable, load_fec, read_file_name
from levier.advaudit.tests.fec_builder import FecBuilder, fec_amount


def small_book(label: str = "Prestation été") -> FecBuilder:
    fec = FecBuilder()
    fec.entry(
        "VE", "VE1", "20250110",
        ("411000", "120,00", "", {"CompAuxNum": "C1", "CompAuxLib": "Café €uro"}),
        ("706000", "", "100,00", {"EcritureLib": label}),
        ("445710", "", "20,00"),
    )  # fmt: skip
    fec.entry(
        "BQ", "BQ1", "20250201",
        ("512000", "120,00", ""),
        ("411000", "", "120,00", {"CompAuxNum": "C1", "CompAuxLib": "Café €uro"}),
    )  # fmt: skip
    return fec


def labels(book: object) -> list[str]:
    rows = book.connection.execute(  # type: ignore[attr-defined]
        "SELECT ecriture_lib FROM lines ORDER BY line"
    ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("separator", ["\t", "|"])
def test_tab_and_pipe_separators_are_both_read(tmp_path: Path, separator: str) -> None:
    path = small_book().write(tmp_path / "f.txt", separator=separator)
    with load_fec(path) as book:
        assert book.separator == separator
        assert book.record_count == 5
        assert book.quality.totals.total_debit == D("240.00")
        assert book.quality.totals.total_credit == D("240.00")


@pytest.mark.parametrize(
    ("encoding", "bom", "detected"),
    [
        ("utf-8", True, "utf-8-sig"),
        ("utf-8", False, "utf-8"),
        ("iso8859_15", False, "iso8859_15"),
        ("cp1252", False, "cp1252"),
        ("utf-16", False, "utf-16"),
    ],
)
def test_accents_and_the_euro_sign_survive_every_encoding(
    tmp_path: Path, encoding: str, bom: bool, detected: str
) -> None:
    # "€" is 0xA4 in ISO-8859-15 and 0x80 in Windows-1252 (a C1 code in ISO-8859-15:
    # its presence is what tells the two apart); Python's utf-16 codec writes a BOM.
    path = small_book("Prestation été 5 €").write(tmp_path / "f.txt", encoding=encoding, bom=bom)
    with load_fec(path) as book:
        assert book.encoding == detected
        assert labels(book)[1] == "Prestation été 5 €"
        names = book.connection.execute(
            "SELECT DISTINCT comp_aux_lib FROM lines WHERE comp_aux_lib IS NOT NULL"
        ).fetchall()
        assert names == [("Café €uro",)]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", "\r\r\n"])
def test_every_line_ending_ends_a_record(tmp_path: Path, ending: str) -> None:
    fec = small_book()
    path = fec.write(tmp_path / "f.txt", line_ending=ending)
    with load_fec(path) as book:
        assert book.record_count == 5
        assert book.quality.totals.blank_lines == 0
        lines = [
            row[0]
            for row in book.connection.execute("SELECT line FROM lines ORDER BY 1").fetchall()
        ]
        assert lines == [2, 3, 4, 5, 6]


def test_mixed_line_endings_and_a_missing_final_line_end(tmp_path: Path) -> None:
    text = small_book().text(line_ending="\n", final_line_ending=False)
    lines = text.split("\n")
    mixed = lines[0] + "\r\n" + lines[1] + "\r" + lines[2] + "\r\r\n" + "\n".join(lines[3:])
    path = tmp_path / "f.txt"
    path.write_text(mixed, encoding="utf-8")
    with load_fec(path) as book:
        assert book.record_count == 5
        assert book.quality.totals.total_debit == D("240.00")


def test_blank_lines_are_skipped_but_line_numbers_are_kept(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("OD", "1", "20250110", ("512000", "10,00", ""))
    fec.blank().blank()
    fec.raw("   ")
    fec.entry("OD", "1", "20250110", ("101000", "", "10,00"))
    path = fec.write(tmp_path / "f.txt", line_ending="\r\n")
    with load_fec(path) as book:
        lines = [
            row[0]
            for row in book.connection.execute("SELECT line FROM lines ORDER BY 1").fetchall()
        ]
        assert lines == [2, 6]
        blank = book.quality.issue("blank_lines")
        assert blank is not None and blank.sample_lines == (3, 4, 5)


def test_padded_fields_are_trimmed(tmp_path: Path) -> None:
    path = small_book().write(tmp_path / "f.txt", separator="|", pad=30, encoding="iso8859_15")
    with load_fec(path) as book:
        row = book.connection.execute(
            "SELECT journal_code, compte_num, comp_aux_num, debit, ecriture_date FROM lines "
            "ORDER BY line LIMIT 1"
        ).fetchone()
        assert row == ("VE", "411000", "C1", 12000, dt.date(2025, 1, 10))
        assert book.quality.by_severity("error") == ()


def test_extra_columns_are_ignored_and_reported(tmp_path: Path) -> None:
    fec = FecBuilder(columns=[*STANDARD_NAMES, "DateRglt", "ModeRglt"])
    fec.entry(
        "VE", "1", "20250110", ("411000", "10,00", "", {"ModeRglt": "CH"}), ("706000", "", "10,00")
    )
    with load_fec(fec.write(tmp_path / "f.txt")) as book:
        issue = book.quality.issue("extra_columns")
        assert issue is not None and issue.severity == "info"
        assert issue.details == ("DateRglt", "ModeRglt")
        assert book.quality.totals.records_used == 2


def test_extra_columns_in_the_middle_do_not_shift_the_others(tmp_path: Path) -> None:
    columns = [*STANDARD_NAMES[:5], "Analytique", *STANDARD_NAMES[5:]]
    fec = FecBuilder(columns=columns)
    fec.entry(
        "VE",
        "1",
        "20250110",
        ("411000", "10,00", "", {"Analytique": "A1"}),
        ("706000", "", "10,00"),
    )
    with load_fec(fec.write(tmp_path / "f.txt")) as book:
        assert book.quality.totals.total_debit == D("10.00")
        assert book.connection.execute("SELECT min(compte_num) FROM lines").fetchone() == (
            "411000",
        )


def test_header_names_are_matched_whatever_their_case_and_blanks(tmp_path: Path) -> None:
    header = [
        f"  {name.upper()} " if index % 2 else name.lower()
        for index, name in enumerate(STANDARD_NAMES)
    ]
    path = small_book().write(tmp_path / "f.txt", header=header)
    with load_fec(path) as book:
        assert book.record_count == 5
        assert "missing_columns" not in book.quality.codes


def test_a_trailing_separator_on_every_line_is_tolerated(tmp_path: Path) -> None:
    text = small_book().text(separator="|", line_ending="\n").replace("\n", "|\n")
    path = tmp_path / "f.txt"
    path.write_text(text, encoding="utf-8")
    with load_fec(path) as book:
        assert book.quality.totals.records_used == 5
        assert "extra_columns" not in book.quality.codes


def test_a_file_without_entry_lines_is_refused(tmp_path: Path) -> None:
    path = FecBuilder().write(tmp_path / "123456789FEC20251231.txt")
    with pytest.raises(FecUnreadable) as refused:
        load_fec(path)
    assert refused.value.code == "no_lines"
    assert "123456789FEC20251231.txt" in str(refused.value)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vide.txt"
    path.write_bytes(b"")
    with pytest.raises(FecUnreadable) as refused:
        load_fec(path)
    assert refused.value.code == "empty"


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 10)
    with pytest.raises(FecUnreadable) as refused:
        load_fec(path)
    assert refused.value.code == "binary"
    assert "export.xlsx" in str(refused.value)


def test_a_nul_byte_further_in_the_file_is_refused_naming_its_line(tmp_path: Path) -> None:
    # Past the first 64 KiB (where a NUL means "a binary file"): line 2,001.
    fec = FecBuilder()
    for number in range(1000):
        fec.entry("OD", str(number), "20250110", ("512000", "1,00", ""), ("101000", "", "1,00"))
    lines = fec.text().split("\n")
    lines[2000] += "\x00"
    path = tmp_path / "f.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert path.stat().st_size > 64 * 1024
    with pytest.raises(FecUnreadable) as refused:
        load_fec(path)
    assert refused.value.code == "binary"
    assert "2001" in refused.value.reason


def test_a_semicolon_csv_is_refused_naming_the_file_and_the_separator(tmp_path: Path) -> None:
    path = small_book().write(tmp_path / "ecritures.csv", separator=";")
    with pytest.raises(FecUnreadable) as refused:
        load_fec(path)
    assert refused.value.code == "no_separator"
    assert "ecritures.csv" in str(refused.value)
    assert "« ; »" in refused.value.reason


def test_a_missing_essential_column_is_refused_by_name(tmp_path: Path) -> None:
    columns = [name for name in STANDARD_NAMES if name != "EcritureDate"]
    fec = FecBuilder(columns=columns)
    fec.entry("VE", "1", "20250110", ("411000", "10,00", ""), ("706000", "", "10,00"))
    with pytest.raises(FecUnreadable) as refused:
        load_fec(fec.write(tmp_path / "f.txt"))
    assert refused.value.code == "missing_essential_column"
    assert "EcritureDate" in refused.value.reason


def test_montant_and_sens_instead_of_debit_and_credit_is_refused(tmp_path: Path) -> None:
    columns = [name for name in STANDARD_NAMES if name not in ("Debit", "Credit")] + [
        "Montant",
        "Sens",
    ]
    fec = FecBuilder(columns=columns)
    fec.line(
        JournalCode="VE",
        EcritureNum="1",
        EcritureDate="20250110",
        CompteNum="411000",
        Montant="10,00",
        Sens="D",
    )
    with pytest.raises(FecUnreadable) as refused:
        load_fec(fec.write(tmp_path / "f.txt"))
    assert "Debit, Credit" in refused.value.reason


def test_a_missing_optional_column_is_read_as_empty_and_reported(tmp_path: Path) -> None:
    columns = [
        name for name in STANDARD_NAMES if name not in ("ValidDate", "Montantdevise", "Idevise")
    ]
    fec = FecBuilder(columns=columns)
    fec.entry("VE", "1", "20250110", ("411000", "10,00", ""), ("706000", "", "10,00"))
    with load_fec(fec.write(tmp_path / "f.txt")) as book:
        issue = book.quality.issue("missing_columns")
        assert issue is not None and issue.severity == "warning"
        assert issue.details == ("ValidDate", "Montantdevise", "Idevise")
        assert book.connection.execute("SELECT count(valid_date) FROM lines").fetchone() == (0,)
        assert book.quality.totals.records_used == 2


def test_a_text_file_that_is_not_a_fec_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Nom\tPrénom\nDupont\tJean\n", encoding="utf-8")
    with pytest.raises(FecUnreadable) as refused:
        load_fec(path)
    assert refused.value.code == "not_a_fec"


def test_a_file_with_no_usable_line_is_refused_with_the_reasons(tmp_path: Path) -> None:
    fec = FecBuilder()
    fec.entry("VE", "1", "2025-13-45", ("411000", "10,00", ""), ("706000", "", "10,00"))
    with pytest.raises(FecUnreadable) as refused:
        load_fec(fec.write(tmp_path / "f.txt"))
    assert refused.value.code == "no_usable_lines"
    assert "EcritureDate" in refused.value.reason


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FecUnreadable) as refused:
        load_fec(tmp_path / "absent.txt")
    assert refused.value.code == "io"


def test_siren_and_closing_date_come_from_the_file_name() -> None:
    name = read_file_name(Path("/x/123456789FEC20251231.txt"))
    assert (name.siren, name.closing_date, name.standard) == (
        "123456789",
        dt.date(2025, 12, 31),
        True,
    )
    renamed = read_file_name(Path("export-123456789FEC20250630 (1).TXT"))
    assert (renamed.siren, renamed.closing_date, renamed.standard) == (
        "123456789",
        dt.date(2025, 6, 30),
        False,
    )
    ten_digits = read_file_name(Path("0000000001FEC20220831.txt"))
    assert (ten_digits.siren, ten_digits.closing_date) == (None, dt.date(2022, 8, 31))
    assert read_file_name(Path("grand-livre.txt")).closing_date is None


def test_the_book_knows_its_siren_and_closing_date(tmp_path: Path) -> None:
    with load_fec(small_book().write(tmp_path / "123456789FEC20251231.txt")) as book:
        assert book.siren == "123456789"
        assert book.closing_date_from_name == dt.date(2025, 12, 31)
        assert "file_name" not in book.quality.codes


def test_progress_is_reported_up_to_the_file_size(tmp_path: Path) -> None:
    path = small_book().write(tmp_path / "f.txt")
    calls: list[tuple[int, int]] = []
    with load_fec(path, progress=lambda done, total: calls.append((done, total))):
        pass
    assert calls[-1] == (path.stat().st_size, path.stat().st_size)


def test_closing_the_book_removes_its_temporary_folder(tmp_path: Path) -> None:
    book = load_fec(small_book().write(tmp_path / "f.txt"))
    assert book.work_dir is not None and book.work_dir.exists()
    book.close()
    assert not book.work_dir.exists()


def test_quoted_fields_are_unquoted_when_the_header_is_quoted(tmp_path: Path) -> None:
    text = small_book().text()
    quoted = "\n".join(
        "\t".join(f'"{field}"' for field in line.split("\t")) for line in text.splitlines()
    )
    path = tmp_path / "f.txt"
    path.write_text(quoted + "\n", encoding="utf-8")
    with load_fec(path) as book:
        assert book.quality.totals.total_debit == D("240.00")
        assert "quoted_fields" in book.quality.codes


# --- amounts ----------------------------------------------------------------------------


def test_amounts_in_fec_style_and_tolerated_styles() -> None:
    parsed = parse_amounts(
        ["1234,56", "-0,01", "+3,4", ",5", "12,3400", "0000000069,60", "", "12.50", "1 234,56",
         "1.234,56", "12,345", "-12,50-", "1e5", "-,5", "12345678901234567,89"]
    )  # fmt: skip
    assert [(amount.cents, amount.standard) for amount in parsed] == [
        (123456, True),
        (-1, True),
        (340, True),
        (50, True),
        (1234, True),
        (6960, True),
        (0, True),
        (1250, False),  # a decimal dot: read, reported
        (None, False),  # thousands separators: unreadable
        (None, False),
        (None, False),  # not exact to the cent
        (None, False),  # trailing sign
        (None, False),
        (-50, True),
        (1234567890123456789, True),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.decimals(
            min_value=D("-99999999999.99"),
            max_value=D("99999999999.99"),
            places=2,
            allow_nan=False,
            allow_infinity=False,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_two_decimal_amount_written_fec_style_reads_back_exactly(amounts: list[D]) -> None:
    parsed = parse_amounts([fec_amount(amount) for amount in amounts])
    assert [D(amount.cents).scaleb(-2) for amount in parsed] == amounts  # type: ignore[arg-type]
    assert all(amount.standard for amount in parsed)


def test_a_large_file_is_loaded_in_a_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levier.advaudit.fec import reader

    monkeypatch.setattr(reader, "LARGE_FILE_BYTES", 0)
    book = load_fec(small_book().write(tmp_path / "f.txt"))
    assert book.work_dir is not None and (book.work_dir / "book.duckdb").exists()
    assert book.quality.totals.total_debit == D("240.00")
    book.close()
    book.close()  # closing twice is harmless
    assert not book.work_dir.exists()


def test_a_refused_file_leaves_no_temporary_folder(tmp_path: Path) -> None:
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("levier-fec-*"))
    with pytest.raises(FecUnreadable):
        load_fec(small_book().write(tmp_path / "f.csv", separator=";"))
    assert set(Path(tempfile.gettempdir()).glob("levier-fec-*")) == before


def test_bytes_neither_utf8_nor_windows_1252_fall_back_to_iso_8859_15(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252 and a C1 control code in ISO-8859-15: the file is
    # read as ISO-8859-15 ("é" = 0xE9) and the stray code replaced by a space, reported.
    text = small_book("Prestation été").text().replace("été", "été\x81")
    path = tmp_path / "f.txt"
    path.write_bytes(text.encode("iso8859_15"))
    with load_fec(path) as book:
        assert book.encoding == "iso8859_15"
        assert labels(book)[1] == "Prestation été"  # the space ending the field is trimmed
        issue = book.quality.issue("control_characters")
        assert issue is not None and issue.sample_lines == (3,)


def test_a_file_without_line_ends_is_refused_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"JournalCode\t" + b"x" * (2 * 1024 * 1024))
    with pytest.raises(FecUnreadable) as refused:
        load_fec(path)
    assert refused.value.code == "line_too_long"


@pytest.mark.parametrize("encoding", ["utf-8", "iso8859_15", "utf-16"])
@pytest.mark.parametrize("ending", ["\r\n", "\r", "\r\r\n"])
def test_line_ends_and_characters_split_between_reading_chunks_are_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str, encoding: str
) -> None:
    # Chunks of 7 bytes cut CR from LF, CR CR from LF, and "é" / "€" in the middle.
    from levier.advaudit.fec import transcode

    monkeypatch.setattr(transcode, "CHUNK_BYTES", 7)
    fec = small_book("Prestation été 5 €")
    fec.blank()
    fec.entry("OD", "1", "20250110", ("512000", "1,00", ""), ("101000", "", "1,00"))
    path = fec.write(tmp_path / "f.txt", line_ending=ending, encoding=encoding)
    with load_fec(path) as book:
        lines = [
            row[0]
            for row in book.connection.execute("SELECT line FROM lines ORDER BY 1").fetchall()
        ]
        assert lines == [2, 3, 4, 5, 6, 8, 9]
        assert labels(book)[1] == "Prestation été 5 €"
        assert book.quality.totals.total_debit == D("241.00")
