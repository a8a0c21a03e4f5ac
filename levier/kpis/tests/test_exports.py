"""Drill-down exports: a CSV French Excel opens cleanly, an XLSX with typed cells."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from openpyxl import load_workbook

from levier.kpis.drilldown import Column, DrillDown
from levier.kpis.exports import drilldown_csv, drilldown_csv_chunks, drilldown_xlsx

D = Decimal
COLUMNS = (
    Column("number", "Numéro", "text"),
    Column("customer", "Client", "text"),
    Column("due_date", "Échéance", "date"),
    Column("days_late", "Jours de retard", "days"),
    Column("open_at", "Restant dû", "money"),
    Column("decided_at", "Décidé le", "date"),
    Column("hours", "Heures", "hours"),
    Column("share", "Part", "rate"),
)
ROW = {
    "number": "F2026-000042",
    "customer": 'Dupont; Fils & "Cie"',
    "due_date": dt.date(2026, 10, 31),
    "days_late": 27,
    "open_at": D("1234.5"),
    "decided_at": dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC),
    "hours": D("12.25"),
    "share": D("0.0512"),
    "url": "/invoices/42/",
}
EMPTY = {"number": "F2026-000043", "customer": "Éloïse", "url": ""}


class StreamOnly(Sequence[dict[str, Any]]):
    """Rows that can only be read in order, once, like a database cursor (and a guard that
    the exporters do not slice, index or count them)."""

    def __init__(self, count: int):
        self.count_ = count
        self.iterated = 0

    def __len__(self) -> int:
        raise AssertionError("exports must not count the rows")

    def __getitem__(self, index: Any) -> Any:
        raise AssertionError("exports must not index the rows")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.iterated += 1
        for n in range(self.count_):
            yield {
                "number": f"F2026-{n:06d}",
                "customer": f"Client {n % 500}",
                "due_date": dt.date(2026, 1, 1) + dt.timedelta(days=n % 300),
                "days_late": n % 120,
                "open_at": D(n) / 100,
                "url": "",
            }


def make(rows: Sequence[dict[str, Any]], columns: tuple[Column, ...] = COLUMNS) -> DrillDown:
    return DrillDown(
        key="dso",
        title="DSO",
        explanation="",
        columns=columns,
        rows=rows,
        total=None,
        as_of=dt.date(2026, 11, 27),
        period_days=90,
    )


@pytest.fixture(autouse=True)
def _paris(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Paris"


def test_the_csv_starts_with_a_bom_and_uses_semicolons_and_decimal_commas() -> None:
    data = drilldown_csv(make([ROW, EMPTY]))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == (
        "Numéro;Client;Échéance;Jours de retard;Restant dû;Décidé le;Heures;Part (%)"
    )
    # The customer name has a ';' and quotes: quoted, quotes doubled. Paris is UTC+1 in Nov.
    assert lines[1] == (
        'F2026-000042;"Dupont; Fils & ""Cie""";31/10/2026;27;1234,50;02/11/2026 09:30;12,3;5,12'
    )
    assert lines[2] == "F2026-000043;Éloïse;;;;;;"
    assert lines[3] == ""  # the file ends with a line end
    parsed = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert parsed[1][1] == 'Dupont; Fils & "Cie"'


def test_the_csv_headers_follow_the_active_language() -> None:
    from django.utils.translation import gettext_lazy as _

    columns = (Column("number", _("Number"), "text"),)
    with translation.override("en"):
        assert drilldown_csv(make([], columns)).decode("utf-8-sig") == "Number\r\n"
    with translation.override("fr"):
        assert drilldown_csv(make([], columns)).decode("utf-8-sig") == "Numéro\r\n"


def test_a_negative_amount_keeps_its_sign_and_two_decimals() -> None:
    columns = (Column("open_at", "Montant", "money"),)
    text = drilldown_csv(make([{"open_at": D("-45")}, {"open_at": D("0.005")}], columns))
    assert text.decode("utf-8-sig").split("\r\n")[1:3] == ["-45,00", "0,01"]


def test_the_xlsx_has_typed_cells_a_bold_frozen_header_and_column_widths() -> None:
    data = drilldown_xlsx(make([ROW, EMPTY]))
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == "dso"
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert header == [
        "Numéro",
        "Client",
        "Échéance",
        "Jours de retard",
        "Restant dû",
        "Décidé le",
        "Heures",
        "Part (%)",
    ]
    assert all(cell.font.bold for cell in sheet[1])
    _number, customer, due, late, amount, decided, hours, share = sheet[2]
    assert customer.value == 'Dupont; Fils & "Cie"'
    assert due.value == dt.datetime(2026, 10, 31) and due.number_format == "DD/MM/YYYY"
    assert late.value == 27 and late.data_type == "n"
    assert amount.value == pytest.approx(1234.5) and amount.number_format == "#,##0.00"
    assert decided.value == dt.datetime(2026, 11, 2, 9, 30)  # local time, naive
    assert hours.value == pytest.approx(12.25) and hours.number_format == "0.0"
    assert share.value == pytest.approx(0.0512) and share.number_format == "0.00%"
    assert [cell.value for cell in sheet[3]][:3] == ["F2026-000043", "Éloïse", None]
    # XlsxWriter stores what Excel shows as n characters as n + 0.71 (its padding).
    assert sheet.column_dimensions["B"].width == pytest.approx(36, abs=1)  # wide names
    assert sheet.column_dimensions["C"].width == pytest.approx(12, abs=1)


def test_an_empty_list_exports_a_header_only() -> None:
    sheet = load_workbook(io.BytesIO(drilldown_xlsx(make([])))).active
    assert sheet.max_row == 1
    assert drilldown_csv(make([])).decode("utf-8-sig").count("\r\n") == 1


def test_100k_rows_are_read_once_in_order_and_exported_in_chunks() -> None:
    rows = StreamOnly(100_000)
    columns = COLUMNS[:5]
    started = time.monotonic()
    chunks = list(drilldown_csv_chunks(make(rows, columns)))
    elapsed_csv = time.monotonic() - started
    assert rows.iterated == 1
    assert len(chunks) == 1 + 100_000 // 500
    text = b"".join(chunks).decode("utf-8-sig")
    assert text.count("\r\n") == 100_001
    assert text.split("\r\n")[-2] == "F2026-099999;Client 499;10/04/2026;39;999,99"
    started = time.monotonic()
    data = drilldown_xlsx(make(rows, columns))
    elapsed_xlsx = time.monotonic() - started
    assert rows.iterated == 2
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    last = None
    count = 0
    for count, last in enumerate(sheet.iter_rows(values_only=True), start=1):  # noqa: B007
        pass
    assert count == 100_001
    assert last == ("F2026-099999", "Client 499", dt.datetime(2026, 4, 10), 39, 999.99)
    print(f"100k rows: CSV {elapsed_csv:.1f} s, XLSX {elapsed_xlsx:.1f} s")
    assert elapsed_csv < 10 and elapsed_xlsx < 60  # generous: a 2-core CI machine
