"""Allocating payments to invoices: open amounts, refusals, unmatching, domain events."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.models import AuditEvent
from levier.billing.choices import CreditReason
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import PaymentStatus
from levier.collections.models import Allocation, Payment
from levier.collections.payments import (
    Match,
    Portion,
    allocate_payment,
    apply_matches,
    customer_credit,
    open_invoices,
    unmatch,
)
from levier.collections.tests.factories import issued_invoice, payment
from levier.customers.tests.factories import CustomerFactory
from levier.integrations.models import DomainEvent
from levier.lib.errors import NotAllowed, ValidationFailed

D = Decimal


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def test_an_issued_invoice_is_open_for_its_total(adv: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    assert invoice.open_amount == D("1200.00") and invoice.settled_on is None


def test_a_full_payment_settles_the_invoice_on_the_day_received(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "1200.00", received_on=dt.date(2026, 11, 3))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))])
    invoice.refresh_from_db()
    paid.refresh_from_db()
    assert invoice.open_amount == D("0.00") and invoice.settled_on == dt.date(2026, 11, 3)
    assert paid.status == PaymentStatus.MATCHED and paid.unallocated == D("0.00")
    names = list(DomainEvent.objects.values_list("name", flat=True))
    assert names == ["payment.received", "payment.matched", "invoice.settled"]


def test_a_partial_payment_leaves_the_rest_open(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "500.00")
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("500.00"))])
    invoice.refresh_from_db()
    assert invoice.open_amount == D("700.00") and invoice.settled_on is None
    assert list(open_invoices(invoice.customer)) == [invoice]


def test_one_payment_split_over_two_invoices(adv: User, compta: User) -> None:
    customer = CustomerFactory()
    first = issued_invoice(adv, customer, net="1000")
    second = issued_invoice(adv, customer, net="500")
    paid = payment(compta, customer, "1800.00")
    allocate_payment(
        actor=compta,
        payment=paid,
        portions=[Portion(first.pk, D("1200.00")), Portion(second.pk, D("600.00"))],
    )
    assert Allocation.objects.count() == 2
    assert list(open_invoices(customer)) == []


def test_an_allocation_above_the_open_amount_is_refused(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "2000.00")
    with pytest.raises(ValidationFailed) as refused:
        allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.01"))])
    assert refused.value.code == "above_open_amount"
    assert "1200.00" in refused.value.message
    assert Allocation.objects.count() == 0


def test_an_allocation_above_what_the_payment_holds_is_refused(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "100.00")
    with pytest.raises(ValidationFailed) as refused:
        allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("100.01"))])
    assert refused.value.code == "above_payment"


def test_a_payment_cannot_be_matched_twice_with_the_same_invoice(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "1000.00")
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("400.00"))])
    with pytest.raises(ValidationFailed) as refused:
        allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("100.00"))])
    assert refused.value.code == "matched_twice"


def test_an_overpayment_stays_on_the_payment_as_customer_credit(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "1500.00")
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))])
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.PARTIAL
    assert customer_credit(invoice.customer) == D("300.00")


def test_a_credit_note_lowers_the_open_amount_and_can_settle_the_invoice(adv: User) -> None:
    invoice = issued_invoice(adv, net="1000", issue_date=dt.date(2026, 10, 1))
    note = create_credit_note(actor=adv, invoice=invoice, reason=CreditReason.PRICE_ERROR)
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 10, 20))
    invoice.refresh_from_db()
    note.refresh_from_db()
    assert invoice.open_amount == D("0.00") and invoice.settled_on == dt.date(2026, 10, 20)
    assert note.open_amount == D("0.00")
    settled = DomainEvent.objects.get(name="invoice.settled")
    assert settled.payload["by"] == "credit_note" and settled.object_id == str(invoice.pk)


def test_the_settled_date_is_the_last_payment_that_closed_the_invoice(
    adv: User, compta: User
) -> None:
    invoice = issued_invoice(adv, net="1000")
    late = payment(compta, invoice.customer, "600.00", received_on=dt.date(2026, 11, 20))
    early = payment(compta, invoice.customer, "600.00", received_on=dt.date(2026, 11, 2))
    allocate_payment(actor=compta, payment=late, portions=[Portion(invoice.pk, D("600.00"))])
    allocate_payment(actor=compta, payment=early, portions=[Portion(invoice.pk, D("600.00"))])
    invoice.refresh_from_db()
    assert invoice.settled_on == dt.date(2026, 11, 20)


def test_unmatching_reopens_the_invoice_and_keeps_the_reason(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "1200.00")
    (allocation,) = allocate_payment(
        actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))]
    )
    unmatch(actor=compta, allocation=allocation, reason="wrong customer: homonym")
    invoice.refresh_from_db()
    paid.refresh_from_db()
    assert invoice.open_amount == D("1200.00") and invoice.settled_on is None
    assert paid.status == PaymentStatus.UNMATCHED and paid.allocated == D("0.00")
    event = AuditEvent.objects.filter(verb="delete", object_type="collections.allocation").get()
    assert event.comment == "wrong customer: homonym" and event.actor == compta
    assert DomainEvent.objects.filter(name="payment.unmatched").count() == 1
    with pytest.raises(NotAllowed):
        unmatch(actor=compta, allocation=allocation, reason="again")


def test_undoing_the_only_allocation_takes_off_the_customer_it_gave(
    adv: User, compta: User
) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, None, "1200.00")  # a transfer nobody put on a customer
    (allocation,) = allocate_payment(
        actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))]
    )
    assert paid.customer_id == invoice.customer_id
    unmatch(actor=compta, allocation=allocation, reason="not this customer's money")
    paid.refresh_from_db()
    assert paid.customer_id is None


def test_undoing_an_allocation_keeps_the_customer_the_payment_was_entered_for(
    adv: User, compta: User
) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "1200.00")
    (allocation,) = allocate_payment(
        actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))]
    )
    unmatch(actor=compta, allocation=allocation, reason="another of its invoices")
    paid.refresh_from_db()
    assert paid.customer_id == invoice.customer_id


def test_a_payment_keeps_the_customer_of_the_allocations_left_when_one_is_undone(
    adv: User, compta: User
) -> None:
    first = issued_invoice(adv, net="1000")
    second = issued_invoice(adv, net="500")  # another customer's
    paid = payment(compta, None, "1800.00")
    made = allocate_payment(
        actor=compta,
        payment=paid,
        portions=[Portion(first.pk, D("1200.00")), Portion(second.pk, D("600.00"))],
    )
    assert paid.customer_id == first.customer_id != second.customer_id
    unmatch(actor=compta, allocation=made[0], reason="the first one was paid by cheque")
    paid.refresh_from_db()
    assert paid.customer_id == second.customer_id


def test_a_payment_without_customer_takes_the_customer_of_the_invoices_it_settles(
    adv: User, compta: User
) -> None:
    """Whoever the match says paid, a payment is on a customer whose invoice it settles."""
    invoice = issued_invoice(adv, net="1000")
    guessed = CustomerFactory()
    paid = payment(compta, None, "1200.00")
    outcome = apply_matches(
        actor=compta,
        matches=[Match(paid.pk, [Portion(invoice.pk, D("1200.00"))], customer_id=guessed.pk)],
    )
    assert not outcome.failures
    paid.refresh_from_db()
    assert paid.customer_id == invoice.customer_id


def test_a_payment_entered_for_a_parent_company_stays_on_it_when_it_pays_a_subsidiary(
    adv: User, compta: User
) -> None:
    invoice = issued_invoice(adv, net="1000")
    parent = CustomerFactory()
    paid = payment(compta, parent, "1200.00")
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))])
    assert paid.customer_id == parent.pk


def test_unmatching_needs_a_reason(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "1200.00")
    (allocation,) = allocate_payment(
        actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))]
    )
    with pytest.raises(ValidationFailed):
        unmatch(actor=compta, allocation=allocation, reason="  ")


def test_a_sales_rep_cannot_match_payments(adv: User, compta: User, commercial: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    paid = payment(compta, invoice.customer, "1200.00")
    with pytest.raises(PermissionDenied):
        allocate_payment(actor=commercial, payment=paid, portions=[Portion(invoice.pk, D("1"))])


def test_a_credit_note_is_not_a_target_for_a_payment(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv, net="1000")
    note = create_credit_note(actor=adv, invoice=invoice, reason=CreditReason.PRICE_ERROR)
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 10, 2))
    paid = payment(compta, invoice.customer, "10.00")
    with pytest.raises(ValidationFailed) as refused:
        allocate_payment(actor=compta, payment=paid, portions=[Portion(note.pk, D("10.00"))])
    assert refused.value.code == "credit_note"


def test_a_batch_applies_the_valid_matches_and_reports_the_refused_one(
    adv: User, compta: User
) -> None:
    customer = CustomerFactory()
    first = issued_invoice(adv, customer, net="100")
    second = issued_invoice(adv, customer, net="100")
    one = payment(compta, customer, "120.00")
    two = payment(compta, customer, "120.00")
    three = payment(compta, customer, "120.00")
    outcome = apply_matches(
        actor=compta,
        matches=[
            Match(one.pk, [Portion(first.pk, D("120.00"))]),
            # The same invoice again in the same batch: nothing left to settle.
            Match(two.pk, [Portion(first.pk, D("120.00"))]),
            Match(three.pk, [Portion(second.pk, D("120.00"))]),
        ],
    )
    assert [m.payment_id for m in outcome.applied] == [one.pk, three.pk]
    assert [f.match.payment_id for f in outcome.failures] == [two.pk]
    assert Payment.objects.get(pk=two.pk).status == PaymentStatus.UNMATCHED


def test_a_manual_payment_amount_must_be_positive_at_the_cent(compta: User) -> None:
    for bad in ("0", "-5", "10.001", "NaN", "1e15"):
        with pytest.raises(ValidationFailed):
            payment(compta, None, bad)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    totals=st.lists(st.integers(min_value=1, max_value=50_000), min_size=1, max_size=3),
    attempts=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 80_000)),
        min_size=1,
        max_size=6,
    ),
)
def test_allocations_never_leave_an_invoice_below_zero_or_a_payment_overdrawn(
    adv: User, compta: User, totals: list[int], attempts: list[tuple[int, int, int]]
) -> None:
    customer = CustomerFactory()
    invoices = [issued_invoice(adv, customer, net=str(D(t) / 100), vat="0") for t in totals]
    payments = [payment(compta, customer, str(D(t) / 100)) for t in (40_000, 900, 77_777)]
    for invoice_index, payment_index, cents in attempts:
        invoice = invoices[invoice_index % len(invoices)]
        with contextlib.suppress(ValidationFailed):
            allocate_payment(
                actor=compta,
                payment=payments[payment_index],
                portions=[Portion(invoice.pk, D(cents) / 100)],
            )
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.open_amount is not None and invoice.open_amount >= 0
        allocated = sum(a.amount for a in Allocation.objects.filter(invoice=invoice))
        assert invoice.open_amount == invoice.total_gross - allocated
    for row in Payment.objects.filter(customer=customer):
        assert D("0") <= row.allocated <= row.amount
        assert row.allocated == sum(a.amount for a in row.allocations.all())


def test_cents_that_do_not_add_up_in_binary_still_settle_the_invoice(
    adv: User, compta: User
) -> None:
    # 0.30 − 0.10 − 0.20 is 5.6e-17 in binary floats, which SQLite uses for decimals.
    invoice = issued_invoice(adv, net="0.25", vat="20")
    assert invoice.total_gross == D("0.30")
    for cents in ("0.10", "0.20"):
        paid = payment(compta, invoice.customer, cents, received_on=dt.date(2026, 11, 9))
        allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D(cents))])
    invoice.refresh_from_db()
    assert invoice.open_amount == D("0.00") and invoice.settled_on == dt.date(2026, 11, 9)
    assert list(open_invoices(invoice.customer)) == []


def test_a_payment_entered_with_its_invoices_is_recorded_and_matched_together(
    adv: User, compta: User
) -> None:
    from levier.collections.payments import record_payment

    invoice = issued_invoice(adv, net="1000")
    with pytest.raises(ValidationFailed):
        record_payment(
            actor=compta,
            customer=invoice.customer,
            method="cheque",
            received_on=dt.date(2026, 11, 5),
            amount=D("1300.00"),
            portions=[Portion(invoice.pk, D("1300.00"))],
        )
    assert not Payment.objects.exists()  # refused allocation: no payment left behind
    paid = record_payment(
        actor=compta,
        customer=invoice.customer,
        method="cheque",
        received_on=dt.date(2026, 11, 5),
        amount=D("1200.00"),
        portions=[Portion(invoice.pk, D("1200.00"))],
    )
    assert paid.status == PaymentStatus.MATCHED


def test_a_statement_line_repeating_its_label_in_the_remittance_reads_once(
    compta: User,
) -> None:
    from levier.collections.models import BankTransaction, StatementFile
    from levier.collections.payments import create_payments_for_transactions

    file = StatementFile.objects.create(
        filename="r.xml", sha256="0" * 64, format="camt.053", size=1, imported_by=compta
    )
    line = BankTransaction.objects.create(
        file=file,
        account_iban="FR76",
        booking_date=dt.date(2026, 11, 2),
        amount=D("10.00000"),
        currency="EUR",
        label="REGLEMENT",
        remittance="REGLEMENT",
        fingerprint="f" * 64,
    )
    (made,) = create_payments_for_transactions(actor=compta, lines=[line])
    assert made.reference == "REGLEMENT"


def test_a_credit_note_after_the_payment_does_not_move_the_settled_date(
    adv: User, compta: User
) -> None:
    invoice = issued_invoice(adv, net="1000", issue_date=dt.date(2026, 10, 1))
    paid = payment(compta, invoice.customer, "1200.00", received_on=dt.date(2026, 10, 20))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("1200.00"))])
    gesture = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason=CreditReason.COMMERCIAL_GESTURE,
        lines=[{"description": "Geste", "quantity": "1", "unit_price": "100", "vat_rate": "20"}],
    )
    issue_invoice(actor=adv, invoice=gesture, issue_date=dt.date(2026, 11, 15))
    invoice.refresh_from_db()
    assert invoice.open_amount == D("-120.00")  # owed back to the customer
    assert invoice.settled_on == dt.date(2026, 10, 20)


def test_an_invoice_settled_by_a_credit_note_and_a_payment_is_settled_on_the_later(
    adv: User, compta: User
) -> None:
    invoice = issued_invoice(adv, net="1000", issue_date=dt.date(2026, 10, 1))
    note = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason=CreditReason.PRICE_ERROR,
        lines=[{"description": "Remise", "quantity": "1", "unit_price": "500", "vat_rate": "20"}],
    )
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 10, 5))
    paid = payment(compta, invoice.customer, "600.00", received_on=dt.date(2026, 10, 30))
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D("600.00"))])
    invoice.refresh_from_db()
    assert invoice.open_amount == D("0.00") and invoice.settled_on == dt.date(2026, 10, 30)
