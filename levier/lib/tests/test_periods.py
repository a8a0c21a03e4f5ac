"""Billing periods, pro rata and tacit renewal (levier/lib/periods.py)."""

import calendar
import datetime as dt
from decimal import Decimal
from itertools import count, islice, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levier.lib.periods import (
    BillingPeriod,
    Frequency,
    Period,
    PeriodError,
    add_months,
    billing_date,
    enclosing_period,
    next_renewal,
    notice_deadline,
    periods,
    periods_due,
    prorata,
)

D = dt.date
dates = st.dates(min_value=D(2000, 1, 1), max_value=D(2060, 12, 31))
frequencies = st.sampled_from(list(Frequency))
anchor_days = st.integers(1, 31)
anchor_months = st.integers(1, 12)
amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("10000000"), places=2)


# --- worked examples -------------------------------------------------------------------


def test_monthly_contract_started_mid_month_bills_a_prorated_first_month() -> None:
    first, second = islice(periods(D(2026, 1, 15), None, Frequency.MONTHLY), 2)
    assert first == BillingPeriod(
        D(2026, 1, 15), D(2026, 1, 31), Period(D(2026, 1, 1), D(2026, 1, 31))
    )
    assert first.is_partial and first.days == 17
    # 1 200,00 € a month, 17 days of 31: 1200 × 17 / 31 = 658,0645… → 658,06
    assert first.prorata(Decimal("1200.00")) == Decimal("658.06")
    assert not second.is_partial
    assert second.prorata(Decimal("1200.00")) == Decimal("1200.00")


def test_contract_ending_mid_quarter_bills_a_prorated_last_quarter() -> None:
    *_, last = periods(D(2026, 1, 1), D(2026, 5, 10), Frequency.QUARTERLY)
    assert (last.start, last.end) == (D(2026, 4, 1), D(2026, 5, 10))
    assert last.full == Period(D(2026, 4, 1), D(2026, 6, 30))
    # 3 000,00 € a quarter, 40 days of 91 → 1 318,68
    assert prorata(Decimal("3000.00"), last, last.full) == Decimal("1318.68")


def test_quarters_and_years_follow_the_calendar_unless_anchored_elsewhere() -> None:
    assert [
        (p.start, p.end) for p in periods(D(2026, 2, 10), D(2026, 12, 31), Frequency.QUARTERLY)
    ] == [
        (D(2026, 2, 10), D(2026, 3, 31)),
        (D(2026, 4, 1), D(2026, 6, 30)),
        (D(2026, 7, 1), D(2026, 9, 30)),
        (D(2026, 10, 1), D(2026, 12, 31)),
    ]
    # A yearly line anchored on the contract's own start date has no partial period.
    yearly = list(periods(D(2026, 3, 15), D(2028, 3, 14), Frequency.YEARLY, 15, anchor_month=3))
    assert [(p.start, p.end, p.is_partial) for p in yearly] == [
        (D(2026, 3, 15), D(2027, 3, 14), False),
        (D(2027, 3, 15), D(2028, 3, 14), False),
    ]


def test_anchor_day_31_falls_on_the_last_day_of_short_months() -> None:
    got = [(p.start, p.end) for p in periods(D(2026, 1, 31), D(2026, 4, 29), Frequency.MONTHLY, 31)]
    assert got == [
        (D(2026, 1, 31), D(2026, 2, 27)),
        (D(2026, 2, 28), D(2026, 3, 30)),
        (D(2026, 3, 31), D(2026, 4, 29)),
    ]


def test_leap_february_is_prorated_by_its_29_days() -> None:
    part = BillingPeriod(D(2028, 2, 15), D(2028, 2, 29), Period(D(2028, 2, 1), D(2028, 2, 29)))
    assert part.days == 15
    assert part.prorata(Decimal("290.00")) == Decimal("150.00")


def test_prorata_rounds_half_up_to_the_cent_once() -> None:
    full = Period(D(2026, 1, 1), D(2026, 1, 4))
    # 0.10 × 1/4 = 0.025 exactly → 0.03 (half up), not 0.02 (half even)
    assert prorata(Decimal("0.10"), Period(D(2026, 1, 1), D(2026, 1, 1)), full) == Decimal("0.03")


def test_prorata_refuses_a_period_outside_its_full_period() -> None:
    with pytest.raises(PeriodError):
        prorata(
            Decimal("100"),
            Period(D(2026, 1, 20), D(2026, 2, 5)),
            Period(D(2026, 1, 1), D(2026, 1, 31)),
        )


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(PeriodError):
        Period(D(2026, 2, 1), D(2026, 1, 31))
    with pytest.raises(PeriodError):
        periods(D(2026, 2, 1), D(2026, 1, 31), Frequency.MONTHLY)
    with pytest.raises(PeriodError):
        periods(D(2026, 2, 1), None, Frequency.MONTHLY, 32)


