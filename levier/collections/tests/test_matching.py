"""Automatic payment matching (lettrage): what it settles alone, what it asks a person."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import threading
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.models import AuditEvent
from levier.billing.models import Invoice
from levier.billing.services import issue_invoices
from levier.billing.tests.factories import draft_invoice
from levier.collections.choices import MatchReason, PaymentStatus, ProposalStatus
from levier.collections.matching import (
    OpenItem,
    OpenItems,
    PaymentFacts,
    accept_proposal,
    load_open_items,
    match_payments,
    propose,
    reject_proposal,
)
from levier.collections.matching import services as matching_services
from levier.collections.matching.payers import unique_subset
from levier.collections.matching.references import ReferenceIndex
from levier.collections.models import Allocation, MatchProposal, Payment
from levier.collections.payments import (
    CERTAIN,
    Portion,
    allocate_payment,
    record_payment,
    unmatch,
)
from levier.collections.services import import_statement_file
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.identifiers import creditor_reference
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 2)
IBAN_A = "FR7630001007941234567890185"
IBAN_B = "FR7610107001011234567890129"


def issue(adv: User, customer: Customer, *nets: str) -> list[Invoice]:
    """Issued invoices of `net` € + 20 % VAT each (so 1000 → 1200.00 open), oldest first."""
    drafts = [draft_invoice(adv, customer, lines=[line("1", net)]) for net in nets]
    issued, failures = issue_invoices(actor=adv, invoices=drafts, issue_date=DAY)
    assert not failures
    return issued


def pay(compta: User, amount: str, reference: str = "", **kw: Any) -> Payment:
    return record_payment(
        actor=compta,
        customer=kw.pop("customer", None),
        method="transfer",
        received_on=kw.pop("received_on", dt.date(2026, 11, 20)),
        amount=Decimal(amount),
        reference=reference,
        payer_name=kw.pop("payer_name", "VIREMENT INCONNU"),
        payer_iban=kw.pop("payer_iban", ""),
    )


def open_amount(invoice: Invoice) -> Decimal:
    invoice.refresh_from_db()
    assert invoice.open_amount is not None
    return invoice.open_amount


def allocated(payment: Payment) -> dict[str, Decimal]:
    return {
        a.invoice.number or "": a.amount
        for a in Allocation.objects.filter(payment=payment).select_related("invoice")
    }


def pending(payment: Payment) -> MatchProposal:
    return MatchProposal.objects.get(payment=payment, status=ProposalStatus.PENDING)


@pytest.fixture
def acme(db: None) -> Customer:
    return CustomerFactory(name="Acme Informatique SAS", iban=IBAN_A)


@pytest.fixture
def other(db: None) -> Customer:
    return CustomerFactory(name="Boulangerie Dufour SARL")


# --- references quoted --------------------------------------------------------------------


def test_a_quoted_rf_reference_settles_the_invoice_automatically(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", f"VIR SEPA {creditor_reference(invoice.number or '')}")
    report = match_payments(actor=compta)
    assert (report.matched_automatically, report.proposals) == (1, 0)
    assert open_amount(invoice) == 0 and allocated(payment) == {invoice.number: Decimal("1200")}
    allocation = Allocation.objects.get(payment=payment)
    assert (allocation.reason, allocation.automatic) == (MatchReason.CREDITOR_REFERENCE, True)
    assert allocation.confidence == Decimal("0.99")
    kept = MatchProposal.objects.get(payment=payment)
    assert kept.status == ProposalStatus.ACCEPTED and "RF" in kept.explanation


def test_an_rf_printed_in_groups_of_four_is_found(adv: User, compta: User, acme: Customer) -> None:
    (invoice,) = issue(adv, acme, "1000")
    rf = creditor_reference(invoice.number or "")
    grouped = " ".join(rf[i : i + 4] for i in range(0, len(rf), 4)).lower()
    payment = pay(compta, "1200.00", f"Paiement {grouped} merci")
    match_payments(actor=compta)
    assert allocated(payment) == {invoice.number: Decimal("1200")}


def test_an_rf_with_wrong_check_digits_is_not_a_reference(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    rf = creditor_reference(invoice.number or "")
    wrong = f"RF{(int(rf[2:4]) + 1) % 100:02d}{rf[4:]}"
    payment = pay(compta, "1200.00", wrong)
    report = match_payments(actor=compta)
    assert report.unmatched == 1 and not allocated(payment)


def test_an_invoice_number_with_spaces_and_lower_case_is_found(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    number = invoice.number or ""  # F2026-000001
    mangled = f"facture {number[:3].lower()} {number[3:5]}_{number[6:9]}.{number[9:]} du 02/11"
    payment = pay(compta, "1200.00", mangled)
    match_payments(actor=compta)
    assert allocated(payment) == {number: Decimal("1200")}
    assert Allocation.objects.get(payment=payment).reason == MatchReason.INVOICE_NUMBER


def test_several_quoted_invoices_are_each_settled(adv: User, compta: User, acme: Customer) -> None:
    first, second = issue(adv, acme, "1000", "500")
    payment = pay(compta, "1800.00", f"{first.number} / {second.number}")
    match_payments(actor=compta)
    assert allocated(payment) == {first.number: Decimal("1200"), second.number: Decimal("600")}
    assert payment.__class__.objects.get(pk=payment.pk).status == PaymentStatus.MATCHED


def test_a_partial_payment_leaves_the_rest_open(adv: User, compta: User, acme: Customer) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "500.00", f"Acompte {invoice.number}", payer_iban=IBAN_A)
    report = match_payments(actor=compta)
    assert report.matched_automatically == 1
    assert open_amount(invoice) == Decimal("700.00")
    assert Allocation.objects.get(payment=payment).confidence == Decimal("0.96")


def test_an_overpayment_is_kept_as_customer_credit(adv: User, compta: User, acme: Customer) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1250.00", f"{invoice.number}", payer_iban=IBAN_A)
    report = match_payments(actor=compta)
    assert (report.matched_automatically, report.proposals) == (0, 1)
    proposal = pending(payment)
    assert proposal.confidence == Decimal("0.90") and "50.00" in proposal.explanation
    accept_proposal(actor=compta, proposal=proposal)
    payment.refresh_from_db()
    assert open_amount(invoice) == 0
    assert (payment.status, payment.unallocated) == (PaymentStatus.PARTIAL, Decimal("50.00"))
    again = match_payments(actor=compta)
    assert (again.payments, again.proposals) == (1, 0), "the credit is left to a person"


def test_a_mistyped_number_with_another_amount_is_only_proposed(
    adv: User, compta: User, acme: Customer, other: Customer
) -> None:
    """A bare number has no check digits: a typo names some other open invoice."""
    (theirs,) = issue(adv, other, "1000")
    payment = pay(compta, "300.00", f"{theirs.number}", payer_name="Société Martin")
    match_payments(actor=compta)
    assert not allocated(payment) and pending(payment).confidence < CERTAIN


def test_a_reference_to_another_customer_than_the_iban_is_only_proposed(
    adv: User, compta: User, acme: Customer, other: Customer
) -> None:
    (theirs,) = issue(adv, other, "1000")
    payment = pay(compta, "1200.00", f"{theirs.number}", payer_iban=IBAN_A)
    match_payments(actor=compta)
    proposal = pending(payment)
    assert not allocated(payment) and proposal.confidence == Decimal("0.80")
    assert proposal.customer_id == other.pk


def test_two_payments_quoting_the_same_invoice_do_not_share_it(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    first = pay(compta, "1200.00", f"{invoice.number}", received_on=dt.date(2026, 11, 20))
    again = pay(compta, "1200.00", f"{invoice.number}", received_on=dt.date(2026, 11, 21))
    report = match_payments(actor=compta)
    assert report.matched_automatically == 1 and allocated(first)
    proposal = pending(again)  # the payer is shown, a person sorts out the double payment
    assert not allocated(again) and (proposal.confidence, proposal.allocations) == (
        Decimal("0.50"),
        [],
    )


# --- the payer ----------------------------------------------------------------------------


def test_an_exact_amount_from_a_known_iban_is_matched_automatically(
    adv: User, compta: User, acme: Customer
) -> None:
    _a, invoice, _c = issue(adv, acme, "1000", "250", "700")
    payment = pay(compta, "300.00", "VIREMENT ACME", payer_iban=IBAN_A.lower())
    report = match_payments(actor=compta)
    assert report.matched_automatically == 1 and allocated(payment) == {
        invoice.number: Decimal("300")
    }
    assert Allocation.objects.get(payment=payment).reason == MatchReason.PAYER_EXACT_AMOUNT
    payment.refresh_from_db()
    assert payment.customer_id == acme.pk


def test_an_invoice_paid_twice_is_not_given_to_another_invoice_of_the_same_amount(
    adv: User, compta: User, acme: Customer
) -> None:
    first, second = issue(adv, acme, "1000", "1000")
    pay(compta, "1200.00", f"Facture {first.number}", payer_iban=IBAN_A)
    match_payments(actor=compta)
    assert open_amount(first) == 0
    again = pay(compta, "1200.00", f"Facture {first.number}", payer_iban=IBAN_A)
    report = match_payments(actor=compta)
    assert report.matched_automatically == 0 and open_amount(second) == Decimal("1200.00")
    proposal = pending(again)
    assert proposal.reason == MatchReason.ALREADY_PAID and proposal.allocations == []
    assert proposal.customer_id == acme.pk and (first.number or "") in proposal.explanation


def test_an_iban_seen_on_a_matched_payment_identifies_the_payer_next_time(
    adv: User, compta: User, other: Customer
) -> None:
    first, second = issue(adv, other, "1000", "250")
    pay(compta, "1200.00", f"{first.number}", payer_iban=IBAN_B)
    match_payments(actor=compta)
    later = pay(compta, "300.00", "ECHEANCE", payer_iban=IBAN_B)
    match_payments(actor=compta)
    assert allocated(later) == {second.number: Decimal("300")}


def test_a_payment_for_another_customer_says_nothing_about_whose_iban_it_is(
    adv: User, compta: User, other: Customer
) -> None:
    """A parent company pays its subsidiary's invoice: the payment stays the parent's."""
    parent = CustomerFactory(name="Groupe Dufour Holding")
    (theirs,) = issue(adv, other, "1000")
    paid = record_payment(
        actor=compta,
        customer=parent,
        method="transfer",
        received_on=dt.date(2026, 11, 20),
        amount=Decimal("1200.00"),
        payer_iban=IBAN_B,
        portions=[Portion(theirs.pk, Decimal("1200.00"))],
    )
    paid.refresh_from_db()
    assert paid.customer_id == parent.pk
    assert load_open_items().payers.owners(IBAN_B) == frozenset()


def test_a_fuzzy_payer_name_only_proposes(adv: User, compta: User, acme: Customer) -> None:
    _a, invoice = issue(adv, acme, "1000", "250")
    payment = pay(compta, "300.00", "VIR", payer_name="ACME INFORMATIQEU")
    report = match_payments(actor=compta)
    assert (report.matched_automatically, report.proposals) == (0, 1)
    proposal = pending(payment)
    assert (proposal.reason, proposal.confidence) == (
        MatchReason.PAYER_EXACT_AMOUNT,
        Decimal("0.85"),
    )
    assert proposal.customer_id == acme.pk
    assert proposal.allocations == [
        {"invoice": invoice.pk, "number": invoice.number, "amount": "300.00"}
    ]


def test_an_unknown_payer_gets_no_proposal(adv: User, compta: User, acme: Customer) -> None:
    issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", "VIR", payer_name="Quincaillerie Lemaire")
    report = match_payments(actor=compta)
    assert report.unmatched == 1 and not MatchProposal.objects.filter(payment=payment).exists()


def test_a_known_payer_without_a_matching_invoice_gets_a_payer_only_proposal(
    adv: User, compta: User, acme: Customer
) -> None:
    issue(adv, acme, "1000", "500")
    payment = pay(compta, "1300.00", "VIR", payer_iban=IBAN_A)
    match_payments(actor=compta)
    proposal = pending(payment)
    assert proposal.customer_id == acme.pk and proposal.allocations == []


def test_one_transfer_for_three_invoices_finds_the_exact_subset(
    adv: User, compta: User, acme: Customer
) -> None:
    a, _b, c, d, _e = issue(adv, acme, "100", "210", "333.33", "47.10", "980")
    total = a.total_gross + c.total_gross + d.total_gross  # 120 + 400 + 56.52
    payment = pay(compta, f"{total}", "REGLEMENT FACTURES", payer_iban=IBAN_A)
    report = match_payments(actor=compta)
    assert report.matched_automatically == 1
    assert set(allocated(payment)) == {a.number, c.number, d.number}
    assert Allocation.objects.filter(reason=MatchReason.PAYER_SEVERAL_INVOICES).count() == 3


def test_same_amount_on_several_invoices_proposes_the_oldest_due(
    adv: User, compta: User, acme: Customer
) -> None:
    oldest, _newer = issue(adv, acme, "1000", "1000")
    payment = pay(compta, "1200.00", "VIR", payer_iban=IBAN_A)
    match_payments(actor=compta)
    proposal = pending(payment)
    assert proposal.confidence == Decimal("0.70")
    assert [a["invoice"] for a in proposal.allocations] == [oldest.pk]


def test_another_payments_proposal_never_makes_a_guess_certain(
    adv: User, compta: User, acme: Customer
) -> None:
    """Two invoices of 1,200: a proposal taking the first must not settle the second."""
    issue(adv, acme, "1000", "1000")
    by_name = pay(compta, "1200.00", "VIR", payer_name="Acme Informatique", received_on=DAY)
    by_iban = pay(compta, "1200.00", "VIR", payer_iban=IBAN_A)
    report = match_payments(actor=compta)
    assert (report.matched_automatically, report.proposals) == (0, 2)
    assert pending(by_name).allocations[0]["invoice"] != pending(by_iban).allocations[0]["invoice"]
    assert pending(by_iban).confidence == Decimal("0.70")


def test_a_payment_below_the_oldest_invoice_is_proposed_as_partial(
    adv: User, compta: User, acme: Customer
) -> None:
    oldest, _newer = issue(adv, acme, "1000", "2000")
    payment = pay(compta, "100.00", "ACOMPTE", payer_iban=IBAN_A)
    match_payments(actor=compta)
    proposal = pending(payment)
    assert (proposal.reason, proposal.confidence) == (MatchReason.PAYER_PARTIAL, Decimal("0.60"))
    assert proposal.allocations[0]["invoice"] == oldest.pk


# --- runs, proposals, people --------------------------------------------------------------


def test_a_payment_is_never_matched_twice_by_two_runs(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", f"{invoice.number}")
    first = match_payments(actor=compta)
    second = match_payments(actor=compta)
    assert (first.matched_automatically, second.payments) == (1, 0)
    assert Allocation.objects.filter(payment=payment).count() == 1
    assert open_amount(invoice) == 0


def test_a_new_run_replaces_the_pending_proposal(adv: User, compta: User, acme: Customer) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1250.00", f"{invoice.number}")
    match_payments(actor=compta)
    first = pending(payment)
    match_payments(actor=compta)
    assert pending(payment).pk == first.pk, "the same proposal is kept, not churned"
    issue(adv, acme, "1")  # changes nothing for this payment
    payment.reference = "nothing quoted now"
    payment.save(update_fields=["reference"])
    match_payments(actor=compta)
    first.refresh_from_db()
    assert first.status == ProposalStatus.OBSOLETE


def test_a_rejected_proposal_is_not_made_again(adv: User, compta: User, acme: Customer) -> None:
    issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", "VIR", payer_name="ACME INFORMATIQUE")
    match_payments(actor=compta)
    proposal = pending(payment)
    reject_proposal(actor=compta, proposal=proposal, reason="Ce n'est pas ce client")
    again = match_payments(actor=compta)
    assert (
        again.proposals == 0
        and not MatchProposal.objects.filter(
            payment=payment, status=ProposalStatus.PENDING
        ).exists()
    )
    event = AuditEvent.objects.get(object_type="collections.matchproposal", verb="reject")
    assert event.comment == "Ce n'est pas ce client"


def test_accepting_a_split_proposal_allocates_each_part(
    adv: User, compta: User, acme: Customer
) -> None:
    first, second = issue(adv, acme, "1000", "500")
    payment = pay(compta, "1000.00", "VIR", payer_name="Acme Informatique")
    match_payments(actor=compta)
    proposal = pending(payment)  # partial on the oldest, by name
    assert proposal.reason == MatchReason.PAYER_PARTIAL
    split = [Portion(first.pk, Decimal("700.00")), Portion(second.pk, Decimal("300.00"))]
    made = accept_proposal(actor=compta, proposal=proposal, portions=split)
    assert sorted(a.amount for a in made) == [Decimal("300.00"), Decimal("700.00")]
    assert {a.reason for a in made} == {MatchReason.MANUAL}
    assert (open_amount(first), open_amount(second)) == (Decimal("500.00"), Decimal("300.00"))
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == (ProposalStatus.ACCEPTED, compta)
    assert AuditEvent.objects.filter(
        object_type="collections.matchproposal", object_id=str(proposal.pk), verb="approve"
    ).exists()
    with pytest.raises(NotAllowed):
        accept_proposal(actor=compta, proposal=proposal)


def test_unmatching_reopens_the_invoice_and_is_audited(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", f"{invoice.number}")
    match_payments(actor=compta)
    allocation = Allocation.objects.get(payment=payment)
    unmatch(actor=compta, allocation=allocation, reason="Virement d'un autre client")
    payment.refresh_from_db()
    assert open_amount(invoice) == Decimal("1200.00") and payment.status == PaymentStatus.UNMATCHED
    event = AuditEvent.objects.get(
        object_type="collections.allocation", object_id=str(allocation.pk), verb="delete"
    )
    assert event.comment == "Virement d'un autre client"


def test_a_corrected_proposal_puts_the_payment_on_the_invoices_customer(
    adv: User, compta: User, acme: Customer, other: Customer
) -> None:
    """The matcher took the payer for Acme by its name; the accountant knows Dufour paid."""
    issue(adv, acme, "500")
    (theirs,) = issue(adv, other, "1000")
    payment = pay(compta, "1200.00", "VIR", payer_name="ACME INFORMATIQUE", payer_iban=IBAN_B)
    match_payments(actor=compta)
    proposal = pending(payment)
    assert proposal.customer_id == acme.pk
    accept_proposal(
        actor=compta, proposal=proposal, portions=[Portion(theirs.pk, Decimal("1200.00"))]
    )
    payment.refresh_from_db()
    assert payment.customer_id == other.pk


def test_the_next_transfer_from_that_iban_is_not_matched_to_the_wrong_customer(
    adv: User, compta: User, acme: Customer, other: Customer
) -> None:
    (ours,) = issue(adv, acme, "500")  # 600.00: what the next transfer is
    theirs, _later = issue(adv, other, "1000", "2000")
    first = pay(compta, "1200.00", "VIR", payer_name="ACME INFORMATIQUE", payer_iban=IBAN_B)
    match_payments(actor=compta)
    accept_proposal(
        actor=compta, proposal=pending(first), portions=[Portion(theirs.pk, Decimal("1200.00"))]
    )
    second = pay(compta, "600.00", "ECHEANCE", payer_iban=IBAN_B)
    report = match_payments(actor=compta)
    assert report.matched_automatically == 0 and not allocated(second)
    assert open_amount(ours) == Decimal("600.00")
    assert pending(second).customer_id == other.pk, "the IBAN is Dufour's"


def test_an_undone_automatic_match_is_not_redone_by_the_next_run(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", f"FACT {invoice.number}", payer_name="HOMONYME SARL")
    match_payments(actor=compta)
    allocation = Allocation.objects.get(payment=payment)
    assert allocation.automatic
    unmatch(actor=compta, allocation=allocation, reason="Homonyme : à rembourser")
    payment.refresh_from_db()
    assert payment.customer_id is None, "the customer came from the match undone"
    report = match_payments(actor=compta)
    assert report.matched_automatically == 0 and not allocated(payment)
    assert open_amount(invoice) == Decimal("1200.00")
    refused = MatchProposal.objects.get(payment=payment, status=ProposalStatus.REJECTED)
    assert refused.decided_by == compta
    event = AuditEvent.objects.get(
        object_type="collections.matchproposal", object_id=str(refused.pk), verb="reject"
    )
    assert event.comment == "Homonyme : à rembourser"


def test_an_undone_part_of_an_automatic_split_is_only_proposed_again(
    adv: User, compta: User, acme: Customer
) -> None:
    first, second = issue(adv, acme, "1000", "500")
    payment = pay(compta, "1800.00", f"{first.number} {second.number}")
    match_payments(actor=compta)
    undone = Allocation.objects.get(payment=payment, invoice=first)
    unmatch(actor=compta, allocation=undone, reason="Payé par chèque, virement pour un avoir")
    match_payments(actor=compta)
    assert allocated(payment) == {second.number: Decimal("600")}
    proposal = pending(payment)
    assert proposal.confidence < CERTAIN and proposal.allocations == [
        {"invoice": first.pk, "number": first.number, "amount": "1200.00"}
    ]
    payment.refresh_from_db()
    assert payment.customer_id == acme.pk, "the match kept is Acme's"


def test_an_allocation_undone_by_hand_is_not_made_again_by_the_matcher(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", f"FACT {invoice.number}")
    (allocation,) = allocate_payment(
        actor=compta, payment=payment, portions=[Portion(invoice.pk, Decimal("1200.00"))]
    )
    unmatch(actor=compta, allocation=allocation, reason="Pas cette facture")
    report = match_payments(actor=compta)
    assert report.matched_automatically == 0 and not allocated(payment)
    refused = MatchProposal.objects.get(payment=payment, status=ProposalStatus.REJECTED)
    assert refused.allocations == [
        {"invoice": invoice.pk, "number": invoice.number, "amount": "1200.00"}
    ]


@pytest.mark.django_db(transaction=True)
def test_accepting_a_proposal_while_a_run_matches_the_same_payment_does_not_deadlock(
    adv: User, compta: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer locks the payment before the proposal, as a run does: the run waits."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite locks the whole database: no row locks taken in two orders")
    acme = CustomerFactory(name="Acme Informatique SAS")
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", "VIR", payer_name="ACME INFORMATIQUE", payer_iban=IBAN_B)
    match_payments(actor=compta)
    proposal = pending(payment)
    # The IBAN is now on the customer: the next run is certain and would apply it itself.
    Customer.objects.filter(pk=acme.pk).update(iban=IBAN_B)
    holding, waited, errors = threading.Event(), threading.Event(), []
    locked_pending = matching_services._locked_pending

    def held(proposal: MatchProposal) -> MatchProposal:
        """Keep the locks until the run waits for one of them."""
        row = locked_pending(proposal)
        holding.set()
        with connection.cursor() as cursor:
            for _ in range(200):
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once a transaction
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    waited.set()
                    break
                time.sleep(0.05)
        return row

    monkeypatch.setattr(matching_services, "_locked_pending", held)

    def answer() -> None:
        try:
            accept_proposal(actor=compta, proposal=proposal)
        except Exception as exc:  # reported to the test, which fails
            errors.append(exc)
        finally:
            connections.close_all()

    def run() -> None:
        try:
            assert holding.wait(10)
            match_payments(actor=compta)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer), threading.Thread(target=run)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and waited.is_set()
    assert allocated(payment) == {invoice.number: Decimal("1200")}
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED


def test_only_accounting_matches_payments(adv: User) -> None:
    with pytest.raises(PermissionDenied):
        match_payments(actor=adv)


def test_a_payment_in_another_currency_is_left_alone(
    adv: User, compta: User, acme: Customer
) -> None:
    (invoice,) = issue(adv, acme, "1000")
    payment = pay(compta, "1200.00", f"{invoice.number}")
    Payment.objects.filter(pk=payment.pk).update(currency="USD")
    assert match_payments(actor=compta).payments == 0


def test_the_statement_import_matches_the_payments_it_creates(
    adv: User, compta: User, acme: Customer
) -> None:
    from levier.collections.tests.test_import import camt, entry

    (invoice,) = issue(adv, acme, "1000")
    data = camt(entry("B1", "1200.00", "2026-11-23", f"Facture {invoice.number}"))
    report = import_statement_file(actor=compta, data=data, filename="j.xml")
    assert (report.payments, report.matched_automatically, report.proposals) == (1, 1, 0)
    assert open_amount(invoice) == 0


def test_the_command_reports_the_run_as_json(adv: User, compta: User, acme: Customer) -> None:
    (invoice,) = issue(adv, acme, "1000")
    pay(compta, "1200.00", f"{invoice.number}")
    pay(compta, "99.00", "rien", payer_name="Inconnu")
    out = io.StringIO()
    call_command("match_payments", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "payments": 2,
        "matched_automatically": 1,
        "proposals": 0,
        "unmatched": 1,
        "amount_matched": "1200.00",
    }


def test_matching_runs_in_a_bounded_number_of_queries(
    adv: User, compta: User, django_assert_max_num_queries: Any
) -> None:
    customers = [CustomerFactory(name=f"Client Numero {n:03d}") for n in range(4)]
    invoices = [inv for c in customers for inv in issue(adv, c, *[str(100 + n) for n in range(28)])]

    def batch(size: int, offset: int) -> list[int]:
        ids = []
        for n in range(size):
            invoice = invoices[offset + n]
            if n % 2:
                ids.append(pay(compta, f"{invoice.total_gross}", f"{invoice.number}").pk)
            else:  # a name only: a proposal
                ids.append(
                    pay(compta, f"{invoice.total_gross}", "", payer_name=invoice.buyer_name).pk
                )
        return ids

    small, large = batch(10, 0), batch(100, 10)
    with django_assert_max_num_queries(30) as ten:
        match_payments(actor=compta, payment_ids=small)
    with django_assert_max_num_queries(30) as hundred:
        report = match_payments(actor=compta, payment_ids=large)
    assert report.matched_automatically == 50 and report.proposals == 50
    # Only the bulk inserts grow, by a query per ~100 rows (SQLite's 999 parameters).
    assert len(hundred.captured_queries) <= len(ten.captured_queries) + 2


# --- the pure rules -----------------------------------------------------------------------


def test_a_reference_glued_from_pieces_prefers_the_longest_number() -> None:
    index = ReferenceIndex([(1, "F2026-0001"), (2, "F2026-000123")])
    assert [q.invoice_id for q in index.find("fact F2026 000123 2026")] == [2]
    assert [q.invoice_id for q in index.find("F2026-0001 / f2026.000123")] == [1, 2]
    assert index.find("XF2026000123") == []


def test_an_invoice_a_person_refused_for_the_payment_is_never_allocated_alone() -> None:
    index = OpenItems([OpenItem(1, "F2026-000001", 1, Decimal("1200.00"), DAY)])
    quoting = PaymentFacts(1, Decimal("1200.00"), reference="F2026-000001")
    (proposal,) = propose([quoting], index)
    assert proposal.certain
    (proposal,) = propose([replace(quoting, refused=frozenset({1}))], index)
    assert not proposal.certain and [p.invoice_id for p in proposal.portions] == [1]


def test_a_subset_is_only_returned_when_unique() -> None:
    assert unique_subset([100, 250, 400, 999], 650) == [1, 2]
    assert unique_subset([100, 250, 250, 400], 350) is None  # two ways
    assert unique_subset([100, 250], 1) is None


money = st.integers(min_value=1, max_value=300_000)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[OpenItem], list[PaymentFacts]]:
    count = draw(st.integers(min_value=0, max_value=12))
    items = [
        OpenItem(
            n + 1,
            f"F2026-{n + 1:06d}",
            draw(st.integers(min_value=1, max_value=3)),
            Decimal(draw(money)).scaleb(-2),
            DAY + dt.timedelta(days=draw(st.integers(0, 60))),
        )
        for n in range(count)
    ]
    payments = []
    for n in range(draw(st.integers(min_value=0, max_value=10))):
        quoted = draw(st.lists(st.sampled_from(items), max_size=3)) if items else []
        text = " ".join(
            draw(st.sampled_from([i.number, i.number.lower().replace("-", " "), "x"]))
            for i in quoted
        )
        amount = Decimal(draw(money)).scaleb(-2)
        payments.append(
            PaymentFacts(
                payment_id=n + 1,
                amount=amount,
                allocated=Decimal(draw(st.integers(0, int(amount * 100) - 1))).scaleb(-2),
                reference=text,
                payer_name=draw(st.sampled_from(["", "Client Un", "CLIENT DEUX", "client troi"])),
                payer_iban=draw(st.sampled_from(["", IBAN_A, IBAN_B])),
                customer_id=draw(st.sampled_from([None, None, 1, 2])),
                already=frozenset(draw(st.lists(st.integers(1, max(count, 1)), max_size=2))),
                refused=frozenset(draw(st.lists(st.integers(1, max(count, 1)), max_size=2))),
            )
        )
    return items, payments


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_no_proposal_allocates_more_than_a_payment_holds_or_an_invoice_owes(
    world: tuple[list[OpenItem], list[PaymentFacts]],
) -> None:
    items, payments = world
    index = OpenItems(
        items,
        [(1, "Client Un", "", IBAN_A), (2, "Client Deux", "", ""), (3, "Client Trois", "", "")],
        [(IBAN_B, 2), (IBAN_B, 3)],
    )
    owed = {i.invoice_id: i.open_amount for i in items}
    customer = {i.invoice_id: i.customer_id for i in items}
    by_id = {p.payment_id: p for p in payments}
    for proposal in propose(payments, index):
        payment = by_id[proposal.payment_id]
        invoices = [p.invoice_id for p in proposal.portions]
        assert len(invoices) == len(set(invoices)) and not set(invoices) & payment.already
        assert all(p.amount > 0 for p in proposal.portions)
        assert proposal.amount <= payment.unallocated
        assert not (proposal.certain and set(invoices) & payment.refused), "a person said no"
        for portion in proposal.portions:
            owed[portion.invoice_id] -= portion.amount
        if proposal.certain and payment.payer_iban == IBAN_A and payment.customer_id is None:
            assert {customer[i] for i in invoices} == {1}, "never another customer than the IBAN's"
    assert all(left >= 0 for left in owed.values())


def test_whatever_the_payments_no_invoice_goes_negative_in_the_database(
    adv: User, compta: User, acme: Customer, other: Customer
) -> None:
    invoices = issue(adv, acme, "100", "250", "80.5") + issue(adv, other, "100", "42")
    numbers = [i.number or "" for i in invoices]

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        st.lists(
            st.tuples(
                st.integers(min_value=1, max_value=60_000),
                st.lists(st.sampled_from(numbers), max_size=2),
                st.sampled_from(["", IBAN_A]),
                st.sampled_from(["", "Acme Informatique", "Boulangerie Dufour"]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    def check(rows: list[tuple[int, list[str], str, str]]) -> None:
        with transaction.atomic():
            for cents, quoted, iban, name in rows:
                pay(compta, f"{Decimal(cents).scaleb(-2)}", " ".join(quoted), payer_iban=iban,
                    payer_name=name)  # fmt: skip
            match_payments(actor=compta)
            for proposal in MatchProposal.objects.filter(status=ProposalStatus.PENDING):
                # Refused ones (nothing left, payer only) must leave nothing half-done.
                with contextlib.suppress(ValidationFailed, NotAllowed):
                    accept_proposal(actor=compta, proposal=proposal)
            # Read as Decimals: SQLite stores an exact 0 as a float residue (-1.4e-14).
            assert all(
                (amount or 0) >= 0
                for amount in Invoice.objects.values_list("open_amount", flat=True)
            )
            for payment in Payment.objects.all():
                assert 0 <= payment.allocated <= payment.amount
                assert payment.allocated == sum(
                    a.amount for a in Allocation.objects.filter(payment=payment)
                )
            transaction.set_rollback(True)

    check()
