"""The few SQL pieces the KPIs need that Django does not spell the same on SQLite and PostgreSQL.

Differences of dates in days and of timestamps in hours are computed by the database so that
means, weighted means and percentiles are aggregates, not loops over documents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Aggregate, Expression, F, FloatField, Func, IntegerField, QuerySet


class DaysBetween(Func):
    """`later − earlier` in whole days, for two DATE columns (or expressions)."""

    output_field = IntegerField()

    def __init__(self, later: Any, earlier: Any) -> None:
        super().__init__(_expr(later), _expr(earlier))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:  # PostgreSQL
        return super().as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" - ")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="CAST(ROUND(julianday(%(expressions)s)) AS INTEGER)",
            arg_joiner=") - julianday(",
        )


class HoursBetween(Func):
    """`later − earlier` in hours (a float), for two timestamp columns."""

    output_field = FloatField()

    def __init__(self, later: Any, earlier: Any) -> None:
        super().__init__(_expr(later), _expr(earlier))

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:  # PostgreSQL
        return super().as_sql(
            compiler,
            connection,
            template="(EXTRACT(EPOCH FROM (%(expressions)s)) / 3600.0)",
            arg_joiner=" - ",
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 24.0)",
            arg_joiner=") - julianday(",
        )


def _expr(value: Any) -> Expression | F:
    return F(value) if isinstance(value, str) else value


def percentile(
    queryset: QuerySet[Any], field: str, fraction: float, count: int | None = None
) -> float | None:
    """The `fraction` percentile of an annotated column, by linear interpolation between the
    two closest ranks (PostgreSQL's `percentile_cont`), on both databases: the database sorts,
    and only the one or two values around the rank are read (`OFFSET`). `count`: the number
    of non-null values, when the caller has it."""
    ordered = queryset.exclude(**{f"{field}__isnull": True}).order_by(field)
    if count is None:
        count = ordered.count()
    if count == 0:
        return None
    position = fraction * (count - 1)
    low = int(position)
    values = [float(v) for v in ordered.values_list(field, flat=True)[low : low + 2]]
    if len(values) == 1 or position == low:
        return values[0]
    return values[0] + (values[1] - values[0]) * (position - low)


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)`: the same
    interpolation as `percentile`, in the aggregate itself. A median and a 90th percentile per
    group then cost one statement, not one count and two sorted reads each (bench/kpis.py:
    the validation times per step, 7 statements → 1). PostgreSQL only."""

    template = "percentile_cont(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("a percentile is a fraction between 0 and 1")
        # A float literal of our own, never user input: interpolated as the SQL constant.
        super().__init__(
            Func(_expr(expression), template="CAST(%(expressions)s AS double precision)"),
            fraction=repr(float(fraction)),
        )


def one_decimal(value: float | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator ÷ denominator to four decimals (0.0512 = 5.12 %), None when undefined."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )
