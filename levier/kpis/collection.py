"""Collection KPIs: overdue ratio, payment delay, CEI and the 13-week cash forecast (kpis.md).

Choices where kpis.md is silent:

- "Settled in the period" uses `Invoice.settled_on`, the first day credit notes and payments
  covered the whole invoice (kept by `levier.collections.balances`).
- The per-customer payment delay the cash forecast uses is measured over the invoices the
  customer settled in the 365 days up to d; a customer with fewer than 3 such invoices gets
  the company's figure over the same year (0 days when the company has none: due date).
- The forecast's weeks run Monday to Sunday; week 1 is the week of d. An amount expected
  before week 1 (overdue, or a customer who pays early on an invoice due this week) is placed
  in week 1. What is expected after week 13 is given apart (`later`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least, Round

from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.aging import AgedBalance, aged_balance, open_items, open_parts
from levier.kpis.receivables import sales_ttc
from levier.kpis.sql import DaysBetween, one_decimal

ZERO = Decimal("0.00")
_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=2)
FORECAST_WEEKS = 13
DELAY_HISTORY_DAYS = 365
MIN_SETTLED_FOR_OWN_DELAY = 3


# --- payment delay ---------------------------------------------------------------------------


def invoices_settled(after: dt.date, until: dt.date) -> QuerySet[Invoice]:
    """Invoices settled in (after, until], annotated with `payment_delay_days` =
    settled date − due date (negative: paid early)."""
    return Invoice.objects.filter(
        status=InvoiceStatus.ISSUED,
        kind=DocumentKind.INVOICE,
        settled_on__gt=after,
        settled_on__lte=until,
        due_date__isnull=False,
    ).annotate(payment_delay_days=DaysBetween("settled_on", "due_date"))


def average_payment_delay(
    as_of: dt.date, period_days: int
) -> tuple[Decimal | None, Decimal | None]:
    """Mean of (settled − due) over the invoices settled in the period, plain and weighted by
    their amount TTC."""
    sums = invoices_settled(as_of - dt.timedelta(days=period_days), as_of).aggregate(
        mean=Avg("payment_delay_days"),
        weighted=Sum(F("payment_delay_days") * F("total_gross")),
        weight=Sum("total_gross"),
    )
    weighted = None
    if sums["weight"]:
        weighted = Decimal(sums["weighted"]) / Decimal(sums["weight"])
    return one_decimal(sums["mean"]), one_decimal(weighted)


def company_payment_delay(as_of: dt.date) -> Decimal:
    """The company's mean payment delay over the year to d, in whole days (0 without data)."""
    mean = invoices_settled(as_of - dt.timedelta(days=DELAY_HISTORY_DAYS), as_of).aggregate(
        mean=Avg("payment_delay_days")
    )["mean"]
    return Decimal(0) if mean is None else Decimal(str(mean)).quantize(1, ROUND_HALF_UP)


def customer_payment_delays(as_of: dt.date) -> QuerySet[Any]:
    """Per customer with at least 3 invoices settled in the year to d: `customer`, `settled`
    (count) and `delay` (mean days, not rounded)."""
    return (
        invoices_settled(as_of - dt.timedelta(days=DELAY_HISTORY_DAYS), as_of)
        .values("customer")
        # COUNT(*), not COUNT(id): the "settled_invoices" index then answers alone.
        .annotate(settled=Count("*"), delay=Avg("payment_delay_days"))
        .filter(settled__gte=MIN_SETTLED_FOR_OWN_DELAY)
    )


# --- CEI -------------------------------------------------------------------------------------


