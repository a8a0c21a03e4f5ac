"""CSV and XLSX exports of a drill-down list (the documents behind a KPI).

**CSV** is written for French Excel, which opens it with a double click and no import
wizard: UTF-8 with a byte-order mark (without it Excel reads ANSI and breaks the accents),
``;`` as the separator (the comma is the French decimal separator), a decimal comma, no
thousands separator (a number with a space in it would be read as text), dates as
``dd/mm/yyyy`` (timestamps ``dd/mm/yyyy hh:mm`` in the server's time zone), rates as
percents (the header says "(%)"), CRLF line ends and fields quoted only when needed. The
first line holds the column labels in the active language; there is no total line, so the
file can be filtered and summed as is.

**XLSX** (openpyxl, write-only mode: rows are streamed to the file, never all held in
memory) has typed cells: amounts are numbers formatted with two decimals, dates are dates,
days and hours are numbers, rates are percents; the header is bold, frozen, and each
column has a width fitting its kind.

Both read the rows once, in order (`DrillDown.rows` fetches them from the database in
chunks), and build no per-row structure beyond the current line: 100,000 rows are fine.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone

from levier.kpis.drilldown import Column, DrillDown

__all__ = [
    "CSV_CONTENT_TYPE",
    "XLSX_CONTENT_TYPE",
    "drilldown_csv",
    "drilldown_csv_chunks",
    "drilldown_xlsx",
]

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
CHUNK_ROWS = 500
HUNDRED = Decimal(100)

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
WIDTHS = {
    "text": 24,
    "money": 16,
    "date": 12,
    "days": 10,
    "int": 10,
    "hours": 10,
    "rate": 10,
}
WIDE_TEXT = {"customer": 36, "owner": 24, "reason": 28}


# --------------------------------------------------------------------------- values


def _local(value: dt.datetime) -> dt.datetime:
    """An aware timestamp in the server's time zone, naive (what a spreadsheet holds)."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.replace(tzinfo=None)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _french_number(value: Decimal, places: int | None = None) -> str:
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(value, "f")
    if "." in text and places is None:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _header(column: Column) -> str:
    label = str(column.label)
    return f"{label} (%)" if column.kind == "rate" else label


def _csv_value(column: Column, value: Any) -> str:
    if value is None or value == "":
        return ""
    kind = column.kind
    if isinstance(value, dt.datetime):
        return _local(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if kind in ("money", "days", "int", "hours", "rate"):
        number = _decimal(value)
        if number is None:
            return str(value)
        if kind == "money":
            return _french_number(number, 2)
        if kind == "rate":
            return _french_number(number * HUNDRED, 2)
        if kind == "hours":
            return _french_number(number, 1)
        return _french_number(number)
    return str(value)


# --------------------------------------------------------------------------- CSV


def drilldown_csv_chunks(drilldown: DrillDown) -> Iterator[bytes]:
    """The CSV file as successive byte chunks (for a streaming response)."""
    columns = drilldown.columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([_header(column) for column in columns])
    yield (BOM + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in drilldown.rows:
        writer.writerow([_csv_value(column, row.get(column.key)) for column in columns])
        pending += 1
        if pending == CHUNK_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode("utf-8")


def drilldown_csv(drilldown: DrillDown) -> bytes:
    """The whole CSV file (UTF-8 with BOM, `;`, decimal comma: see the module docstring)."""
    return b"".join(drilldown_csv_chunks(drilldown))


# --------------------------------------------------------------------------- XLSX


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


def drilldown_xlsx(drilldown: DrillDown) -> bytes:
    """The list as an Excel workbook of one sheet (typed cells: see the module docstring)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=drilldown.key[:31])
    workbook.properties.title = str(drilldown.title)
    columns = drilldown.columns
    for index, column in enumerate(columns, start=1):
        width = WIDE_TEXT.get(column.key, WIDTHS.get(column.kind, 16))
        sheet.column_dimensions[_column_letter(index)].width = max(width, len(_header(column)) + 2)
    sheet.freeze_panes = "A2"

    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=_header(column))
        cell.font = bold
        header.append(cell)
    sheet.append(header)

    def cell_of(column: Column, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime):
            cell = WriteOnlyCell(sheet, value=_local(value))
            cell.number_format = DATETIME_FORMAT
            return cell
        if isinstance(value, dt.date):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = DATE_FORMAT
            return cell
        kind = column.kind
        if kind in ("money", "days", "int", "hours", "rate"):
            number = _decimal(value)
            if number is None:
                return str(value)
            if kind == "money":
                cell = WriteOnlyCell(sheet, value=number)
                cell.number_format = MONEY_FORMAT
                return cell
            if kind == "rate":
                cell = WriteOnlyCell(sheet, value=number)
                cell.number_format = "0.00%"
                return cell
            if kind == "hours":
                cell = WriteOnlyCell(sheet, value=number)
                cell.number_format = "0.0"
                return cell
            return int(number) if number == number.to_integral_value() else number
        return str(value)

    for row in drilldown.rows:
        sheet.append([cell_of(column, row.get(column.key)) for column in columns])

    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
