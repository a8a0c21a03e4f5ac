"""The quality checks of a FEC and their report: what an auditor must know before trusting
the figures.

Every check is one SQL aggregate over the staged rows (`parsed`: every non-blank record,
its fields as text and typed) or the usable ones (`lines`), then at most a top-20 query for
the line numbers quoted; nothing loops over lines in Python. This module runs them and
holds those of the header and of each record's fields; `line_checks.py` those of the usable
lines (amounts, pieces, numbering, fiscal year, lettering); `issues.py` the report's types.
Severities:

- **error**: the file breaks a rule of the format (LPF art. A47 A-1) in a way that matters:
  the line is left out of the figures (wrong field count, unreadable `EcritureDate`,
  `Debit` or `Credit`), or a piece or the whole file does not balance, or an account or a
  piece key is empty (kept, but it cannot be classified);
- **warning**: tolerated but suspect or non-standard (another date layout, a decimal dot,
  negative amounts, numbering or dates going backwards, dates outside the fiscal year,
  lettering on a single line or that does not balance…);
- **info**: for the record (extra columns, blank lines, a file name that is not
  `SIRENFECAAAAMMJJ`…).

Interpretation choices where the format says little:

- *Numbering*: the number of a piece is the trailing digits of its `EcritureNum`
  (`VE000123` → 123; pieces without digits are not checked). Within a journal, pieces are
  taken in file order: a number lower than the previous piece's is "backwards", a date
  earlier than the previous piece's is "dates backwards". Gaps are counted per journal over
  the sorted numbers, and not reported when the file numbers its pieces in one sequence
  across journals (then the sequence over the whole file has no gap).
- *Fiscal year*: the 12 months ending on the closing date of the file name; when no entry
  falls in them (a renamed or mistyped file), the name's date is reported as inconsistent
  and the 12 months ending at the end of the month of the last entry are used instead. A
  first fiscal year may legitimately last up to 24 months: the message says so.
- *Lettering*: a letter belongs to an account (`CompteNum` and `CompAuxNum`); a letter found
  on a single line of its account, or whose lines do not balance (partial lettering), is
  reported: the figures still count the invoice as settled on its lettering date, as kpis.md
  says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
from django.utils.translation import gettext

from levier.advaudit.fec import line_checks
from levier.advaudit.fec.columns import AMOUNT_COLUMNS, DATE_COLUMNS, SQL_NAME, HeaderMap
from levier.advaudit.fec.issues import (
    ORDER,
    SAMPLE_SIZE,
    QualityIssue,
    QualityReport,
    QualityTotals,
    Severity,
    cents_to_decimal,
    sample_lines,
    scalar,
)

__all__ = [
    "Context",
    "QualityIssue",
    "QualityReport",
    "QualityTotals",
    "RecordFindings",
    "Severity",
    "cents_to_decimal",
    "check_lines",
    "check_records",
]


@dataclass(frozen=True)
class Context:
    """What the reader learnt before the rows reached the database."""

    file_name: str
    name_is_standard: bool
    closing_date_from_name: dt.date | None
    header_fields: tuple[str, ...]
    columns: HeaderMap
    quoted: bool = False
    control_chars: int = 0
    control_lines: tuple[int, ...] = ()


@dataclass(frozen=True)
class RecordFindings:
    """What the staging tables showed, before the unusable rows are dropped."""

    issues: tuple[QualityIssue, ...]
    records_read: int
    blank_lines: int


def check_records(connection: duckdb.DuckDBPyConnection, context: Context) -> RecordFindings:
    """Header, field counts, dates and amounts: on the staging tables `raw` (every line) and
    `parsed` (every non-blank record, its fields as text and typed)."""
    issues = _header_issues(context) + _record_issues(connection, context)
    blank_count, blank_sample = _blank_lines(connection)
    if blank_count:
        issues.append(
            QualityIssue(
                "blank_lines",
                "info",
                gettext("%(count)s blank lines were skipped (their numbers are kept).")
                % {"count": blank_count},
                blank_count,
                blank_sample,
            )
        )
    return RecordFindings(
        issues=tuple(issues),
        records_read=scalar(connection, "SELECT count(*) FROM parsed"),
        blank_lines=blank_count,
    )


def check_lines(
    connection: duckdb.DuckDBPyConnection, context: Context, records: RecordFindings
) -> QualityReport:
    """The checks of the usable lines (table `lines`), and the report with `records`'."""
    issues = list(records.issues)
    issues += line_checks.line_issues(connection)
    pieces, unbalanced, piece_issues = line_checks.piece_issues(connection)
    issues += piece_issues
    issues += line_checks.sequence_issues(connection)
    issues += line_checks.fiscal_year_issues(connection, context.closing_date_from_name)
    issues += line_checks.lettering_issues(connection)
    totals_row = connection.execute(
        "SELECT count(*), coalesce(sum(debit), 0), coalesce(sum(credit), 0) FROM lines"
    ).fetchone()
    assert totals_row is not None
    totals = QualityTotals(
        records_read=records.records_read,
        records_used=int(totals_row[0]),
        blank_lines=records.blank_lines,
        pieces=pieces,
        pieces_unbalanced=unbalanced,
        total_debit=cents_to_decimal(totals_row[1]),
        total_credit=cents_to_decimal(totals_row[2]),
    )
    if totals.total_debit != totals.total_credit:
        issues.append(
            QualityIssue(
                "unbalanced_file",
                "error",
                gettext(
                    "The file does not balance: total debit %(debit)s, total credit "
                    "%(credit)s (difference %(difference)s) over the lines used."
                )
                % {
                    "debit": totals.total_debit,
                    "credit": totals.total_credit,
                    "difference": totals.total_debit - totals.total_credit,
                },
                1,
            )
        )
    connection.execute("DROP TABLE IF EXISTS quality_pieces")
    connection.execute("DROP TABLE IF EXISTS quality_sequence")
    connection.execute("DROP TABLE IF EXISTS quality_letters")
    issues.sort(key=lambda issue: (ORDER[issue.severity], issue.code))
    return QualityReport(totals=totals, issues=tuple(issues))


