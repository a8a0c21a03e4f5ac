"""Levier's own issued invoices and credit notes make valid EN 16931 / Factur-X XML."""

import datetime as dt
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.billing.einvoice_mapping import NotIssued, to_einvoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.einvoice.cii import to_cii_xml
from levier.einvoice.tests import NOTES, SELLER
from levier.einvoice.validation import errors, validate_cii
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 27)
IBAN = "FR7630006000011234567890189"


def test_an_issued_levier_invoice_is_valid_en16931_with_the_french_rules(adv: User) -> None:
    invoice = issue_invoice(
        actor=adv,
        invoice=draft_invoice(
            adv,
            lines=[
                line("3", "33.335"),
                line("7", "123.45", discount="12.5"),
                line("2", "150", vat="10"),
            ],
            po_number="BC-2026-001",
        ),
        issue_date=DAY,
    )
    document = to_einvoice(invoice, seller=SELLER, legal_notes=NOTES, iban=IBAN)
    assert document.compute().grand_total == invoice.total_gross  # same rounding rule
    problems = validate_cii(to_cii_xml(document))
    assert errors(problems) == []


def test_a_levier_credit_note_is_valid_and_references_its_invoice(adv: User) -> None:
    invoice = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
    note = issue_invoice(
        actor=adv,
        invoice=create_credit_note(
            actor=adv, invoice=invoice, reason="price_error", lines=[line("1", "100")]
        ),
        issue_date=DAY,
    )
    document = to_einvoice(note, seller=SELLER, legal_notes=NOTES, iban=IBAN)
    xml = to_cii_xml(document)
    assert errors(validate_cii(xml)) == []
    assert b"<ram:TypeCode>381</ram:TypeCode>" in xml or b">381<" in xml
    assert invoice.number.encode() in xml
    assert document.compute().grand_total == Decimal("120.00")


def test_a_draft_has_no_e_invoice(adv: User) -> None:
    with pytest.raises(NotIssued):
        to_einvoice(draft_invoice(adv), seller=SELLER, legal_notes=NOTES)
