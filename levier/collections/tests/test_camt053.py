"""camt.053 parser: hand-written v2/v8 statements, the shared real samples, hostile input."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levier.collections.statements.camt053 import looks_like_camt053, parse_camt053
from levier.collections.statements.model import StatementError

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"
CAMT_DIR = SAMPLES / "camt053"

V2 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG1</MsgId><CreDtTm>2025-03-01T08:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-2025-02</Id>
      <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2025-02-01</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">1402.34567</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2025-02-28</Dt></Dt></Bal>
      <Ntry>
        <Amt Ccy="EUR">600.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2025-02-10</Dt></BookgDt><ValDt><Dt>2025-02-11</Dt></ValDt>
        <AcctSvcrRef>BATCH-1</AcctSvcrRef>
        <AddtlNtryInf>REMISE VIREMENTS</AddtlNtryInf>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E-A</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">250.00</Amt></TxAmt></AmtDtls>
            <RltdPties><Dbtr><Nm>Alice SARL</Nm></Dbtr>
              <DbtrAcct><Id><IBAN>FR7610107001011234567890129</IBAN></Id></DbtrAcct></RltdPties>
            <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>
              <Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
          </TxDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E-B</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="EUR">350.00</Amt></TxAmt></AmtDtls>
            <RltdPties><Dbtr><Nm>Bob SA</Nm></Dbtr></RltdPties>
            <RmtInf><Ustrd>Facture F-2025-001</Ustrd><Ustrd>et F-2025-002</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">197.65433</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2025-02-15</Dt></BookgDt>
        <AcctSvcrRef>FEE-1</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <RltdPties><Cdtr><Nm>Fournisseur</Nm></Cdtr>
            <CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct></RltdPties>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">50.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts>
        <BookgDt><Dt>2025-02-27</Dt></BookgDt>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""

V8 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG8</MsgId><CreDtTm>2025-03-01T08:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>V8-1</Id>
      <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id></Acct>
      <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">10.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2025-02-28</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">90.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2025-03-01</Dt></Dt></Bal>
      <Ntry>
        <Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><DtTm>2025-03-01T13:15:00+01:00</DtTm></BookgDt>
        <ValDt><Dt>2025-03-02</Dt></ValDt>
        <AcctSvcrRef>V8-BATCH</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E-1</EndToEndId></Refs>
            <Amt Ccy="EUR">30.01</Amt><CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties><Dbtr><Pty><Nm>Carole EURL</Nm></Pty></Dbtr>
              <DbtrAcct><Id><IBAN>BE68539007547034</IBAN></Id></DbtrAcct></RltdPties>
            <RmtInf><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
          </TxDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E-2</EndToEndId></Refs>
            <Amt Ccy="EUR">69.99</Amt><CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties><Dbtr><Pty><Nm>David SAS</Nm></Pty></Dbtr></RltdPties>
            <RmtInf><Ustrd>INV 42</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>INFO</Cd></Sts>
        <BookgDt><Dt>2025-03-01</Dt></BookgDt>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


def test_v2_batched_entry_gives_one_line_per_transaction_with_its_own_amount() -> None:
    [stmt] = parse_camt053(V2.encode(), "v2.xml")
    assert stmt.account_iban == "FR7630006000011234567890189"
    assert stmt.currency == "EUR"
    assert stmt.statement_id == "STMT-2025-02"
    assert stmt.opening_balance == Decimal("1000.00")
    assert stmt.opening_date == dt.date(2025, 2, 1)
    assert stmt.closing_balance == Decimal("1402.34567")
    assert stmt.closing_date == dt.date(2025, 2, 28)
    first, second, _fee = stmt.lines
    assert first.amount == Decimal("250.00")
    assert first.reference == "RF18539007547034"
    assert first.counterparty_name == "Alice SARL"
    assert first.counterparty_iban == "FR7610107001011234567890129"
    assert first.end_to_end_id == "E2E-A"
    assert first.bank_reference == "BATCH-1"
    assert first.booking_date == dt.date(2025, 2, 10)
    assert first.value_date == dt.date(2025, 2, 11)
    assert second.amount == Decimal("350.00")
    assert second.remittance == "Facture F-2025-001 et F-2025-002"
    assert second.counterparty_name == "Bob SA"


def test_v2_debit_is_negative_and_keeps_five_decimals_exactly() -> None:
    [stmt] = parse_camt053(V2.encode())
    fee = stmt.lines[2]
    assert fee.amount == Decimal("-197.65433")
    assert isinstance(fee.amount, Decimal)
    assert fee.counterparty_name == "Fournisseur"
    assert fee.counterparty_iban == "DE89370400440532013000"
    assert fee.value_date is None


def test_v2_pending_entry_is_skipped_with_a_warning_and_balances_add_up() -> None:
    [stmt] = parse_camt053(V2.encode())
    assert len(stmt.lines) == 3
    assert len(stmt.warnings) == 1
    assert "PDNG" in stmt.warnings[0]


def test_v8_party_wrapper_status_code_and_datetime_booking_date() -> None:
    [stmt] = parse_camt053(V8.encode(), "v8.xml")
    assert stmt.opening_balance == Decimal("-10.00")  # PRCD used as opening, DBIT sign
    assert stmt.closing_balance == Decimal("90.00")
    assert stmt.currency == "EUR"
    one, two = stmt.lines
    assert (one.amount, two.amount) == (Decimal("30.01"), Decimal("69.99"))
    assert one.counterparty_name == "Carole EURL"
    assert one.counterparty_iban == "BE68539007547034"
    assert one.reference == "RF18539007547034"
    assert two.counterparty_name == "David SAS"
    assert two.remittance == "INV 42"
    assert one.booking_date == dt.date(2025, 3, 1)
    assert one.value_date == dt.date(2025, 3, 2)
    assert [w for w in stmt.warnings if "INFO" in w]


def test_namespace_free_document_is_read_the_same() -> None:
    plain = V8.replace(' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"', "")
    [stmt] = parse_camt053(plain.encode())
    assert sum(line.amount for line in stmt.lines) == Decimal("100.00")


def test_balance_mismatch_is_a_warning_not_an_error() -> None:
    broken = V8.replace('<Amt Ccy="EUR">90.00</Amt>', '<Amt Ccy="EUR">91.00</Amt>')
    [stmt] = parse_camt053(broken.encode())
    assert any("closing balance is 91.00" in w for w in stmt.warnings)


def test_batched_amounts_that_do_not_add_up_keep_the_entry_whole() -> None:
    broken = V8.replace('<Amt Ccy="EUR">69.99</Amt>', '<Amt Ccy="EUR">69.98</Amt>')
    [stmt] = parse_camt053(broken.encode())
    [line] = stmt.lines
    assert line.amount == Decimal("100.00")
    assert any("batched entry" in w for w in stmt.warnings)


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        ("<BookgDt><Dt>2025-02-15</Dt></BookgDt>", "", "BookgDt"),
        ('<Amt Ccy="EUR">197.65433</Amt>', "", "Ntry/Amt"),
        (
            '<Amt Ccy="EUR">197.65433</Amt><CdtDbtInd>DBIT</CdtDbtInd>',
            '<Amt Ccy="EUR">1</Amt>',
            "CdtDbtInd",
        ),
        ("<Id><IBAN>FR7630006000011234567890189</IBAN></Id>", "<Id/>", "IBAN"),
    ],
)
def test_missing_mandatory_element_is_named_with_its_line(old: str, new: str, element: str) -> None:
    assert old in V2
    with pytest.raises(StatementError) as exc:
        parse_camt053(V2.replace(old, new, 1).encode())
    assert element in exc.value.where
    assert "line " in exc.value.where


def test_invalid_amount_text_is_rejected() -> None:
    with pytest.raises(StatementError, match="invalid amount"):
        parse_camt053(V2.replace("600.00", "6e2").encode())


def test_truncated_xml_names_a_line() -> None:
    data = V2.encode()[: len(V2) // 2]
    with pytest.raises(StatementError) as exc:
        parse_camt053(data, "cut.xml")
    assert exc.value.where.startswith("cut.xml line ")
    assert "malformed XML" in exc.value.message


def test_xxe_payload_is_refused() -> None:
    payload = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Id>&xxe;</Id><Acct><Id><IBAN>X</IBAN></Id></Acct></Stmt></BkToCstmrStmt></Document>"""
    with pytest.raises(StatementError, match="DOCTYPE"):
        parse_camt053(payload)