def test_in_advance_bills_on_the_first_day_in_arrears_on_the_last() -> None:
    january = Period(D(2026, 1, 1), D(2026, 1, 31))
    assert billing_date(january, in_advance=True) == D(2026, 1, 1)
    assert billing_date(january, in_advance=False) == D(2026, 1, 31)


def test_billing_run_in_advance_bills_the_current_month_and_catches_up_missed_ones() -> None:
    due = periods_due(D(2026, 3, 1), D(2026, 1, 15), None, Frequency.MONTHLY, True, None)
    assert [(p.start, p.end) for p in due] == [
        (D(2026, 1, 15), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
        (D(2026, 3, 1), D(2026, 3, 31)),
    ]
    assert (
        periods_due(D(2026, 3, 1), D(2026, 1, 15), None, Frequency.MONTHLY, True, D(2026, 3, 31))
        == []
    )


def test_billing_run_in_arrears_waits_for_the_last_day_of_the_period() -> None:
    due = periods_due(D(2026, 3, 30), D(2026, 1, 1), None, Frequency.MONTHLY, False, D(2026, 1, 31))
    assert [(p.start, p.end) for p in due] == [(D(2026, 2, 1), D(2026, 2, 28))]
    due = periods_due(D(2026, 3, 31), D(2026, 1, 1), None, Frequency.MONTHLY, False, D(2026, 2, 28))
    assert [(p.start, p.end) for p in due] == [(D(2026, 3, 1), D(2026, 3, 31))]


def test_billing_run_bills_nothing_after_the_contract_end() -> None:
    assert (
        periods_due(
            D(2027, 1, 1), D(2026, 1, 1), D(2026, 6, 30), Frequency.QUARTERLY, True, D(2026, 6, 30)
        )
        == []
    )


def test_billed_until_mid_period_leaves_the_rest_of_that_period_due_as_a_partial() -> None:
    (rest,) = periods_due(
        D(2026, 1, 31), D(2026, 1, 1), None, Frequency.MONTHLY, False, D(2026, 1, 10)
    )
    assert (rest.start, rest.end, rest.full) == (
        D(2026, 1, 11),
        D(2026, 1, 31),
        Period(D(2026, 1, 1), D(2026, 1, 31)),
    )
    assert rest.prorata(Decimal("3100.00")) == Decimal("2100.00")


def test_tacit_renewal_comes_every_term_after_the_start() -> None:
    assert next_renewal(D(2024, 1, 1), 12, D(2026, 5, 4)) == D(2027, 1, 1)
    # On the renewal date the new term has begun: the next renewal is a term later.
    assert next_renewal(D(2024, 1, 1), 12, D(2026, 1, 1)) == D(2027, 1, 1)
    assert next_renewal(D(2024, 1, 1), 12, D(2025, 12, 31)) == D(2026, 1, 1)
    # 3-year initial term, then yearly renewals.
    assert next_renewal(D(2024, 1, 1), 36, D(2025, 6, 1), renewal_term_months=12) == D(2027, 1, 1)
    assert next_renewal(D(2024, 1, 1), 36, D(2027, 6, 1), renewal_term_months=12) == D(2028, 1, 1)


def test_contract_started_on_the_31st_renews_on_the_31st_when_the_month_has_one() -> None:
    assert next_renewal(D(2026, 1, 31), 1, D(2026, 2, 1)) == D(2026, 2, 28)
    assert next_renewal(D(2026, 1, 31), 1, D(2026, 3, 1)) == D(2026, 3, 31)


def test_three_months_notice_before_a_first_of_january_renewal_ends_on_30_september() -> None:
    assert notice_deadline(D(2027, 1, 1), 3) == D(2026, 9, 30)
    assert notice_deadline(D(2027, 1, 1), 0) == D(2026, 12, 31)
    assert notice_deadline(D(2026, 3, 31), 1) == D(2026, 2, 28)


# --- properties ------------------------------------------------------------------------


@given(dates, st.integers(0, 1200), frequencies, anchor_days, anchor_months)
def test_periods_tile_the_contract_without_gap_or_overlap(
    start: dt.date, length: int, frequency: Frequency, anchor_day: int, anchor_month: int
) -> None:
    end = start + dt.timedelta(days=length)
    got = list(periods(start, end, frequency, anchor_day, anchor_month=anchor_month))
    assert got[0].start == start
    assert got[-1].end == end
    for before, after in pairwise(got):
        assert after.start == before.end + dt.timedelta(days=1)
    assert sum(p.days for p in got) == length + 1
    for p in got:
        assert p.full == enclosing_period(p.start, frequency, anchor_day, anchor_month=anchor_month)
        assert p.full.start <= p.start <= p.end <= p.full.end
    # Only the first and the last period may be partial.
    assert not any(p.is_partial for p in got[1:-1])


@given(dates, frequencies, anchor_days, anchor_months)
def test_full_periods_run_from_anchor_to_anchor_one_frequency_apart(
    day: dt.date, frequency: Frequency, anchor_day: int, anchor_month: int
) -> None:
    full = enclosing_period(day, frequency, anchor_day, anchor_month=anchor_month)
    assert day in full
    assert full.start.month % frequency.months == anchor_month % frequency.months
    following = full.end + dt.timedelta(days=1)
    months = (following.year - full.start.year) * 12 + following.month - full.start.month
    assert months == frequency.months
    for boundary in (full.start, following):
        last_day = calendar.monthrange(boundary.year, boundary.month)[1]
        assert boundary.day == min(anchor_day, last_day)


@given(st.integers(2000, 2060), amounts, st.sampled_from([Frequency.MONTHLY, Frequency.QUARTERLY]))
def test_prorata_of_a_full_year_sums_to_the_yearly_amount_within_a_cent_per_period(
    year: int, yearly: Decimal, frequency: Frequency
) -> None:
    whole_year = Period(D(year, 1, 1), D(year, 12, 31))
    parts = list(periods(whole_year.start, whole_year.end, frequency))
    total = sum((prorata(yearly, p, whole_year) for p in parts), Decimal(0))
    assert abs(total - yearly) <= Decimal("0.01") * len(parts)


@given(dates, st.integers(0, 400), amounts, frequencies)
def test_prorata_never_exceeds_the_full_amount_and_a_full_period_gets_all_of_it(
    start: dt.date, length: int, amount: Decimal, frequency: Frequency
) -> None:
    for p in periods(start, start + dt.timedelta(days=length), frequency):
        share = p.prorata(amount)
        assert Decimal(0) <= share <= amount
        if not p.is_partial:
            assert share == amount


@given(
    dates,
    st.one_of(st.none(), st.integers(0, 2000)),
    frequencies,
    st.booleans(),
    st.integers(0, 2500),
    st.integers(0, 400),
    anchor_days,
)
def test_billing_run_twice_bills_nothing_twice(
    start: dt.date,
    length: int | None,
    frequency: Frequency,
    in_advance: bool,
    run_offset: int,
    rerun_gap: int,
    anchor_day: int,
) -> None:
    end = None if length is None else start + dt.timedelta(days=length)
    as_of = start + dt.timedelta(days=run_offset)
    args = (start, end, frequency, in_advance)
    first = periods_due(as_of, *args, None, anchor_day=anchor_day)
    billed_until = first[-1].end if first else None
    assert periods_due(as_of, *args, billed_until, anchor_day=anchor_day) == []
    # A later run picks up exactly where the first stopped: no gap, no overlap.
    later = periods_due(
        as_of + dt.timedelta(days=rerun_gap), *args, billed_until, anchor_day=anchor_day
    )
    if later:
        assert later[0].start == (billed_until + dt.timedelta(days=1) if billed_until else start)
    for p in first + later:
        assert billing_date(p, in_advance) <= as_of + dt.timedelta(days=rerun_gap)
        assert end is None or p.end <= end


@given(dates, st.integers(1, 60), st.one_of(st.none(), st.integers(1, 36)), st.integers(0, 4000))
def test_next_renewal_is_the_first_term_boundary_after_the_date(
    start: dt.date, term: int, renewal_term: int | None, days_later: int
) -> None:
    as_of = start + dt.timedelta(days=days_later)
    step = renewal_term or term
    boundaries = (add_months(start, term + k * step) for k in count())
    expected = next(b for b in boundaries if b > as_of)
    assert next_renewal(start, term, as_of, renewal_term_months=renewal_term) == expected


@given(dates, st.integers(0, 24))
def test_notice_deadline_is_the_last_day_still_a_full_notice_before_the_end_of_term(
    renewal: dt.date, notice: int
) -> None:
    deadline = notice_deadline(renewal, notice)
    last_day_of_term = renewal - dt.timedelta(days=1)
    assert add_months(deadline, notice) <= last_day_of_term
    assert add_months(deadline + dt.timedelta(days=1), notice) > last_day_of_term
