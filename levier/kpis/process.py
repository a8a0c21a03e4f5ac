"""Order validation cycle time (kpis.md, process KPIs): submission → final approval, in hours.

"Validated in the period" is the local date of `Order.validated_at` in (d − P, d]. The cycle
runs from the submission of the round that was approved (`Order.submitted_at`, reset by each
new submission) to `validated_at`. A step's time runs from the previous step's decision in
that round (the submission for the first step) to its own: steps are decided in sequence
(`levier.sales.circuit`), so this is the time the order waited on that role.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from levier.kpis.sql import HoursBetween, PercentileCont, one_decimal, percentile
from levier.sales.choices import ApprovalStatus, OrderStatus
from levier.sales.models import ApprovalStep, Order


@dataclass(frozen=True)
class CycleTime:
    count: int
    median_hours: Decimal | None
    p90_hours: Decimal | None


def orders_validated(as_of: dt.date, period_days: int) -> QuerySet[Order]:
    """Orders validated in the period, annotated with `validation_hours`."""
    after = as_of - dt.timedelta(days=period_days)
    return Order.objects.filter(
        status=OrderStatus.VALIDATED,
        validated_at__date__gt=after,
        validated_at__date__lte=as_of,
        submitted_at__isnull=False,
    ).annotate(validation_hours=HoursBetween("validated_at", "submitted_at"))


def steps_decided(as_of: dt.date, period_days: int) -> QuerySet[ApprovalStep]:
    """The approved steps of the approving round of the orders validated in the period,
    annotated with `step_hours` (time waited on that step)."""
    previous = ApprovalStep.objects.filter(
        order=OuterRef("order"),
        round=OuterRef("round"),
        sequence__lt=OuterRef("sequence"),
        decided_at__isnull=False,
    ).order_by("-sequence")
    started = Coalesce(Subquery(previous.values("decided_at")[:1]), F("order__submitted_at"))
    return ApprovalStep.objects.filter(
        order__in=orders_validated(as_of, period_days).values("pk"),
        round=F("order__submission_round"),
        status=ApprovalStatus.APPROVED,
        decided_at__isnull=False,
    ).annotate(step_hours=HoursBetween("decided_at", started))


def _cycle(queryset: QuerySet[Order] | QuerySet[ApprovalStep], field: str) -> CycleTime:
    if connection.vendor == "postgresql":
        return _cycle_in_one(queryset, field)
    return _cycle_by_ranks(queryset, field)


def _cycle_in_one(queryset: QuerySet[Order] | QuerySet[ApprovalStep], field: str) -> CycleTime:
    """Count, median and 90th percentile in one statement (PostgreSQL)."""
    row = queryset.aggregate(
        count=Count("*"), median=PercentileCont(field, 0.5), p90=PercentileCont(field, 0.9)
    )
    return CycleTime(row["count"], one_decimal(row["median"]), one_decimal(row["p90"]))


def _cycle_by_ranks(
    queryset: QuerySet[Order] | QuerySet[ApprovalStep], field: str, count: int | None = None
) -> CycleTime:
    """The same read as a count and the values around each rank (any database); `count`:
    the rows', when the caller has it already."""
    # The hours are never null (both timestamps are required by the filters), so the count of
    # rows is the count of values.
    if count is None:
        count = queryset.count()
    return CycleTime(
        count=count,
        median_hours=one_decimal(percentile(queryset, field, 0.5, count)),
        p90_hours=one_decimal(percentile(queryset, field, 0.9, count)),
    )


def order_validation_time(as_of: dt.date, period_days: int) -> CycleTime:
    return _cycle(orders_validated(as_of, period_days), "validation_hours")


def step_validation_times(as_of: dt.date, period_days: int) -> dict[str, CycleTime]:
    """Per role deciding a step, in the circuit's order of roles."""
    steps = steps_decided(as_of, period_days)
    if connection.vendor == "postgresql":
        return _steps_in_one(steps)
    return _steps_by_ranks(steps)


def _steps_in_one(steps: QuerySet[ApprovalStep]) -> dict[str, CycleTime]:
    """Every role's figures in one statement (PostgreSQL)."""
    rows = (
        steps.order_by("role")
        .values("role")
        .annotate(
            count=Count("*"),
            median=PercentileCont("step_hours", 0.5),
            p90=PercentileCont("step_hours", 0.9),
        )
    )
    return {
        row["role"]: CycleTime(row["count"], one_decimal(row["median"]), one_decimal(row["p90"]))
        for row in rows
    }


def _steps_by_ranks(steps: QuerySet[ApprovalStep]) -> dict[str, CycleTime]:
    counts = dict(steps.order_by("role").values_list("role").annotate(n=Count("pk")))
    return {
        role: _cycle_by_ranks(steps.filter(role=role), "step_hours", count)
        for role, count in counts.items()
    }
