"""The printed invoice and credit note, and the Factur-X PDF that carries the CII."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from decimal import Decimal

import pytest
from facturx import get_xml_from_pdf
from lxml import etree
from pypdf import PdfReader

from levier.accounts.models import User
from levier.billing import documents
from levier.billing.documents import (
    NotIssued,
    cii_xml,
    document_filename,
    facturx_pdf,
    invoice_html,
    invoice_pdf,
    ubl_xml,
)
from levier.billing.models import CompanyProfile, Invoice, InvoiceLine
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.catalog.tests.factories import ProductFactory
from levier.customers.tests.factories import CustomerFactory, DeliveryAddressFactory
from levier.einvoice.cii import NSMAP as CII
from levier.einvoice.ubl import NSMAP as UBL
from levier.einvoice.validation import errors, validate_cii, validate_ubl
from levier.lib.identifiers import creditor_reference
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 27)
NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
# A 1×1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000005000157d5b0f00000000049454e44ae426082"
)


def pdf_text(pdf: bytes) -> str:
    """All pages' text, every run of spaces (no-break ones included) as one space."""
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    """Each font of the first page, and whether its file is embedded (PDF/A requires it)."""
    fonts = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]["/Font"]
    embedded = {}
    for ref in fonts.values():
        font = ref.get_object()
        descendants = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
        embedded[str(font["/BaseFont"])] = all(
            any(key in d["/FontDescriptor"] for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            for d in descendants
        )
    return embedded


def flat(text: str) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def issued(actor: User, **kw: object) -> Invoice:
    return issue_invoice(actor=actor, invoice=draft_invoice(actor, **kw), issue_date=DAY)


def monthly_invoice(adv: User) -> Invoice:
    """Two rates, a discount, a PO, a delivery site and a billed period on the first line."""
    customer = CustomerFactory(name="Industries Dupont SA")
    DeliveryAddressFactory(customer=customer, line1="Site de Vénissieux", postcode="69200")
    draft = draft_invoice(
        adv,
        customer=customer,
        lines=[
            line("12", "850", discount="7.5", description="Développement Python"),
            line("1", "149.90", vat="10", unit="unit", description="Formation e-learning"),
        ],
        po_number="BC-2026-042",
    )
    InvoiceLine.objects.filter(invoice=draft, position=1).update(
        period_start=NOVEMBER[0], period_end=NOVEMBER[1]
    )
    return issue_invoice(actor=adv, invoice=draft, issue_date=DAY)


def test_the_pdf_of_an_issued_invoice_prints_every_legal_mention(adv: User) -> None:
    invoice = monthly_invoice(adv)
    profile = CompanyProfile.objects.get(pk=1)
    text = pdf_text(invoice_pdf(invoice))
    assert invoice.number
    mentions = [
        # title, number, dates (L441-9; CGI 242 nonies A 6°, 7°, 10°)
        f"FACTURE n° {invoice.number}",
        "Date d'émission 27/11/2026",
        "Date d'échéance 27/12/2026",
        "Période du 01/11/2026 au 30/11/2026",
        # seller: name, legal form, address, SIREN, VAT number
        "Levier Conseil SAS",
        "12 rue de la Paix",
        "SIREN : 404833048",
        "N° TVA intracommunautaire : FR83404833048",
        # buyer: name, address, SIREN, VAT number; delivery address (7° bis)
        "Industries Dupont SA",
        f"SIREN : {invoice.buyer_siren}",
        f"N° TVA intracommunautaire : {invoice.buyer_vat_number}",
        "ADRESSE DE LIVRAISON Site de Vénissieux 69200 Lyon",
        # PO number, nature of operations (8° bis)
        "Bon de commande n° BC-2026-042",
        "Nature des opérations Prestations de services",
        # lines: description, quantity, unit, unit price HT, discount, VAT rate, net HT
        "Développement Python",
        "12 jour 850,00 € 7,5 % 20 % 9 435,00 €",
        "Formation e-learning 1 unité 149,90 € 10 % 149,90 €",
        # VAT per rate and totals (11°)
        "TVA 10 % 149,90 € 14,99 €",
        "TVA 20 % 9 435,00 € 1 887,00 €",
        "Total HT 9 584,90 €",
        "Total TVA 1 901,99 €",
        "Total TTC 11 486,89 €",
        # payment
        "IBAN FR76 3000 6000 0112 3456 7890 189",
        "BIC AGRIFRPP",
        f"Référence à rappeler {creditor_reference(invoice.number or '')}",
        "Conditions 30 jours net",
        # L441-9 and D441-5
        flat(profile.late_penalty_text),
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 €",
        "Pas d'escompte pour paiement anticipé.",
        # R123-237 C. com.
        "Levier Conseil SAS au capital de 50 000 € – RCS Paris 404833048",
    ]
    missing = [m for m in mentions if m not in text]
    assert missing == [], text
    assert invoice.total_gross == Decimal("11486.89")  # the stored total is the printed one
    assert "Option pour le paiement de la taxe" not in text


def test_the_facturx_pdf_is_pdfa3_and_embeds_a_valid_cii(adv: User) -> None:
    invoice = monthly_invoice(adv)
    pdf = facturx_pdf(invoice)
    name, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    assert xml == cii_xml(invoice)
    assert errors(validate_cii(xml)) == []
    reader = PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part(>|=\")3", xmp), xmp
    assert re.search(r"pdfaid:conformance(>|=\")B", xmp), xmp
    assert "EN 16931" in xmp
    assert reader.trailer["/Root"]["/OutputIntents"]  # sRGB, required by PDF/A
    assert f"FACTURE n° {invoice.number}" in pdf_text(pdf)
    fonts = embedded_fonts(pdf)
    assert fonts and all(fonts.values()), fonts


def test_the_facturx_file_is_one_pdf_not_the_rendered_one_written_over(adv: User) -> None:
    # facturx.generate_from_binary writes the sealed PDF over the one it read without
    # truncating it: the file began with most of the rendered PDF (akretion/factur-x#24)
    pdf = facturx_pdf(issued(adv))
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.count(b"%PDF-") == 1
    assert pdf.count(b"%%EOF") == 1
    assert pdf.rstrip().endswith(b"%%EOF")


def test_a_cii_the_xsd_refuses_is_never_sealed(adv: User, monkeypatch: pytest.MonkeyPatch) -> None:
    invoice = issued(adv)
    cii = etree.fromstring(cii_xml(invoice))
    (type_code,) = cii.xpath("rsm:ExchangedDocument/ram:TypeCode", namespaces=CII)
    type_code.getparent().remove(type_code)  # BT-3, required by the schema
    broken = etree.tostring(cii)
    monkeypatch.setattr(documents, "to_cii_xml", lambda document: broken)
    with pytest.raises(etree.DocumentInvalid):
        facturx_pdf(invoice)


def test_documents_rendered_in_a_row_share_the_cached_renderer_and_stay_distinct(
    adv: User,
) -> None:
    """The font configuration, stylesheet and XSD are built once per thread and keep
    nothing of a document: the second of two PDFs in a row is its own invoice's."""
    small = issued(adv, lines=[line("1", "100", description="Audit de sécurité")])
    large = issued(adv, lines=[line("2", "250", description="Recette fonctionnelle")])
    renderer = documents._renderer()
    first, second, plain = facturx_pdf(small), facturx_pdf(large), invoice_pdf(small)
    assert documents._renderer() is renderer

    assert get_xml_from_pdf(first, check_xsd=False)[1] == cii_xml(small)
    assert get_xml_from_pdf(second, check_xsd=False)[1] == cii_xml(large)
    texts = {pdf: pdf_text(pdf) for pdf in (first, second, plain)}
    for pdf, invoice in ((first, small), (second, large), (plain, small)):
        assert f"FACTURE n° {invoice.number}" in texts[pdf]
    assert "Audit de sécurité 1 jour 100,00 € 20 % 100,00 €" in texts[first]
    assert "Recette" not in texts[first]
    assert "Recette fonctionnelle 2 jour 250,00 € 20 % 500,00 €" in texts[second]
    assert "Audit" not in texts[second]
    assert "Total TTC 600,00 €" in texts[second]
    assert texts[plain] == texts[first]
    # the cached stylesheet prints what the self-contained HTML's inline one prints
    from weasyprint import HTML

    assert pdf_text(HTML(string=invoice_html(small)).write_pdf()) == texts[plain]
    for pdf in (first, second, plain):
        assert all(embedded_fonts(pdf).values())

    # another thread builds its own (WeasyPrint's font configuration is not shared)
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(documents._renderer()))
    thread.start()
    thread.join()
    assert others and others[0] is not renderer