def test_utf16_xxe_payload_is_refused_too() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY a "b">]><d>&a;</d>'
    with pytest.raises(StatementError):
        parse_camt053(text.encode("utf-16"))


def test_other_document_is_not_a_camt053_statement() -> None:
    with pytest.raises(StatementError, match=r"not a camt\.053 statement"):
        parse_camt053(b"<html><body>hello</body></html>")


def test_looks_like_camt053_detects_by_content() -> None:
    assert looks_like_camt053(V2.encode())
    assert looks_like_camt053(V8.replace("<BkToCstmrStmt>", "<c:BkToCstmrStmt>").encode())
    assert not looks_like_camt053(b"0130004...CFONB line")
    assert not looks_like_camt053(b"<Document><BkToCstmrDbtCdtNtfctn/></Document>")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_statement_error(data: bytes) -> None:
    with contextlib.suppress(StatementError):
        parse_camt053(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(V8) - 1), st.binary(min_size=1, max_size=8))
def test_corrupted_statement_raises_only_statement_error(cut: int, junk: bytes) -> None:
    data = V8.encode()
    with contextlib.suppress(StatementError):
        parse_camt053(data[:cut] + junk + data[cut + len(junk) :])


def _samples() -> Path:
    if not CAMT_DIR.exists():
        pytest.skip(f"shared samples not available at {CAMT_DIR}")
    return CAMT_DIR


