"""The checks of the usable lines of a loaded FEC (table `lines`): amounts, accounts,
pieces, numbering, fiscal year, lettering. What they mean and why: quality.py."""

from __future__ import annotations

import datetime as dt

import duckdb
from django.utils.translation import gettext

from levier.advaudit.fec.issues import (
    SAMPLE_SIZE,
    QualityIssue,
    Severity,
    account_label,
    cents_to_decimal,
    rows_of,
    sample_lines,
    scalar,
)
from levier.lib.periods import add_months


def line_issues(connection: duckdb.DuckDBPyConnection) -> list[QualityIssue]:
    checks: list[tuple[str, Severity, str, str]] = [
        (
            "debit_and_credit",
            "warning",
            "debit <> 0 AND credit <> 0",
            gettext(
                "%(count)s lines have both a debit and a credit (first: line %(line)s); "
                "their difference is used."
            ),
        ),
        (
            "negative_amount",
            "warning",
            "debit < 0 OR credit < 0",
            gettext(
                "%(count)s lines have a negative amount (first: line %(line)s); a negative "
                "debit is read as a credit and the reverse."
            ),
        ),
        (
            "empty_account",
            "error",
            "compte_num = ''",
            gettext(
                "%(count)s lines have no account number (CompteNum; first: line %(line)s); "
                "they count in the totals but in no account."
            ),
        ),
        (
            "empty_piece_key",
            "error",
            "journal_code = '' OR ecriture_num = ''",
            gettext(
                "%(count)s lines have no JournalCode or no EcritureNum (first: line "
                "%(line)s); they are grouped as one piece per journal."
            ),
        ),
        (
            "valid_date_before_entry",
            "warning",
            "valid_date < ecriture_date",
            gettext(
                "%(count)s lines were validated (ValidDate) before their entry date "
                "(EcritureDate; first: line %(line)s)."
            ),
        ),
        (
            "piece_date_far",
            "warning",
            "abs(date_diff('day', ecriture_date, piece_date)) > 366",
            gettext(
                "%(count)s lines have a PieceDate more than a year away from their "
                "EcritureDate (first: line %(line)s); invoices are dated by PieceDate."
            ),
        ),
    ]
    counts = connection.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {condition})" for _c, _s, condition, _m in checks)
        + " FROM lines"
    ).fetchone()
    assert counts is not None
    issues = []
    for (code, severity, condition, text), count in zip(checks, counts, strict=True):
        if not count:
            continue
        lines = sample_lines(connection, f"SELECT line FROM lines WHERE {condition}")
        issues.append(
            QualityIssue(
                code,
                severity,
                text % {"count": count, "line": lines[0]},
                int(count),
                lines,
            )
        )
    return issues