def test_the_line_period_and_the_delivery_site_reach_the_xml(adv: User) -> None:
    invoice = monthly_invoice(adv)
    cii = etree.fromstring(cii_xml(invoice))
    period = cii.xpath(
        "//ram:IncludedSupplyChainTradeLineItem[1]//ram:BillingSpecifiedPeriod"
        "//udt:DateTimeString/text()",
        namespaces=CII,
    )
    assert period == ["20261101", "20261130"]
    assert cii.xpath("//ram:ShipToTradeParty//ram:LineOne/text()", namespaces=CII) == [
        "Site de Vénissieux"
    ]
    ubl = ubl_xml(invoice)
    assert errors(validate_ubl(ubl)) == []
    dates = etree.fromstring(ubl).xpath(
        "//cac:InvoiceLine[1]/cac:InvoicePeriod/cbc:*/text()", namespaces=UBL
    )
    assert dates == ["2026-11-01", "2026-11-30"]


def test_without_a_separate_delivery_site_no_delivery_address_is_printed(adv: User) -> None:
    invoice = issued(adv)
    assert "Adresse de livraison" not in invoice_html(invoice)
    assert b"ShipToTradeParty" not in cii_xml(invoice)


def test_a_credit_note_says_avoir_and_references_its_invoice(adv: User) -> None:
    invoice = issued(adv)
    note = issue_invoice(
        actor=adv,
        invoice=create_credit_note(
            actor=adv, invoice=invoice, reason="price_error", lines=[line("1", "100")]
        ),
        issue_date=DAY + dt.timedelta(days=3),
    )
    text = pdf_text(invoice_pdf(note))
    assert f"AVOIR n° {note.number}" in text
    assert f"Avoir sur la facture n° {invoice.number} du 27/11/2026" in text
    assert "Motif : Erreur de prix ou de quantité" in text
    assert "Total TTC 120,00 €" in text
    assert "Règlement" not in text  # nothing to pay on a credit note
    # the date of the service it corrects is the invoice's, not the day the note was drafted
    assert "Date de la prestation 02/11/2026" in text
    xml = get_xml_from_pdf(facturx_pdf(note), check_xsd=False)[1]
    assert errors(validate_cii(xml)) == []
    assert etree.fromstring(ubl_xml(note)).tag.endswith("}CreditNote")


