"""Parser for CFONB 120 bank statements (French banks' fixed-width "relevé de compte").

The format is positional: every record is 120 characters and its first two characters say
what it is (01 old balance, 04 operation, 05 complement of the previous 04, 07 new balance).
The parser is strict on structure, because a half-understood statement would silently book
wrong payments, and tolerant on layout (line breaks, encodings, blank reserved areas),
because banks differ there. Positions follow ``shared/reference/formats.md`` section 6.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from .model import Statement, StatementError, StatementLine

RECORD_LENGTH = 120
_CODES = {"01", "04", "05", "07"}
# Last character of an amount: the sign and the last digit together.
_SIGN_DIGITS: dict[str, tuple[int, int]] = {"{": (1, 0), "}": (-1, 0)}
_SIGN_DIGITS.update({chr(ord("A") + i): (1, i + 1) for i in range(9)})
_SIGN_DIGITS.update({chr(ord("J") + i): (-1, i + 1) for i in range(9)})
# 05 qualifiers whose text names the counterparty; the others are remittance information.
_COUNTERPARTY_QUALIFIERS = {"NPY", "NBE", "NPO", "NBU"}
_REMITTANCE_QUALIFIERS = {"LIB", "LCC", "LC2", "LCS", "RCN", "REF"}


def _digits(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "³" or "٣", which int() then refuses."""
    return text.isascii() and text.isdigit()


def looks_like_cfonb120(data: bytes) -> bool:
    """Whether `data` is plausibly CFONB 120, so format detection needs no file name."""
    records = _split_records(data)
    if not records:
        return False
    _, first = records[0]
    return len(first) == RECORD_LENGTH and first[:2] in _CODES and _digits(first[2:7].strip())


