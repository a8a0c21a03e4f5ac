"""What every statement parser returns, whatever the bank's format.

Amounts are `Decimal` in the account currency, positive for money in (credit), negative for
money out (debit). A parser either returns whole statements or raises `StatementError`
naming the line (CFONB, OFX) or the XML element (camt.053) that is wrong: a file is never
half-read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


class StatementError(ValueError):
    """The file cannot be read as a statement; `where` names the line or element."""

    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where


@dataclass(frozen=True)
class StatementLine:
    booking_date: dt.date
    value_date: dt.date | None
    amount: Decimal  # > 0 credit (received), < 0 debit
    currency: str
    label: str  # the bank's label of the operation
    remittance: str = ""  # unstructured remittance information (where RF / invoice numbers are)
    reference: str = ""  # structured creditor reference (RF…) when the bank gives one
    counterparty_name: str = ""
    counterparty_iban: str = ""
    bank_reference: str = ""  # the bank's own id of the entry (AcctSvcrRef, FITID…)
    end_to_end_id: str = ""


@dataclass(frozen=True)
class Statement:
    account_iban: str  # or the national account number when the format has no IBAN
    currency: str
    statement_id: str
    opening_date: dt.date | None
    opening_balance: Decimal | None
    closing_date: dt.date | None
    closing_balance: Decimal | None
    lines: tuple[StatementLine, ...] = ()
    # Unusual but readable things the user should know about (not errors).
    warnings: tuple[str, ...] = field(default=())
