import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.billing.choices import InvoiceStatus
from levier.billing.models import ImmutableDocumentError, Invoice, InvoiceLine
from levier.billing.services import discard_draft, issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.customers.tests.factories import CustomerFactory
from levier.lib.errors import ValidationFailed
from levier.sales.transitions import InvalidTransition

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 11, 27)


def test_issuing_numbers_invoices_consecutively_in_their_series(adv: User) -> None:
    numbers = [
        issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY).number
        for _ in range(3)
    ]
    assert numbers == ["F2026-000001", "F2026-000002", "F2026-000003"]


def test_the_sequence_restarts_each_year(adv: User) -> None:
    issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=dt.date(2026, 12, 31))
    first_of_year = issue_invoice(
        actor=adv, invoice=draft_invoice(adv), issue_date=dt.date(2027, 1, 2)
    )
    assert first_of_year.number == "F2027-000001"


def test_a_rolled_back_issue_gives_its_number_back(adv: User) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        issued = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
        assert issued.number == "F2026-000001"
        raise RuntimeError("crash after numbering")
    assert (
        issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY).number
        == "F2026-000001"
    )


def test_issue_freezes_buyer_details_due_date_and_hash(adv: User) -> None:
    customer = CustomerFactory(payment_terms_days=45, payment_terms_basis="net")
    invoice = issue_invoice(
        actor=adv, invoice=draft_invoice(adv, customer=customer), issue_date=DAY
    )
    assert invoice.status == InvoiceStatus.ISSUED
    assert (invoice.buyer_name, invoice.buyer_siren) == (customer.name, customer.siren)
    assert invoice.due_date == DAY + dt.timedelta(days=45)
    assert len(invoice.content_hash) == 64 and invoice.chain_index == 1
    assert invoice.total_gross == Decimal("9930.00")  # 8000 + 1600 + 300 + 30


def test_missing_mandatory_mentions_block_issue_with_the_list(adv: User) -> None:
    customer = CustomerFactory(siren="", siret="", vat_number="", po_number_required=True)
    draft = draft_invoice(adv, customer=customer)
    with pytest.raises(ValidationFailed) as err:
        issue_invoice(actor=adv, invoice=draft, issue_date=DAY)
    problems = err.value.errors["__all__"]
    assert any("SIREN" in p for p in problems)
    assert any("TVA" in p or "VAT" in p for p in problems)
    assert any("bon de commande" in p or "PO" in p for p in problems)
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, None)


def test_an_issued_invoice_cannot_be_changed_through_the_model(adv: User) -> None:
    invoice = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
    invoice.total_gross = Decimal("1.00")
    with pytest.raises(ImmutableDocumentError):
        invoice.save()
    with pytest.raises(ImmutableDocumentError):
        invoice.delete()
    invoice.notes = "relancé par téléphone"
    invoice.save(update_fields=["notes", "updated_at"])  # working notes stay editable


@pytest.mark.parametrize(
    "change",
    [
        {"total_gross": Decimal("1.00")},
        {"number": "F2026-999999"},
        {"issue_date": dt.date(2020, 1, 1)},
        {"status": InvoiceStatus.DRAFT},
    ],
)
def test_the_database_refuses_to_change_an_issued_invoice_whatever_the_code(
    adv: User, change: dict
) -> None:
    invoice = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(**change)
    invoice.refresh_from_db()
    assert invoice.number == "F2026-000001" and invoice.status == InvoiceStatus.ISSUED


def test_the_database_refuses_to_delete_an_issued_invoice_or_touch_its_lines(adv: User) -> None:
    invoice = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).delete()
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        InvoiceLine.objects.filter(invoice=invoice).update(quantity=Decimal("99"))
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        InvoiceLine.objects.filter(invoice=invoice).delete()
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 2


def test_an_issued_invoice_cannot_be_issued_again_or_discarded(adv: User) -> None:
    invoice = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
    with pytest.raises(InvalidTransition):
        issue_invoice(actor=adv, invoice=invoice, issue_date=DAY)
    with pytest.raises(InvalidTransition):
        discard_draft(actor=adv, invoice=invoice, reason="x")


def test_a_discarded_draft_never_takes_a_number(adv: User) -> None:
    discard_draft(actor=adv, invoice=draft_invoice(adv), reason="doublon")
    assert (
        issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY).number
        == "F2026-000001"
    )


@pytest.mark.parametrize("role", list(Role))
def test_only_adv_issues_invoices(personas: dict[Role, User], adv: User, role: Role) -> None:
    draft = draft_invoice(adv)
    if role == Role.ADV:
        issue_invoice(actor=personas[role], invoice=draft, issue_date=DAY)
    else:
        with pytest.raises(PermissionDenied):
            issue_invoice(actor=personas[role], invoice=draft, issue_date=DAY)


def test_issuing_stamps_each_line_with_the_issue_date_and_a_draft_stays_unstamped(
    adv: User,
) -> None:
    draft = draft_invoice(adv)
    left_draft = draft_invoice(adv)
    issue_invoice(actor=adv, invoice=draft, issue_date=DAY)
    assert set(InvoiceLine.objects.filter(invoice=draft).values_list("issued_on", flat=True)) == {
        DAY
    }
    assert set(
        InvoiceLine.objects.filter(invoice=left_draft).values_list("issued_on", flat=True)
    ) == {None}


def test_the_database_stamps_the_lines_whatever_code_issues_the_invoice(adv: User) -> None:
    draft = draft_invoice(adv)
    Invoice.objects.filter(pk=draft.pk).update(status=InvoiceStatus.ISSUED, issue_date=DAY)
    assert list(InvoiceLine.objects.filter(invoice=draft).values_list("issued_on", flat=True)) == [
        DAY,
        DAY,
    ]


def test_the_database_refuses_an_issue_date_on_a_draft_line_or_a_changed_one_on_an_issued_line(
    adv: User,
) -> None:
    draft = draft_invoice(adv)
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        InvoiceLine.objects.filter(invoice=draft).update(issued_on=DAY)
    line = InvoiceLine.objects.filter(invoice=draft).first()
    assert line is not None
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        InvoiceLine.objects.create(
            invoice=draft,
            description="stamped by hand",
            quantity=Decimal("1"),
            unit_price=Decimal("10"),
            vat_rate=Decimal("20"),
            net_amount=Decimal("10.00"),
            issued_on=DAY,
        )
    issued = issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=DAY)
    for stamp in (DAY - dt.timedelta(days=1), None):
        with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
            InvoiceLine.objects.filter(invoice=issued).update(issued_on=stamp)
    assert set(InvoiceLine.objects.filter(invoice=issued).values_list("issued_on", flat=True)) == {
        DAY
    }
    assert not InvoiceLine.objects.filter(invoice=draft, issued_on__isnull=False).exists()
