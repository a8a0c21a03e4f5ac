"""OFX parser: SGML and XML flavours, several accounts, errors naming the line."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levier.collections.statements.model import StatementError
from levier.collections.statements.ofx import looks_like_ofx, parse_ofx

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "ofx"

SGML = b"""OFXHEADER:100
DATA:OFXSGML
VERSION:102
CHARSET:1252

<OFX><BANKMSGSRSV1><STMTTRNRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>EUR
<BANKACCTFROM><BANKID>30001<ACCTID>FR76 3000 1007 9412 3456 7890 185<ACCTTYPE>CHECKING
</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240101<DTEND>20240131
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240105120000.000[+1:CET]<TRNAMT>1234.56
<FITID>F1<NAME>DUPONT SARL<MEMO>RF18539007547034 Caf\xe9
</STMTTRN>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240106<TRNAMT>-0.01<FITID>F2<NAME>FRAIS
</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>1234.55<DTASOF>20240131</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""

XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<?OFX OFXHEADER="200" VERSION="211"?>
<OFX><BANKMSGSRSV1>
<STMTTRNRS><STMTRS><CURDEF>EUR</CURDEF>
<BANKACCTFROM><ACCTID>111</ACCTID></BANKACCTFROM>
<BANKTRANLIST><STMTTRN><DTPOSTED>20240201</DTPOSTED><TRNAMT>-5.10</TRNAMT>
<FITID>A</FITID><NAME><![CDATA[A & B]]></NAME></STMTTRN></BANKTRANLIST>
</STMTRS></STMTTRNRS>
<STMTTRNRS><STMTRS><CURDEF>EUR</CURDEF>
<BANKACCTFROM><ACCTID>222</ACCTID></BANKACCTFROM>
<BANKTRANLIST><STMTTRN><DTPOSTED>20240202</DTPOSTED><TRNAMT>7</TRNAMT>
<FITID>B</FITID></STMTTRN></BANKTRANLIST>
</STMTRS></STMTTRNRS>
</BANKMSGSRSV1></OFX>
"""


def test_sgml_statement_reads_operations_iban_and_ledger_balance() -> None:
    (statement,) = parse_ofx(SGML)
    assert statement.account_iban == "FR7630001007941234567890185"
    assert statement.currency == "EUR"
    assert statement.opening_date == dt.date(2024, 1, 1)
    assert statement.closing_balance == Decimal("1234.55")
    assert statement.closing_date == dt.date(2024, 1, 31)
    credit, debit = statement.lines
    assert credit.amount == Decimal("1234.56")
    assert credit.booking_date == dt.date(2024, 1, 5)
    assert credit.label == "DUPONT SARL"
    assert credit.remittance == "RF18539007547034 Café"
    assert credit.bank_reference == "F1"
    assert debit.amount == Decimal("-0.01")


def test_xml_file_with_two_accounts_gives_two_statements() -> None:
    first, second = parse_ofx(XML)
    assert (first.account_iban, second.account_iban) == ("111", "222")
    assert first.lines[0].amount == Decimal("-5.10")
    assert first.lines[0].label == "A & B"
    assert second.lines[0].amount == Decimal("7")
    assert first.closing_balance is None


def test_a_malformed_amount_is_an_error_naming_its_line() -> None:
    with pytest.raises(StatementError) as error:
        parse_ofx(SGML.replace(b"1234.56", b"12,34.56"), "bank.ofx")
    assert error.value.where == "bank.ofx line 11"
    assert "malformed amount" in error.value.message


def test_a_missing_posting_date_is_an_error_naming_the_transaction_line() -> None:
    with pytest.raises(StatementError) as error:
        parse_ofx(SGML.replace(b"<DTPOSTED>20240106", b""))
    assert error.value.where == "line 14"
    assert "DTPOSTED" in error.value.message


def test_a_missing_account_id_is_an_error() -> None:
    with pytest.raises(StatementError, match="ACCTID"):
        parse_ofx(XML.replace(b"<ACCTID>111</ACCTID>", b""))


def test_a_bank_error_status_is_an_error_with_the_bank_message() -> None:
    data = SGML.replace(b"<CODE>0<SEVERITY>INFO", b"<CODE>2000<SEVERITY>ERROR<MESSAGE>Down")
    with pytest.raises(StatementError, match="Down"):
        parse_ofx(data)


def test_detection_accepts_both_flavours_and_refuses_cfonb() -> None:
    assert looks_like_ofx(SGML)
    assert looks_like_ofx(XML)
    assert not looks_like_ofx(b"0115589    00000EUR2 98765432100  150519")


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_statement_error(data: bytes) -> None:
    with contextlib.suppress(StatementError):
        parse_ofx(data)


@given(st.text(alphabet="<>/OFXSTMRNAIDBL0123456789.-! \n[]CDATA", max_size=300))
def test_tag_soup_raises_only_statement_error(text: str) -> None:
    with contextlib.suppress(StatementError):
        parse_ofx(b"<OFX>" + text.encode())


def sample(name: str) -> bytes:
    if not SAMPLES.parent.exists():
        pytest.skip(f"{SAMPLES.parent} does not exist (shared samples not checked out)")
    return (SAMPLES / name).read_bytes()


def test_oca_sample_reads_bank_and_credit_card_statements() -> None:
    bank, card = parse_ofx(sample("oca-test_ofx.ofx"))
    assert bank.account_iban == "123456"
    assert bank.currency == "USD"
    assert [line.amount for line in bank.lines] == [
        Decimal("-80"),
        Decimal("-90"),
        Decimal("-100"),
        Decimal("-90"),
    ]
    assert bank.lines[0].label == "Agrolait"
    assert bank.closing_balance == Decimal("2156.56")
    assert card.account_iban == "123412341234"
    assert card.closing_balance == Decimal("-562.00")


def test_oca_iban_sample_keeps_the_national_account_number() -> None:
    bank, _card = parse_ofx(sample("oca-test_ofx_iban.ofx"))
    assert bank.account_iban == "12345678901"


def test_ofxparse_bank_medium_reads_amounts_to_the_cent() -> None:
    (statement,) = parse_ofx(sample("ofxparse-bank_medium.ofx"))
    assert statement.currency == "CAD"
    assert statement.lines[0].amount == Decimal("-6.60")
    assert statement.lines[1].amount == Decimal("-316.67")
    assert statement.lines[0].booking_date == dt.date(2009, 4, 1)
    assert statement.closing_balance == Decimal("382.34")


def test_ofxparse_bank_small_is_an_empty_ofx_with_no_statement() -> None:
    assert parse_ofx(sample("ofxparse-bank_small.ofx")) == []


def test_ofxparse_checking_reads_three_operations() -> None:
    (statement,) = parse_ofx(sample("ofxparse-checking.ofx"))
    assert [line.amount for line in statement.lines][:2] == [Decimal("0.01"), Decimal("-34.51")]
    assert statement.closing_balance == Decimal("100.99")


def test_ofxparse_multiple_accounts_gives_one_statement_per_account() -> None:
    statements = parse_ofx(sample("ofxparse-multiple_accounts2.ofx"))
    assert [(s.account_iban, s.closing_balance) for s in statements] == [
        ("9100", Decimal("111")),
        ("9200", Decimal("222")),
    ]


def test_ofxparse_empty_tags_sample_reads_with_warnings() -> None:
    (statement,) = parse_ofx(sample("ofxparse-ofx-v102-empty-tags.ofx"))
    assert statement.lines[0].amount == Decimal("12.34")
    assert statement.currency == "AUD"
    assert statement.closing_balance is None
    assert len(statement.warnings) == 2


def test_ofxparse_suncorp_reads_cdata_labels() -> None:
    (statement,) = parse_ofx(sample("ofxparse-suncorp.ofx"))
    assert statement.lines[0].amount == Decimal("-16.85")
    assert statement.lines[0].label == "EFTPOS WDL HANDYWAY ALDI STORE"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("oca-test_ofx_wrong.ofx", "has no account"),
        ("ofxparse-error_message.ofx", "General Server Error"),
        ("ofxparse-fail_nice-decimal_error.ofx", "malformed amount '$120'"),
    ],
)
def test_broken_ofx_samples_are_rejected(name: str, words: str) -> None:
    with pytest.raises(StatementError) as error:
        parse_ofx(sample(name), name)
    assert words in error.value.message
    assert error.value.where.startswith(f"{name} line ")
