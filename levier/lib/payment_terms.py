"""Payment terms and the French legal caps (C. com. L441-10).

- agreed maximum: 60 days net from the invoice date;
- by derogation: 45 days end of month;
- nothing agreed: 30 days.

"45 jours fin de mois" is computed two ways in practice and no primary source settles it,
so the method is a parameter: ``EOM_THEN_DAYS`` (end of month, then +45 days) or
``DAYS_THEN_EOM`` (+45 days, then end of that month). Levier defaults to DAYS_THEN_EOM,
the reading of the DGCCRF's published guidance and the one most customers apply.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext

LEGAL_MAX_NET_DAYS = 60
LEGAL_MAX_END_OF_MONTH_DAYS = 45
DEFAULT_DAYS = 30


class TermsBasis(StrEnum):
    NET = "net"  # N days from the invoice date
    END_OF_MONTH = "end_of_month"  # N days end of month


class EndOfMonthMethod(StrEnum):
    DAYS_THEN_EOM = "days_then_eom"
    EOM_THEN_DAYS = "eom_then_days"


class PaymentTermsError(ValueError):
    """Terms that French law does not allow."""


@dataclass(frozen=True)
class PaymentTerms:
    days: int
    basis: TermsBasis = TermsBasis.NET

    def legal_cap(self) -> int:
        return LEGAL_MAX_NET_DAYS if self.basis == TermsBasis.NET else LEGAL_MAX_END_OF_MONTH_DAYS

    def check_legal(self) -> None:
        """Raise PaymentTermsError, in the active language, when the law forbids these terms."""
        if self.days < 0:
            raise PaymentTermsError(gettext("payment terms cannot be negative"))
        if self.days > self.legal_cap():
            values = {"days": self.days, "cap": self.legal_cap()}
            if self.basis == TermsBasis.NET:
                message = gettext(
                    "%(days)s days net exceeds the legal maximum of %(cap)s days net "
                    "(C. com. L441-10)"
                )
            else:
                message = gettext(
                    "%(days)s days end of month exceeds the legal maximum of %(cap)s days "
                    "end of month (C. com. L441-10)"
                )
            raise PaymentTermsError(message % values)

    def is_longer_than(self, other: PaymentTerms, ref: dt.date | None = None) -> bool:
        """Compare by the due date each gives for the same invoice date."""
        ref = ref or dt.date(2026, 1, 15)
        return self.due_date(ref) > other.due_date(ref)

    def due_date(
        self, invoice_date: dt.date, method: EndOfMonthMethod = EndOfMonthMethod.DAYS_THEN_EOM
    ) -> dt.date:
        if self.basis == TermsBasis.NET:
            return invoice_date + dt.timedelta(days=self.days)
        if method == EndOfMonthMethod.DAYS_THEN_EOM:
            return end_of_month(invoice_date + dt.timedelta(days=self.days))
        return end_of_month(invoice_date) + dt.timedelta(days=self.days)

    def label_fr(self) -> str:
        if self.basis == TermsBasis.NET:
            return f"{self.days} jours net"
        return f"{self.days} jours fin de mois"


def end_of_month(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
