"""Order validation cycle time: median and 90th percentile, overall and per step, in hours."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from levier.accounts.models import User
from levier.kpis.process import (
    _cycle_by_ranks,
    _cycle_in_one,
    _steps_by_ranks,
    _steps_in_one,
    order_validation_time,
    orders_validated,
    step_validation_times,
    steps_decided,
)
from levier.kpis.services import compute_kpis
from levier.sales.models import ApprovalStep, Order
from levier.sales.services import approve_order, submit_order
from levier.sales.tests.factories import line, make_order, standard_rules

D = Decimal
AS_OF = dt.date(2026, 3, 31)


def at(day: int, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, 3, day, hour))


def validated(
    commercial: User, approvers: list[User], submitted: dt.datetime, decided: list[dt.datetime]
) -> Order:
    """An order through the real circuit, then its timestamps set to the story's."""
    big = len(approvers) > 1
    order = make_order(commercial, lines=[line("80", "800")] if big else None)
    order = submit_order(actor=commercial, order=order)
    for approver in approvers:
        order = approve_order(actor=approver, order=order)
    Order.objects.filter(pk=order.pk).update(submitted_at=submitted, validated_at=decided[-1])
    for step, when in zip(order.approval_steps.order_by("sequence"), decided, strict=True):
        ApprovalStep.objects.filter(pk=step.pk).update(decided_at=when)
    return order


@pytest.fixture
def orders(commercial: User, adv: User, direction: User) -> None:
    standard_rules()
    # Cycle times 2, 4, 10 and 30 hours; the 30-hour one waited 6 h on ADV, 24 h on Direction.
    validated(commercial, [adv], at(2, 9), [at(2, 11)])
    validated(commercial, [adv], at(3, 9), [at(3, 13)])
    validated(commercial, [adv], at(4, 8), [at(4, 18)])
    validated(commercial, [adv, direction], at(5, 9), [at(5, 15), at(6, 15)])
    # Validated before the period: not counted.
    validated(commercial, [adv], at(1, 9), [at(1, 10)])


def test_median_and_p90_of_the_cycle(orders: None) -> None:
    # (02/03, 31/03]: the orders validated on the 1st and the 2nd are out.
    assert order_validation_time(AS_OF, 29).count == 3
    # (01/03, 31/03]: 2, 4, 10 and 30 hours: median (4 + 10) ÷ 2 = 7; p90 at rank
    # 0.9 × 3 = 2.7: 10 + 0.7 × (30 − 10) = 24 hours.
    cycle = order_validation_time(AS_OF, 30)
    assert cycle.count == 4
    assert cycle.median_hours == D("7.0")
    assert cycle.p90_hours == D("24.0")


def test_each_step_counts_from_the_previous_decision(orders: None) -> None:
    steps = step_validation_times(AS_OF, 30)
    assert steps["adv"].count == 4
    assert steps["adv"].median_hours == D("5.0")  # 2, 4, 6, 10 → (4 + 6) ÷ 2
    assert steps["direction"].count == 1
    assert steps["direction"].median_hours == D("24.0")  # 15:00 on the 5th → 15:00 on the 6th


def test_each_role_read_around_its_ranks_costs_its_two_reads_not_a_recount(
    orders: None, django_assert_num_queries: Any
) -> None:
    """One grouped count for every role, then a median and a 90th percentile read each."""
    steps = steps_decided(AS_OF, 30)
    with django_assert_num_queries(1 + 2 * 2):  # ADV and Direction
        times = _steps_by_ranks(steps)
    assert {role: t.count for role, t in times.items()} == {"adv": 4, "direction": 1}


def test_compute_kpis_reports_the_cycle(orders: None) -> None:
    figures = compute_kpis(AS_OF, 30)
    assert figures.order_validation_hours_median == D("7.0")
    assert figures.order_validation_hours_p90 == D("24.0")
    assert [step.role for step in figures.order_validation_steps] == ["adv", "direction"]


def test_no_validated_order_means_no_figure(db: None) -> None:
    cycle = order_validation_time(AS_OF, 90)
    assert cycle.count == 0 and cycle.median_hours is None and cycle.p90_hours is None


@pytest.mark.parametrize("period_days", [1, 4, 5, 29, 30, 90])
def test_the_percentiles_postgresql_aggregates_are_those_read_around_the_ranks(
    orders: None, period_days: int
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("percentile_cont is PostgreSQL's: SQLite reads around the ranks only")
    cycle = orders_validated(AS_OF, period_days)
    assert _cycle_in_one(cycle, "validation_hours") == _cycle_by_ranks(cycle, "validation_hours")
    steps = steps_decided(AS_OF, period_days)
    assert _steps_in_one(steps) == _steps_by_ranks(steps)
