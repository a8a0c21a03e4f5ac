"""Gapless invoice numbers (CGI ann. II art. 242 nonies A, 7°).

`allocate_number` must run inside the transaction that issues the document. Its
`UPDATE … RETURNING` both increments and locks the counter row; the lock is held until that
transaction ends, so concurrent issuers of one series queue up, and a rollback gives the
number back. A PostgreSQL sequence would leave a hole on every rollback: never used here.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from levier.billing.choices import DocumentKind
from levier.billing.models import NumberingSeries, SeriesCounter

DEFAULT_SERIES = {
    DocumentKind.INVOICE: ("F", "F{year}-{seq}"),
    DocumentKind.CREDIT_NOTE: ("AV", "AV{year}-{seq}"),
}


def default_series(kind: DocumentKind | str) -> NumberingSeries:
    found = NumberingSeries.objects.filter(kind=kind, is_default=True).first()
    if found is not None:
        return found
    code, pattern = DEFAULT_SERIES[DocumentKind(kind)]
    series, _ = NumberingSeries.objects.get_or_create(
        code=code, defaults={"kind": kind, "pattern": pattern, "is_default": True}
    )
    return series


def allocate_number(series: NumberingSeries, issue_date: dt.date) -> str:
    return allocate_numbers(series, issue_date, 1)[0]


def allocate_numbers(series: NumberingSeries, issue_date: dt.date, count: int) -> list[str]:
    """`count` consecutive numbers in one statement (a batch issues them in its order)."""
    if not connection.in_atomic_block:
        raise RuntimeError("allocate_numbers must run inside the issuing transaction")
    if count < 1:
        return []
    year = issue_date.year if series.yearly_reset else 0
    q = connection.ops.quote_name
    sql = (
        f"UPDATE {q(SeriesCounter._meta.db_table)} "
        f"SET {q('last_value')} = {q('last_value')} + %s "
        f"WHERE {q('series_id')} = %s AND {q('year')} = %s RETURNING {q('last_value')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [count, series.pk, year])
        row = cursor.fetchone()
    if row is None:
        # First number of the series (or year): create the counter, then take it. Two first
        # issuers racing here both get_or_create; the unique constraint lets one insert win.
        SeriesCounter.objects.get_or_create(series=series, year=year)
        return allocate_numbers(series, issue_date, count)
    last = int(row[0])
    return [series.format(issue_date.year, seq) for seq in range(last - count + 1, last + 1)]
