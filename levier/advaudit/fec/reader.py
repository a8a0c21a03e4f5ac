"""Loading a FEC (Fichier des Écritures Comptables) of any French accounting software.

The pipeline, and why each step is where it is:

1. **Python streams the bytes once** (8 MiB chunks): it settles the character set (UTF-8
   with or without BOM, UTF-16 with a BOM; otherwise ISO-8859-15, the official set — or
   Windows-1252 when the bytes 0x80–0x9F occur, which are control codes in ISO-8859-15 but
   "€", "œ", "’"… in the Windows set most French software really writes), makes every
   record end (LF, CRLF, CR alone, CR CR LF) a single LF, replaces stray control characters
   by spaces, and writes UTF-8 to a temporary file. Empty lines are kept as a marker so
   that the n-th line of that file is the n-th physical line of the original (1 = header),
   which every message quotes. No per-line Python runs: `bytes.replace`, `translate` and
   substring searches work on whole chunks (in C), so a file of millions of lines never
   becomes millions of Python objects. The header is checked as soon as the first chunk is
   read, so a file that is not a FEC is refused without reading the rest. Whether fields
   are padded with spaces is noted too (the first 32 MiB searched whole, then a slice of
   each chunk: padding is a habit of the exporting software), so that SQL trims only then.
2. **DuckDB reads that file as one text column** (`read_csv` with a separator that cannot
   occur, no quoting), numbering rows in file order (`row_number() OVER ()`, which DuckDB
   documents as the original order; the row count is checked against the lines written).
   Reading whole lines rather than letting the CSV reader split fields is deliberate: a line
   with a wrong number of fields must be reported with its line number and left out, never
   shift the lines after it or stop the load. (Measured on 1M lines: reading + `string_split`
   costs less than `read_csv` splitting 18 columns itself; trimming every field doubles the
   split, hence the padding test above; pyarrow is not needed.)
3. **SQL splits, trims and types** every field (`columns.py`): dates, amounts as BIGINT
   cents (exact; `Decimal` only on output), field counts checked against the header. Lines
   with a wrong field count, an unreadable `EcritureDate`, `Debit` or `Credit` are left out
   of the table `lines` (and reported); an unreadable optional date (`PieceDate`,
   `DateLet`, `ValidDate`) is reported and read as empty, because dropping the line for it
   would unbalance its piece and take real money out of the balances.
4. **The quality checks** (`quality.py`) run on the typed rows (`parsed`) before the rows
   left out are deleted and the staging columns dropped — `parsed` then becomes `lines`
   without a copy; only what cannot be read at all is refused (`FecUnreadable`): binary
   data, no header, no tab or `|` separator, an essential column missing, no usable line.

A file up to `LARGE_FILE_BYTES` is loaded in an in-memory database; a larger one in a
database file in the book's temporary folder, so that memory stays flat whatever the size
(DuckDB spills to disk past its memory limit in both cases). The temporary folder goes away
with `FecBook.close()` (or when the book is garbage-collected).

Tolerances (each reported): header names in any case, with blanks, a BOM or quotes around
them; extra columns (ignored); missing optional columns (read as empty); trailing empty
fields beyond the header's columns (a trailing separator on every line is common); fields
wrapped in double quotes when the header's names are.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

import duckdb
from django.utils.translation import gettext

from levier.advaudit.fec import quality
from levier.advaudit.fec.columns import (
    AMOUNT_COLUMNS,
    DATE_COLUMNS,
    SQL_NAME,
    STANDARD_NAMES,
    install_macros,
)
from levier.advaudit.fec.errors import FecUnreadable
from levier.advaudit.fec.quality import QualityReport
from levier.advaudit.fec.transcode import EMPTY_LINE_MARK, MAX_LINE_BYTES, Scan, scan_file

__all__ = ["FecBook", "FecUnreadable", "FileName", "load_fec", "read_file_name"]

LARGE_FILE_BYTES: Final = 256 * 1024 * 1024
DUCKDB_MEMORY_LIMIT: Final = "1GB"

_COLUMN_DELIMITER: Final = "\x1f"  # never in the normalised text: each line is one value
_FILE_NAME = re.compile(r"(?<![0-9])([0-9]{9})FEC([0-9]{8})(?![0-9])", re.IGNORECASE)
_FILE_NAME_STRICT = re.compile(r"[0-9]{9}FEC[0-9]{8}", re.IGNORECASE)
_CLOSING_DATE = re.compile(r"FEC([0-9]{8})(?![0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class FecBook:
    """A loaded FEC: table `lines` of `connection` holds its usable lines, typed; `quality`
    says what was found and left out.

    `lines`: `line` (physical line number, 1 = header), the 18 columns under their
    snake_case names (columns.py): texts (`comp_aux_num`, `comp_aux_lib`, `ecriture_let`,
    `montant_devise`, `idevise` NULL when empty, the others '' when empty), `ecriture_date`,
    `piece_date`, `date_let`, `valid_date` as DATE (NULL when empty or unreadable), `debit`
    and `credit` as BIGINT cents (exact)."""

    path: Path
    encoding: str  # a Python codec name: utf-8, utf-8-sig (with BOM), utf-16, iso8859_15, cp1252
    separator: str  # "\t" or "|"
    record_count: int  # data records read (blank lines and the header not counted)
    siren: str | None
    closing_date_from_name: dt.date | None
    quality: QualityReport
    connection: duckdb.DuckDBPyConnection
    header: tuple[str, ...] = ()
    work_dir: Path | None = None

    def close(self) -> None:
        """Close the database and remove the book's temporary folder."""
        _release(self.connection, self.work_dir)

    def __enter__(self) -> FecBook:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _release(connection: duckdb.DuckDBPyConnection, work_dir: Path | None) -> None:
    try:
        connection.close()
    finally:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)


