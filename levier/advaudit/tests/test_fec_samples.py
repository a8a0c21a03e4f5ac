"""The real FEC samples of /work/shared/samples/fec (written by other software) all load.

Record counts and totals are recomputed here by another method (`str.splitlines` and
`Decimal` over the raw text) than the reader's (byte-level line ends, DuckDB).

What the checks find in them (asserted below):
- 0000000001FEC20220831 (UTF-8 with BOM, tab): balanced; the file name has a 10-digit
  "SIREN" (no SIREN read); PieceDate 19000101 on 16 inventory lines (a "no date" value of
  the exporting software); numbers and dates go backwards within journals (the file is
  sorted by validation, not by number); 73 letters on a single line, 14 partial letters.
- 000000000FEC20231231 (UTF-8, tab, 4 extra columns DateRglt/ModeRglt/NatOp/IdClient):
  balanced; EcritureNum is "0" on every line, so each journal is a single piece spread over
  many dates (`piece_several_dates`): classifying invoices by piece is meaningless there;
  its entries run from 2021 to mid-2023 while the name says a year ending 31/12/2023.
- 123456789FEC20500930 (UTF-8, tab, lines ending CR CR LF, no final line end): balanced; the
  name's closing date (2050) matches no entry; 13 months of entries (04/2022–04/2023); its
  customers are barely in 411 (a retailer: 2 invoices only).
- 111111111FEC20221231.TXT (ISO-8859-15 "ø", pipe, fields padded with spaces, a trailing
  pipe on every line): balanced; entries of 2023 in a file named for 2022.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal as D
from pathlib import Path

import pytest

from levier.advaudit.fec.figures import compute_fec_figures
from levier.advaudit.fec.reader import load_fec

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "fec"

CASES = {
    "neolegal-0000000001FEC20220831.txt": {
        "encoding": "utf-8-sig",
        "python_encoding": "utf-8-sig",
        "separator": "\t",
        "records": 5422,
        "total": D("10186219.81"),
        "siren": None,
        "closing": dt.date(2022, 8, 31),
        "issues": {
            "piece_date_far",
            "numbering_backwards",
            "dates_backwards",
            "single_line_letter",
            "unbalanced_letter",
            "file_name",
        },
    },
    "neolegal-000000000FEC20231231.txt": {
        "encoding": "utf-8",
        "python_encoding": "utf-8",
        "separator": "\t",
        "records": 2102,
        "total": D("1265350.82"),
        "siren": "000000000",
        "closing": dt.date(2023, 12, 31),
        "issues": {"extra_columns", "piece_several_dates", "outside_fiscal_year", "file_name"},
    },
    "neolegal-123456789FEC20500930.txt": {
        "encoding": "utf-8",
        "python_encoding": "utf-8",
        "separator": "\t",
        "records": 10756,
        "total": D("8258083.73"),
        "siren": "123456789",
        "closing": dt.date(2050, 9, 30),
        "issues": {"file_name_date_mismatch", "outside_fiscal_year", "file_name"},
    },
    "neolegal-111111111FEC20221231.TXT": {
        "encoding": "iso8859_15",
        "python_encoding": "iso8859_15",
        "separator": "|",
        "records": 934,
        "total": D("225682.23"),
        "siren": "111111111",
        "closing": dt.date(2022, 12, 31),
        "issues": {"file_name_date_mismatch", "file_name"},
    },
}


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} does not exist (shared samples not checked out)")
    return path


def count_and_totals(path: Path, encoding: str, separator: str) -> tuple[int, D, D]:
    """Another reading: Python's splitlines (blank lines dropped), Decimal sums."""
    lines = [line for line in path.read_bytes().decode(encoding).splitlines() if line.strip()]
    header = [name.strip().lower() for name in lines[0].split(separator)]
    debit_at, credit_at = header.index("debit"), header.index("credit")
    debit = credit = D(0)
    for line in lines[1:]:
        fields = line.split(separator)
        debit += D(fields[debit_at].strip().replace(",", ".") or "0")
        credit += D(fields[credit_at].strip().replace(",", ".") or "0")
    return len(lines) - 1, debit, credit


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_sample_loads_with_its_encoding_separator_count_and_totals(name: str) -> None:
    case = CASES[name]
    path = sample(name)
    records, debit, credit = count_and_totals(path, case["python_encoding"], case["separator"])
    assert records == case["records"]
    assert debit == credit == case["total"]  # every sample balances
    with load_fec(path) as book:
        assert book.encoding == case["encoding"]
        assert book.separator == case["separator"]
        assert book.record_count == records
        assert book.quality.totals.records_used == records  # nothing left out
        assert book.quality.totals.total_debit == debit
        assert book.quality.totals.total_credit == credit
        assert book.quality.totals.pieces_unbalanced == 0
        assert (book.siren, book.closing_date_from_name) == (case["siren"], case["closing"])
        assert book.quality.codes == case["issues"]
        assert book.quality.by_severity("error") == ()
        figures = compute_fec_figures(book)
        json.dumps(figures.as_json())
        json.dumps(book.quality.as_json())


def test_the_iso_sample_keeps_its_accented_letter(tmp_path: Path) -> None:
    path = sample("neolegal-111111111FEC20221231.TXT")
    with load_fec(path) as book:
        found = book.connection.execute(
            "SELECT count(*) FROM lines WHERE ecriture_lib LIKE '%ø%' OR compte_lib LIKE '%ø%' "
            "OR comp_aux_lib LIKE '%ø%'"
        ).fetchone()
        raw = path.read_bytes().decode("iso8859_15")
        assert found is not None and found[0] == len(re.findall("ø", raw))
        # Padding is trimmed: account numbers and journal codes carry no blanks.
        assert book.connection.execute(
            "SELECT count(*) FROM lines WHERE journal_code LIKE '% ' OR compte_num LIKE '% '"
        ).fetchone() == (0,)


def test_figures_of_the_first_sample(tmp_path: Path) -> None:
    """The first sample (a wholesaler, FY 09/2021–08/2022) gives plausible figures."""
    with load_fec(sample("neolegal-0000000001FEC20220831.txt")) as book:
        figures = compute_fec_figures(book)
        expected_ar = book.connection.execute(
            "SELECT sum(debit - credit) FROM lines WHERE compte_num LIKE '411%'"
        ).fetchone()
    assert figures.as_of == dt.date(2022, 8, 31)
    assert expected_ar is not None and figures.receivables_ttc == D(expected_ar[0]).scaleb(-2)
    assert figures.invoice_count > 300 and figures.credit_note_count > 0
    assert figures.average_days_to_pay is not None
    assert sum(figures.open_invoices_aged.values(), D(0)) > 0
