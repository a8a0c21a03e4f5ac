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
from typing import NamedTuple

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    F,
    QuerySet,
    Sum,
    Value,
)

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


def _rounded_mean(days: int, count: int) -> int:
    """A mean of whole days, rounded half away from zero as ROUND does on a numeric (the
    forecast's statement): −2.5 → −3."""
    return int((Decimal(days) / Decimal(count)).quantize(Decimal(1), ROUND_HALF_UP))


def payment_delays(as_of: dt.date) -> tuple[dict[int, int], int]:
    """The rounded mean payment delay over the year to d of each customer that settled at
    least 3 invoices in it, and the company's (0 without data): the delays the forecast
    places each open invoice with, from one grouped query."""
    rows = (
        invoices_settled(as_of - dt.timedelta(days=DELAY_HISTORY_DAYS), as_of)
        .order_by()
        .values("customer")
        # COUNT(*), not COUNT(id): the "settled_invoices" index then answers alone.
        .annotate(settled=Count("*"), days=Sum("payment_delay_days"))
        .values_list("customer", "settled", "days")
    )
    own: dict[int, int] = {}
    all_days = all_settled = 0
    for customer, settled, days in rows:
        all_days += int(days)
        all_settled += settled
        if settled >= MIN_SETTLED_FOR_OWN_DELAY:
            own[customer] = _rounded_mean(int(days), settled)
    return own, _rounded_mean(all_days, all_settled) if all_settled else 0


class Expected(NamedTuple):
    """An invoice open at d, placed in the forecast (`expected_collections`). The fields'
    order is the drill-down's: tuples sort by week, due date and id without a key."""

    forecast_week: int  # 0 for the week of d (overdue included), 1 for the next…
    due_date: dt.date
    invoice_id: int
    open_at: Decimal
    expected_delay: int  # days: the customer's mean payment delay, or the company's


def expected_collections(as_of: dt.date, customer: int | None = None) -> list[Expected]:
    """The open invoices at d (of one customer, given its id), each placed in the week its
    cash is expected, in the order the drill-down lists them (week, due date, id); their
    open amounts per week are the forecast's.

    Placed here, from the customers' delays grouped once (`payment_delays`): a delay looked
    up by a subquery per open invoice read each customer's year of invoices again for each
    (bench/kpis.py's database, 79,000 open invoices: 155 s for a page, now about 1 s)."""
    own, company = payment_delays(as_of)
    monday = week_start(as_of)
    invoices = open_items(None, as_of).exclude(due_date__isnull=True).order_by()
    if customer is not None:
        invoices = invoices.filter(customer_id=customer)
    rows = invoices.values_list("pk", "customer_id", "due_date", "open_at")  # type: ignore[misc]
    placed = []
    for pk, customer_id, due, open_at in rows:
        delay = own.get(customer_id, company)
        # Overdue, or expected before this week: this week.
        week = min(max((due - monday).days + delay, 0) // 7, FORECAST_WEEKS)
        placed.append(Expected(week, due, pk, open_at, delay))
    placed.sort()
    return placed


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
    Rounding as `payment_delays`: half away from zero on both databases (numeric on
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
