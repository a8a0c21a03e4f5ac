"""The documents of an issued invoice or credit note: PDF, Factur-X, CII and UBL.

Every document is derived from one EN 16931 description (`einvoice_of`): the printed PDF
shows the lines, VAT breakdown and totals that `Invoice.compute` gives the XML, so what the
customer reads and what its software imports cannot disagree. The seller is read from the
company profile at generation time; callers producing many documents (the export command)
read the profile once and pass it in.

Printed documents are in French whatever the user's language: the template is French and
rendering happens under ``translation.override("fr")`` (credit reasons are model choices).

Throughput (``bench/bench_documents.py``): nearly all of a Factur-X document's time is
WeasyPrint's (HTML parsing, cascade, layout, drawing), so the template avoids what WeasyPrint
lays out slowly (flex and grid containers, whose items it lays out several times) and the
whitespace between tags, and what does not change between documents is built once per
process and thread (`_Renderer`): the font configuration, the parsed stylesheet, the
compiled Factur-X XSD.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import os
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from babel import Locale
from babel.numbers import format_currency, format_decimal
from django.template.loader import render_to_string
from django.utils import translation

from levier.billing.choices import CreditReason, DocumentKind, NatureOfOperations
from levier.billing.company import company_profile, legal_footer, legal_notes, seller_party
from levier.billing.einvoice_mapping import NotIssued, to_einvoice
from levier.billing.models import CompanyProfile, Invoice
from levier.customers.choices import TermsBasis
from levier.einvoice import model as en
from levier.einvoice.cii import to_cii_xml
from levier.einvoice.ubl import to_ubl_xml

if TYPE_CHECKING:
    from lxml import etree
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

__all__ = [
    "NotIssued",
    "cii_xml",
    "document_filename",
    "einvoice_of",
    "facturx_pdf",
    "invoice_html",
    "invoice_pdf",
    "ubl_xml",
]

TEMPLATE = "billing/pdf/invoice.html"
STYLESHEET = "billing/pdf/invoice.css"
LOCALE = "fr_FR"
_FRENCH = Locale.parse(LOCALE)
# Characters kept in a file name; anything else (a "/" in a custom series pattern) becomes "-".
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

NATURE_LABELS = {
    NatureOfOperations.SERVICES: "Prestations de services",
    NatureOfOperations.GOODS: "Livraison de biens",
    NatureOfOperations.MIXED: "Mixte : livraison de biens et prestations de services",
}
# What the date of CGI ann. II 242 nonies A 10° is called, by nature of operations.
SERVICE_DATE_LABELS = {
    NatureOfOperations.SERVICES: "Date de la prestation",
    NatureOfOperations.GOODS: "Date de livraison",
    NatureOfOperations.MIXED: "Date de livraison / prestation",
}
TERMS_LABELS = {TermsBasis.NET: "jours net", TermsBasis.END_OF_MONTH: "jours fin de mois"}
VAT_ON_DEBITS = "Option pour le paiement de la taxe d'après les débits"


# --- French formatting ---------------------------------------------------------------------


def money(value: Decimal) -> str:
    """« 1 234,50 € » (narrow no-break space between thousands, no-break space before €)."""
    return format_currency(value, "EUR", locale=LOCALE)


def unit_price(value: Decimal) -> str:
    """A unit price keeps up to 4 decimals (BT-146): « 33,335 € », « 850,00 € »."""
    return format_currency(
        value, "EUR", format="#,##0.00##\u00a0¤", locale=LOCALE, currency_digits=False
    )


def number(value: Decimal) -> str:
    """« 1,5 », « 12 », « 0,3333 »."""
    return format_decimal(value, format="#,##0.####", locale=LOCALE)


def percent(value: Decimal) -> str:
    """« 20 % », « 5,5 % », « 7,5 % »."""
    return f"{format_decimal(value, format='#,##0.##', locale=LOCALE)}\u00a0%"


def french_date(value: dt.date | None) -> str:
    """JJ/MM/AAAA."""
    return value.strftime("%d/%m/%Y") if value else ""


def _period(start: dt.date | None, end: dt.date | None) -> str:
    if not (start and end):
        return ""
    return f"du {french_date(start)} au {french_date(end)}"


def _address_lines(address: en.Address) -> list[str]:
    """Printed address: street lines, postcode and city, then the country in French."""
    lines = [address.line1, address.line2, address.line3]
    lines.append(f"{address.postcode} {address.city}".strip())
    lines.append(_FRENCH.territories.get(address.country_code, address.country_code))
    return [line for line in lines if line]


def _iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _exemption(line: en.InvoiceLine) -> str:
    """The legal basis printed under a zero-rated line (CGI ann. II 242 nonies A, 12°-13°)."""
    if line.vat_category in {"S", "Z"}:
        return ""
    default, _code = en.DEFAULT_EXEMPTIONS.get(line.vat_category, ("", ""))
    return line.exemption_reason or default


# --- the EN 16931 description and its XML --------------------------------------------------


def _profile(profile: CompanyProfile | None) -> CompanyProfile:
    return profile if profile is not None else company_profile()


def einvoice_of(invoice: Invoice, *, profile: CompanyProfile | None = None) -> en.Invoice:
    """The EN 16931 description of an issued document; `NotIssued` for a draft."""
    seller = _profile(profile)
    return to_einvoice(
        invoice,
        seller=seller_party(seller),
        legal_notes=legal_notes(seller),
        iban=seller.iban,
        bic=seller.bic,
    )


def cii_xml(invoice: Invoice, *, profile: CompanyProfile | None = None) -> bytes:
    """UN/CEFACT CII (Factur-X EN 16931), the XML embedded in the Factur-X PDF."""
    return to_cii_xml(einvoice_of(invoice, profile=profile))


def ubl_xml(invoice: Invoice, *, profile: CompanyProfile | None = None) -> bytes:
    """OASIS UBL 2.1 `Invoice` or `CreditNote`, for platforms that want UBL."""
    return to_ubl_xml(einvoice_of(invoice, profile=profile))


def document_filename(invoice: Invoice, ext: str) -> str:
    """« F2026-000123.pdf »: the number names the file, so exports never collide."""
    if not invoice.number:
        raise NotIssued(f"{invoice} is not issued")
    return f"{_UNSAFE_FILENAME.sub('-', invoice.number)}.{ext.lstrip('.')}"


# --- the printed document ------------------------------------------------------------------


@dataclass(frozen=True)
class PrintedLine:
    description: str
    period: str
    quantity: str
    unit: str
    unit_price: str
    discount: str
    vat_rate: str
    net: str
    exemption: str


@dataclass(frozen=True)
class PrintedVat:
    label: str
    basis: str
    tax: str
    exemption: str


def _printed_line(line: en.InvoiceLine) -> PrintedLine:
    return PrintedLine(
        description=line.name,
        period=_period(line.period_start, line.period_end),
        quantity=number(line.quantity),
        unit=en.UNIT_CODES.get(line.unit_code, line.unit_code),
        unit_price=unit_price(line.net_price),
        discount=percent(line.discount_percent) if line.discount_percent else "",
        vat_rate=percent(line.vat_rate),
        net=money(line.net_amount),
        exemption=_exemption(line),
    )


def _printed_vat(vat: en.VatBreakdown) -> PrintedVat:
    """« TVA 20 % », or « TVA 0 % » with the exemption or reverse-charge mention under it."""
    return PrintedVat(
        label=f"TVA {percent(vat.rate)}",
        basis=money(vat.basis),
        tax=money(vat.tax),
        exemption=vat.exemption_reason,
    )


def _logo(profile: CompanyProfile) -> str:
    """The logo as a data: URI: the PDF never fetches anything."""
    data = bytes(profile.logo or b"")
    if not data or profile.logo_content_type not in {"image/png", "image/jpeg"}:
        return ""
    return f"data:{profile.logo_content_type};base64,{base64.b64encode(data).decode('ascii')}"


def _service_period(document: en.Invoice) -> str:
    """The span the lines pay for, when they carry periods (BT-134/135 min and max)."""
    starts = [line.period_start for line in document.lines if line.period_start]
    ends = [line.period_end for line in document.lines if line.period_end]
    return _period(min(starts), max(ends)) if starts and ends else ""


def _context(invoice: Invoice, profile: CompanyProfile, document: en.Invoice) -> dict[str, Any]:
    totals = document.compute()
    is_credit = invoice.kind == DocumentKind.CREDIT_NOTE
    nature = NatureOfOperations(invoice.nature_of_operations)
    credited = invoice.credited_invoice if is_credit else None
    return {
        "invoice": invoice,
        "is_credit": is_credit,
        "title": "Avoir" if is_credit else "Facture",
        "number": invoice.number,
        "issue_date": french_date(invoice.issue_date),
        "due_date": french_date(invoice.due_date),
        "service_date_label": SERVICE_DATE_LABELS[nature],
        "service_date": french_date(document.delivery_date),
        "service_period": _service_period(document),
        "po_number": invoice.po_number,
        "nature": NATURE_LABELS[nature],
        "vat_on_debits": VAT_ON_DEBITS if invoice.vat_on_debits else "",
        "credited_number": credited.number if credited else "",
        "credited_date": french_date(credited.issue_date) if credited else "",
        "credit_reason": str(CreditReason(invoice.credit_reason).label)
        if invoice.credit_reason
        else "",
        "seller": {
            "name": profile.legal_name,
            "trading_name": profile.trading_name,
            "legal_form": profile.legal_form,
            "address": _address_lines(document.seller.address),
            "siren": profile.siren,
            "siret": profile.siret,
            "vat_number": profile.vat_number,
            "email": profile.email,
            "phone": profile.phone,
            "website": profile.website,
            "logo": _logo(profile),
        },
        "buyer": {
            "name": invoice.buyer_name,
            "address": _address_lines(document.buyer.address),
            "siren": invoice.buyer_siren,
            "vat_number": invoice.buyer_vat_number,
        },
        "delivery_address": _address_lines(document.delivery_address)
        if document.delivery_address
        else [],
        "lines": [_printed_line(line) for line in document.lines],
        "vat_rows": [_printed_vat(vat) for vat in totals.breakdown],
        "total_net": money(totals.tax_basis_total),
        "total_vat": money(totals.tax_total),
        "total_gross": money(totals.grand_total),
        "prepaid": money(totals.prepaid) if totals.prepaid else "",
        "due_payable": money(totals.due_payable),
        "terms": f"{invoice.payment_terms_days} "
        f"{TERMS_LABELS.get(TermsBasis(invoice.payment_terms_basis), '')}".strip(),
        "iban": _iban(document.payment.iban),
        "bic": document.payment.bic,
        "bank_name": profile.bank_name,
        "payment_reference": document.payment.payment_reference,
        "late_penalty": document.notes.late_penalty,
        "recovery_indemnity": document.notes.recovery_indemnity,
        "early_payment": document.notes.early_payment_discount,
        "legal_footer": legal_footer(profile),
    }


def _html(
    invoice: Invoice, profile: CompanyProfile, document: en.Invoice, *, inline_css: bool
) -> str:
    with translation.override("fr"):  # the context too: credit reasons are translated
        context = _context(invoice, profile, document)
        return render_to_string(TEMPLATE, {**context, "inline_css": inline_css})


def invoice_html(invoice: Invoice, *, profile: CompanyProfile | None = None) -> str:
    """The printable document as self-contained HTML (inline CSS, logo as a data: URI)."""
    seller = _profile(profile)
    return _html(invoice, seller, einvoice_of(invoice, profile=seller), inline_css=True)


# --- rendering: what every document of a process shares ------------------------------------


class _Renderer:
    """WeasyPrint's font configuration, the parsed stylesheet and the compiled Factur-X XSD.

    Each would otherwise be rebuilt for every document: a new `FontConfiguration` reads
    Fontconfig's whole font list and starts with cold Pango caches, the stylesheet would be
    parsed again from the ``<style>`` element, and ``facturx`` compiles its XSD on every
    call; together some 30 ms of a ~165 ms document. None of them keeps anything of a
    document: the fonts and glyphs a PDF embeds are collected per document, and
    ``@font-face`` (which would add fonts to the configuration) is not used.

    One per thread, as neither WeasyPrint (Pango) nor lxml says its objects may serve two
    threads at once, and one per process (a forked export worker builds its own). Fonts
    installed or a stylesheet edited after the first PDF are seen after a restart.
    """

    def __init__(self) -> None:
        from lxml import etree
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        from levier.einvoice.validation import XSD_EN16931

        self.pid = os.getpid()
        self.font_config: FontConfiguration = FontConfiguration()
        self.stylesheet: CSS = CSS(
            string=render_to_string(STYLESHEET), font_config=self.font_config
        )
        self.xsd: etree.XMLSchema = etree.XMLSchema(etree.parse(str(XSD_EN16931)))


_renderers = threading.local()


def _renderer() -> _Renderer:
    renderer: _Renderer | None = getattr(_renderers, "renderer", None)
    if renderer is None or renderer.pid != os.getpid():
        renderer = _renderers.renderer = _Renderer()
    return renderer


def html_to_pdf(html: str, **options: Any) -> bytes:
    """WeasyPrint's PDF of the printed document's HTML, given the stylesheet parsed once.

    ``html`` is the template rendered without its inline stylesheet (`_html` with
    ``inline_css=False``); ``options`` are WeasyPrint's (``pdf_variant``...).
    """
    from weasyprint import HTML  # heavy import (Pango, fonts): only where PDFs are made

    # Without libharfbuzz-subset, WeasyPrint subsets fonts with fontTools and sets the
    # "fontTools" logger to DEBUG meanwhile, to collect its warnings (which it re-logs as
    # its own). The records would also propagate to the root handlers: some hundred debug
    # lines per PDF in the server's log, and measurable time spent formatting them.
    logging.getLogger("fontTools").propagate = False

    renderer = _renderer()
    pdf = HTML(string=html).write_pdf(
        font_config=renderer.font_config, stylesheets=[renderer.stylesheet], **options
    )
    return bytes(pdf)


def _render(
    invoice: Invoice, profile: CompanyProfile, document: en.Invoice, **options: Any
) -> bytes:
    return html_to_pdf(_html(invoice, profile, document, inline_css=False), **options)


def invoice_pdf(invoice: Invoice, *, profile: CompanyProfile | None = None) -> bytes:
    """A plain PDF, for printing and for customers who are sent paper."""
    seller = _profile(profile)
    return _render(invoice, seller, einvoice_of(invoice, profile=seller))


class _Rewritten(io.BytesIO):
    """The PDF that ``facturx.generate_from_file`` reads, then rewrites with the XML attached.

    The library writes the new PDF into the file it read, from wherever reading left the
    position, and never truncates: ``generate_from_binary`` (which does exactly that with a
    temporary file) returns a file that starts with most of the rendered PDF, some 17 kB of
    dead bytes before the sealed PDF's own header (akretion/factur-x#24). Here the first
    write starts the file anew, in memory.
    """

    _rewriting = False

    def write(self, data: Any, /) -> int:
        if not self._rewriting:
            self._rewriting = True
            self.seek(0)
            self.truncate()
        return super().write(data)


def facturx_pdf(invoice: Invoice, *, profile: CompanyProfile | None = None) -> bytes:
    """The PDF/A-3b with its CII embedded as ``factur-x.xml`` (Factur-X EN 16931 profile).

    The PDF is rendered as PDF/A-3b by WeasyPrint (embedded fonts, sRGB output intent);
    the ``factur-x`` library then attaches the XML (``/AF``, ``/EmbeddedFiles``) and writes
    the XMP with the Factur-X extension schema. The XML is checked against the Factur-X XSD
    first, which costs little and refuses to seal a PDF around a broken XML (with the
    schema compiled once: the library would compile it again for every document).
    """
    seller = _profile(profile)
    document = einvoice_of(invoice, profile=seller)
    xml = to_cii_xml(document)
    check_xsd(xml)
    pdf = _render(invoice, seller, document, pdf_variant="pdf/a-3b")
    return seal(pdf, xml, facturx_metadata(invoice, seller))


def check_xsd(xml: bytes) -> None:
    """Raise `lxml.etree.DocumentInvalid` unless the CII is valid against the Factur-X XSD."""
    from lxml import etree

    _renderer().xsd.assertValid(etree.fromstring(xml))


def facturx_metadata(invoice: Invoice, seller: CompanyProfile) -> dict[str, str]:
    """The PDF's title, author, subject and keywords (document info and XMP), in French."""
    title = "Avoir" if invoice.kind == DocumentKind.CREDIT_NOTE else "Facture"
    return {
        "author": seller.legal_name,
        "keywords": "Factur-X, " + title,
        "title": f"{seller.legal_name} : {title} {invoice.number}",
        "subject": f"{title} {invoice.number} du {french_date(invoice.issue_date)} "
        f"émise par {seller.legal_name}",
    }


def seal(pdf: bytes, xml: bytes, metadata: dict[str, str]) -> bytes:
    """The PDF/A-3b `pdf` with `xml` attached as Factur-X EN 16931 (XML checked before)."""
    from facturx import generate_from_file

    sealed = _Rewritten(pdf)
    generate_from_file(
        sealed,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # done by check_xsd, with the schema compiled once
        lang="fr-FR",
        pdf_metadata=metadata,
    )
    return sealed.getvalue()