# --- header and file ---------------------------------------------------------------------


def _header_issues(context: Context) -> list[QualityIssue]:
    issues: list[QualityIssue] = []
    columns = context.columns
    if columns.missing_optional:
        issues.append(
            QualityIssue(
                "missing_columns",
                "warning",
                gettext("Columns missing from the header, read as empty: %(columns)s.")
                % {"columns": ", ".join(columns.missing_optional)},
                len(columns.missing_optional),
                (1,),
                columns.missing_optional,
            )
        )
    if columns.extra:
        issues.append(
            QualityIssue(
                "extra_columns",
                "info",
                gettext("Columns that are not FEC columns, ignored: %(columns)s.")
                % {"columns": ", ".join(columns.extra)},
                len(columns.extra),
                (1,),
                columns.extra,
            )
        )
    if columns.duplicates:
        issues.append(
            QualityIssue(
                "duplicate_columns",
                "warning",
                gettext("Columns named twice in the header (the first one is read): %(columns)s.")
                % {"columns": ", ".join(columns.duplicates)},
                len(columns.duplicates),
                (1,),
                columns.duplicates,
            )
        )
    if context.quoted:
        issues.append(
            QualityIssue(
                "quoted_fields",
                "info",
                gettext(
                    "The column names are in double quotes: the quotes around fields were "
                    "removed (a FEC has no quoting)."
                ),
                1,
                (1,),
            )
        )
    if context.control_chars:
        issues.append(
            QualityIssue(
                "control_characters",
                "warning",
                gettext("%(count)s control characters were replaced by spaces.")
                % {"count": context.control_chars},
                context.control_chars,
                context.control_lines,
            )
        )
    if not context.name_is_standard:
        issues.append(
            QualityIssue(
                "file_name",
                "info",
                gettext(
                    "The file name “%(name)s” is not the standard SIRENFECAAAAMMJJ (9-digit "
                    "SIREN, “FEC”, closing date)."
                )
                % {"name": context.file_name},
                1,
            )
        )
    return issues


def _blank_lines(connection: duckdb.DuckDBPyConnection) -> tuple[int, tuple[int, ...]]:
    count = scalar(
        connection,
        "SELECT (SELECT count(*) FROM raw WHERE line > 1) - (SELECT count(*) FROM parsed)",
    )
    if not count:
        return 0, ()
    return count, sample_lines(
        connection,
        "SELECT line FROM raw ANTI JOIN parsed USING (line) WHERE line > 1",
    )


# --- records: field counts, dates, amounts ---------------------------------------------


@dataclass(frozen=True)
class _RowCheck:
    code: str
    severity: Severity
    condition: str
    value: str  # SQL of the offending text, quoted in the message
    message: Callable[[int, int, str], str]  # (count, first line, first value) → text


