"""The full set of kpis.md figures at one date, as one typed value and as its JSON form.

`compute_kpis` is what the CLI, the dashboard, the weekly snapshot and the report all call,
so a figure can never mean two things in two places. The JSON names are kpis.md's "Names in
JSON"; amounts are strings with two decimals, days and rates numbers (one or two decimals),
an undefined figure (no sales, no invoice in the period...) is `null`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

AGED_KEYS = ("not_due", "1_30", "31_60", "61_90", "over_90", "total")


@dataclass(frozen=True)
class ForecastWeek:
    week_start: dt.date  # a Monday
    expected: Decimal


@dataclass(frozen=True)
class StepTime:
    """Validation time of one approval step (by the role that decides it), in hours."""

    role: str
    count: int
    median_hours: Decimal | None
    p90_hours: Decimal | None


@dataclass(frozen=True)
class KpiFigures:
    as_of: dt.date
    period_days: int
    receivables_ttc: Decimal
    sales_ttc_period: Decimal
    dso_simple: Decimal | None
    dso_countback: Decimal | None
    invoicing_delay_days: Decimal | None
    invoicing_delay_days_weighted: Decimal | None
    credit_note_rate: Decimal | None  # a ratio (0.05 = 5 %)
    credit_note_rate_amount: Decimal | None
    invoice_error_rate: Decimal | None
    fae: Decimal
    pca: Decimal
    dispute_rate: Decimal | None
    dispute_resolution_days: Decimal | None
    open_disputes_count: int
    open_disputes_amount: Decimal
    aged_balance: dict[str, Decimal]  # AGED_KEYS → amount
    overdue_ratio: Decimal | None
    average_payment_delay_days: Decimal | None
    average_payment_delay_days_weighted: Decimal | None
    cei: Decimal | None
    order_validation_hours_median: Decimal | None
    order_validation_hours_p90: Decimal | None
    cash_forecast: list[ForecastWeek]
    # Not in kpis.md's JSON list, shown on the dashboard (kept out of `as_json`'s contract
    # names but printed under their own names).
    order_validation_steps: list[StepTime] = field(default_factory=list)
    cash_forecast_later: Decimal = Decimal("0.00")  # expected after the 13th week

    def as_json(self) -> dict[str, Any]:
        """kpis.md's "Names in JSON", plus the two extras under their own names."""
        return {
            "as_of": self.as_of.isoformat(),
            "period_days": self.period_days,
            "receivables_ttc": money(self.receivables_ttc),
            "sales_ttc_period": money(self.sales_ttc_period),
            "dso_simple": number(self.dso_simple),
            "dso_countback": number(self.dso_countback),
            "invoicing_delay_days": number(self.invoicing_delay_days),
            "invoicing_delay_days_weighted": number(self.invoicing_delay_days_weighted),
            "credit_note_rate": number(self.credit_note_rate),
            "credit_note_rate_amount": number(self.credit_note_rate_amount),
            "invoice_error_rate": number(self.invoice_error_rate),
            "fae": money(self.fae),
            "pca": money(self.pca),
            "dispute_rate": number(self.dispute_rate),
            "dispute_resolution_days": number(self.dispute_resolution_days),
            "open_disputes_count": self.open_disputes_count,
            "open_disputes_amount": money(self.open_disputes_amount),
            "aged_balance": {key: money(self.aged_balance[key]) for key in AGED_KEYS},
            "overdue_ratio": number(self.overdue_ratio),
            "average_payment_delay_days": number(self.average_payment_delay_days),
            "average_payment_delay_days_weighted": number(self.average_payment_delay_days_weighted),
            "cei": number(self.cei),
            "order_validation_hours_median": number(self.order_validation_hours_median),
            "order_validation_hours_p90": number(self.order_validation_hours_p90),
            "cash_forecast": [
                {"week_start": week.week_start.isoformat(), "expected": money(week.expected)}
                for week in self.cash_forecast
            ],
            "cash_forecast_later": money(self.cash_forecast_later),
            "order_validation_steps": [
                {
                    "role": step.role,
                    "count": step.count,
                    "median_hours": number(step.median_hours),
                    "p90_hours": number(step.p90_hours),
                }
                for step in self.order_validation_steps
            ],
        }


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def number(value: Decimal | None) -> float | None:
    """Days, hours and ratios as JSON numbers (they are already rounded: 1 or 4 decimals)."""
    return None if value is None else float(value)