def _decode(data: bytes) -> str:
    """Decode as cp1252 (a superset of latin-1 for printable text), falling back to latin-1.

    Banks in France emit either; latin-1 never fails, so decoding never raises.
    """
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _split_records(data: bytes) -> list[tuple[int, str]]:
    """Cut the file into (line number, record); blank lines are skipped but still counted.

    A file without line breaks is cut every 120 characters: some banks send one long line.
    """
    text = _decode(data).lstrip("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) <= 2 and len(lines[0]) > RECORD_LENGTH:
        body = lines[0]
        return [
            (i // RECORD_LENGTH + 1, body[i : i + RECORD_LENGTH])
            for i in range(0, len(body), RECORD_LENGTH)
        ]
    return [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]


def _date(value: str, where: str, what: str) -> dt.date:
    """JJMMAA; two-digit years above 60 are 19xx, like Pennylane's parser."""
    if not _digits(value) or len(value) != 6:
        raise StatementError(f"invalid {what} {value!r} (expected JJMMAA)", where=where)
    day, month, year = int(value[:2]), int(value[2:4]), int(value[4:])
    year += 1900 if year > 60 else 2000
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise StatementError(f"invalid {what} {value!r} (expected JJMMAA)", where=where) from None


def _amount(value: str, decimals: int, where: str) -> Decimal:
    """13 digits and a sign character that also holds the last digit, scaled exactly."""
    digits, last = value[:-1], value[-1:]
    if len(value) != 14 or not _digits(digits) or last not in _SIGN_DIGITS:
        raise StatementError(f"bad amount {value!r}", where=where)
    sign, digit = _SIGN_DIGITS[last]
    return Decimal(sign * (int(digits) * 10 + digit)).scaleb(-decimals)


@dataclass
class _Operation:
    line: StatementLine
    remittance: list[str] = field(default_factory=list)
    counterparty: list[str] = field(default_factory=list)

    def build(self) -> StatementLine:
        return replace(
            self.line,
            remittance=" ".join(self.remittance),
            counterparty_name=" ".join(self.counterparty) or self.line.counterparty_name,
        )


@dataclass
class _Open:
    """A statement being read: from its 01 record (or bare operations) until its 07."""

    account: str
    currency: str
    statement_id: str
    opening_date: dt.date | None
    opening_balance: Decimal | None
    operations: list[_Operation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def close(self, closing_date: dt.date | None, closing_balance: Decimal | None) -> Statement:
        lines = tuple(op.build() for op in self.operations)
        if self.opening_balance is not None and closing_balance is not None:
            expected = self.opening_balance + sum((ln.amount for ln in lines), Decimal(0))
            if expected != closing_balance:
                self.warnings.append(
                    f"balances do not add up: old balance {self.opening_balance} + operations"
                    f" = {expected}, but the new balance is {closing_balance}"
                )
        return Statement(
            account_iban=self.account,
            currency=self.currency,
            statement_id=self.statement_id,
            opening_date=self.opening_date,
            opening_balance=self.opening_balance,
            closing_date=closing_date,
            closing_balance=closing_balance,
            lines=lines,
            warnings=tuple(self.warnings),
        )


def _decimals(record: str, where: str) -> int | None:
    value = record[19]
    if value == " ":
        return None
    if not _digits(value):
        raise StatementError(f"invalid number of decimals {value!r}", where=where)
    return int(value)


def parse_cfonb120(data: bytes, filename: str = "") -> list[Statement]:
    """Read every statement of a CFONB 120 file, or raise `StatementError` naming the line.

    A file made only of 04/05 records (no balances at all) is accepted with a warning, as
    some banks export the operations alone; once a file has balances, every operation must
    sit between an 01 and its 07.
    """
    prefix = f"{filename} " if filename else ""
    records = _split_records(data)
    if not records:
        raise StatementError("empty file", where=f"{prefix}line 1".strip())
    bare = all(rec[:2] in {"04", "05"} for _, rec in records)
    statements: list[Statement] = []
    current: _Open | None = None
    last_op: _Operation | None = None
    for number, record in records:
        where = f"{prefix}line {number}"
        if len(record) != RECORD_LENGTH:
            raise StatementError(
                f"record is {len(record)} characters long, not {RECORD_LENGTH}", where=where
            )
        code = record[:2]
        if code not in _CODES:
            raise StatementError(f"unknown record code {code!r}", where=where)
        account = record[21:32].strip()
        currency = record[16:19].strip()
        decimals = _decimals(record, where)
        if code == "01":
            if current is not None:
                raise StatementError(
                    f"new statement (01) for account {account} before the statement of"
                    f" account {current.account} ended (07)",
                    where=where,
                )
            date = _date(record[34:40], where, "old balance date")
            warnings = []
            if decimals is None:
                warnings.append(f"line {number}: number of decimals missing, 2 assumed")
            current = _Open(
                account=account,
                currency=currency,
                statement_id=f"{account}-{date.isoformat()}",
                opening_date=date,
                opening_balance=_amount(record[90:104], 2 if decimals is None else decimals, where),
                warnings=warnings,
            )
            last_op = None
        elif code == "04":
            if current is None:
                if not bare:
                    raise StatementError(
                        "operation (04) outside a statement (01 … 07)", where=where
                    )
                current = _Open(account, currency, f"{account}-operations", None, None)
                current.warnings.append("the file has operations only, no balances")
            if decimals is None:
                raise StatementError("number of decimals missing", where=where)
            value = record[42:48]
            operation = _Operation(
                StatementLine(
                    booking_date=_date(record[34:40], where, "booking date"),
                    value_date=_date(value, where, "value date") if value.strip() else None,
                    amount=_amount(record[90:104], decimals, where),
                    currency=currency or current.currency,
                    label=record[48:79].strip(),
                    bank_reference=record[104:120].strip(),
                )
            )
            if not current.currency:
                current.currency = currency
            if bare and any(op.line == operation.line for op in current.operations):
                current.warnings.append(f"line {number}: same operation as an earlier one")
            current.operations.append(operation)
            last_op = operation
        elif code == "05":
            if last_op is None:
                raise StatementError(
                    "complement (05) without an operation (04) before it", where=where
                )
            qualifier, text = record[45:48], " ".join(record[48:118].split())
            if text:
                if qualifier in _COUNTERPARTY_QUALIFIERS:
                    last_op.counterparty.append(text)
                elif qualifier in _REMITTANCE_QUALIFIERS or not qualifier.strip():
                    last_op.remittance.append(text)
                else:
                    last_op.remittance.append(f"{qualifier.strip()} {text}")
        else:  # 07
            if current is None or current.opening_date is None:
                raise StatementError(
                    f"new balance (07) for account {account} without an old balance (01)",
                    where=where,
                )
            if account != current.account:
                raise StatementError(
                    f"new balance (07) for account {account} closes the statement of"
                    f" account {current.account}",
                    where=where,
                )
            date = _date(record[34:40], where, "new balance date")
            if decimals is None:
                current.warnings.append(f"line {number}: number of decimals missing, 2 assumed")
            balance = _amount(record[90:104], 2 if decimals is None else decimals, where)
            if not current.currency:
                current.currency = currency or "EUR"
                if not currency:
                    current.warnings.append("currency missing, EUR assumed")
            statements.append(current.close(date, balance))
            current, last_op = None, None
    if current is not None:
        if not bare:
            current.warnings.append("the last statement has no new balance (07)")
        if not current.currency:
            current.currency = "EUR"
            current.warnings.append("currency missing, EUR assumed")
        statements.append(current.close(None, None))
    return statements
