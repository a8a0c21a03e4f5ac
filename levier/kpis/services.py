"""`compute_kpis`: every figure of kpis.md at a date, the one entry point for the CLI, the
dashboard, the weekly snapshots and the report.

Read-only, and every figure reads the same state of the books (`levier.kpis.parallel`). Each
figure is a few aggregate queries (the count does not grow with the number of documents),
see the modules it calls.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, wait
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from levier.collections.aging import aged_balance
from levier.contracts.cutoff import Cutoff, compute_cutoff
from levier.kpis import activity, breakdowns, collection, process
from levier.kpis.figures import ForecastWeek, KpiFigures, StepTime
from levier.kpis.parallel import in_snapshot, shared_snapshot
from levier.kpis.receivables import dso_countback, dso_simple

DEFAULT_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 3660


@dataclass(frozen=True)
class Headline:
    """One of the five cards of the dashboard; `key` is a `KpiFigures` attribute."""

    key: str
    label: str | Promise
    unit: str  # "days", "rate" or "money"
    higher_is_better: bool


HEADLINE: tuple[Headline, ...] = (
    Headline("invoicing_delay_days", _("Invoicing delay"), "days", False),
    Headline("invoice_error_rate", _("Invoice error rate"), "rate", False),
    Headline("dso_simple", _("DSO"), "days", False),
    Headline("fae", _("Accrued revenue (FAE)"), "money", False),
    Headline("dispute_rate", _("Dispute rate"), "rate", False),
)


def _check_period(period_days: int) -> None:
    if not 1 <= period_days <= MAX_PERIOD_DAYS:
        raise ValueError(f"period_days must be between 1 and {MAX_PERIOD_DAYS}")


def compute_kpis(as_of: dt.date, period_days: int = DEFAULT_PERIOD_DAYS) -> KpiFigures:
    """All the figures of kpis.md at `as_of`, the period ones over (as_of − period_days,
    as_of]."""
    _check_period(period_days)
    # Every figure reads the same state of the books: one transaction, or on PostgreSQL
    # three connections sharing one snapshot, the cut-off (mostly Python) and the forecast
    # read on the other two while the rest is read here (levier.kpis.parallel).
    with shared_snapshot() as snapshot:
        cutoff = in_snapshot(snapshot, compute_cutoff, as_of, with_invoiced=False)
        forecast = in_snapshot(snapshot, collection.cash_forecast, as_of)
        readers: list[Future[Any]] = [cutoff, forecast]
        try:
            return _compute(as_of, period_days, cutoff, forecast)
        finally:
            wait(readers)  # the snapshot must outlive its readers


@dataclass(frozen=True)
class Dashboard:
    """What the dashboard reads from the books at one date (`dashboard_figures`)."""

    figures: KpiFigures
    breakdowns: breakdowns.Breakdowns
    # The week before's headline figures, when asked for (no weekly snapshot holds them).
    week_before: dict[str, Decimal | None] | None = None


def dashboard_figures(
    as_of: dt.date,
    period_days: int = DEFAULT_PERIOD_DAYS,
    *,
    week_before: dt.date | None = None,
) -> Dashboard:
    """`compute_kpis`, the dashboard's breakdowns (invoicing delay by mode, top overdue
    customers, disputes by reason, the team's worklists) and, given `week_before`, the
    headline figures at that date (`compute_headline`, what the cards compare with when no
    snapshot holds them): the breakdowns and that headline read on other connections
    meanwhile, in the same snapshot (`levier.kpis.parallel`). The page shows one state of
    the books, and on two cores its parts cost little time of their own."""
    _check_period(period_days)
    with shared_snapshot() as snapshot:
        readers: list[Future[Any]] = []
        parts = in_snapshot(snapshot, breakdowns.dashboard_breakdowns, as_of, period_days)
        readers.append(parts)
        before = None
        if week_before is not None:
            before = in_snapshot(snapshot, compute_headline, week_before, period_days)
            readers.append(before)
        try:
            figures = compute_kpis(as_of, period_days)
            return Dashboard(figures, parts.result(), before.result() if before else None)
        finally:
            wait(readers)


def compute_headline(
    as_of: dt.date, period_days: int = DEFAULT_PERIOD_DAYS
) -> dict[str, Decimal | None]:
    """Only the five headline figures at `as_of` (`HEADLINE` keys): what a card compares
    with when no weekly snapshot holds last week's figures, at about a third of the cost
    of `compute_kpis` (no aged balance, forecast, CEI, payment delays nor process times)."""
    _check_period(period_days)
    with shared_snapshot() as snapshot:
        cutoff = in_snapshot(snapshot, compute_cutoff, as_of, with_invoiced=False)
        try:
            rates = activity.period_rates(as_of, period_days)
            return {
                "invoicing_delay_days": rates.invoicing_delay,
                "invoice_error_rate": rates.invoice_error_rate,
                "dso_simple": dso_simple(as_of, period_days, sales=rates.sales_ttc),
                "fae": cutoff.result().fae,
                "dispute_rate": rates.dispute_rate,
            }
        finally:
            wait([cutoff])


def _compute(
    as_of: dt.date,
    period_days: int,
    pending_cutoff: Future[Cutoff],
    pending_forecast: Future[collection.Forecast],
) -> KpiFigures:
    aged = aged_balance(None, as_of)
    rates = activity.period_rates(as_of, period_days)
    disputes_open, disputes_amount = activity.open_disputes_total(as_of)
    payment_delay, payment_delay_weighted = collection.average_payment_delay(as_of, period_days)
    cycle = process.order_validation_time(as_of, period_days)
    steps = process.step_validation_times(as_of, period_days)
    overdue = aged.total - aged.not_due
    sales = rates.sales_ttc
    dso = dso_simple(as_of, period_days, aged.total, sales)
    countback = dso_countback(as_of, aged.total)
    cei = collection.cei(as_of, period_days, sales=sales, aged=aged)
    resolution_days = activity.dispute_resolution_days(as_of, period_days)
    # Last: read meanwhile on the other connections.
    forecast = pending_forecast.result()
    cutoff = pending_cutoff.result()
    return KpiFigures(
        as_of=as_of,
        period_days=period_days,
        receivables_ttc=aged.total,
        sales_ttc_period=sales,
        dso_simple=dso,
        dso_countback=countback,
        invoicing_delay_days=rates.invoicing_delay,
        invoicing_delay_days_weighted=rates.invoicing_delay_weighted,
        credit_note_rate=rates.credit_note_rate,
        credit_note_rate_amount=rates.credit_note_rate_amount,
        invoice_error_rate=rates.invoice_error_rate,
        fae=cutoff.fae,
        pca=cutoff.pca,
        dispute_rate=rates.dispute_rate,
        dispute_resolution_days=resolution_days,
        open_disputes_count=disputes_open,
        open_disputes_amount=disputes_amount,
        aged_balance={
            "not_due": aged.not_due,
            "1_30": aged.days_1_30,
            "31_60": aged.days_31_60,
            "61_90": aged.days_61_90,
            "over_90": aged.over_90,
            "total": aged.total,
        },
        overdue_ratio=(
            None
            if not aged.total
            else (overdue / aged.total).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        ),
        average_payment_delay_days=payment_delay,
        average_payment_delay_days_weighted=payment_delay_weighted,
        cei=cei,
        order_validation_hours_median=cycle.median_hours,
        order_validation_hours_p90=cycle.p90_hours,
        cash_forecast=[ForecastWeek(monday, amount) for monday, amount in forecast.weeks],
        cash_forecast_later=forecast.later,
        order_validation_steps=[
            StepTime(role, times.count, times.median_hours, times.p90_hours)
            for role, times in steps.items()
        ],
    )
