"""The validation harness: Factur-X XSD + EN 16931 and BR-FR schematrons run offline with Saxon.

Our own documents must pass every layer for every scenario; the deliberately broken files
of ../shared/samples/facturx/broken/ must be rejected; the official EN 16931 samples that
are valid in the Factur-X EN16931 profile must be accepted.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from levier.einvoice.cii import NSMAP, build_cii, to_cii_xml
from levier.einvoice.model import InvoiceLine
from levier.einvoice.tests import SAMPLES, invoice, line, scenarios
from levier.einvoice.validation import Problem, errors, validate_cii

FACTURX = SAMPLES / "facturx"

#: Samples valid in the Factur-X EN16931 profile (XSD + EN 16931 + Factur-X profile rules).
VALID_SAMPLES = [
    "akretion/factur-x-en16931.xml",
    "cii-cen-examples/CII_business_example_01.xml",
    *(f"cii-cen-examples/CII_example{n}.xml" for n in (1, 2, 3, 4, 6, 7, 8, 9)),
    "ferd-zugferd-samples/zugferd_2p1_EN16931_1_Teilrechnung.xml",
    "ferd-zugferd-samples/zugferd_2p1_EN16931_AbweichenderZahlungsempf.xml",
    "ferd-zugferd-samples/zugferd_2p1_EN16931_Einfach.xml",
    "ferd-zugferd-samples/zugferd_2p1_EN16931_Einfach_negativePaymentDue.xml",
    "ferd-zugferd-samples/zugferd_2p1_EN16931_Gutschrift.xml",
    "ferd-zugferd-samples/zugferd_2p1_EN16931_Innergemeinschaftliche_Lieferungen.xml",
    "ferd-zugferd-samples/zugferd_2p1_EN16931_Rabatte.xml",
    "ferd-zugferd-samples/zugferd_2p3_EN16931_Rechnungskorrektur.xml",
    "mustang/ZUGFeRD-invoice_rabatte_3_abschlag_duepayableamount.xml",
    "mustang/validV2.xml",
    "mustang/validV2FR.xml",
]

#: Samples rejected on purpose, with the rule that proves why (see the report).
REJECTED_SAMPLES = {
    # other Factur-X profiles: the EN16931 profile refuses their guideline ID (BT-24)
    "akretion/factur-x-basic.xml": "FX-SCH-A-000556",
    "akretion/factur-x-minimum.xml": "BR-16",
    "ferd-zugferd-samples/zugferd_2p1_MINIMUM_Rechnung.xml": "BR-16",
    "ferd-zugferd-samples/zugferd_2p1_EXTENDED_Fremdwaehrung.xml": "FX-SCH-A-000556",
    # EN 16931 content but the ZUGFeRD 1 "comfort" guideline ID, not urn:cen.eu:en16931:2017
    "cii-cen-examples/CII_business_example_02.xml": "FX-SCH-A-000556",
    "cii-cen-examples/CII-BR-CO-10-RoundingIssue.xml": "FX-SCH-A-000556",
    # AdditionalReferencedDocument type codes the Factur-X EN16931 profile does not allow
    "cii-cen-examples/CII_example5.xml": "FX-SCH",
    # a VAT exemption reason on a standard-rated breakdown
    "mustang/roundingDifferenceIsInTolerance.xml": "BR-S-10",
    # no seller identifier at all (BT-29, BT-30 and BT-31 missing)
    "mustang/valid_with_VAT_O.xml": "BR-CO-26",
    "mustang/invalidV2.xml": "BR-CO-10",
}


def _need_samples() -> None:
    if not FACTURX.is_dir():
        pytest.skip(f"../shared/samples not found: {SAMPLES} does not exist")


def _describe(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


# --- our own documents -------------------------------------------------------------


@pytest.mark.parametrize("name", list(scenarios()))
def test_every_scenario_passes_all_layers(name: str) -> None:
    xml = to_cii_xml(scenarios()[name])
    started = time.perf_counter()
    problems = validate_cii(xml)
    elapsed = time.perf_counter() - started
    assert problems == [], _describe(problems)  # no error and no warning
    assert elapsed < 5, f"validation took {elapsed:.2f}s"


def test_without_a_delivery_date_only_a_warning_is_raised() -> None:
    xml = to_cii_xml(invoice(line("1", "1", "100"), delivery_date=None))
    problems = validate_cii(xml)
    assert errors(problems) == []
    assert {p.rule for p in problems} == {"PEPPOL-EN16931-R008"}  # empty delivery block


def _mutate(xml: bytes, path: str, action: str, value: str = "") -> bytes:
    root = etree.fromstring(xml)
    for node in root.xpath(path, namespaces=NSMAP):
        if action == "remove":
            node.getparent().remove(node)
        elif action == "text":
            node.text = value
        elif action == "drop-attr":
            node.attrib.pop(value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


SUMMATION = (
    "//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
)


@pytest.mark.parametrize(
    ("path", "action", "value", "layer", "rule"),
    [
        (f"{SUMMATION}/ram:GrandTotalAmount", "text", "1.00", "en16931", "BR-CO-15"),
        (f"{SUMMATION}/ram:TaxTotalAmount", "drop-attr", "currencyID", "en16931", "BR-CO-15"),
        (f"{SUMMATION}/ram:LineTotalAmount", "text", "0.01", "en16931", "BR-CO-10"),
        ("//ram:IncludedNote[ram:SubjectCode='PMT']", "remove", "", "fr", "BR-FR-05_BT-22_PMT"),
        (
            "//ram:SellerTradeParty/ram:URIUniversalCommunication",
            "remove",
            "",
            "fr",
            "BR-FR-13_BT-34",
        ),
        ("//ram:SpecifiedLegalOrganization/ram:ID", "text", "12345", "fr", "BR-FR-10_BT-30"),
        (
            "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID",
            "text",
            "X9",
            "fr",
            "BR-FR-08_BT-23",
        ),
        ("//ram:BilledQuantity", "text", "99", "arithmetic", "LEVIER-LINE-01"),
        ("//rsm:ExchangedDocument/ram:TypeCode", "remove", "", "xsd", "SCHEMAV_ELEMENT_CONTENT"),
    ],
)
def test_harness_catches_a_tampered_document(
    path: str, action: str, value: str, layer: str, rule: str
) -> None:
    xml = _mutate(to_cii_xml(scenarios()["two_rates_with_discount"]), path, action, value)
    found = {(p.layer, p.rule) for p in errors(validate_cii(xml))}
    assert (layer, rule) in found, found


def test_malformed_xml_is_one_problem() -> None:
    problems = validate_cii(b"<rsm:CrossIndustryInvoice")
    assert [p.layer for p in problems] == ["xml"]


# --- property: random lines always give a valid document ----------------------------

RATES = [Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1")]
random_line = st.builds(
    lambda q, p, d, r, u: (q, p, d, r, u),
    st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=4),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=6),
    st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=100, places=2)),
    st.sampled_from(RATES),
    st.sampled_from(["DAY", "HUR", "MON", "ANN", "C62"]),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(random_line, min_size=1, max_size=8))
def test_random_lines_always_pass_the_business_rules(
    raw: list[tuple[Decimal, Decimal, Decimal, Decimal, str]],
) -> None:
    lines = tuple(
        InvoiceLine(
            id=str(n),
            name=f"Ligne {n}",
            quantity=q,
            unit_code=u,
            net_price=p,
            vat_category="S",
            vat_rate=r,
            discount_percent=d,
        )
        for n, (q, p, d, r, u) in enumerate(raw, start=1)
    )
    inv = invoice(*lines)
    problems = validate_cii(etree.tostring(build_cii(inv)))
    assert not [p for p in problems if p.rule.startswith("BR-CO")], _describe(problems)
    assert errors(problems) == [], _describe(problems)


# --- sample files --------------------------------------------------------------------


def test_broken_samples_are_rejected() -> None:
    _need_samples()
    broken = sorted((FACTURX / "broken").glob("*.xml"))
    assert broken, "no file in facturx/broken/"
    expected = {
        "EN16931_Einfach__no-seller-vat.xml": {"BR-S-02"},
        "EN16931_Einfach__wrong-grand-total.xml": {"BR-CO-15", "BR-CO-16"},
        "akretion-factur-x-en16931__wrong-tax-basis.xml": {"BR-CO-13", "BR-CO-15"},
    }
    for path in broken:
        rules = {p.rule for p in errors(validate_cii(path.read_bytes(), french_rules=False))}
        assert rules, f"{path.name} was accepted"
        assert expected.get(path.name, set()) <= rules, (path.name, rules)


@pytest.mark.parametrize("relative", VALID_SAMPLES)
def test_valid_en16931_samples_are_accepted(relative: str) -> None:
    _need_samples()
    data = (FACTURX / relative).read_bytes()
    # official layers only: foreign samples have no SIREN/PMD notes, and several official
    # examples have line totals that are not quantity × price (see the arithmetic test)
    problems = errors(validate_cii(data, french_rules=False, line_arithmetic=False))
    assert problems == [], _describe(problems)


def test_the_french_sample_also_passes_the_reform_rules() -> None:
    _need_samples()
    data = (FACTURX / "akretion/factur-x-en16931.xml").read_bytes()
    assert errors(validate_cii(data)) == []


@pytest.mark.parametrize(("relative", "rule"), sorted(REJECTED_SAMPLES.items()))
def test_samples_outside_the_en16931_profile_are_rejected(relative: str, rule: str) -> None:
    _need_samples()
    data = (FACTURX / relative).read_bytes()
    rules = {p.rule for p in errors(validate_cii(data, french_rules=False))}
    assert rule in rules, rules


def test_line_arithmetic_catches_what_en16931_does_not() -> None:
    """Mustang's invalidArithmetics.xml is validV2.xml with quantity 1 → 2 on one line:
    no EN 16931 rule relates BT-131 to BT-129 × BT-146, only our arithmetic layer does."""
    _need_samples()
    data = (FACTURX / "mustang/invalidArithmetics.xml").read_bytes()
    official = errors(validate_cii(data, french_rules=False, line_arithmetic=False))
    assert official == []
    ours = errors(validate_cii(data, french_rules=False))
    assert [p.rule for p in ours] == ["LEVIER-LINE-01"]


def test_xslt_is_compiled_once_per_process() -> None:
    xml = to_cii_xml(scenarios()["exempt_line"])
    validate_cii(xml)
    started = time.perf_counter()
    for _ in range(5):
        validate_cii(xml)
    per_document = (time.perf_counter() - started) / 5
    assert per_document < 1.0, per_document