def test_a_draft_has_no_document(adv: User) -> None:
    draft = draft_invoice(adv)
    for make in (invoice_html, invoice_pdf, facturx_pdf, cii_xml, ubl_xml):
        with pytest.raises(NotIssued):
            make(draft)
    with pytest.raises(NotIssued):
        document_filename(draft, "pdf")


def test_the_vat_on_debits_mention_is_printed_only_when_opted_for(adv: User) -> None:
    mention = "Option pour le paiement de la taxe d'après les débits"
    assert mention in pdf_text(invoice_pdf(issued(adv, vat_on_debits=True)))
    assert "débits" not in pdf_text(invoice_pdf(issued(adv)))


def test_exemption_and_reverse_charge_lines_print_their_legal_basis(adv: User) -> None:
    exempt = ProductFactory(
        vat_rate=Decimal("0"),
        vat_exemption_mention="Exonération de TVA, article 261-4-4° a du CGI",
    )
    invoice = issued(
        adv,
        lines=[
            line("10", "600"),
            line("1", "1200", vat="0", product_id=exempt.pk, description="Formation continue"),
        ],
    )
    text = pdf_text(invoice_pdf(invoice))
    assert "Formation continue Exonération de TVA, article 261-4-4° a du CGI" in text
    # its own row in the VAT breakdown, with the mention
    assert "TVA 0 % Exonération de TVA, article 261-4-4° a du CGI 1 200,00 € 0,00 €" in text
    assert errors(validate_cii(cii_xml(invoice))) == []

    subcontracted = ProductFactory(
        vat_rate=Decimal("0"), vat_exemption_mention="Autoliquidation (CGI art. 283-2 nonies)"
    )
    reverse = issued(adv, lines=[line("5", "400", vat="0", product_id=subcontracted.pk)])
    text = pdf_text(invoice_pdf(reverse))
    assert "Autoliquidation (CGI art. 283-2 nonies)" in text
    assert "Total TVA 0,00 €" in text
    assert errors(validate_cii(cii_xml(reverse))) == []