# --- file name --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileName:
    siren: str | None
    closing_date: dt.date | None
    standard: bool  # exactly SIRENFECAAAAMMJJ (before the extension)


def read_file_name(path: Path) -> FileName:
    """SIREN and closing date from a name like `123456789FEC20241231.txt`; what is found
    anywhere in the name is used (exports are often renamed with a prefix), and whether the
    name is exactly the standard one is reported."""
    stem = path.stem
    siren: str | None = None
    match = _FILE_NAME.search(path.name)
    if match:
        siren = match.group(1)
    closing: dt.date | None = None
    date_match = _CLOSING_DATE.search(path.name)
    if date_match:
        try:
            closing = dt.datetime.strptime(date_match.group(1), "%Y%m%d").date()
        except ValueError:
            closing = None
        if closing is not None and not 1900 <= closing.year <= 2999:
            closing = None
    standard = bool(_FILE_NAME_STRICT.fullmatch(stem)) and closing is not None
    return FileName(siren=siren, closing_date=closing, standard=standard)


# --- steps 2 and 3: DuckDB --------------------------------------------------------------


def _connect(work_dir: Path, large: bool) -> duckdb.DuckDBPyConnection:
    database = str(work_dir / "book.duckdb") if large else ":memory:"
    connection = duckdb.connect(
        database,
        config={
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "temp_directory": str(work_dir / "spill"),
            "preserve_insertion_order": True,
        },
    )
    install_macros(connection)
    return connection


def _field_sql(index: int | None, padded: bool, quoted: bool) -> str:
    if index is None:
        return "''"
    value = f"trim(f[{index + 1}])" if padded else f"f[{index + 1}]"
    if quoted:
        value = f"""replace(regexp_replace({value}, '^"(.*)"$', '\\1'), '""', '"')"""
    return value


def _stage(connection: duckdb.DuckDBPyConnection, text_file: Path, scan: Scan) -> None:
    header = scan.header
    width = len(header.fields)
    blank_chars = " \t|" if header.separator == "|" else " \t"
    connection.execute(
        f"""
        CREATE TABLE raw AS
        SELECT row_number() OVER () AS line, text
        FROM read_csv($file, delim = '{_COLUMN_DELIMITER}', quote = '', escape = '',
                      header = false, auto_detect = false, columns = {{'text': 'VARCHAR'}},
                      new_line = '\\n', max_line_size = {MAX_LINE_BYTES * 4 + 16})
        """,
        {"file": str(text_file)},
    )
    read = connection.execute("SELECT count(*) FROM raw").fetchone()
    if read is None or read[0] != scan.line_count:  # pragma: no cover - would be a bug
        raise RuntimeError(
            f"DuckDB read {read and read[0]} lines of {text_file}, {scan.line_count} written"
        )
    positions = header.columns.positions
    texts = ",\n".join(
        (
            f"nullif({_field_sql(positions.get(name), scan.padded, header.quoted)}, '') "
            f"AS {SQL_NAME[name]}"
            if name in _NULLABLE_TEXT
            else f"coalesce({_field_sql(positions.get(name), scan.padded, header.quoted)}, '') "
            f"AS {'t_' if name in _TYPED else ''}{SQL_NAME[name]}"
        )
        for name in STANDARD_NAMES
    )
    # Each date and amount is parsed once (inner query), then flagged (outer query).
    typed = ",\n".join(
        [f"fec_date(t_{SQL_NAME[name]}) AS {SQL_NAME[name]}" for name in DATE_COLUMNS]
        + [
            f"fec_amount_standard(t_{SQL_NAME[name]}) AS standard_{SQL_NAME[name]}, "
            f"CASE WHEN fec_amount_standard(t_{SQL_NAME[name]}) THEN false "
            f"ELSE fec_amount_dot(t_{SQL_NAME[name]}) END AS dot_{SQL_NAME[name]}"
            for name in AMOUNT_COLUMNS
        ]
    )
    flags = ",\n".join(
        [
            f"fec_date_nonstandard(t_{SQL_NAME[name]}, {SQL_NAME[name]}) "
            f"AS nonstandard_{SQL_NAME[name]}"
            for name in DATE_COLUMNS
        ]
        + [
            f"fec_cents(t_{SQL_NAME[name]}, standard_{SQL_NAME[name]} OR dot_{SQL_NAME[name]}) "
            f"AS {SQL_NAME[name]}, NOT standard_{SQL_NAME[name]} AS nonstandard_{SQL_NAME[name]}"
            for name in AMOUNT_COLUMNS
        ]
    )
    connection.execute(
        f"""
        CREATE TABLE parsed AS
        SELECT *, {flags}
        FROM (
            SELECT *, {typed}
            FROM (
                SELECT line, len(f) AS field_count,
                       len(f) = {width} OR (
                           len(f) > {width}
                           AND trim(array_to_string(f[{width + 1}:], '')) = ''
                       ) AS fields_ok,
                       len(f) > {width} AS trailing_fields,
                       {texts}
                FROM (
                    SELECT line, string_split(text, $separator) AS f
                    FROM raw
                    WHERE line > 1 AND text <> '{EMPTY_LINE_MARK}'
                      AND trim(text, '{blank_chars}') <> ''
                )
            )
        )
        """,
        {"separator": header.separator},
    )


