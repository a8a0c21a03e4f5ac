"""Late-payment interest and the fixed recovery indemnity (C. com. L441-10, D441-5).

The legal rate changes twice a year: the ECB main refinancing rate in force on 1 January
applies to the days of January-June, the one in force on 1 July to July-December, each plus
10 points. A debt late across several half-years therefore accrues each half-year's days at
that half-year's rate, which is why the computation walks segments rather than taking the
rate of the due date. The rates are data (`LateInterestRate`, entered by accounting), never
constants: a missing half-year is an error naming it, not a silent zero.

Interest is simple interest on a 365-day year, summed exactly over the segments and rounded
half-up to the cent once, at the end: rounding each segment would let the printed total
differ from what a reader recomputes from the rates by a cent per half-year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.collections.models import LateInterestRate
from levier.lib.errors import ValidationFailed

__all__ = [
    "INDEMNITY",
    "RateTable",
    "half_year_label",
    "half_year_start",
    "late_interest",
    "legal_rate_on",
]

# D441-5 C. com.: due for each invoice paid late, with no reminder needed.
INDEMNITY = Decimal("40.00")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DAYS_A_YEAR = 365
_PERCENT_DAYS = Decimal(100 * DAYS_A_YEAR)


def half_year_start(day: dt.date) -> dt.date:
    """1 January or 1 July: the start of the half-year whose rate applies to `day`."""
    return dt.date(day.year, 1 if day.month <= 6 else 7, 1)


def _next_half_year(start: dt.date) -> dt.date:
    return dt.date(start.year, 7, 1) if start.month == 1 else dt.date(start.year + 1, 1, 1)


def half_year_label(start: dt.date) -> str:
    """« H1 2026 (from 01/01/2026) »: what an accountant must look up and enter."""
    half = _("H1") if start.month <= 6 else _("H2")
    return _("%(half)s %(year)s (from %(start)s)") % {
        "half": half,
        "year": start.year,
        "start": f"{start:%d/%m/%Y}",
    }


def missing_rate(start: dt.date) -> ValidationFailed:
    message = _(
        "No late-interest rate for %(half_year)s: enter the ECB main refinancing rate in "
        "force on %(start)s in the late-interest rates table."
    ) % {"half_year": half_year_label(start), "start": f"{start:%d/%m/%Y}"}
    return ValidationFailed(message, errors={"valid_from": [message]}, code="missing_rate")


@dataclass(frozen=True)
class RateTable:
    """The legal rates (ECB + margin, in %) by half-year start, read once for a whole run.

    A run computing interest on thousands of invoices asks the table, not the database, for
    each half-year: one query per run instead of one per invoice and segment.
    """

    rates: dict[dt.date, Decimal]

    @classmethod
    def load(cls) -> RateTable:
        from levier.collections.models import LateInterestRate

        return cls(
            {
                row.valid_from: row.legal_rate
                for row in LateInterestRate.objects.only("valid_from", "ecb_rate", "margin_points")
            }
        )

    @classmethod
    def of(cls, rows: Iterable[tuple[dt.date, Decimal]]) -> RateTable:
        """A table from (half-year start, legal rate %) pairs, for tests and previews."""
        return cls({half_year_start(day): rate for day, rate in rows})

    def rate_on(self, day: dt.date) -> Decimal:
        start = half_year_start(day)
        try:
            return self.rates[start]
        except KeyError:
            raise missing_rate(start) from None


def legal_rate_on(day: dt.date) -> Decimal:
    """The legal late-payment rate (% a year, ECB rate + 10 points) for the day's half-year.

    Raises `ValidationFailed` naming the half-year when accounting has not entered its rate.
    """
    from levier.collections.models import LateInterestRate

    start = half_year_start(day)
    row = LateInterestRate.objects.filter(valid_from=start).first()
    if row is None:
        raise missing_rate(start)
    return row.legal_rate


def days_late(due_date: dt.date, until: dt.date) -> int:
    """Penalties run from the day after the due date: paid on the due date is not late."""
    return max((until - due_date).days, 0)


def late_interest(
    amount: Decimal,
    due_date: dt.date,
    until: dt.date,
    contract_rate: Decimal | None = None,
    *,
    rates: RateTable | None = None,
) -> Decimal:
    """Interest on `amount` for the days after `due_date` up to and including `until`.

    Σ over half-year segments of amount × rate % × days / 365, exact, rounded half-up to the
    cent at the end. `contract_rate` (% a year), when the contract sets one, applies to every
    day; otherwise each half-year's legal rate does, from `rates` when given (a run passes
    the table it loaded once), else from the database. Zero when not late or nothing owed.
    """
    if until <= due_date or amount <= ZERO:
        return ZERO
    if contract_rate is not None:
        numerator = amount * contract_rate * (until - due_date).days
        return (numerator / _PERCENT_DAYS).quantize(CENT, rounding=ROUND_HALF_UP)
    rate_on = rates.rate_on if rates is not None else legal_rate_on
    numerator = Decimal(0)
    first_day = due_date + dt.timedelta(days=1)  # the first day late
    start = half_year_start(first_day)
    while first_day <= until:
        next_start = _next_half_year(start)
        last_day = min(until, next_start - dt.timedelta(days=1))
        numerator += amount * rate_on(start) * ((last_day - first_day).days + 1)
        first_day, start = next_start, next_start
    return (numerator / _PERCENT_DAYS).quantize(CENT, rounding=ROUND_HALF_UP)


def save_interest_rate(
    *,
    actor: User,
    valid_from: dt.date,
    ecb_rate: Decimal,
    margin_points: Decimal = Decimal("10.00"),
) -> LateInterestRate:
    """Enter (or correct) the ECB rate of a half-year, each January and July.

    Formal notices already recorded keep the interest they stated; the next ones use this.
    """
    require(actor, Action.MANAGE_DUNNING)

    if (valid_from.month, valid_from.day) not in ((1, 1), (7, 1)):
        raise ValidationFailed.on("valid_from", _("a half-year starts on 1 January or 1 July"))
    for field, value in (("ecb_rate", ecb_rate), ("margin_points", margin_points)):
        if not value.is_finite() or not Decimal("-10") <= value <= Decimal("50"):
            raise ValidationFailed.on(field, _("a rate between -10 and 50 %"))
        if value != value.quantize(Decimal("0.01")):
            raise ValidationFailed.on(field, _("a rate has at most two decimals"))
    with transaction.atomic():
        row = LateInterestRate.objects.select_for_update().filter(valid_from=valid_from).first()
        before = (row.ecb_rate, row.margin_points) if row else None
        if row is None:
            row = LateInterestRate(valid_from=valid_from)
        row.ecb_rate, row.margin_points = ecb_rate, margin_points
        row.save()
        record_event(
            actor=actor,
            verb=Verb.UPDATE if before else Verb.CREATE,
            instance=row,
            changes={
                "ecb_rate": [str(before[0]) if before else None, str(ecb_rate)],
                "margin_points": [str(before[1]) if before else None, str(margin_points)],
            },
        )
    return row
