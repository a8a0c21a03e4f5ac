"""Late-payment interest (C. com. L441-10) and the 40 € indemnity (D441-5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.collections.dunning_defaults import ECB_RATES, seed_interest_rates
from levier.collections.interest import (
    RateTable,
    half_year_start,
    late_interest,
    legal_rate_on,
)
from levier.collections.models import LateInterestRate
from levier.lib.errors import ValidationFailed

# The legal rates (ECB + 10 points) of the seeded half-years.
TABLE = RateTable.of((day, rate + Decimal("10")) for day, rate in ECB_RATES.items())


@pytest.fixture
def empty_rate_table(db: None) -> None:
    """The installation seeds the ECB rates (migration 0003): these tests start without."""
    LateInterestRate.objects.all().delete()


def test_interest_spans_two_half_years_at_their_own_rates() -> None:
    # 10 days of June 2025 at 3.15 + 10 %, then 10 days of July 2025 at 2.15 + 10 %.
    interest = late_interest(
        Decimal("10000.00"), dt.date(2025, 6, 20), dt.date(2025, 7, 10), rates=TABLE
    )
    expected = Decimal("10000") * (Decimal("13.15") * 10 + Decimal("12.15") * 10) / 36500
    assert interest == Decimal("69.32") == expected.quantize(Decimal("0.01"))


def test_interest_over_a_whole_year_uses_each_half_years_rate_for_its_days() -> None:
    interest = late_interest(
        Decimal("1000.00"), dt.date(2024, 12, 31), dt.date(2025, 12, 31), rates=TABLE
    )
    # 181 days (1 Jan – 30 Jun 2025) at 13.15 %, 184 days (1 Jul – 31 Dec) at 12.15 %.
    exact = Decimal("1000") * (Decimal("13.15") * 181 + Decimal("12.15") * 184) / 36500
    assert interest == exact.quantize(Decimal("0.01")) == Decimal("126.46")


def test_interest_starts_the_day_after_the_due_date() -> None:
    due = dt.date(2026, 3, 10)
    assert late_interest(Decimal("500.00"), due, due, rates=TABLE) == Decimal("0.00")
    one_day = late_interest(Decimal("36500.00"), due, due + dt.timedelta(days=1), rates=TABLE)
    assert one_day == Decimal("12.15")  # 36,500 × 12.15 % / 365


def test_interest_is_rounded_half_up_once_at_the_end() -> None:
    # Each half-year alone would round to 0.01 + 0.01; the exact sum is 0.0147… → 0.01.
    rates = RateTable.of(
        [(dt.date(2026, 1, 1), Decimal("10")), (dt.date(2026, 7, 1), Decimal("10"))]
    )
    interest = late_interest(
        Decimal("26.90"), dt.date(2026, 6, 29), dt.date(2026, 7, 1), rates=rates
    )
    assert interest == Decimal("0.01")
    # 0.005 exactly rounds up: 18.25 € × 10 % × 1 day / 365 = 0.005.
    assert late_interest(
        Decimal("18.25"), dt.date(2026, 3, 1), dt.date(2026, 3, 2), Decimal("10")
    ) == Decimal("0.01")


def test_the_contract_rate_overrides_the_legal_rate() -> None:
    due, until = dt.date(2025, 6, 20), dt.date(2025, 7, 10)
    interest = late_interest(Decimal("10000.00"), due, until, Decimal("15.00"), rates=TABLE)
    assert interest == Decimal("82.19")  # 10,000 × 15 % × 20 / 365, whatever the half-years
    assert interest != late_interest(Decimal("10000.00"), due, until, rates=TABLE)


def test_a_leap_year_still_counts_365_days_a_year() -> None:
    interest = late_interest(
        Decimal("36500.00"), dt.date(2023, 12, 31), dt.date(2024, 12, 31), Decimal("10")
    )
    assert interest == Decimal("3660.00")  # 366 days of 1/365th of 10 %


@pytest.mark.django_db
def test_a_missing_rate_names_the_half_year(empty_rate_table: None) -> None:
    LateInterestRate.objects.create(valid_from=dt.date(2026, 1, 1), ecb_rate=Decimal("2.15"))
    with pytest.raises(ValidationFailed) as refused:
        late_interest(Decimal("1000.00"), dt.date(2026, 6, 1), dt.date(2026, 7, 15))
    assert "2026" in refused.value.message and "01/07/2026" in refused.value.message
    assert refused.value.errors == {"valid_from": [refused.value.message]}
    with pytest.raises(ValidationFailed, match="01/01/2023"):
        legal_rate_on(dt.date(2023, 3, 1))


@pytest.mark.django_db
def test_the_legal_rate_is_the_ecb_rate_of_the_half_year_plus_ten_points(
    empty_rate_table: None,
) -> None:
    assert seed_interest_rates() == len(ECB_RATES)
    assert legal_rate_on(dt.date(2024, 3, 31)) == Decimal("14.50")
    assert legal_rate_on(dt.date(2024, 7, 1)) == Decimal("14.25")
    assert legal_rate_on(dt.date(2025, 1, 1)) == Decimal("13.15")
    assert legal_rate_on(dt.date(2025, 12, 31)) == Decimal("12.15")
    assert legal_rate_on(dt.date(2026, 6, 30)) == Decimal("12.15")


@pytest.mark.django_db
def test_seeding_the_rates_again_keeps_what_accounting_entered(empty_rate_table: None) -> None:
    LateInterestRate.objects.create(valid_from=dt.date(2026, 1, 1), ecb_rate=Decimal("1.90"))
    assert seed_interest_rates() == len(ECB_RATES) - 1
    assert seed_interest_rates() == 0
    assert legal_rate_on(dt.date(2026, 3, 1)) == Decimal("11.90")


def test_an_unverified_half_year_is_not_seeded_so_formal_notices_wait_for_it(
    empty_rate_table: None,
) -> None:
    seed_interest_rates()
    with pytest.raises(ValidationFailed, match="01/07/2026"):
        legal_rate_on(dt.date(2026, 8, 1))


@pytest.mark.django_db
def test_the_database_rates_and_a_loaded_table_give_the_same_interest() -> None:
    seed_interest_rates()
    args = (Decimal("4321.09"), dt.date(2024, 5, 3), dt.date(2026, 2, 14))
    assert late_interest(*args) == late_interest(*args, rates=RateTable.load())


def test_half_years_start_on_1_january_and_1_july() -> None:
    assert half_year_start(dt.date(2026, 6, 30)) == dt.date(2026, 1, 1)
    assert half_year_start(dt.date(2026, 7, 1)) == dt.date(2026, 7, 1)
    assert half_year_start(dt.date(2026, 12, 31)) == dt.date(2026, 7, 1)


# --- properties -------------------------------------------------------------------------------

RATES = RateTable.of(
    (dt.date(year, month, 1), Decimal(rate))
    for year in range(2024, 2034)
    for month, rate in ((1, "12.15"), (7, "11.4"))
)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2)
due_dates = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2028, 12, 31))
days = st.integers(min_value=0, max_value=700)


@given(amount=amounts, due=due_dates, late=days, more=st.integers(min_value=0, max_value=400))
def test_interest_grows_with_the_days_late(
    amount: Decimal, due: dt.date, late: int, more: int
) -> None:
    until = due + dt.timedelta(days=late)
    later = until + dt.timedelta(days=more)
    assert late_interest(amount, due, until, rates=RATES) <= late_interest(
        amount, due, later, rates=RATES
    )


@given(amount=amounts, extra=amounts, due=due_dates, late=days)
def test_interest_grows_with_the_amount(
    amount: Decimal, extra: Decimal, due: dt.date, late: int
) -> None:
    until = due + dt.timedelta(days=late)
    assert late_interest(amount, due, until, rates=RATES) <= late_interest(
        amount + extra, due, until, rates=RATES
    )


@given(amount=amounts, due=due_dates, early=st.integers(min_value=0, max_value=400))
def test_no_interest_when_not_late(amount: Decimal, due: dt.date, early: int) -> None:
    paid_on = due - dt.timedelta(days=early)
    assert late_interest(amount, due, paid_on, rates=RATES) == Decimal("0.00")
    assert late_interest(amount, due, paid_on, Decimal("20")) == Decimal("0.00")


@given(amount=amounts, due=due_dates, late=st.integers(min_value=1, max_value=700))
def test_interest_is_at_the_cent_and_within_the_extreme_rates(
    amount: Decimal, due: dt.date, late: int
) -> None:
    interest = late_interest(amount, due, due + dt.timedelta(days=late), rates=RATES)
    assert interest == interest.quantize(Decimal("0.01"))
    low = amount * Decimal("11.4") * late / 36500
    high = amount * Decimal("12.15") * late / 36500
    assert low - Decimal("0.005") <= interest <= high + Decimal("0.005")


def test_a_rate_is_saved_for_a_half_year_and_audited(compta: User) -> None:
    from levier.audit.models import AuditEvent
    from levier.collections.interest import save_interest_rate

    row = save_interest_rate(actor=compta, valid_from=dt.date(2027, 7, 1), ecb_rate=Decimal("1.90"))
    assert legal_rate_on(dt.date(2027, 8, 1)) == Decimal("11.90") == row.legal_rate
    save_interest_rate(actor=compta, valid_from=dt.date(2027, 7, 1), ecb_rate=Decimal("2.15"))
    assert legal_rate_on(dt.date(2027, 8, 1)) == Decimal("12.15")
    changes = [
        e.changes["ecb_rate"]
        for e in AuditEvent.objects.filter(object_type="collections.lateinterestrate").order_by(
            "pk"
        )
    ]
    assert changes == [[None, "1.90"], ["1.90", "2.15"]]


@pytest.mark.parametrize(
    ("day", "rate", "field"),
    [
        (dt.date(2027, 3, 1), "2", "valid_from"),
        (dt.date(2027, 1, 1), "2.155", "ecb_rate"),
        (dt.date(2027, 1, 1), "99", "ecb_rate"),
        (dt.date(2027, 1, 1), "NaN", "ecb_rate"),
    ],
)
def test_a_wrong_rate_is_refused_naming_the_field(
    compta: User, day: dt.date, rate: str, field: str
) -> None:
    from levier.collections.interest import save_interest_rate

    with pytest.raises(ValidationFailed) as refused:
        save_interest_rate(actor=compta, valid_from=day, ecb_rate=Decimal(rate))
    assert field in refused.value.errors


def test_only_accounting_and_the_administrator_enter_rates(adv: User) -> None:
    from levier.accounts.permissions import PermissionDenied
    from levier.collections.interest import save_interest_rate

    with pytest.raises(PermissionDenied):
        save_interest_rate(actor=adv, valid_from=dt.date(2027, 1, 1), ecb_rate=Decimal("2"))