def _row_checks(context: Context) -> list[_RowCheck]:
    width = len(context.header_fields)
    checks = [
        _RowCheck(
            "field_count",
            "error",
            "NOT fields_ok",
            "field_count::VARCHAR",
            lambda count, line, value: (
                gettext(
                    "%(count)s lines do not have the %(expected)s fields of the header (line "
                    "%(line)s has %(found)s): they are left out of the figures."
                )
                % {"count": count, "expected": width, "line": line, "found": value}
            ),
        ),
        _RowCheck(
            "trailing_fields",
            "info",
            "fields_ok AND trailing_fields",
            "field_count::VARCHAR",
            lambda count, line, value: (
                gettext(
                    "%(count)s lines end with empty fields beyond the header's %(expected)s "
                    "columns (e.g. line %(line)s: %(found)s fields); they are ignored."
                )
                % {"count": count, "expected": width, "line": line, "found": value}
            ),
        ),
    ]
    for name in DATE_COLUMNS:
        sql = SQL_NAME[name]
        if name not in context.columns.positions:
            continue
        essential = name == "EcritureDate"
        checks.append(
            _RowCheck(
                f"bad_date.{name}",
                "error" if essential else "warning",
                f"fields_ok AND {sql} IS NULL" + ("" if essential else f" AND t_{sql} <> ''"),
                f"t_{sql}",
                _bad_date_message(name, essential),
            )
        )
        checks.append(
            _RowCheck(
                f"date_format.{name}",
                "warning",
                f"fields_ok AND nonstandard_{sql}",
                f"t_{sql}",
                _date_format_message(name),
            )
        )
    for name in AMOUNT_COLUMNS:
        sql = SQL_NAME[name]
        checks.append(
            _RowCheck(
                f"bad_amount.{name}",
                "error",
                f"fields_ok AND {sql} IS NULL",
                f"t_{sql}",
                _bad_amount_message(name),
            )
        )
        checks.append(
            _RowCheck(
                f"amount_format.{name}",
                "warning",
                f"fields_ok AND {sql} IS NOT NULL AND nonstandard_{sql}",
                f"t_{sql}",
                _amount_format_message(name),
            )
        )
    return checks


def _bad_date_message(column: str, essential: bool) -> Callable[[int, int, str], str]:
    def message(count: int, line: int, value: str) -> str:
        values = {"count": count, "column": column, "line": line, "value": value}
        if essential:
            return (
                gettext(
                    "%(count)s lines have no readable %(column)s (line %(line)s: “%(value)s”; "
                    "AAAAMMJJ expected): they are left out of the figures."
                )
                % values
            )
        return (
            gettext(
                "%(count)s lines have an unreadable %(column)s (line %(line)s: “%(value)s”; "
                "AAAAMMJJ expected): it is read as empty."
            )
            % values
        )

    return message


def _date_format_message(column: str) -> Callable[[int, int, str], str]:
    def message(count: int, line: int, value: str) -> str:
        return gettext(
            "%(count)s lines write %(column)s in another layout than AAAAMMJJ (line "
            "%(line)s: “%(value)s”); it was read anyway."
        ) % {"count": count, "column": column, "line": line, "value": value}

    return message


def _bad_amount_message(column: str) -> Callable[[int, int, str], str]:
    def message(count: int, line: int, value: str) -> str:
        return gettext(
            "%(count)s lines have an unreadable %(column)s (line %(line)s: “%(value)s”; a "
            "decimal comma, no thousands separator, the sign first, at most 2 decimals "
            "expected): they are left out of the figures."
        ) % {"count": count, "column": column, "line": line, "value": value}

    return message


def _amount_format_message(column: str) -> Callable[[int, int, str], str]:
    def message(count: int, line: int, value: str) -> str:
        return gettext(
            "%(count)s lines write %(column)s with a decimal point instead of a comma "
            "(line %(line)s: “%(value)s”); it was read anyway."
        ) % {"count": count, "column": column, "line": line, "value": value}

    return message


def _record_issues(connection: duckdb.DuckDBPyConnection, context: Context) -> list[QualityIssue]:
    checks = _row_checks(context)
    counts = connection.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {check.condition})" for check in checks)
        + " FROM parsed"
    ).fetchone()
    assert counts is not None
    issues = []
    for check_, count in zip(checks, counts, strict=True):
        if not count:
            continue
        rows = connection.execute(
            f"SELECT line, {check_.value} FROM parsed WHERE {check_.condition} "
            f"ORDER BY line LIMIT {SAMPLE_SIZE}"
        ).fetchall()
        issues.append(
            QualityIssue(
                check_.code,
                check_.severity,
                check_.message(int(count), rows[0][0], str(rows[0][1])),
                int(count),
                tuple(row[0] for row in rows),
            )
        )
    return issues
