"""The UBL 2.1 serialiser: every scenario passes the UBL schema, the EN 16931 and the French
rules; it says what the CII says; the harness rejects a UBL document that was tampered with."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from levier.einvoice.cii import NSMAP as CII_NS
from levier.einvoice.cii import to_cii_xml
from levier.einvoice.tests import SAMPLES, scenarios
from levier.einvoice.ubl import NSMAP, to_ubl_xml
from levier.einvoice.validation import Problem, errors, validate_ubl

NS = {k: v for k, v in NSMAP.items() if k}


def xp(xml: bytes, path: str, namespaces: dict[str, str] = NS) -> list[str]:
    return [str(v) for v in etree.fromstring(xml).xpath(path, namespaces=namespaces)]


def _describe(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("name", list(scenarios()))
def test_every_scenario_is_valid_ubl_with_the_french_rules(name: str) -> None:
    problems = validate_ubl(to_ubl_xml(scenarios()[name]))
    assert problems == [], _describe(problems)  # no error and no warning


@pytest.mark.parametrize("name", list(scenarios()))
def test_ubl_and_cii_carry_the_same_invoice(name: str) -> None:
    inv = scenarios()[name]
    ubl, cii = to_ubl_xml(inv), to_cii_xml(inv)

    def in_cii(path: str) -> list[str]:
        return xp(cii, path, CII_NS)

    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    pairs = {
        "number": ("/*/cbc:ID/text()", "//rsm:ExchangedDocument/ram:ID/text()"),
        "grand total": (
            "//cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount/text()",
            f"{summation}/ram:GrandTotalAmount/text()",
        ),
        "tax total": (
            "/*/cac:TaxTotal/cbc:TaxAmount/text()",
            f"{summation}/ram:TaxTotalAmount/text()",
        ),
        "due": (
            "//cac:LegalMonetaryTotal/cbc:PayableAmount/text()",
            f"{summation}/ram:DuePayableAmount/text()",
        ),
        "breakdown bases": (
            "//cac:TaxSubtotal/cbc:TaxableAmount/text()",
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount/text()",
        ),
        "breakdown categories": (
            "//cac:TaxSubtotal/cac:TaxCategory/cbc:ID/text()",
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode/text()",
        ),
        "exemption reasons": (
            "//cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason/text()",
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:ExemptionReason/text()",
        ),
        "line amounts": (
            "//cbc:LineExtensionAmount[parent::cac:InvoiceLine or parent::cac:CreditNoteLine]"
            "/text()",
            "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount/text()",
        ),
        "seller SIREN": (
            "//cac:AccountingSupplierParty//cac:PartyLegalEntity/cbc:CompanyID/text()",
            "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID/text()",
        ),
        "buyer VAT": (
            "//cac:AccountingCustomerParty//cac:PartyTaxScheme/cbc:CompanyID/text()",
            "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()",
        ),
        "preceding invoice": (
            "//cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()",
            "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()",
        ),
        "nature of operations": (
            "/*/cbc:ProfileID/text()",
            "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID/text()",
        ),
    }
    for what, (ubl_path, cii_path) in pairs.items():
        assert xp(ubl, ubl_path) == in_cii(cii_path), what
    notes = [n.split("#")[1] for n in xp(ubl, "/*/cbc:Note/text()")]
    assert notes == in_cii("//ram:IncludedNote/ram:SubjectCode/text()")


def test_a_credit_note_is_a_ubl_credit_note_that_references_the_invoice() -> None:
    xml = to_ubl_xml(scenarios()["credit_note"])
    root = etree.fromstring(xml)
    assert root.tag == "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"
    assert xp(xml, "/*/cbc:CreditNoteTypeCode/text()") == ["381"]
    assert xp(xml, "//cac:CreditNoteLine/cbc:CreditedQuantity/@unitCode") == ["DAY"]
    assert xp(xml, "//cac:BillingReference//cbc:IssueDate/text()") == ["2026-10-31"]
    # a UBL credit note has no DueDate: BT-9 goes with the payment means
    assert xp(xml, "/*/cbc:DueDate") == []
    assert xp(xml, "//cac:PaymentMeans/cbc:PaymentDueDate/text()") == ["2026-12-30"]


def test_the_line_discount_is_a_line_allowance_in_percent() -> None:
    xml = to_ubl_xml(scenarios()["two_rates_with_discount"])
    allowance = "//cac:InvoiceLine[cbc:ID='1']/cac:AllowanceCharge"
    assert xp(xml, f"{allowance}/cbc:MultiplierFactorNumeric/text()") == ["7.50"]
    assert xp(xml, f"{allowance}/cbc:BaseAmount/text()") == ["10200.00"]
    assert xp(xml, f"{allowance}/cbc:Amount/text()") == ["765.00"]
    assert xp(xml, "//cac:InvoiceLine[cbc:ID='1']/cbc:LineExtensionAmount/text()") == ["9435.00"]
    amounts = "//*[substring(local-name(), string-length(local-name()) - 5) = 'Amount']"
    assert xp(xml, f"{amounts}[not(@currencyID)]") == []  # the UBL schema requires it
    assert set(xp(xml, f"{amounts}/@currencyID")) == {"EUR"}


def test_reverse_charge_says_autoliquidation_with_its_vatex_code() -> None:
    xml = to_ubl_xml(scenarios()["reverse_charge_eu"])
    category = "//cac:TaxSubtotal/cac:TaxCategory"
    assert xp(xml, f"{category}/cbc:ID/text()") == ["AE"]
    assert xp(xml, f"{category}/cbc:TaxExemptionReason/text()") == ["Autoliquidation"]
    assert xp(xml, f"{category}/cbc:TaxExemptionReasonCode/text()") == ["VATEX-EU-AE"]
    assert xp(xml, "/*/cac:TaxTotal/cbc:TaxAmount/text()") == ["0.00"]


def _mutate(xml: bytes, path: str, action: str, value: str = "") -> bytes:
    root = etree.fromstring(xml)
    nodes = root.xpath(path, namespaces=NS)
    assert nodes, f"nothing at {path}"
    for node in nodes:
        if action == "remove":
            node.getparent().remove(node)
        elif action == "text":
            node.text = value
        elif action == "drop-attr":
            node.attrib.pop(value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


TOTAL = "//cac:LegalMonetaryTotal"


@pytest.mark.parametrize(
    ("path", "action", "value", "layer", "rule"),
    [
        (f"{TOTAL}/cbc:TaxInclusiveAmount", "text", "1.00", "en16931", "BR-CO-15"),
        (f"{TOTAL}/cbc:PayableAmount", "text", "1.00", "en16931", "BR-CO-16"),
        (f"{TOTAL}/cbc:LineExtensionAmount", "text", "0.01", "en16931", "BR-CO-10"),
        ("/*/cac:TaxTotal/cbc:TaxAmount", "text", "0.00", "en16931", "BR-CO-14"),
        ("/*/cbc:Note[starts-with(., '#PMT#')]", "remove", "", "fr", "BR-FR-05_BT-22-1"),
        ("//cac:AccountingSupplierParty//cbc:EndpointID", "remove", "", "fr", "BR-FR-13_BT-34"),
        ("/*/cbc:ProfileID", "text", "X9", "fr", "BR-FR-08_BT-23"),
        ("//cac:InvoiceLine[1]/cbc:InvoicedQuantity", "text", "99", "arithmetic", "LEVIER-LINE-01"),
        (
            f"{TOTAL}/cbc:PayableAmount",
            "drop-attr",
            "currencyID",
            "xsd",
            "SCHEMAV_CVC_COMPLEX_TYPE_4",
        ),
        ("/*/cbc:InvoiceTypeCode", "remove", "", "en16931", "BR-04"),
        ("/*/cbc:IssueDate", "text", "30/11/2026", "xsd", "SCHEMAV_CVC_DATATYPE_VALID_1_2_1"),
        # the BR-FR stylesheet aborts on that date: reported as an error, not raised
        ("/*/cbc:IssueDate", "text", "30/11/2026", "fr", "XSLT-ABORTED"),
    ],
)
def test_harness_rejects_a_tampered_ubl(
    path: str, action: str, value: str, layer: str, rule: str
) -> None:
    xml = _mutate(to_ubl_xml(scenarios()["two_rates_with_discount"]), path, action, value)
    found = {(p.layer, p.rule) for p in errors(validate_ubl(xml))}
    assert (layer, rule) in found, found


def test_a_wrong_total_in_a_credit_note_is_rejected() -> None:
    xml = _mutate(to_ubl_xml(scenarios()["credit_note"]), f"{TOTAL}/cbc:PayableAmount", "text", "9")
    assert "BR-CO-16" in {p.rule for p in errors(validate_ubl(xml))}


def test_a_cii_document_is_not_taken_for_ubl() -> None:
    problems = validate_ubl(to_cii_xml(scenarios()["exempt_line"]))
    assert [(p.layer, p.rule) for p in problems] == [("xsd", "UBL-ROOT")]


def test_malformed_xml_is_one_problem() -> None:
    assert [p.layer for p in validate_ubl(b"<Invoice")] == ["xml"]


def test_the_reform_sample_in_ubl_is_accepted() -> None:
    """akretion's UBL sample of the French reform (extended CTC-FR, built by others)."""
    sample = SAMPLES / "facturx" / "akretion" / "ubl-21-extended-ctc-fr.xml"
    if not sample.is_file():
        pytest.skip(f"../shared/samples not found: {sample} does not exist")
    problems = errors(validate_ubl(sample.read_bytes()))
    assert problems == [], _describe(problems)


def test_prices_keep_their_precision_and_amounts_two_decimals() -> None:
    xml = to_ubl_xml(scenarios()["rounding_stress"])
    assert "33.335" in xp(xml, "//cac:Price/cbc:PriceAmount/text()")
    amounts = xp(xml, "//cbc:LineExtensionAmount/text()")
    assert all(len(a.partition(".")[2]) == 2 for a in amounts), amounts
    assert sum(Decimal(a) for a in amounts[1:]) == Decimal(amounts[0])  # BT-106 = Σ BT-131
