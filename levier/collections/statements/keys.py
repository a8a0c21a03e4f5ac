"""The fingerprint of a statement line: the same line gets the same one in any file.

Banks repeat lines across files (a day exported twice, the monthly statement after the
daily ones). When the bank gives its own reference for the entry (camt.053 AcctSvcrRef,
OFX FITID), that reference identifies the line. Otherwise the line is identified by its
account, dates, amount and texts, plus its rank among identical lines of the same
statement, so two genuine identical transfers on one day stay two lines.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from levier.collections.statements.model import Statement, StatementLine


def _digest(parts: list[str]) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def fingerprints(statement: Statement) -> list[str]:
    """One fingerprint per line of the statement, in order."""
    seen: Counter[tuple[str, ...]] = Counter()
    result = []
    for line in statement.lines:
        identity = _identity(line)
        rank = seen[identity]
        seen[identity] += 1
        result.append(_digest([statement.account_iban, *identity, str(rank)]))
    return result


def _identity(line: StatementLine) -> tuple[str, ...]:
    amount = f"{line.amount.normalize():f}"
    if line.bank_reference:
        # The bank's id of the entry; a batched entry shares it between its transactions,
        # which their end-to-end ids and amounts tell apart.
        return ("ref", line.bank_reference, line.end_to_end_id, amount)
    return (
        line.booking_date.isoformat(),
        line.value_date.isoformat() if line.value_date else "",
        amount,
        line.currency,
        " ".join(line.label.split()),
        " ".join(line.remittance.split()),
    )