def piece_issues(
    connection: duckdb.DuckDBPyConnection,
) -> tuple[int, int, list[QualityIssue]]:
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE quality_pieces AS
        SELECT journal_code, ecriture_num, min(line) AS first_line,
               sum(debit) AS debit, sum(credit) AS credit,
               arg_min(ecriture_date, line) AS first_date,
               count(DISTINCT ecriture_date) AS dates, count(*) AS lines,
               TRY_CAST(nullif(regexp_extract(ecriture_num, '([0-9]+)$', 1), '') AS HUGEINT)
                   AS number
        FROM lines
        GROUP BY journal_code, ecriture_num
        """
    )
    row = connection.execute(
        "SELECT count(*), count(*) FILTER (WHERE debit <> credit) FROM quality_pieces"
    ).fetchone()
    assert row is not None
    pieces, unbalanced = int(row[0]), int(row[1])
    issues = several_dates(connection)
    if not unbalanced:
        return pieces, 0, issues
    rows = connection.execute(
        f"""
        SELECT journal_code, ecriture_num, first_line, debit, credit FROM quality_pieces
        WHERE debit <> credit ORDER BY first_line LIMIT {SAMPLE_SIZE}
        """
    ).fetchall()
    details = tuple(
        gettext("%(journal)s %(number)s (line %(line)s): debit %(debit)s, credit %(credit)s")
        % {
            "journal": journal,
            "number": number,
            "line": line,
            "debit": cents_to_decimal(debit),
            "credit": cents_to_decimal(credit),
        }
        for journal, number, line, debit, credit in rows
    )
    issue = QualityIssue(
        "unbalanced_pieces",
        "error",
        gettext(
            "%(count)s pieces (JournalCode + EcritureNum) do not balance, the first one %(first)s."
        )
        % {"count": unbalanced, "first": details[0]},
        unbalanced,
        tuple(row[2] for row in rows),
        details,
    )
    return pieces, unbalanced, [issue, *issues]


def several_dates(connection: duckdb.DuckDBPyConnection) -> list[QualityIssue]:
    """A piece is one entry on one date; pieces spanning dates mean EcritureNum does not
    number the entries (some exports write one number per journal), so that invoices and
    credit notes, recognised by piece, are misread."""
    count, rows = rows_of(
        connection,
        "quality_pieces",
        "dates > 1",
        "first_line, journal_code, ecriture_num, dates, lines",
    )
    if not count:
        return []
    return [
        QualityIssue(
            "piece_several_dates",
            "warning",
            gettext(
                "%(count)s pieces have lines on several dates (first: journal %(journal)s, "
                "%(number)s: %(lines)s lines over %(dates)s dates, line %(line)s): "
                "EcritureNum may not number the entries, and invoices and credit notes, "
                "recognised by piece, may be misread."
            )
            % {
                "count": count,
                "journal": rows[0][1],
                "number": rows[0][2],
                "lines": rows[0][4],
                "dates": rows[0][3],
                "line": rows[0][0],
            },
            count,
            tuple(row[0] for row in rows),
            tuple(f"{row[1]} {row[2]}: {row[4]} / {row[3]}" for row in rows),
        )
    ]


def sequence_issues(connection: duckdb.DuckDBPyConnection) -> list[QualityIssue]:
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE quality_sequence AS
        SELECT journal_code, ecriture_num, first_line, first_date, number,
               lag(number) OVER w AS previous_number,
               lag(ecriture_num) OVER w AS previous_num,
               lag(first_date) OVER w AS previous_date
        FROM quality_pieces
        WINDOW w AS (PARTITION BY journal_code ORDER BY first_line)
        """
    )
    issues: list[QualityIssue] = []
    backwards = rows_of(
        connection,
        "quality_sequence",
        "number < previous_number",
        "first_line, journal_code, previous_num, ecriture_num",
    )
    if backwards[0]:
        count, rows = backwards
        issues.append(
            QualityIssue(
                "numbering_backwards",
                "warning",
                gettext(
                    "In %(count)s places the piece numbers of a journal go backwards in the "
                    "file (first: journal %(journal)s, %(after)s then %(number)s at line "
                    "%(line)s)."
                )
                % {
                    "count": count,
                    "journal": rows[0][1],
                    "after": rows[0][2],
                    "number": rows[0][3],
                    "line": rows[0][0],
                },
                count,
                tuple(row[0] for row in rows),
                tuple(f"{row[1]}: {row[2]} → {row[3]}" for row in rows),
            )
        )
    dates_back = rows_of(
        connection,
        "quality_sequence",
        "first_date < previous_date",
        "first_line, journal_code, ecriture_num, first_date, previous_date",
    )
    if dates_back[0]:
        count, rows = dates_back
        issues.append(
            QualityIssue(
                "dates_backwards",
                "warning",
                gettext(
                    "In %(count)s places a piece is dated before the piece preceding it in "
                    "its journal (first: journal %(journal)s, %(number)s dated %(date)s after "
                    "one dated %(previous)s, line %(line)s)."
                )
                % {
                    "count": count,
                    "journal": rows[0][1],
                    "number": rows[0][2],
                    "date": rows[0][3],
                    "previous": rows[0][4],
                    "line": rows[0][0],
                },
                count,
                tuple(row[0] for row in rows),
            )
        )
    gap_sql = """
        SELECT first_line, journal_code, previous_num, ecriture_num
        FROM (
            SELECT *, lag(number) OVER (PARTITION BY journal_code ORDER BY number) AS before,
                   lag(ecriture_num) OVER (PARTITION BY journal_code ORDER BY number)
                       AS previous_num
            FROM (SELECT journal_code, min(ecriture_num) AS ecriture_num,
                         min(first_line) AS first_line, number
                  FROM quality_pieces WHERE number IS NOT NULL GROUP BY journal_code, number)
        )
        WHERE number > before + 1
    """
    journal_gaps = scalar(connection, f"SELECT count(*) FROM ({gap_sql})")
    if journal_gaps:
        global_gaps = scalar(
            connection,
            """
            SELECT count(*) FROM (
                SELECT number, lag(number) OVER (ORDER BY number) AS before
                FROM (SELECT DISTINCT number FROM quality_pieces WHERE number IS NOT NULL)
            ) WHERE number > before + 1
            """,
        )
        if global_gaps:
            rows = connection.execute(
                f"{gap_sql} ORDER BY first_line LIMIT {SAMPLE_SIZE}"
            ).fetchall()
            issues.append(
                QualityIssue(
                    "numbering_gaps",
                    "warning",
                    gettext(
                        "The piece numbers are not continuous: %(count)s gaps within journals "
                        "(first: journal %(journal)s, %(after)s then %(number)s, line "
                        "%(line)s)."
                    )
                    % {
                        "count": journal_gaps,
                        "journal": rows[0][1],
                        "after": rows[0][2],
                        "number": rows[0][3],
                        "line": rows[0][0],
                    },
                    journal_gaps,
                    tuple(row[0] for row in rows),
                    tuple(f"{row[1]}: {row[2]} → {row[3]}" for row in rows),
                )
            )
    return issues


