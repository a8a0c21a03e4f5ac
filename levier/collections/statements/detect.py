"""Which format a bank file is in, from its content (never from its name)."""

from __future__ import annotations

from collections.abc import Callable

from levier.collections.statements.model import Statement, StatementError

Parser = Callable[[bytes, str], list[Statement]]


def parse_statement_file(data: bytes, filename: str = "") -> tuple[str, list[Statement]]:
    """(format, statements) of a camt.053, CFONB 120 or OFX file; StatementError otherwise."""
    from levier.collections.statements import camt053, cfonb120, ofx

    candidates: list[tuple[str, Callable[[bytes], bool], Parser]] = [
        ("camt.053", camt053.looks_like_camt053, camt053.parse_camt053),
        ("ofx", ofx.looks_like_ofx, ofx.parse_ofx),
        ("cfonb120", cfonb120.looks_like_cfonb120, cfonb120.parse_cfonb120),
    ]
    if not data.strip():
        raise StatementError("the file is empty", where=filename)
    for name, looks_like, parse in candidates:
        if looks_like(data):
            return name, parse(data, filename)
    raise StatementError(
        "not a bank statement Levier reads (camt.053, CFONB 120 or OFX)", where=filename
    )
