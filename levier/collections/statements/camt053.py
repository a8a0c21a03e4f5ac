"""ISO 20022 camt.053 (bank-to-customer statement) parser, versions .001.02 to .001.08.

Why this shape:
- Banks send several schema versions and sometimes no or odd namespace prefixes, so every
  element is matched by its local name (`{*}` wildcards) rather than by a fixed namespace.
- The file comes from outside: the XML parser is hardened (no entities, no network, no DTD,
  no huge trees) and any DOCTYPE is refused outright, which closes XXE and entity bombs.
- A statement is all-or-nothing: any missing mandatory element raises `StatementError` naming
  the element path and its source line, so nothing of a broken file is imported.
- Batched entries (one `Ntry` holding several `TxDtls`) are split into one line per
  transaction, since each transaction is a separate customer payment to match.
- Amounts are read as exact `Decimal` (up to 5 decimals in ISO 20022), never as floats.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from lxml import etree
from lxml.etree import _Element

from levier.collections.statements.model import Statement, StatementError, StatementLine

__all__ = ["looks_like_camt053", "parse_camt053"]

# ISO 20022 ActiveOrHistoricCurrencyAndAmount: up to 18 digits, at most 5 decimals.
_AMOUNT_RE = re.compile(r"^\d{1,18}(?:\.\d{1,5})?$")
_ROOT_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?BkToCstmrStmt[\s>/]")
_OPENING_CODES = ("OPBD", "PRCD")
_CLOSING_CODES = ("CLBD",)


def looks_like_camt053(data: bytes) -> bool:
    """Cheap content sniffing so uploads are routed by content, not by file extension.

    `BkToCstmrStmt` is the camt.053 message element and sits right after `Document`, so the
    start of the file is enough; the namespace is not required (some banks omit it).
    """
    head = data[:16384]
    return bool(_ROOT_RE.search(head))


def _path(local_path: str) -> str:
    """Turn `A/B/C` into a namespace-agnostic ElementPath `{*}A/{*}B/{*}C`."""
    return "/".join("{*}" + part for part in local_path.split("/"))


def _find(el: _Element, local_path: str) -> _Element | None:
    return el.find(_path(local_path))


def _findall(el: _Element, local_path: str) -> list[_Element]:
    return list(el.iterfind(_path(local_path)))


def _text(el: _Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).strip()


def _first_text(el: _Element, *local_paths: str) -> str:
    for local_path in local_paths:
        value = _text(_find(el, local_path))
        if value:
            return value
    return ""


def _where(el: _Element, local_path: str = "") -> str:
    """Name an element for error messages: its path from the root and its line."""
    names: list[str] = []
    node: _Element | None = el
    while node is not None:
        names.append(etree.QName(node).localname)
        node = node.getparent()
    full = "/".join(reversed(names))
    if local_path:
        full = f"{full}/{local_path}"
    line = el.sourceline
    return f"{full} (line {line})" if line else full


def _require(el: _Element, local_path: str) -> _Element:
    found = _find(el, local_path)
    if found is None or not _text(found):
        raise StatementError(
            f"missing mandatory element {local_path}", where=_where(el, local_path)
        )
    return found


def _amount(el: _Element) -> Decimal:
    raw = _text(el)
    if not _AMOUNT_RE.match(raw):
        raise StatementError(f"invalid amount {raw[:40]!r}", where=_where(el))
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees it
        raise StatementError(f"invalid amount {raw[:40]!r}", where=_where(el)) from exc


def _sign(parent: _Element, default: int | None = None) -> int:
    ind_el = _find(parent, "CdtDbtInd")
    if ind_el is None or not _text(ind_el):
        if default is not None:
            return default
        raise StatementError(
            "missing mandatory element CdtDbtInd", where=_where(parent, "CdtDbtInd")
        )
    ind = _text(ind_el)
    if ind == "CRDT":
        return 1
    if ind == "DBIT":
        return -1
    raise StatementError(f"CdtDbtInd must be CRDT or DBIT, not {ind[:20]!r}", where=_where(ind_el))


def _date(container: _Element | None) -> dt.date | None:
    """Read a `Dt` or `DtTm` child; the local date as written by the bank is kept."""
    if container is None:
        return None
    day_el = _find(container, "Dt")
    if day_el is not None and _text(day_el):
        try:
            return dt.date.fromisoformat(_text(day_el)[:10])
        except ValueError as exc:
            raise StatementError(
                f"invalid date {_text(day_el)[:40]!r}", where=_where(day_el)
            ) from exc
    time_el = _find(container, "DtTm")
    if time_el is not None and _text(time_el):
        raw = _text(time_el)
        try:
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
        except ValueError as exc:
            raise StatementError(f"invalid date-time {raw[:40]!r}", where=_where(time_el)) from exc
    return None


def _parse_xml(data: bytes, filename: str) -> _Element:
    where = filename or "camt.053"
    # Refuse DTDs before parsing at all: camt.053 never has one, and a DOCTYPE is how XXE
    # and entity-expansion attacks get in. The post-parse check catches other encodings.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise StatementError("DOCTYPE/entity declarations are not allowed", where=where)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else exc.position[0]
        raise StatementError(f"malformed XML: {exc.msg}", where=f"{where} line {line}") from exc
    except (etree.LxmlError, ValueError, TypeError) as exc:
        raise StatementError(f"unreadable XML: {exc}", where=where) from exc
    if root is None:
        raise StatementError("empty document", where=where)
    if root.getroottree().docinfo.doctype:
        raise StatementError("DOCTYPE/entity declarations are not allowed", where=where)
    return root


def _check_camt053(root: _Element, filename: str) -> _Element:
    where = filename or "camt.053"
    if not isinstance(root.tag, str):
        raise StatementError("not a camt.053 statement", where=where)
    namespace = etree.QName(root).namespace or ""
    if "camt." in namespace and "camt.053" not in namespace:
        raise StatementError(f"not a camt.053 statement (namespace {namespace})", where=where)
    if etree.QName(root).localname == "BkToCstmrStmt":
        message = root
    else:
        found = _find(root, "BkToCstmrStmt")
        if found is None:
            raise StatementError(
                f"not a camt.053 statement (root {etree.QName(root).localname})", where=where
            )
        message = found
    return message


def _balances(
    stmt: _Element,
) -> tuple[dt.date | None, Decimal | None, dt.date | None, Decimal | None, str]:
    opening: tuple[dt.date | None, Decimal] | None = None
    closing: tuple[dt.date | None, Decimal] | None = None
    currency = ""
    for bal in _findall(stmt, "Bal"):
        code = _first_text(bal, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
        if code not in _OPENING_CODES + _CLOSING_CODES:
            continue
        amt_el = _require(bal, "Amt")
        value = _amount(amt_el) * _sign(bal)
        when = _date(_find(bal, "Dt"))
        if code in _OPENING_CODES and (opening is None or code == "OPBD"):
            opening = (when, value)
            currency = currency or (amt_el.get("Ccy") or "")
        elif code in _CLOSING_CODES and closing is None:
            closing = (when, value)
            currency = currency or (amt_el.get("Ccy") or "")
    return (
        opening[0] if opening else None,
        opening[1] if opening else None,
        closing[0] if closing else None,
        closing[1] if closing else None,
        currency,
    )


def _status(ntry: _Element) -> str:
    sts = _find(ntry, "Sts")
    if sts is None:
        return "BOOK"  # v02-v07 banks sometimes omit it; a statement lists booked entries
    code = _first_text(sts, "Cd", "Prtry") or _text(sts)
    return code or "BOOK"


def _party(tx: _Element, role: str) -> tuple[str, str]:
    name = _first_text(tx, f"RltdPties/{role}/Nm", f"RltdPties/{role}/Pty/Nm")
    iban = _first_text(tx, f"RltdPties/{role}Acct/Id/IBAN")
    return name, iban


def _remittance(tx: _Element) -> tuple[str, str]:
    ustrd = " ".join(t for t in (_text(u) for u in _findall(tx, "RmtInf/Ustrd")) if t)
    ref = ""
    for ref_el in _findall(tx, "RmtInf/Strd/CdtrRefInf/Ref"):
        ref = _text(ref_el)
        if ref:
            break
    return ustrd, ref


def _tx_amount(tx: _Element) -> tuple[Decimal, str] | None:
    amt_el = _find(tx, "Amt")
    if amt_el is None or not _text(amt_el):
        amt_el = _find(tx, "AmtDtls/TxAmt/Amt")
    if amt_el is None or not _text(amt_el):
        return None
    return _amount(amt_el), amt_el.get("Ccy") or ""


def _entry_lines(
    ntry: _Element, currency: str, warnings: list[str]
) -> tuple[Decimal, list[StatementLine]]:
    """Read one booked `Ntry`; returns its signed amount and the lines it gives."""
    amt_el = _require(ntry, "Amt")
    sign = _sign(ntry)
    amount = _amount(amt_el) * sign
    entry_ccy = amt_el.get("Ccy") or currency
    booked = _date(_find(ntry, "BookgDt"))
    if booked is None:
        raise StatementError(
            "missing mandatory element BookgDt/Dt or BookgDt/DtTm", where=_where(ntry, "BookgDt")
        )
    value_date = _date(_find(ntry, "ValDt"))
    bank_ref = _first_text(ntry, "AcctSvcrRef", "NtryRef")
    entry_label = _text(_find(ntry, "AddtlNtryInf"))
    txs = _findall(ntry, "NtryDtls/TxDtls")

    def line(tx: _Element | None, line_amount: Decimal) -> StatementLine:
        if tx is None:
            return StatementLine(
                booking_date=booked,
                value_date=value_date,
                amount=line_amount,
                currency=entry_ccy,
                label=entry_label or bank_ref,
                bank_reference=bank_ref,
            )
        ustrd, ref = _remittance(tx)
        # Money in: the debtor paid us; money out: we paid the creditor.
        roles = ("Dbtr", "Cdtr") if line_amount >= 0 else ("Cdtr", "Dbtr")
        name, iban = _party(tx, roles[0])
        if not name and not iban:
            name, iban = _party(tx, roles[1])
        label = _text(_find(tx, "AddtlTxInf")) or entry_label or ustrd or name or bank_ref
        return StatementLine(
            booking_date=booked,
            value_date=value_date,
            amount=line_amount,
            currency=entry_ccy,
            label=label,
            remittance=ustrd,
            reference=ref,
            counterparty_name=name,
            counterparty_iban=iban,
            bank_reference=_text(_find(tx, "Refs/AcctSvcrRef")) or bank_ref,
            end_to_end_id=_first_text(tx, "Refs/EndToEndId"),
        )

    if len(txs) <= 1:
        return amount, [line(txs[0] if txs else None, amount)]

    # Batched entry: one line per transaction with its own amount, if all are readable in
    # the entry's currency and add up; otherwise keep the entry whole rather than guess.
    parts: list[Decimal] = []
    for tx in txs:
        tx_amt = _tx_amount(tx)
        if tx_amt is None or (tx_amt[1] and tx_amt[1] != entry_ccy):
            parts = []
            break
        parts.append(tx_amt[0] * _sign(tx, default=sign))
    if not parts or sum(parts, Decimal(0)) != amount:
        warnings.append(
            f"{_where(ntry)}: batched entry {bank_ref or ''} of {amount} {entry_ccy} kept as one "
            "line: its transaction amounts are missing, in another currency or do not add up"
        )
        return amount, [line(txs[0], amount)]
    return amount, [line(tx, part) for tx, part in zip(txs, parts, strict=True)]


def _statement(stmt: _Element, filename: str) -> Statement:
    acct = _find(stmt, "Acct")
    if acct is None:
        raise StatementError("missing mandatory element Acct", where=_where(stmt, "Acct"))
    account = _first_text(acct, "Id/IBAN", "Id/Othr/Id")
    if not account:
        raise StatementError(
            "missing mandatory element Id/IBAN (or Id/Othr/Id)", where=_where(acct, "Id/IBAN")
        )
    statement_id = _first_text(stmt, "Id", "ElctrncSeqNb", "LglSeqNb")
    opening_date, opening, closing_date, closing, bal_ccy = _balances(stmt)
    currency = _text(_find(acct, "Ccy")) or bal_ccy
    warnings: list[str] = []
    lines: list[StatementLine] = []
    total = Decimal(0)
    for ntry in _findall(stmt, "Ntry"):
        status = _status(ntry)
        if status != "BOOK":
            warnings.append(f"{_where(ntry)}: entry with status {status} skipped (not booked)")
            continue
        amount, entry_lines = _entry_lines(ntry, currency, warnings)
        total += amount
        lines.extend(entry_lines)
    if not currency and lines:
        currency = lines[0].currency
    if opening is not None and closing is not None and opening + total != closing:
        warnings.append(
            f"statement {statement_id}: opening balance {opening} + entries {total} "
            f"= {opening + total}, but closing balance is {closing}"
        )
    return Statement(
        account_iban=account.replace(" ", ""),
        currency=currency,
        statement_id=statement_id,
        opening_date=opening_date,
        opening_balance=opening,
        closing_date=closing_date,
        closing_balance=closing,
        lines=tuple(lines),
        warnings=tuple(warnings),
    )


def parse_camt053(data: bytes, filename: str = "") -> list[Statement]:
    """Parse a whole camt.053 file into its statements, or raise `StatementError`.

    Everything is read before anything is returned, so a caller importing the result can
    never get half of a broken file.
    """
    root = _parse_xml(data, filename)
    message = _check_camt053(root, filename)
    stmts = _findall(message, "Stmt")
    if not stmts:
        raise StatementError("no Stmt element in BkToCstmrStmt", where=_where(message, "Stmt"))
    return [_statement(stmt, filename) for stmt in stmts]