def test_amounts_and_dates_are_printed_the_french_way() -> None:
    assert documents.money(Decimal("1234.5")) == "1\u202f234,50\u00a0€"
    assert documents.money(Decimal("-0.5")) == "-0,50\u00a0€"
    assert documents.unit_price(Decimal("33.3350")) == "33,335\u00a0€"
    assert documents.unit_price(Decimal("850.0000")) == "850,00\u00a0€"
    assert documents.number(Decimal("1.500")) == "1,5"
    assert documents.percent(Decimal("5.50")) == "5,5\u00a0%"
    assert documents.french_date(dt.date(2026, 1, 5)) == "05/01/2026"


def test_the_html_uses_french_separators_and_no_external_asset(adv: User) -> None:
    CompanyProfile.objects.filter(pk=1).update(logo=PNG, logo_content_type="image/png")
    html = invoice_html(issued(adv, lines=[line("1", "1234.5")]))
    assert "1\u202f234,50\u00a0€" in html
    assert 'src="data:image/png;base64,' in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html
    assert "<style>" in html and "@page" in html  # self-contained: the stylesheet inline


def test_the_logo_is_embedded_in_the_pdf(adv: User) -> None:
    invoice = issued(adv)
    without = invoice_pdf(invoice)
    CompanyProfile.objects.filter(pk=1).update(logo=PNG, logo_content_type="image/png")
    with_logo = invoice_pdf(invoice)
    page = PdfReader(io.BytesIO(with_logo)).pages[0]
    assert list(page.images), "no image on the page"
    assert not list(PdfReader(io.BytesIO(without)).pages[0].images)


def test_documents_are_printed_in_french_whatever_the_user_language(adv: User) -> None:
    from django.utils import translation

    invoice = issued(adv)
    note = issue_invoice(
        actor=adv,
        invoice=create_credit_note(actor=adv, invoice=invoice, reason="commercial_gesture"),
        issue_date=DAY,
    )
    with translation.override("en"):
        html = invoice_html(note)
    assert "Motif : Geste commercial" in html
    assert "jour" in html


def test_file_names_are_the_document_number(adv: User) -> None:
    invoice = issued(adv)
    assert document_filename(invoice, "pdf") == f"{invoice.number}.pdf"
    assert re.fullmatch(r"F\d{4}-\d{6}\.xml", document_filename(invoice, ".xml"))
    invoice.number = "F/2026/7"  # a custom series pattern with slashes
    assert document_filename(invoice, "pdf") == "F-2026-7.pdf"