def fiscal_year_issues(
    connection: duckdb.DuckDBPyConnection, closing_date_from_name: dt.date | None
) -> list[QualityIssue]:
    span = connection.execute("SELECT min(ecriture_date), max(ecriture_date) FROM lines").fetchone()
    if span is None or span[1] is None:
        return []
    first, last = span
    issues: list[QualityIssue] = []
    closing = closing_date_from_name
    from_name = False
    if closing is not None:
        start = add_months(closing, -12) + dt.timedelta(days=1)
        inside = scalar(
            connection,
            "SELECT count(*) FROM lines WHERE ecriture_date BETWEEN $start AND $end",
            {"start": start, "end": closing},
        )
        if inside:
            from_name = True
        else:
            issues.append(
                QualityIssue(
                    "file_name_date_mismatch",
                    "warning",
                    gettext(
                        "The closing date of the file name (%(closing)s) fits none of the "
                        "entries, dated %(first)s to %(last)s: the fiscal year is taken as "
                        "the 12 months ending with the month of the last entry."
                    )
                    % {"closing": closing, "first": first, "last": last},
                    1,
                )
            )
    if not from_name:
        month_after = add_months(last.replace(day=1), 1)
        closing = month_after - dt.timedelta(days=1)
        start = add_months(month_after, -12)
    assert closing is not None
    condition = "ecriture_date < $start OR ecriture_date > $end"
    params = {"start": start, "end": closing}
    count = scalar(connection, f"SELECT count(*) FROM lines WHERE {condition}", params)
    if count:
        issues.append(
            QualityIssue(
                "outside_fiscal_year",
                "warning",
                gettext(
                    "%(count)s lines are dated outside the fiscal year %(start)s – %(end)s "
                    "(%(source)s; a first fiscal year may last up to 24 months)."
                )
                % {
                    "count": count,
                    "start": start,
                    "end": closing,
                    "source": gettext("from the file name")
                    if from_name
                    else gettext("the 12 months up to the last entry"),
                },
                count,
                sample_lines(connection, f"SELECT line FROM lines WHERE {condition}", params),
            )
        )
    return issues


def lettering_issues(connection: duckdb.DuckDBPyConnection) -> list[QualityIssue]:
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE quality_letters AS
        SELECT compte_num, comp_aux_num, ecriture_let, count(*) AS lines,
               min(line) AS first_line, sum(debit - credit) AS balance
        FROM lines WHERE ecriture_let IS NOT NULL
        GROUP BY compte_num, comp_aux_num, ecriture_let
        """
    )
    issues: list[QualityIssue] = []
    single = rows_of(
        connection,
        "quality_letters",
        "lines = 1",
        "first_line, compte_num, comp_aux_num, ecriture_let",
    )
    if single[0]:
        count, rows = single
        issues.append(
            QualityIssue(
                "single_line_letter",
                "warning",
                gettext(
                    "%(count)s lettering codes are used on a single line of their account "
                    "(first: “%(letter)s” on %(account)s, line %(line)s): nothing is lettered "
                    "with them."
                )
                % {
                    "count": count,
                    "letter": rows[0][3],
                    "account": account_label(rows[0][1], rows[0][2]),
                    "line": rows[0][0],
                },
                count,
                tuple(row[0] for row in rows),
                tuple(f"{account_label(row[1], row[2])} {row[3]}" for row in rows),
            )
        )
    partial = rows_of(
        connection,
        "quality_letters",
        "lines > 1 AND balance <> 0",
        "first_line, compte_num, comp_aux_num, ecriture_let, balance",
    )
    if partial[0]:
        count, rows = partial
        issues.append(
            QualityIssue(
                "unbalanced_letter",
                "warning",
                gettext(
                    "%(count)s lettering codes group lines that do not balance (partial "
                    "lettering; first: “%(letter)s” on %(account)s, balance %(balance)s, "
                    "line %(line)s); the invoices are counted as settled all the same."
                )
                % {
                    "count": count,
                    "letter": rows[0][3],
                    "account": account_label(rows[0][1], rows[0][2]),
                    "balance": cents_to_decimal(rows[0][4]),
                    "line": rows[0][0],
                },
                count,
                tuple(row[0] for row in rows),
                tuple(
                    f"{account_label(row[1], row[2])} {row[3]}: {cents_to_decimal(row[4])}"
                    for row in rows
                ),
            )
        )
    return issues
