"""The CII serialiser: structure, amounts and the legal mentions, for every scenario."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from levier.einvoice.cii import NSMAP, to_cii_xml
from levier.einvoice.model import InvoiceDataError, Party, PaymentTerms
from levier.einvoice.tests import BUYER, SELLER, invoice, line, scenarios

D = Decimal


def xp(xml: bytes, path: str) -> list[str]:
    return [str(v) for v in etree.fromstring(xml).xpath(path, namespaces=NSMAP)]


SETTLEMENT = "//ram:ApplicableHeaderTradeSettlement"
SUMMATION = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


def test_two_rates_with_discount_totals_and_breakdown() -> None:
    inv = scenarios()["two_rates_with_discount"]
    totals = inv.compute()
    # 12 × 850 = 10 200 − 7.5 % = 9 435.00; 149.90; 3 × 45.5 = 136.50
    assert [ln.net_amount for ln in inv.lines] == [D("9435.00"), D("149.90"), D("136.50")]
    assert [(b.category, b.rate, b.basis, b.tax) for b in totals.breakdown] == [
        ("S", D("5.5"), D("136.50"), D("7.51")),
        ("S", D("10"), D("149.90"), D("14.99")),
        ("S", D("20"), D("9435.00"), D("1887.00")),
    ]
    assert totals.grand_total == D("9721.40") + D("1909.50")
    xml = to_cii_xml(inv)
    assert xp(xml, f"{SUMMATION}/ram:TaxTotalAmount/@currencyID") == ["EUR"]
    assert xp(xml, f"{SUMMATION}/ram:GrandTotalAmount/text()") == ["11630.90"]
    assert xp(xml, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:RateApplicablePercent/text()") == [
        "5.50",
        "10.00",
        "20.00",
    ]
    allowance = "//ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge"
    assert xp(xml, f"{allowance}/ram:CalculationPercent/text()") == ["7.50"]
    assert xp(xml, f"{allowance}/ram:BasisAmount/text()") == ["10200.00"]
    assert xp(xml, f"{allowance}/ram:ActualAmount/text()") == ["765.00"]
    assert xp(xml, "//ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CityName/text()") == [
        "Vénissieux"
    ]


def test_header_mentions() -> None:
    xml = to_cii_xml(scenarios()["two_rates_with_discount"])
    assert xp(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID/text()") == [
        "urn:cen.eu:en16931:2017"
    ]
    assert xp(xml, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID/text()") == ["S1"]
    assert xp(xml, "//rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode/text()") == [
        "PMD",
        "PMT",
        "AAB",
        "REG",
    ]
    seller = "//ram:SellerTradeParty"
    assert xp(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']/text()") == [
        "404833048"
    ]
    assert xp(xml, f"{seller}/ram:GlobalID[@schemeID='0009']/text()") == ["40483304800014"]
    assert xp(
        xml, f"{seller}/ram:URIUniversalCommunication/ram:URIID[@schemeID='0225']/text()"
    ) == ["404833048"]
    assert xp(xml, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID/text()") == [
        "732829320"
    ]
    assert xp(xml, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID/text()") == [
        "PO-2026-0042"
    ]
    assert xp(xml, f"{SETTLEMENT}/ram:PaymentReference/text()") == ["RF18539007547034"]
    assert xp(xml, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID/text()") == [
        "FR7630006000011234567890189"
    ]
    assert xp(xml, "//ram:DueDateDateTime/udt:DateTimeString/text()") == ["20261230"]


def test_exempt_line_carries_its_legal_basis() -> None:
    xml = to_cii_xml(scenarios()["exempt_line"])
    exempt = f"{SETTLEMENT}/ram:ApplicableTradeTax[ram:CategoryCode='E']"
    assert xp(xml, f"{exempt}/ram:ExemptionReason/text()") == [
        "Exonération de TVA, article 261-4-4° a du CGI"
    ]
    assert xp(xml, f"{exempt}/ram:CalculatedAmount/text()") == ["0.00"]
    assert xp(xml, f"{exempt}/ram:BasisAmount/text()") == ["1200.00"]


def test_reverse_charge_says_autoliquidation() -> None:
    inv = scenarios()["reverse_charge_eu"]
    xml = to_cii_xml(inv)
    ae = f"{SETTLEMENT}/ram:ApplicableTradeTax[ram:CategoryCode='AE']"
    assert xp(xml, f"{ae}/ram:ExemptionReason/text()") == ["Autoliquidation"]
    assert xp(xml, f"{ae}/ram:ExemptionReasonCode/text()") == ["VATEX-EU-AE"]
    assert xp(xml, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()") == [
        "DE136695976"
    ]
    assert inv.compute().tax_total == D("0.00")


def test_credit_note_references_the_invoice() -> None:
    xml = to_cii_xml(scenarios()["credit_note"])
    assert xp(xml, "//rsm:ExchangedDocument/ram:TypeCode/text()") == ["381"]
    ref = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert xp(xml, f"{ref}/ram:IssuerAssignedID/text()") == ["F2026-000123"]
    assert xp(xml, f"{ref}/ram:FormattedIssueDateTime/qdt:DateTimeString/text()") == ["20261031"]


def test_rounding_stress_rounds_per_line_then_once_per_rate() -> None:
    totals = scenarios()["rounding_stress"].compute()
    lines = scenarios()["rounding_stress"].lines
    # 3 × 33.335 = 100.005 → 100.01 per line (half up), twice; VAT 20 % once on 200.02
    assert [ln.net_amount for ln in lines[:2]] == [D("100.01"), D("100.01")]
    assert lines[2].net_amount == D("0.00")  # 0.3333 × 0.015 = 0.0049995
    s20 = next(b for b in totals.breakdown if b.rate == 20)
    assert (s20.basis, s20.tax) == (D("200.02"), D("40.00"))
    assert totals.line_total == sum((ln.net_amount for ln in lines), D(0))
    assert totals.tax_total == sum((b.tax for b in totals.breakdown), D(0))
    assert totals.grand_total == totals.tax_basis_total + totals.tax_total
    assert totals.due_payable == totals.grand_total


def test_prepaid_amount_reduces_due_payable() -> None:
    inv = invoice(line("1", "1", "1000"), prepaid_amount=D("300.00"))
    xml = to_cii_xml(inv)
    assert xp(xml, f"{SUMMATION}/ram:TotalPrepaidAmount/text()") == ["300.00"]
    assert xp(xml, f"{SUMMATION}/ram:DuePayableAmount/text()") == ["900.00"]


def test_missing_mentions_are_listed_not_guessed() -> None:
    no_siren = Party(name=BUYER.name, address=BUYER.address, vat_id=BUYER.vat_id)
    with pytest.raises(InvoiceDataError) as caught:
        invoice(
            line("1", "1", "100", category="E", rate="0"),
            line("1", "1", "100", rate="19"),
            buyer=no_siren,
            type_code="381",
            payment=PaymentTerms(due_date=dt.date(2026, 1, 1), iban=""),
        )
    text = "\n".join(caught.value.problems)
    for expected in (
        "unique",
        "BT-120",
        "BR-FR-16",
        "buyer's SIREN",
        "electronic address",
        "BR-FR-CO-05",
        "BR-FR-CO-07",
        "BR-61",
    ):
        assert expected in text, expected


def test_seller_vat_number_is_required() -> None:
    seller = Party(name=SELLER.name, address=SELLER.address, siren=SELLER.siren)
    with pytest.raises(InvoiceDataError, match="BT-31"):
        invoice(line("1", "1", "100"), seller=seller)
