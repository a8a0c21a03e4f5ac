"""CSV and XLSX exports of a drill-down list (the documents behind a KPI).

**CSV** is written for French Excel, which opens it with a double click and no import
wizard: UTF-8 with a byte-order mark (without it Excel reads ANSI and breaks the accents),
``;`` as the separator (the comma is the French decimal separator), a decimal comma, no
thousands separator (a number with a space in it would be read as text), dates as
``dd/mm/yyyy`` (timestamps ``dd/mm/yyyy hh:mm`` in the server's time zone), rates as
percents (the header says "(%)"), CRLF line ends and fields quoted only when needed. The
first line holds the column labels in the active language; there is no total line, so the
file can be filtered and summed as is.

**XLSX** (XlsxWriter in constant-memory mode: rows are streamed to a temporary file, never
all held in memory) has typed cells: amounts are numbers formatted with two decimals, dates
are dates, days and hours are numbers, rates are percents; the header is bold, frozen, and
each column has a width fitting its kind. XlsxWriter, not openpyxl: 100,000 rows of five
columns took 19 s with openpyxl's write-only mode, 8 s with it (`test_exports`, the same
busy machine), and a drill-down of 79,000 open invoices must not outlast a web request.

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


def drilldown_xlsx(drilldown: DrillDown) -> bytes:
    """The list as an Excel workbook of one sheet (typed cells: see the module docstring)."""
    import xlsxwriter

    output = io.BytesIO()
    # constant_memory: each row goes to a temporary file as it is written, never all held.
    workbook = xlsxwriter.Workbook(output, {"constant_memory": True})
    workbook.set_properties({"title": str(drilldown.title)})
    sheet = workbook.add_worksheet(drilldown.key[:31])
    as_datetime = workbook.add_format({"num_format": DATETIME_FORMAT})
    as_date = workbook.add_format({"num_format": DATE_FORMAT})
    # The numeric kinds shown with a format; days and counts are plain numbers.
    formats = {
        kind: workbook.add_format({"num_format": number_format})
        for kind, number_format in (("money", MONEY_FORMAT), ("rate", "0.00%"), ("hours", "0.0"))
    }
    columns = drilldown.columns
    for index, column in enumerate(columns):
        width = WIDE_TEXT.get(column.key, WIDTHS.get(column.kind, 16))
        sheet.set_column(index, index, max(width, len(_header(column)) + 2))
    sheet.freeze_panes(1, 0)
    sheet.write_row(
        0, 0, [_header(column) for column in columns], workbook.add_format({"bold": True})
    )

    def write(row: int, col: int, column: Column, value: Any) -> None:
        if value is None or value == "":
            return
        if isinstance(value, dt.datetime):
            sheet.write_datetime(row, col, _local(value), as_datetime)
            return
        if isinstance(value, dt.date):
            sheet.write_datetime(row, col, value, as_date)
            return
        kind = column.kind
        if kind in ("money", "days", "int", "hours", "rate"):
            number = _decimal(value)
            if number is None:
                sheet.write_string(row, col, str(value))
            elif kind in formats:
                sheet.write_number(row, col, float(number), formats[kind])
            elif number == number.to_integral_value():
                sheet.write_number(row, col, int(number))
            else:
                sheet.write_number(row, col, float(number))
            return
        sheet.write_string(row, col, str(value))

    for row_number, row in enumerate(drilldown.rows, start=1):
        for col, column in enumerate(columns):
            write(row_number, col, column, row.get(column.key))
    workbook.close()
    return output.getvalue()
