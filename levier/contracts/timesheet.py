"""Timesheet CSV import: the months of time and materials the delivery teams report.

Each month, ADV receives the days (or hours) spent per contract line from the delivery
teams' timesheet tool or a spreadsheet, and has to enter them before the billing run bills
the month. This module reads such a file and enters it through `services.enter_time`, so an
imported month follows exactly the rules of a month typed in by hand.

The file, like the customer import's (`levier.customers.csv_import`, whose decoding and
delimiter detection are reused), comes from spreadsheets: UTF-8 with or without BOM, or
Windows-1252; `;` (French Excel) or `,`; decimal commas. Columns:

- ``contract``: the contract number (CT-2026-000001);
- ``line``: the line's position number on that contract, or its exact description;
- ``month``: ``2026-03``, ``03/2026`` or any date of the month (``2026-03-31``, ``31/03/2026``);
- ``quantity``: ≥ 0, at most 3 decimals, point or comma;
- ``comment`` (optional): kept on the time entry.

All or nothing: every row is checked (format, then contract, line and whether the month is
already invoiced) before anything is written, and one problem anywhere rejects the whole file
with every problem listed by file, line (the header is line 1) and column. A half-imported
timesheet would be worse than none: the user could not tell which months went in.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from django.db import transaction
from django.utils.translation import gettext

from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.models import InvoiceLine
from levier.catalog.choices import InvoicingMode
from levier.contracts.choices import TimeEntrySource
from levier.contracts.models import Contract, ContractLine, TimeEntry
from levier.contracts.services import enter_time
from levier.customers.csv_import import decode, sniff_delimiter
from levier.lib.errors import DomainError, ValidationFailed
from levier.lib.periods import add_months, first_of_month

if TYPE_CHECKING:
    from levier.accounts.models import User

COLUMNS = ("contract", "line", "month", "quantity", "comment")
REQUIRED_COLUMNS = ("contract", "line", "month", "quantity")
MAX_ROWS = 10_000
# 10,000 rows of a few short cells and a 200-character comment fit well below this; the cap
# only stops a wrong file (an export of everything) before it is decoded in memory.
MAX_BYTES = 8 * 1024 * 1024
MAX_COMMENT = 200  # TimeEntry.comment
# TimeEntry.quantity is DECIMAL(12, 3): 9 digits before the point, 3 after.
MAX_DECIMALS = 3
MAX_INTEGER_DIGITS = 9
# How many problems the exception message lists (all of them are in `errors`/`problems`).
MESSAGE_PROBLEMS = 20
_CHUNK = 500  # values per SQL IN (...): far below SQLite's and PostgreSQL's limits

_MONTH_ISO = re.compile(r"(\d{4})-(\d{1,2})")
_MONTH_FR = re.compile(r"(\d{1,2})/(\d{4})")
_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T][0-9:.]*)?")
_DATE_FR = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_QUANTITY = re.compile(r"(-?)(\d*)(?:[.,](\d*))?")
_SPACES = re.compile(r"[ \u00a0\u202f]")  # thousands separators a French spreadsheet writes

_T = TypeVar("_T")


@dataclass(frozen=True)
class TimesheetProblem:
    """One thing wrong in the file: where (line 0 = the file as a whole) and what."""

    filename: str
    line: int
    column: str  # a CSV column name, or "" when the problem is the row or the file
    message: str

    def __str__(self) -> str:
        values = {
            "file": self.filename,
            "line": self.line,
            "column": self.column,
            "problem": self.message,
        }
        if not self.line:
            return gettext("%(file)s: %(problem)s") % values
        if self.column:
            return gettext("%(file)s, line %(line)s, column %(column)s: %(problem)s") % values
        return gettext("%(file)s, line %(line)s: %(problem)s") % values


class TimesheetRejected(ValidationFailed):
    """The file was refused and nothing imported; `problems` lists every reason.

    `errors` maps each column (``__all__`` for the file or a whole row) to the messages
    about it, each naming the file, the line and the column.
    """

    def __init__(self, filename: str, problems: Sequence[TimesheetProblem]) -> None:
        self.filename = filename
        self.problems = sorted(problems, key=_problem_order)
        errors: dict[str, list[str]] = {}
        for problem in self.problems:
            errors.setdefault(problem.column or "__all__", []).append(str(problem))
        shown = [str(p) for p in self.problems[:MESSAGE_PROBLEMS]]
        hidden = len(self.problems) - len(shown)
        if hidden:
            shown.append(gettext("… and %(count)s more problem(s)") % {"count": hidden})
        heading = gettext("%(file)s: %(count)s problem(s), nothing imported") % {
            "file": filename,
            "count": len(self.problems),
        }
        super().__init__("\n".join([heading, *shown]), errors=errors)


def _problem_order(problem: TimesheetProblem) -> tuple[int, int, str]:
    column = COLUMNS.index(problem.column) if problem.column in COLUMNS else -1
    return (problem.line, column, problem.message)


@dataclass(frozen=True)
class TimesheetRow:
    """One parsed row: `line` is its line number in the file (the header is line 1)."""

    line: int
    contract: str
    line_ref: str
    month: dt.date  # first day of the month
    quantity: Decimal
    comment: str = ""


@dataclass(frozen=True)
class ImportResult:
    """What an accepted file did."""

    filename: str
    encoding: str
    delimiter: str
    rows: int
    created: int  # months that had no entry yet
    replaced: int  # months whose previous entry the file replaced

    def __str__(self) -> str:
        return gettext(
            "%(file)s: %(rows)s time entries imported (%(created)s new, %(replaced)s replaced)"
        ) % {
            "file": self.filename,
            "rows": self.rows,
            "created": self.created,
            "replaced": self.replaced,
        }


@dataclass
class _Cells:
    """A row as read, with the values that parsed (None where a cell was wrong).

    Rows with a bad month or quantity still have their contract and line looked up, so
    one pass over the file reports everything wrong with it.
    """

    line: int
    contract: str
    line_ref: str
    month: dt.date | None
    quantity: Decimal | None
    comment: str
    valid: bool

    def row(self) -> TimesheetRow:
        assert self.month is not None and self.quantity is not None
        return TimesheetRow(
            self.line, self.contract, self.line_ref, self.month, self.quantity, self.comment
        )


@dataclass
class _Reading:
    filename: str
    encoding: str = ""
    delimiter: str = ""
    cells: list[_Cells] = field(default_factory=list)
    problems: list[TimesheetProblem] = field(default_factory=list)

    def problem(self, line: int, column: str, message: str) -> None:
        self.problems.append(TimesheetProblem(self.filename, line, column, message))


# ---------------------------------------------------------------------------------------
# Cells


def parse_month(text: str) -> dt.date:
    """The first day of the month `text` names: ``2026-03``, ``03/2026`` or a date in it.

    Raises ValueError for anything else, including impossible dates (``31/02/2026``): a
    wrong day is a sign the column holds something other than what the user thinks.
    """
    text = text.strip()
    if match := _MONTH_ISO.fullmatch(text):
        year, month, day = int(match[1]), int(match[2]), 1
    elif match := _MONTH_FR.fullmatch(text):
        year, month, day = int(match[2]), int(match[1]), 1
    elif match := _DATE_ISO.fullmatch(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    elif match := _DATE_FR.fullmatch(text):
        year, month, day = int(match[3]), int(match[2]), int(match[1])
    else:
        raise ValueError(text)
    return first_of_month(dt.date(year, month, day))  # ValueError when not a real date


def parse_quantity(text: str) -> Decimal:
    """A quantity as a spreadsheet writes it (``1,5``, ``1.5``, ``1 000``).

    Raises ValueError with the message to show. Only plain decimals are accepted: ``1e3``
    or ``NaN`` are not what anyone types in a timesheet.
    """
    compact = _SPACES.sub("", text.strip())
    match = _QUANTITY.fullmatch(compact)
    if match is None or not (match[2] or match[3]):
        raise ValueError(gettext("“%(value)s” is not a number") % {"value": text.strip()})
    sign, integer, decimals = match[1], match[2] or "0", (match[3] or "").rstrip("0")
    value = Decimal(f"{integer}.{decimals or '0'}")
    if sign and value:
        raise ValueError(gettext("cannot be negative"))
    if len(decimals) > MAX_DECIMALS:
        raise ValueError(gettext("at most %(n)s decimals") % {"n": MAX_DECIMALS})
    if len(integer.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise ValueError(gettext("too large"))
    return value


def _cells(reading: _Reading, line: int, record: dict[str, str]) -> _Cells:
    before = len(reading.problems)
    contract = record.get("contract", "").strip().upper()
    line_ref = record.get("line", "").strip()
    for column, value in (("contract", contract), ("line", line_ref)):
        if not value:
            reading.problem(line, column, gettext("required"))
    month: dt.date | None = None
    raw_month = record.get("month", "").strip()
    if not raw_month:
        reading.problem(line, "month", gettext("required"))
    else:
        try:
            month = parse_month(raw_month)
        except ValueError:
            reading.problem(
                line,
                "month",
                gettext("“%(value)s” is not a month: write 2026-03, 03/2026 or a date in it")
                % {"value": raw_month},
            )
    quantity: Decimal | None = None
    raw_quantity = record.get("quantity", "").strip()
    if not raw_quantity:
        reading.problem(line, "quantity", gettext("required"))
    else:
        try:
            quantity = parse_quantity(raw_quantity)
        except ValueError as exc:
            reading.problem(line, "quantity", str(exc))
    comment = record.get("comment", "").strip()
    if len(comment) > MAX_COMMENT:
        reading.problem(
            line, "comment", gettext("at most %(max)s characters") % {"max": MAX_COMMENT}
        )
    valid = len(reading.problems) == before
    return _Cells(line, contract, line_ref, month, quantity, comment, valid)


# ---------------------------------------------------------------------------------------
# File


def _read(data: bytes, filename: str) -> _Reading:
    """Decode and split the file; never raises on bad input, records problems instead."""
    reading = _Reading(filename=filename)
    if len(data) > MAX_BYTES:
        reading.problem(
            0, "", gettext("larger than %(size)s MB") % {"size": MAX_BYTES // (1024 * 1024)}
        )
        return reading
    if not data.strip():
        reading.problem(0, "", gettext("empty file"))
        return reading
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        reading.problem(
            0, "", gettext("UTF-16 is not supported: save the file as CSV UTF-8 or CSV (;)")
        )
        return reading
    try:
        text, reading.encoding = decode(data)
    except UnicodeDecodeError:
        reading.problem(0, "", gettext("encoding is neither UTF-8 nor Windows-1252"))
        return reading
    if "\x00" in text:
        reading.problem(0, "", gettext("contains NUL bytes: not a CSV text file"))
        return reading
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        reading.problem(0, "", gettext("empty, or the first line (the header) is blank"))
        return reading
    reading.delimiter = sniff_delimiter(first_line)
    try:
        _read_rows(reading, text)
    except csv.Error as exc:
        reading.cells.clear()
        reading.problems = [
            TimesheetProblem(
                filename, 0, "", gettext("not readable as CSV (%(error)s)") % {"error": exc}
            )
        ]
    return reading


def _read_rows(reading: _Reading, text: str) -> None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=reading.delimiter)
    header = [h.strip().lower() for h in next(reader)]
    named = [h for h in header if h]
    unknown = [h for h in named if h not in COLUMNS]
    if unknown:
        reading.problem(
            1,
            "",
            gettext("unknown column(s) %(unknown)s; the columns are %(expected)s")
            % {"unknown": ", ".join(repr(h) for h in unknown), "expected": ", ".join(COLUMNS)},
        )
    for name in sorted({h for h in named if named.count(h) > 1}):
        reading.problem(1, name, gettext("column repeated"))
    for name in REQUIRED_COLUMNS:
        if name not in named:
            reading.problem(1, name, gettext("required column missing"))
    if reading.problems:
        return
    rows = 0
    previous = reader.line_num
    for values in reader:
        # A quoted cell can span lines: a row starts right after the previous one ended.
        line, previous = previous + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        rows += 1
        if rows > MAX_ROWS:
            reading.cells.clear()
            reading.problems = [
                TimesheetProblem(
                    reading.filename,
                    0,
                    "",
                    gettext("more than %(max)s rows: split the file") % {"max": MAX_ROWS},
                )
            ]
            return
        extra = [v for v in values[len(header) :] if v.strip()]
        if extra:
            reading.problem(
                line,
                "",
                gettext("%(values)s values for %(columns)s columns")
                % {"values": len(values), "columns": len(header)},
            )
            continue
        record = {name: value for name, value in zip(header, values, strict=False) if name}
        reading.cells.append(_cells(reading, line, record))
    if not rows:
        reading.problem(0, "", gettext("no time entry: the file has only its header"))


def parse_timesheet(data: bytes, filename: str) -> list[TimesheetRow]:
    """The rows of a timesheet file, or TimesheetRejected listing every format problem.

    Pure: reads no database, so contracts and lines are only named here, not found.
    """
    reading = _read(data, filename)
    if reading.problems:
        raise TimesheetRejected(filename, reading.problems)
    return [cells.row() for cells in reading.cells]


# ---------------------------------------------------------------------------------------
# Database checks and the write


def _chunks(values: Iterable[_T]) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for value in values:
        batch.append(value)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _active_in(line: ContractLine, month: dt.date) -> bool:
    start = line.start_date or line.contract.start_date
    end = line.end_date or line.contract.end_date
    return start < add_months(month, 1) and (end is None or end >= month)


def _find_line(
    reading: _Reading, cells: _Cells, contract: Contract, lines: Sequence[ContractLine]
) -> ContractLine | None:
    """The line a row names: by position number, else by exact description.

    An amendment that changes a T&M line's price continues it as a new line with the same
    description from its effective date, so a description naming several lines is resolved
    by the month: the one line in force that month.
    """
    ref = cells.line_ref
    if ref.isdigit():
        by_position = [line for line in lines if line.position == int(ref)]
        if by_position:
            return by_position[0]
    matches = [line for line in lines if line.description == ref]
    if len(matches) > 1:
        tm = [line for line in matches if line.mode == InvoicingMode.TIME_AND_MATERIALS]
        matches = tm or matches
    if len(matches) > 1 and cells.month is not None:
        month = cells.month
        matches = [line for line in matches if _active_in(line, month)] or matches
    if len(matches) == 1:
        return matches[0]
    values = {"number": contract.number, "line": ref}
    if not matches:
        reading.problem(
            cells.line,
            "line",
            gettext(
                "contract %(number)s has no line “%(line)s”: give the line's position number "
                "or its exact description"
            )
            % values,
        )
    else:
        values["positions"] = ", ".join(str(line.position) for line in matches)
        reading.problem(
            cells.line,
            "line",
            gettext(
                "several lines of contract %(number)s are described “%(line)s” (positions "
                "%(positions)s): give the position number"
            )
            % values,
        )
    return None


def _resolve(reading: _Reading) -> list[tuple[TimesheetRow, ContractLine]]:
    """Find each row's contract line and apply the rules `enter_time` applies, for all rows.

    Reads the database with a handful of queries for the whole file; records a problem for
    each row that `enter_time` would refuse, or that repeats a month of the file.
    """
    numbers = sorted({c.contract for c in reading.cells if c.contract})
    contracts: dict[str, Contract] = {}
    for batch in _chunks(numbers):
        contracts.update((c.number, c) for c in Contract.objects.filter(number__in=batch))
    lines: dict[int, list[ContractLine]] = defaultdict(list)
    for ids in _chunks(c.pk for c in contracts.values()):
        query = ContractLine.objects.filter(contract_id__in=ids).select_related("contract")
        for contract_line in query.order_by("position", "id"):
            lines[contract_line.contract_id].append(contract_line)
    found: list[tuple[_Cells, ContractLine]] = []
    for cells in reading.cells:
        if not cells.contract or not cells.line_ref:
            continue
        contract = contracts.get(cells.contract)
        if contract is None:
            reading.problem(
                cells.line,
                "contract",
                gettext("no contract %(number)s") % {"number": cells.contract},
            )
            continue
        line = _find_line(reading, cells, contract, lines[contract.pk])
        if line is None:
            continue
        if line.mode != InvoicingMode.TIME_AND_MATERIALS:
            reading.problem(
                cells.line,
                "line",
                gettext(
                    "line %(position)s “%(description)s” of %(number)s is invoiced "
                    "“%(mode)s”, not time and materials: no time is entered on it"
                )
                % {
                    "position": line.position,
                    "description": line.description,
                    "number": contract.number,
                    "mode": InvoicingMode(line.mode).label,
                },
            )
            continue
        found.append((cells, line))
    seen: dict[tuple[int, dt.date], int] = {}
    keyed: list[tuple[_Cells, ContractLine, str]] = []
    for cells, line in found:
        if cells.month is None:
            continue
        first = seen.setdefault((line.pk, cells.month), cells.line)
        if first != cells.line:
            reading.problem(
                cells.line,
                "month",
                gettext("same contract, line and month as line %(line)s") % {"line": first},
            )
            continue
        keyed.append((cells, line, f"L{line.pk}:T:{cells.month:%Y-%m}"))
    invoiced: set[str] = set()
    for batch in _chunks(key for _cells, _line, key in keyed):
        invoiced.update(
            InvoiceLine.objects.filter(billing_key__in=batch).values_list("billing_key", flat=True)
        )
    for cells, _line, key in keyed:
        if key in invoiced:
            assert cells.month is not None
            reading.problem(
                cells.line,
                "month",
                gettext(
                    "%(month)s is already invoiced on this line: correct the invoice with a "
                    "credit note, or discard the draft invoice first"
                )
                % {"month": f"{cells.month:%m/%Y}"},
            )
    return [(cells.row(), line) for cells, line in found if cells.valid]


def _existing(pairs: Sequence[tuple[TimesheetRow, ContractLine]]) -> set[tuple[int, dt.date]]:
    """The (line, month) pairs of the file that already have a time entry."""
    wanted = {(line.pk, row.month) for row, line in pairs}
    months = sorted({month for _line, month in wanted})
    existing: set[tuple[int, dt.date]] = set()
    if not months:
        return existing
    for ids in _chunks(sorted({line_id for line_id, _month in wanted})):
        query = TimeEntry.objects.filter(
            line_id__in=ids, month__gte=months[0], month__lte=months[-1]
        ).values_list("line_id", "month")
        existing.update(pair for pair in query if pair in wanted)
    return existing


def import_timesheet(*, actor: User, data: bytes, filename: str) -> ImportResult:
    """Import a timesheet file, all or nothing (see the module docstring).

    Every row goes through `enter_time`, which checks the permission and the invoiced
    month again and writes one audit event per entry; one more event per contract names the
    file the entries came from.
    """
    require(actor, Action.MANAGE_CONTRACTS)
    reading = _read(data, filename)
    if reading.problems and not reading.cells:  # the file itself, or its header, is wrong
        raise TimesheetRejected(filename, reading.problems)
    with transaction.atomic():
        pairs = _resolve(reading)
        if reading.problems:
            raise TimesheetRejected(filename, reading.problems)
        existing = _existing(pairs)
        per_contract: dict[int, list[TimesheetRow]] = defaultdict(list)
        contracts: dict[int, Contract] = {}
        for row, line in pairs:
            try:
                enter_time(
                    actor=actor,
                    line=line,
                    month=row.month,
                    quantity=row.quantity,
                    comment=row.comment,
                    source=TimeEntrySource.IMPORT,
                )
            except DomainError as exc:
                # Invoiced since the checks above (a billing run running meanwhile): the
                # whole file is refused, as if the check had seen it.
                problem = TimesheetProblem(filename, row.line, "month", exc.message)
                raise TimesheetRejected(filename, [problem]) from exc
            per_contract[line.contract_id].append(row)
            contracts[line.contract_id] = line.contract
        for contract_id, rows in per_contract.items():
            record_event(
                actor=actor,
                verb=Verb.IMPORT,
                instance=contracts[contract_id],
                changes={"timesheet": filename, "entries": len(rows)},
            )
    replaced = sum(1 for row, line in pairs if (line.pk, row.month) in existing)
    return ImportResult(
        filename=filename,
        encoding=reading.encoding,
        delimiter=reading.delimiter,
        rows=len(pairs),
        created=len(pairs) - replaced,
        replaced=replaced,
    )
