"""From an issued Levier invoice or credit note to the EN 16931 model of `levier.einvoice`.

Only frozen fields are read (the buyer as it was at issue, the stored lines and totals), so
the XML of an invoice is the same whenever it is generated. Who the seller is (legal
identity, bank account, penalty wording) is passed in: `levier.billing.documents` reads it
from the company profile.

Callers that map many documents should fetch them with ``select_related("credited_invoice")``
and ``prefetch_related("lines")``: this function then runs no query.
"""

from __future__ import annotations

from levier.billing.choices import DocumentKind, InvoiceStatus, NatureOfOperations
from levier.billing.models import Invoice
from levier.einvoice import model as en
from levier.lib.identifiers import creditor_reference

# UN/ECE Recommendation 20 unit codes for Levier's units.
UNIT_CODES = {
    "hour": "HUR",
    "day": "DAY",
    "month": "MON",
    "year": "ANN",
    "unit": "C62",
    "flat": "LS",
}
# BT-23 business process of the French reform: services, goods, mixed.
BUSINESS_PROCESS = {
    NatureOfOperations.SERVICES: "S1",
    NatureOfOperations.GOODS: "B1",
    NatureOfOperations.MIXED: "M1",
}


class NotIssued(ValueError):
    """Only an issued document (numbered, dated, frozen) has an e-invoice."""


def _frozen_address(text: str, default_country: str = "FR") -> en.Address:
    """An address frozen at issue: line1, [line2], "postcode city", [country]."""
    parts = [p for p in text.splitlines() if p.strip()]
    country = parts.pop() if parts and len(parts[-1].strip()) == 2 else default_country
    postcode, _, city = (parts.pop() if parts else "").partition(" ")
    return en.Address(
        line1=parts[0] if parts else "",
        line2=" ".join(parts[1:]),
        postcode=postcode,
        city=city,
        country_code=country.strip(),
    )


def _category(rate_is_zero: bool, mention: str, buyer_country: str) -> tuple[en.VatCategory, str]:
    if not rate_is_zero:
        return "S", ""
    if "autoliquidation" in mention.lower() or buyer_country != "FR":
        return "AE", mention or "Autoliquidation"
    return "E", mention


def to_einvoice(
    invoice: Invoice,
    *,
    seller: en.Party,
    legal_notes: en.LegalNotes,
    iban: str = "",
    bic: str = "",
) -> en.Invoice:
    if invoice.status != InvoiceStatus.ISSUED or not invoice.number or not invoice.issue_date:
        raise NotIssued(f"{invoice} is not issued")
    buyer_address = _frozen_address(invoice.buyer_address)
    buyer = en.Party(
        name=invoice.buyer_name,
        address=buyer_address,
        siren=invoice.buyer_siren,
        vat_id=invoice.buyer_vat_number,
    )
    lines = []
    for line in invoice.lines.all():
        category, reason = _category(
            line.vat_rate == 0, line.vat_exemption_mention, buyer_address.country_code
        )
        lines.append(
            en.InvoiceLine(
                id=str(line.position),
                name=line.description,
                quantity=line.quantity,
                unit_code=UNIT_CODES.get(line.unit, "C62"),
                net_price=line.unit_price,
                vat_category=category,
                vat_rate=line.vat_rate,
                discount_percent=line.discount_percent,
                exemption_reason=reason,
                # BT-134/135: the period a recurring or time-and-materials line pays for
                period_start=line.period_start,
                period_end=line.period_end,
            )
        )
    is_credit = invoice.kind == DocumentKind.CREDIT_NOTE
    preceding: tuple[en.PrecedingInvoice, ...] = ()
    # BT-72: when the service was rendered (CGI ann. II 242 nonies A, 10°)
    delivery_date = invoice.service_date or invoice.billable_on
    if is_credit and invoice.credited_invoice is not None:
        original = invoice.credited_invoice
        assert original.number and original.issue_date
        preceding = (en.PrecedingInvoice(number=original.number, issue_date=original.issue_date),)
        # a credit note corrects the supply of its invoice: its own billable_on is merely
        # the day it was drafted
        delivery_date = invoice.service_date or original.service_date or original.billable_on
    # BG-15 only when it differs from the buyer's address (CGI ann. II 242 nonies A, 7° bis)
    # (issue_invoice freezes a delivery address without a country line: the buyer's, then)
    delivery = (
        _frozen_address(invoice.delivery_address, buyer_address.country_code)
        if invoice.delivery_address
        else None
    )
    if delivery == buyer_address:
        delivery = None
    return en.Invoice(
        number=invoice.number,
        issue_date=invoice.issue_date,
        type_code="381" if is_credit else "380",
        seller=seller,
        buyer=buyer,
        lines=tuple(lines),
        payment=en.PaymentTerms(
            due_date=invoice.due_date,
            iban=iban,
            bic=bic,
            payment_reference=creditor_reference(invoice.number),
        ),
        notes=legal_notes,
        currency=invoice.currency,
        business_process=BUSINESS_PROCESS[NatureOfOperations(invoice.nature_of_operations)],
        purchase_order=invoice.po_number,
        delivery_date=delivery_date,
        delivery_address=delivery,
        preceding_invoices=preceding,
    )