def cei(
    as_of: dt.date,
    period_days: int,
    *,
    sales: Decimal | None = None,
    aged: AgedBalance | None = None,
) -> Decimal | None:
    """(AR(a) + Sales(a, b] − AR(b)) ÷ (AR(a) + Sales(a, b] − CurrentAR(b)) × 100, with b = d
    and a = d − P; one decimal; None when the denominator is zero. `sales` (over the period)
    and `aged` (the aged balance at d): when the caller has them already."""
    start = as_of - dt.timedelta(days=period_days)
    opening = aged_balance(None, start).total
    sales = sales_ttc(start, as_of) if sales is None else sales
    aged = aged_balance(None, as_of) if aged is None else aged
    denominator = opening + sales - aged.not_due
    if not denominator:
        return None
    collected = opening + sales - aged.total
    return (collected / denominator * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- cash forecast ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    weeks: list[tuple[dt.date, Decimal]]  # (Monday, expected)
    later: Decimal  # expected after the last week


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def expected_collections(as_of: dt.date) -> QuerySet[Any]:
    """The open invoices at d, each annotated with `expected_delay` (the customer's payment
    delay, or the company's) and `forecast_week`: 0 for the week of d (overdue included),
    1 for the next… The cash forecast sums `open_at` by `forecast_week`; the drill-down
    lists them."""
    company = company_payment_delay(as_of)
    own_delay = (
        customer_payment_delays(as_of).filter(customer=OuterRef("customer")).values("delay")[:1]
    )
    monday = week_start(as_of)
    # Numeric, not float, on both sides: PostgreSQL rounds a float's .5 to even, a numeric's
    # away from zero as SQLite and `company_payment_delay` do.
    exact: DecimalField[Decimal, Decimal] = DecimalField(max_digits=12, decimal_places=4)
    delay = Cast(
        Round(Coalesce(Cast(Subquery(own_delay), exact), Value(company, output_field=exact))),
        IntegerField(),
    )
    days_from_monday = DaysBetween("due_date", Value(monday)) + delay
    # Integer division rounding down for negatives too: floor((x) / 7) as (x + 7·k) / 7 − k
    # would need care, so negatives (before this week) are clamped to 0 first.
    week = Least(
        Greatest(days_from_monday, Value(0)) / Value(7),
        Value(FORECAST_WEEKS),
        output_field=IntegerField(),
    )
    return (
        open_items(None, as_of)
        .exclude(due_date__isnull=True)
        .annotate(expected_delay=delay, forecast_week=Greatest(week, Value(0)))
    )


# The customers' delays grouped once and joined to the open parts: one statement, where a
# delay looked up per open invoice (as `expected_collections` does, to show it) costs a
# subquery each. The company's mean comes from the customers' sums, not a second pass over
# the year's settled invoices. Each customer's mean is its sum over its count, the very
# quotient AVG gives, without AVG's own accumulator per row (bench/kpis.py's database, the
# year's 275,000 settled invoices: 167 → 131 ms). The `settled` and `parts` subqueries are
# the ORM's own SQL.
_FORECAST_SQL = """
WITH settled AS ({settled}),
own AS (
    SELECT customer_id, ROUND(SUM(delay) * 1.0 / COUNT(*)) AS delay, SUM(delay) AS days,
           COUNT(*) AS settled
    FROM settled GROUP BY customer_id
),
company AS (SELECT COALESCE(ROUND(SUM(days) * 1.0 / SUM(settled)), 0) AS delay FROM own),
parts AS ({parts})
SELECT {least}({greatest}(parts.days + CAST(COALESCE(own.delay, company.delay) AS INTEGER), 0)
                / 7, %s) AS week,
       SUM(parts.signed)
FROM parts CROSS JOIN company
LEFT JOIN own ON own.customer_id = parts.debtor AND own.settled >= %s
GROUP BY 1
"""


def cash_forecast(as_of: dt.date) -> Forecast:
    """Expected collections for each of the 13 weeks from the week of d (kpis.md).

    One statement: the open amounts at d (`open_parts`, counted back from today's) with
    their days from the Monday of d to the due date, plus their customer's delay (own when
    it settled at least 3 invoices in the year, else the company's), divided into weeks.
    Rounding as `company_payment_delay`: half away from zero on both databases (numeric on
    PostgreSQL, a float's exact .5 on SQLite)."""
    monday = week_start(as_of)
    settled_sql, settled_params = (
        invoices_settled(as_of - dt.timedelta(days=DELAY_HISTORY_DAYS), as_of)
        .order_by()
        .values("customer_id")
        .annotate(delay=F("payment_delay_days"))
        .query.sql_with_params()
    )
    selects, params = [], [*settled_params]
    for part in open_parts(None, as_of):
        sql, part_params = (
            part.exclude(due__isnull=True)
            .order_by()
            .annotate(days=DaysBetween("due", Value(monday)))
            .values("debtor", "days", "signed")
            .query.sql_with_params()
        )
        selects.append(sql)
        params.extend(part_params)
    postgres = connection.vendor == "postgresql"
    statement = _FORECAST_SQL.format(
        settled=settled_sql,
        parts=" UNION ALL ".join(selects),
        least="LEAST" if postgres else "MIN",
        greatest="GREATEST" if postgres else "MAX",
    )
    by_week: dict[int, Decimal] = defaultdict(lambda: ZERO)
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, FORECAST_WEEKS, MIN_SETTLED_FOR_OWN_DELAY])
        for week, total in cursor.fetchall():
            by_week[int(week)] += Decimal(str(total))
    cent = Decimal("0.01")
    # + ZERO: SQLite sums in floats, and -1e-12 must not print as « -0,00 € ».
    weeks = [
        (monday + dt.timedelta(weeks=n), by_week[n].quantize(cent, ROUND_HALF_UP) + ZERO)
        for n in range(FORECAST_WEEKS)
    ]
    return Forecast(weeks=weeks, later=by_week[FORECAST_WEEKS].quantize(cent, ROUND_HALF_UP) + ZERO)