def _good_sample_names() -> list[str]:
    if not CAMT_DIR.exists():
        return ["genkgo-camt053.v2.minimal.xml"]  # skipped inside the test
    return sorted(p.name for p in CAMT_DIR.glob("genkgo-camt053.*.xml") if "wrong" not in p.name)


@pytest.mark.parametrize("name", _good_sample_names())
def test_real_genkgo_camt053_sample_parses(name: str) -> None:
    path = _samples() / name
    statements = parse_camt053(path.read_bytes(), name)
    assert statements
    assert all(s.account_iban for s in statements)
    assert looks_like_camt053(path.read_bytes())


def test_real_genkgo_v8_sample_values_to_the_cent() -> None:
    data = (_samples() / "genkgo-camt053.v8.xml").read_bytes()
    [stmt] = parse_camt053(data)
    assert stmt.account_iban == "NL26VAYB8060476890"  # Acct/Id/Othr/Id
    assert stmt.opening_balance == Decimal("18.15")
    assert stmt.closing_balance == Decimal("-27.00")
    [line] = stmt.lines
    assert line.amount == Decimal("8.85")
    assert line.counterparty_name == "NAME NAME"
    assert line.end_to_end_id == "MUELL/FINP/RA12345"
    assert line.booking_date == dt.date(2014, 12, 31)


def test_real_five_decimals_sample_keeps_exact_amounts() -> None:
    data = (_samples() / "genkgo-camt053.v2.five.decimals.xml").read_bytes()
    [stmt] = parse_camt053(data)
    assert stmt.opening_balance == Decimal("18.150")
    assert stmt.lines[0].amount == Decimal("8.850")


def test_real_multi_statement_sample_gives_two_statements() -> None:
    data = (_samples() / "genkgo-camt053.v2.multi.statement.xml").read_bytes()
    first, second = parse_camt053(data)
    assert first.lines[0].amount == Decimal("8.85")
    assert second.lines[0].amount == Decimal("-7.00")
    assert first.warnings == second.warnings == ()


def test_real_batched_sample_splits_into_transactions() -> None:
    data = (_samples() / "oca-test-camt053-txdtls.xml").read_bytes()
    [stmt] = parse_camt053(data)
    assert [line.amount for line in stmt.lines] == [Decimal("2187.00"), Decimal("1296.00")]
    assert stmt.warnings == ()


def test_real_wrong_sample_is_rejected() -> None:
    for path in sorted(_samples().glob("*wrong*")):
        with pytest.raises(StatementError):
            parse_camt053(path.read_bytes(), path.name)


def test_real_camt054_is_rejected_as_not_camt053() -> None:
    data = (_samples() / "genkgo-camt054.v8.xml").read_bytes()
    with pytest.raises(StatementError, match=r"not a camt\.053 statement"):
        parse_camt053(data)
    assert not looks_like_camt053(data)
