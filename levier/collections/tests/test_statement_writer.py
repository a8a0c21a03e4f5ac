"""The camt.053 writer (demo bank, benchmarks) produces what the reader reads back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from levier.collections.statements.detect import parse_statement_file
from levier.collections.statements.model import Statement, StatementLine
from levier.collections.statements.writer import camt053

IBAN = "FR7630006000011234567890189"

text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F, exclude_categories=("Cs",)),
    max_size=60,
).map(lambda s: " ".join(s.split()))


@given(
    rows=st.lists(
        st.tuples(
            st.integers(min_value=-(10**9), max_value=10**9).filter(bool),
            text,
            text,
            st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_a_written_statement_reads_back_line_for_line(
    rows: list[tuple[int, str, str, dt.date]],
) -> None:
    lines = tuple(
        StatementLine(
            booking_date=day,
            value_date=None,
            amount=Decimal(cents) / 100,
            currency="EUR",
            label=label or "VIR",
            remittance=remittance,
            counterparty_name="ACME SAS",
            counterparty_iban=IBAN,
            bank_reference=f"B{n}",
        )
        for n, (cents, label, remittance, day) in enumerate(rows)
    )
    data = camt053(
        [Statement(IBAN, "EUR", "S1", None, Decimal("0"), None, None, lines)],
        "MSG1",
        "2026-11-03T10:00:00",
    )
    fmt, statements = parse_statement_file(data, "demo.xml")
    assert fmt == "camt.053"
    (statement,) = statements
    assert statement.warnings == ()
    assert [(line.amount, line.remittance, line.booking_date) for line in statement.lines] == [
        (line.amount, line.remittance, line.booking_date) for line in lines
    ]