# Text columns where empty means "none" (NULL in `lines`), and columns typed from their text.
_NULLABLE_TEXT: Final = frozenset(
    {"CompAuxNum", "CompAuxLib", "EcritureLet", "Montantdevise", "Idevise"}
)
_TYPED: Final = frozenset(DATE_COLUMNS + AMOUNT_COLUMNS)


def _keep_usable(connection: duckdb.DuckDBPyConnection) -> None:
    """`parsed` becomes `lines`: rows left out deleted, staging columns dropped (both are
    catalogue operations in DuckDB, where a copy of the table would cost seconds)."""
    connection.execute(
        """
        DELETE FROM parsed
        WHERE NOT fields_ok OR ecriture_date IS NULL OR debit IS NULL OR credit IS NULL
        """
    )
    staging = [
        "field_count",
        "fields_ok",
        "trailing_fields",
        *(f"{prefix}{SQL_NAME[name]}" for name in _TYPED for prefix in ("t_", "nonstandard_")),
        *(
            f"{prefix}{SQL_NAME[name]}"
            for name in AMOUNT_COLUMNS
            for prefix in ("standard_", "dot_")
        ),
    ]
    for column in staging:
        connection.execute(f"ALTER TABLE parsed DROP COLUMN {column}")
    connection.execute("ALTER TABLE parsed RENAME TO lines")


def load_fec(path: Path, *, progress: Callable[[int, int], None] | None = None) -> FecBook:
    """Read, check and load a FEC; raises `FecUnreadable` only when nothing can be trusted.

    `progress(bytes_read, total_bytes)` is called after each chunk of the reading pass (the
    part of the load that grows with the file)."""
    path = Path(path)
    if not path.is_file():
        raise FecUnreadable(path, gettext("there is no such file"), code="io")
    work_dir = Path(tempfile.mkdtemp(prefix="levier-fec-"))
    connection: duckdb.DuckDBPyConnection | None = None
    try:
        text_file = work_dir / "lines.txt"
        scan = scan_file(path, text_file, progress)
        large = path.stat().st_size > LARGE_FILE_BYTES
        connection = _connect(work_dir, large)
        try:
            _stage(connection, text_file, scan)
        except duckdb.Error as error:
            raise FecUnreadable(
                path,
                gettext("its lines could not be read (%(error)s)") % {"error": error},
                code="unreadable",
            ) from None
        text_file.unlink()
        name = read_file_name(path)
        context = quality.Context(
            file_name=path.name,
            name_is_standard=name.standard,
            closing_date_from_name=name.closing_date,
            header_fields=scan.header.fields,
            columns=scan.header.columns,
            quoted=scan.header.quoted,
            control_chars=scan.control_chars,
            control_lines=scan.control_lines,
        )
        records = quality.check_records(connection, context)
        connection.execute("DROP TABLE raw")
        _keep_usable(connection)
        report = quality.check_lines(connection, context, records)
        if report.totals.records_read == 0:
            raise FecUnreadable(path, gettext("it holds no entry line"), code="no_lines")
        if report.totals.records_used == 0:
            raise FecUnreadable(
                path,
                gettext("none of its %(count)s lines can be used: %(reasons)s")
                % {
                    "count": report.totals.records_read,
                    "reasons": "; ".join(
                        issue.message for issue in report.issues if issue.severity == "error"
                    ),
                },
                code="no_usable_lines",
            )
        book = FecBook(
            path=path,
            encoding=scan.encoding,
            separator=scan.header.separator,
            record_count=report.totals.records_read,
            siren=name.siren,
            closing_date_from_name=name.closing_date,
            quality=report,
            connection=connection,
            header=scan.header.fields,
            work_dir=work_dir,
        )
    except BaseException:
        if connection is not None:
            connection.close()
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    weakref.finalize(book, _release, connection, work_dir)
    return book
