"""Parser for OFX bank statements, both 1.x SGML (unclosed leaf tags) and 2.x XML.

A small tolerant tokenizer is used instead of an XML parser because OFX 1.x is not XML
(leaf elements are never closed) and real 2.x files often mix both styles. Every element
remembers its line so errors can name it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .model import Statement, StatementError, StatementLine

_TOKEN = re.compile(
    r"<!--.*?-->"
    r"|<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<\?.*?\?>"
    r"|<(?P<close>/)?(?P<tag>[A-Za-z0-9_.]+)\s*/?>"
    r"|(?P<text>[^<]+)"
    r"|<",
    re.S,
)
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


@dataclass
class _Node:
    tag: str
    line: int
    text: str = ""
    children: list[_Node] = field(default_factory=list)

    def find(self, tag: str) -> _Node | None:
        return next((c for c in self.children if c.tag == tag), None)

    def value(self, tag: str) -> str:
        node = self.find(tag)
        return node.text.strip() if node else ""

    def iter(self, tag: str) -> list[_Node]:
        found: list[_Node] = []
        for child in self.children:
            if child.tag == tag:
                found.append(child)
            found.extend(child.iter(tag))
        return found


def looks_like_ofx(data: bytes) -> bool:
    """Whether `data` is OFX: an SGML header, an <?OFX …?> instruction or an <OFX> root."""
    head = data[:4096].upper()
    return b"OFXHEADER" in head or b"<OFX>" in head


def _parse_tree(text: str) -> _Node:
    """Build a tree, closing SGML leaves implicitly and ignoring unmatched closing tags."""
    root = _Node("#root", 1)
    stack = [root]
    line = 1
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if match.group("tag"):
            tag = match.group("tag").upper()
            leaf = stack[-1].text.strip() and not stack[-1].children and len(stack) > 1
            if leaf and not (match.group("close") and stack[-1].tag == tag):
                stack.pop()  # an SGML leaf ends where the next tag begins
            if match.group("close"):
                if any(node.tag == tag for node in stack[1:]):
                    while stack[-1].tag != tag:
                        stack.pop()
                    stack.pop()
            else:
                node = _Node(tag, line)
                stack[-1].children.append(node)
                if not token.endswith("/>"):
                    stack.append(node)
        elif match.group("text") is not None or match.group("cdata") is not None:
            content = match.group("cdata") if match.group("cdata") is not None else token
            if len(stack) > 1:
                stack[-1].text += content
        line += token.count("\n")
    return root


def _date(value: str, where: str, what: str) -> dt.date:
    """OFX datetimes start with YYYYMMDD; the time and time zone are not needed here."""
    try:
        return dt.datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        raise StatementError(f"invalid {what} {value!r}", where=where) from None


def _amount(node: _Node | None, parent: _Node, tag: str, prefix: str) -> Decimal:
    if node is None or not node.text.strip():
        raise StatementError(f"missing <{tag}>", where=f"{prefix}line {parent.line}")
    value = node.text.strip().replace(",", ".")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise StatementError(f"malformed amount {value!r}", where=f"{prefix}line {node.line}")
    return amount


def _trn_currency(trn: _Node) -> str:
    """<CURRENCY>/<ORIGCURRENCY> are aggregates holding <CURSYM> in the OFX specification."""
    for tag in ("CURRENCY", "ORIGCURRENCY"):
        node = trn.find(tag)
        if node is not None:
            return (node.value("CURSYM") or node.text.strip()).upper()
    return ""


def _required(parent: _Node, tag: str, prefix: str) -> _Node:
    node = parent.find(tag)
    if node is None or not node.text.strip():
        raise StatementError(f"<{parent.tag}> has no <{tag}>", where=f"{prefix}line {parent.line}")
    return node


def parse_ofx(data: bytes, filename: str = "") -> list[Statement]:
    """Read every account statement of an OFX file, or raise `StatementError` naming the line.

    A server error reported in a <STATUS> (the bank could not produce the statement) is an
    error too: importing nothing silently would hide it from the user.
    """
    prefix = f"{filename} " if filename else ""
    text = (
        data.decode("utf-8", errors="replace")
        if b"UTF-8" in data[:200].upper()
        else (data.decode("cp1252", errors="replace"))
    )
    root = _parse_tree(text)
    for status in root.iter("STATUS"):
        code = status.value("CODE")
        if code and code != "0" and status.value("SEVERITY").upper() == "ERROR":
            message = status.value("MESSAGE") or f"error code {code}"
            raise StatementError(
                f"the bank reported an error: {message} (code {code})",
                where=f"{prefix}line {status.line}",
            )
    statements: list[Statement] = []
    for stmt in root.iter("STMTRS") + root.iter("CCSTMTRS"):
        account_node = stmt.find("BANKACCTFROM") or stmt.find("CCACCTFROM")
        if account_node is None:
            raise StatementError(
                f"<{stmt.tag}> has no account (BANKACCTFROM)", where=f"{prefix}line {stmt.line}"
            )
        account = _required(account_node, "ACCTID", prefix).text.strip()
        compact = account.replace(" ", "").upper()
        if _IBAN.match(compact):
            account = compact
        warnings: list[str] = []
        currency = stmt.value("CURDEF").upper()
        if not currency:
            symbols = [n.text.strip() for n in stmt.iter("CURSYM") if n.text.strip()]
            currency = symbols[0].upper() if symbols else ""
            warnings.append(
                f"line {stmt.line}: no <CURDEF>; currency "
                + (f"{currency} taken from the operations" if currency else "unknown")
            )
        lines: list[StatementLine] = []
        start: dt.date | None = None
        for tranlist in stmt.iter("BANKTRANLIST"):
            if tranlist.value("DTSTART") and start is None:
                start = _date(tranlist.value("DTSTART"), f"{prefix}line {tranlist.line}", "DTSTART")
        for trn in stmt.iter("STMTTRN"):
            where = f"{prefix}line {trn.line}"
            posted = _required(trn, "DTPOSTED", prefix)
            amount = _amount(trn.find("TRNAMT"), trn, "TRNAMT", prefix)
            user = trn.value("DTUSER")
            name, memo = trn.value("NAME"), trn.value("MEMO")
            lines.append(
                StatementLine(
                    booking_date=_date(posted.text.strip(), where, "DTPOSTED"),
                    value_date=_date(user, where, "DTUSER") if user else None,
                    amount=amount,
                    currency=_trn_currency(trn) or currency,
                    label=name or memo,
                    remittance=memo,
                    counterparty_name=name,
                    bank_reference=trn.value("FITID"),
                )
            )
        closing_balance: Decimal | None = None
        closing_date: dt.date | None = None
        ledger = stmt.find("LEDGERBAL")
        if ledger is not None and not ledger.value("BALAMT"):
            warnings.append(f"line {ledger.line}: <LEDGERBAL> is empty, no closing balance")
        elif ledger is not None:
            closing_balance = _amount(ledger.find("BALAMT"), ledger, "BALAMT", prefix)
            asof = ledger.value("DTASOF")
            closing_date = _date(asof, f"{prefix}line {ledger.line}", "DTASOF") if asof else None
        statements.append(
            Statement(
                account_iban=account,
                currency=currency,
                statement_id=f"{account}-{closing_date or start or ''}",
                opening_date=start,
                opening_balance=None,
                closing_date=closing_date,
                closing_balance=closing_balance,
                lines=tuple(lines),
                warnings=tuple(warnings),
            )
        )
    if not statements:
        if root.find("OFX") is not None:
            return []  # a well-formed OFX answer with no account in it: nothing to import
        raise StatementError("no account statement (STMTRS) in the file", where=f"{prefix}line 1")
    return statements
