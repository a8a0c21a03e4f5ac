"""The quality report's types, and the SQL helpers every check uses (quality.py says what
the checks are)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

import duckdb

Severity = Literal["error", "warning", "info"]
SAMPLE_SIZE: Final = 20
ORDER: Final[dict[str, int]] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class QualityIssue:
    code: str
    severity: Severity
    message: str  # French through gettext once translated
    count: int  # lines (or pieces, letters…) concerned
    sample_lines: tuple[int, ...] = ()  # the first 20 line numbers (1 = header)
    details: tuple[str, ...] = ()  # e.g. the first 20 unbalanced pieces, with their totals

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "count": self.count,
            "sample_lines": list(self.sample_lines),
            "details": list(self.details),
        }


@dataclass(frozen=True)
class QualityTotals:
    records_read: int  # data records (non-blank lines after the header)
    records_used: int  # those in the figures
    blank_lines: int
    pieces: int  # JournalCode + EcritureNum, over the used lines
    pieces_unbalanced: int
    total_debit: Decimal
    total_credit: Decimal

    @property
    def records_excluded(self) -> int:
        return self.records_read - self.records_used

    def as_json(self) -> dict[str, Any]:
        return {
            "records_read": self.records_read,
            "records_used": self.records_used,
            "records_excluded": self.records_excluded,
            "blank_lines": self.blank_lines,
            "pieces": self.pieces,
            "pieces_unbalanced": self.pieces_unbalanced,
            "total_debit": f"{self.total_debit:.2f}",
            "total_credit": f"{self.total_credit:.2f}",
        }


@dataclass(frozen=True)
class QualityReport:
    totals: QualityTotals
    issues: tuple[QualityIssue, ...] = field(default_factory=tuple)

    def issue(self, code: str) -> QualityIssue | None:
        return next((issue for issue in self.issues if issue.code == code), None)

    @property
    def codes(self) -> set[str]:
        return {issue.code for issue in self.issues}

    def by_severity(self, severity: Severity) -> tuple[QualityIssue, ...]:
        return tuple(issue for issue in self.issues if issue.severity == severity)

    def as_json(self) -> dict[str, Any]:
        return {
            "totals": self.totals.as_json(),
            "issues": [issue.as_json() for issue in self.issues],
        }


def cents_to_decimal(cents: int | None) -> Decimal:
    return Decimal(cents or 0).scaleb(-2)


def account_label(number: str, auxiliary: str | None) -> str:
    return f"{number}/{auxiliary}" if auxiliary else number


def scalar(
    connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> int:
    row = connection.execute(sql, params or {}).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def sample_lines(
    connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> tuple[int, ...]:
    rows = connection.execute(f"{sql} ORDER BY line LIMIT {SAMPLE_SIZE}", params or {})
    return tuple(int(row[0]) for row in rows.fetchall())


def rows_of(
    connection: duckdb.DuckDBPyConnection, table: str, condition: str, columns: str
) -> tuple[int, list[tuple[Any, ...]]]:
    """How many rows of `table` match, and the first 20 by their first column (a line)."""
    count = scalar(connection, f"SELECT count(*) FROM {table} WHERE {condition}")
    if not count:
        return 0, []
    order = columns.split(",", 1)[0]
    rows: Iterable[tuple[Any, ...]] = connection.execute(
        f"SELECT {columns} FROM {table} WHERE {condition} ORDER BY {order} LIMIT {SAMPLE_SIZE}"
    ).fetchall()
    return count, list(rows)
