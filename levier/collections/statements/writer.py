"""Writing a camt.053.001.08 statement: the demo's bank, benchmarks and tests.

Levier never sends statements to a bank; it writes them to feed its own import with files
shaped like a bank's (entries with one transaction each, debtor name and IBAN, structured
RF reference or free remittance text), so the demo and the tests exercise the real reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from lxml import etree

from levier.collections.statements.model import Statement, StatementLine

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _path(parent: etree._Element, path: str, text: str | None = None) -> etree._Element:
    el = parent
    for tag in path.split("/"):
        el = _sub(el, tag)
    el.text = text
    return el


def _amount(value: Decimal) -> str:
    return f"{abs(value):.2f}"


def _balance(stmt: etree._Element, code: str, amount: Decimal, day: str, ccy: str) -> None:
    bal = _sub(stmt, "Bal")
    _path(bal, "Tp/CdOrPrtry/Cd", code)
    _sub(bal, "Amt", _amount(amount), Ccy=ccy)
    _sub(bal, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
    _path(bal, "Dt/Dt", day)


def _entry(stmt: etree._Element, line: StatementLine) -> None:
    ntry = _sub(stmt, "Ntry")
    _sub(ntry, "Amt", _amount(line.amount), Ccy=line.currency)
    credit = line.amount >= 0
    _sub(ntry, "CdtDbtInd", "CRDT" if credit else "DBIT")
    _path(ntry, "Sts/Cd", "BOOK")
    _path(ntry, "BookgDt/Dt", line.booking_date.isoformat())
    if line.value_date:
        _path(ntry, "ValDt/Dt", line.value_date.isoformat())
    if line.bank_reference:
        _sub(ntry, "AcctSvcrRef", line.bank_reference)
    _path(ntry, "BkTxCd/Domn/Cd", "PMNT")
    tx = _path(ntry, "NtryDtls/TxDtls")
    tx.text = None
    refs = _sub(tx, "Refs")
    _sub(refs, "EndToEndId", line.end_to_end_id or "NOTPROVIDED")
    _sub(tx, "Amt", _amount(line.amount), Ccy=line.currency)
    _sub(tx, "CdtDbtInd", "CRDT" if credit else "DBIT")
    role = "Dbtr" if credit else "Cdtr"
    if line.counterparty_name or line.counterparty_iban:
        parties = _sub(tx, "RltdPties")
        if line.counterparty_name:
            _path(parties, f"{role}/Pty/Nm", line.counterparty_name)
        if line.counterparty_iban:
            _path(parties, f"{role}Acct/Id/IBAN", line.counterparty_iban)
    if line.remittance or line.reference:
        rmt = _sub(tx, "RmtInf")
        if line.remittance:
            _sub(rmt, "Ustrd", line.remittance[:140])
        if line.reference:
            cdtr = _path(_sub(rmt, "Strd"), "CdtrRefInf")
            cdtr.text = None
            _path(cdtr, "Tp/CdOrPrtry/Cd", "SCOR")
            _sub(cdtr, "Ref", line.reference)
    if line.label:
        _sub(tx, "AddtlTxInf", line.label[:500])


def camt053(statements: Sequence[Statement], message_id: str, created: str) -> bytes:
    """The XML of one message holding the statements (balances must be given)."""
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    body = _sub(root, "BkToCstmrStmt")
    header = _sub(body, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created)
    for statement in statements:
        stmt = _sub(body, "Stmt")
        _sub(stmt, "Id", statement.statement_id)
        _sub(stmt, "CreDtTm", created)
        _path(stmt, "Acct/Id/IBAN", statement.account_iban)
        ccy = statement.currency
        opening = statement.opening_balance or Decimal("0")
        closing = statement.closing_balance
        if closing is None:
            closing = opening + sum((line.amount for line in statement.lines), Decimal("0"))
        first = statement.opening_date or statement.lines[0].booking_date
        last = statement.closing_date or statement.lines[-1].booking_date
        _balance(stmt, "OPBD", opening, first.isoformat(), ccy)
        _balance(stmt, "CLBD", closing, last.isoformat(), ccy)
        for line in statement.lines:
            _entry(stmt, line)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
