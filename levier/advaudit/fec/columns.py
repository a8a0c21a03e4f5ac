"""The 18 columns of a FEC (LPF art. A47 A-1) and the SQL that types their text.

One place for the names, which columns the audit cannot do without, and the DuckDB
expressions that turn a field's text into a date or an amount in cents, so that the
reader, the quality checks and the tests (`parse_amounts`) can never disagree on what a
readable amount or date is.

Readable, by the format's rules (formats.md §5): dates `AAAAMMJJ`; amounts with a decimal
comma, no thousands separator, the sign as first character. Tolerated, each reported as a
warning because real exports do it: dates `AAAA-MM-JJ` and `JJ/MM/AAAA`, a decimal dot,
decimals beyond the cent when they are zeros (`12,3400`). Not readable: anything else —
`1 234,56` or `1.234,56` (thousands separators), `12,345` (not exact to the cent), a
trailing sign, an exponent. An empty amount field is zero (many exports leave the unused
side blank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import duckdb

# Standard names, in the order of the format, with the snake_case name of their column in
# the `lines` table of a loaded book.
STANDARD_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("JournalCode", "journal_code"),
    ("JournalLib", "journal_lib"),
    ("EcritureNum", "ecriture_num"),
    ("EcritureDate", "ecriture_date"),
    ("CompteNum", "compte_num"),
    ("CompteLib", "compte_lib"),
    ("CompAuxNum", "comp_aux_num"),
    ("CompAuxLib", "comp_aux_lib"),
    ("PieceRef", "piece_ref"),
    ("PieceDate", "piece_date"),
    ("EcritureLib", "ecriture_lib"),
    ("Debit", "debit"),
    ("Credit", "credit"),
    ("EcritureLet", "ecriture_let"),
    ("DateLet", "date_let"),
    ("ValidDate", "valid_date"),
    ("Montantdevise", "montant_devise"),
    ("Idevise", "idevise"),
)
STANDARD_NAMES: Final[tuple[str, ...]] = tuple(name for name, _sql in STANDARD_COLUMNS)
SQL_NAME: Final[dict[str, str]] = dict(STANDARD_COLUMNS)

# Without these, pieces, dates, accounts or amounts are unknown: the file is refused.
ESSENTIAL_COLUMNS: Final[tuple[str, ...]] = (
    "JournalCode",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "Debit",
    "Credit",
)
OPTIONAL_COLUMNS: Final[tuple[str, ...]] = tuple(
    name for name in STANDARD_NAMES if name not in ESSENTIAL_COLUMNS
)
DATE_COLUMNS: Final[tuple[str, ...]] = ("EcritureDate", "PieceDate", "DateLet", "ValidDate")
AMOUNT_COLUMNS: Final[tuple[str, ...]] = ("Debit", "Credit")

_BY_KEY: Final[dict[str, str]] = {name.lower(): name for name in STANDARD_NAMES}


def header_key(raw_name: str) -> str:
    """How a header name is compared: case, surrounding blanks, a BOM and quotes ignored."""
    return raw_name.strip().lstrip("\ufeff").strip().strip('"').strip().lower()


@dataclass(frozen=True)
class HeaderMap:
    """Where each standard column sits in the header (0-based), and what else is there."""

    positions: dict[str, int]  # standard name → index of its field
    extra: tuple[str, ...]  # header names that are not FEC columns (kept as written)
    duplicates: tuple[str, ...]  # standard names found more than once (the first one wins)

    @property
    def missing_essential(self) -> tuple[str, ...]:
        return tuple(name for name in ESSENTIAL_COLUMNS if name not in self.positions)

    @property
    def missing_optional(self) -> tuple[str, ...]:
        return tuple(name for name in OPTIONAL_COLUMNS if name not in self.positions)


def map_header(fields: Sequence[str]) -> HeaderMap:
    positions: dict[str, int] = {}
    extra: list[str] = []
    duplicates: list[str] = []
    for index, raw in enumerate(fields):
        standard = _BY_KEY.get(header_key(raw))
        if standard is None:
            # A trailing separator makes an empty last name: no column, nothing to report.
            if header_key(raw) or index < len(fields) - 1:
                extra.append(raw.strip().lstrip("\ufeff") or f"#{index + 1}")
        elif standard in positions:
            duplicates.append(standard)
        else:
            positions[standard] = index
    return HeaderMap(positions=positions, extra=tuple(extra), duplicates=tuple(duplicates))


# --- SQL --------------------------------------------------------------------------------
# DuckDB macros, created once per connection by `install_macros`. Each takes the trimmed
# text of a field ('' when empty).

_MACROS: Final[tuple[str, ...]] = (
    # The date of a field, NULL when empty or unreadable. Years 1900–2999 only: "00000000"
    # or "99991231" are placeholders, not dates (and would overflow date arithmetic).
    """
    CREATE OR REPLACE TEMP MACRO fec_date(s) AS CAST(CASE
        WHEN s = '' THEN NULL
        WHEN regexp_full_match(s, '(19|2[0-9])[0-9]{6}') THEN try_strptime(s, '%Y%m%d')
        WHEN regexp_full_match(s, '(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}')
            THEN try_strptime(s, '%Y-%m-%d')
        WHEN regexp_full_match(s, '[0-9]{2}/[0-9]{2}/(19|2[0-9])[0-9]{2}')
            THEN try_strptime(s, '%d/%m/%Y')
    END AS DATE)
    """,
    # True when a date `d` was read from another layout than AAAAMMJJ (those are 10 long).
    """
    CREATE OR REPLACE TEMP MACRO fec_date_nonstandard(s, d) AS d IS NOT NULL AND length(s) <> 8
    """,
    # True when an amount has the FEC layout (or is empty).
    """
    CREATE OR REPLACE TEMP MACRO fec_amount_standard(s) AS
        s = '' OR regexp_full_match(s, '[+-]?([0-9]+(,[0-9]{0,2}0*)?|,[0-9]{1,2}0*)')
    """,
    # True when an amount is only readable with a decimal dot.
    """
    CREATE OR REPLACE TEMP MACRO fec_amount_dot(s) AS
        regexp_full_match(s, '[+-]?([0-9]+(\\.[0-9]{0,2}0*)?|\\.[0-9]{1,2}0*)')
    """,
    # The amount in cents, exact, NULL when unreadable (or beyond ±92 233 milliards).
    # `readable`: the text matched one of the two layouts above. The DECIMAL(18, 2) cast is
    # exact there (decimals past the cent are zeros); the string path is only for what it
    # refuses (a sign before the comma with no units, more than 16 digits).
    """
    CREATE OR REPLACE TEMP MACRO fec_cents(s, readable) AS CASE
        WHEN s = '' THEN 0::BIGINT
        WHEN readable THEN coalesce(
            CAST(TRY_CAST(replace(s, ',', '.') AS DECIMAL(18, 2)) * 100 AS BIGINT),
            TRY_CAST(
                (CASE WHEN starts_with(s, '-') THEN '-' ELSE '' END)
                || coalesce(nullif(ltrim(split_part(translate(ltrim(s, '+-'), '.', ','), ',', 1), '0'), ''), '0')
                || rpad(left(split_part(translate(ltrim(s, '+-'), '.', ','), ',', 2), 2), 2, '0')
                AS BIGINT))
    END
    """,
)


def install_macros(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in _MACROS:
        connection.execute(statement)


@dataclass(frozen=True)
class ParsedAmount:
    cents: int | None  # None: unreadable
    standard: bool  # written as the format says (decimal comma)


def parse_amounts(texts: Sequence[str]) -> list[ParsedAmount]:
    """The reader's amount rule applied to some texts (for tests and one-off checks)."""
    connection = duckdb.connect()
    try:
        install_macros(connection)
        rows = connection.execute(
            """
            SELECT fec_cents(s, fec_amount_standard(s) OR fec_amount_dot(s)),
                   fec_amount_standard(s)
            FROM (SELECT trim(unnest($texts)) AS s, generate_subscripts($texts, 1) AS i)
            ORDER BY i
            """,
            {"texts": list(texts)},
        ).fetchall()
    finally:
        connection.close()
    return [ParsedAmount(cents=row[0], standard=bool(row[1])) for row in rows]
