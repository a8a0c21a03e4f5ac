"""The collections screens through the Django test client: statements, payments and their
lettrage, reconciliation, disputes, reminders, the collector's day and the collections
sections of the customer and invoice pages.

The services do the work (their own tests prove the rules); these tests check what the
screens show, who may see and use them, and that a refusal is a form error or a message
with a 4xx, the data left as it was.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import floatformat
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from levier.accounts.models import User
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import (
    DisputeStatus,
    MatchReason,
    MessageStatus,
    PaymentStatus,
    PromiseStatus,
    ProposalStatus,
    TaskStatus,
)
from levier.collections.models import (
    Allocation,
    BankTransaction,
    CollectionNote,
    CollectionTask,
    Dispute,
    DunningMessage,
    DunningRun,
    DunningStep,
    MatchProposal,
    Payment,
    PromiseToPay,
    StatementFile,
)
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.dunning_factories import (
    customer as dunning_customer,
)
from levier.collections.tests.dunning_factories import (
    default_scenario,
    invoice_due,
)
from levier.collections.tests.factories import issued_invoice, payment
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.lib.identifiers import creditor_reference

pytestmark = pytest.mark.django_db

IBAN_ACME = "FR7630001007941234567890185"


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> None:
    complete_company_profile()
    settings.LEVIER_AUTO_SEND_INVOICES = False


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def money(value: Decimal | str) -> str:
    """An amount as the French pages print it (floatformat "2g" under the active locale)."""
    return str(floatformat(Decimal(value), "2g"))


def page_text(response: Any) -> str:
    return unescape(response.content.decode())


def messages_of(response: Any) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.fixture
def acme(db: None) -> Customer:
    return CustomerFactory(name="Acme Informatique SAS", iban=IBAN_ACME)


def camt_entry(
    ref: str, amount: str, day: str, text: str, *, payer: str = "", iban: str = ""
) -> str:
    parties = ""
    if payer or iban:
        parties = (
            f"<RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr>"
            f"<DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct></RltdPties>"
        )
    return f"""<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
      <BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>
      <NtryDtls><TxDtls>{parties}<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""


def camt(*entries: str, statement_id: str = "S1") -> bytes:
    """A camt.053.001.02 statement of the seller's account with the given entries."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
  <GrpHdr><MsgId>M-{statement_id}</MsgId><CreDtTm>2026-11-27T08:00:00</CreDtTm></GrpHdr>
  <Stmt><Id>{statement_id}</Id>
    <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id><Ccy>EUR</Ccy></Acct>
    {"".join(entries)}
  </Stmt></BkToCstmrStmt></Document>""".encode()


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize(
    "name",
    ["reconciliation", "statements", "payment_list", "collections_today", "dunning"],
)
def test_a_commercial_is_refused_the_collections_back_office(commercial: User, name: str) -> None:
    response = client_for(commercial).get(reverse(f"web:{name}"))
    assert response.status_code == 403
    assert "Commercial" in page_text(response) or "commercial" in page_text(response)


def test_a_commercial_cannot_run_the_matching_nor_confirm_a_proposal(
    commercial: User, adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    paid = payment(compta, None, "1200.00", reference="VIR")
    proposal = MatchProposal.objects.create(
        payment=paid,
        customer=acme,
        reason=MatchReason.PAYER_EXACT_AMOUNT,
        confidence=Decimal("0.85"),
        allocations=[{"invoice": invoice.pk, "number": invoice.number, "amount": "1200.00"}],
    )
    client = client_for(commercial)

    assert client.post(reverse("web:matching_run")).status_code == 403
    assert client.post(reverse("web:proposal_accept", args=[proposal.pk])).status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and not Allocation.objects.exists()


def test_direction_and_auditors_read_the_screens_without_the_buttons(
    direction: User, auditeur: User, compta: User
) -> None:
    for reader in (direction, auditeur):
        client = client_for(reader)
        matching = client.get(reverse("web:reconciliation"))
        statements = client.get(reverse("web:statements"))
        assert matching.status_code == statements.status_code == 200
        assert 'id="run-matching"' not in matching.content.decode()
        assert 'id="statement-upload"' not in statements.content.decode()
    accountant = client_for(compta).get(reverse("web:reconciliation")).content.decode()
    assert 'id="run-matching"' in accountant


def test_the_menu_shows_collections_to_accounting_and_disputes_to_sales(
    compta: User, commercial: User
) -> None:
    accounting = client_for(compta).get(reverse("web:home")).content.decode()
    sales = client_for(commercial).get(reverse("web:home")).content.decode()
    assert 'id="menu-collections"' in accounting
    day = client_for(compta).get(reverse("web:collections_today")).content.decode()
    assert reverse("web:dispute_list") in day  # in the collections sub-menu
    assert 'id="menu-collections"' not in sales and 'id="menu-disputes"' in sales
    assert 'id="worklist-collections"' in accounting  # "Ma journée" on accounting's home


# ---------------------------------------------------------------- statements


def test_a_camt053_upload_imports_matches_and_reports_per_file(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)  # 1 200,00 € TTC
    reference = creditor_reference(invoice.number or "")
    good = camt(
        camt_entry("A1", "1200.00", "2026-11-23", f"VIR SEPA {reference}"),
        camt_entry("A2", "99.99", "2026-11-24", "Divers", payer="Quincaillerie Lemaire"),
    )
    broken = camt(camt_entry("B1", "10.00", "2026-11-23", "x")).replace(
        b'<Amt Ccy="EUR">10.00</Amt>', b""
    )
    client = client_for(compta)

    response = client.post(
        reverse("web:statements"),
        {
            "statement_files": [
                SimpleUploadedFile("releve-j1.xml", good, "application/xml"),
                SimpleUploadedFile("casse.xml", broken, "application/xml"),
            ]
        },
    )

    assert response.status_code == 200
    html = page_text(response)
    good_report = html[
        html.index('data-file="releve-j1.xml"') : html.index('data-file="casse.xml"')
    ]
    assert "camt.053" in good_report
    assert 'class="count-imported">2<' in good_report
    assert 'class="count-payments">2<' in good_report
    assert 'class="count-matched">1<' in good_report
    bad_report = html[html.index('data-file="casse.xml"') :]
    assert "report-refused" in bad_report and "casse.xml" in bad_report
    assert "Amt" in bad_report  # the element at fault is named
    invoice.refresh_from_db()
    assert invoice.open_amount == 0
    assert StatementFile.objects.count() == 1 and BankTransaction.objects.count() == 2
    # the imported file is listed, and the same file again imports nothing
    listing = client.get(reverse("web:statements")).content.decode()
    assert "releve-j1.xml" in listing
    again = client.post(
        reverse("web:statements"),
        {"statement_files": SimpleUploadedFile("copie.xml", good, "application/xml")},
    )
    assert again.status_code == 200
    assert 'class="count-imported">0<' in again.content.decode()
    assert BankTransaction.objects.count() == 2


def test_an_upload_without_a_file_or_of_junk_is_a_400_importing_nothing(compta: User) -> None:
    client = client_for(compta)
    empty = client.post(reverse("web:statements"), {})
    junk = client.post(
        reverse("web:statements"),
        {"statement_files": SimpleUploadedFile("notes.txt", b"hello, not a statement\n")},
    )
    assert empty.status_code == 400 and "field-error" in empty.content.decode()
    assert junk.status_code == 400 and "notes.txt" in page_text(junk)
    assert not StatementFile.objects.exists()


def test_only_accounting_uploads_statements(adv: User, auditeur: User) -> None:
    data = camt(camt_entry("A1", "10.00", "2026-11-23", "x"))
    forbidden = client_for(auditeur).post(
        reverse("web:statements"), {"statement_files": SimpleUploadedFile("j.xml", data)}
    )
    assert forbidden.status_code == 403
    assert client_for(adv).get(reverse("web:statements")).status_code == 403
    assert not StatementFile.objects.exists()


# ---------------------------------------------------------------- payments


def test_a_cheque_entered_and_allocated_at_once_settles_the_invoice(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    client = client_for(compta)
    form = client.get(reverse("web:payment_create"), {"customer": acme.pk})
    assert form.status_code == 200 and f'name="alloc-{invoice.pk}"' in form.content.decode()

    response = client.post(
        reverse("web:payment_create"),
        {
            "customer": acme.pk,
            "method": "cheque",
            "received_on": "2026-11-20",
            "amount": "1 200,00",
            "reference": "Chèque 1234567",
            f"alloc-{invoice.pk}": "1200,00",
        },
    )

    made = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:payment_detail", args=[made.pk])
    assert (made.method, made.amount, made.status) == (
        "cheque",
        Decimal("1200.00"),
        PaymentStatus.MATCHED,
    )
    invoice.refresh_from_db()
    assert invoice.open_amount == 0
    detail = client.get(response["Location"])
    assert invoice.number in detail.content.decode() and "Chèque 1234567" in page_text(detail)


def test_the_open_invoices_of_the_chosen_customer_come_by_htmx(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    response = client_for(compta).get(
        reverse("web:payment_open_invoices"), {"customer": acme.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert f'name="alloc-{invoice.pk}"' in response.content.decode()
    assert "<html" not in response.content.decode()


def test_a_refused_allocation_leaves_no_payment_and_shows_why(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    response = client_for(compta).post(
        reverse("web:payment_create"),
        {
            "customer": acme.pk,
            "method": "transfer",
            "received_on": "2026-11-20",
            "amount": "5000",
            f"alloc-{invoice.pk}": "3000",  # more than the 1 200 € open
        },
    )
    assert response.status_code == 400
    assert "1200" in page_text(response).replace("\u202f", "").replace(" ", "")
    assert 'value="3000"' in response.content.decode()  # what was typed comes back
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "abc"},
        {"amount": "-5"},
        {"amount": "12,345"},
        {"amount": "1e999"},
        {"received_on": "9999-12-31"},
        {"method": "bitcoin"},
        {"customer": "99999999"},
    ],
)
def test_bad_payment_input_is_a_form_error(
    compta: User, acme: Customer, changes: dict[str, str]
) -> None:
    data = {"customer": acme.pk, "method": "transfer", "received_on": "2026-11-20"}
    data |= {"amount": "100"} | changes
    response = client_for(compta).post(reverse("web:payment_create"), data)
    assert response.status_code == 400
    assert "field-error" in response.content.decode()
    assert not Payment.objects.exists()


def test_a_payment_split_over_two_invoices_then_unmatched_with_a_reason(
    adv: User, compta: User, acme: Customer
) -> None:
    first = issued_invoice(adv, acme)
    second = issued_invoice(adv, acme, net="500")  # 600 € TTC
    paid = payment(compta, acme, "1500.00", reference="VIR GROUPE")
    client = client_for(compta)
    detail = client.get(reverse("web:payment_detail", args=[paid.pk])).content.decode()
    assert f'name="alloc-{first.pk}"' in detail and f'name="alloc-{second.pk}"' in detail

    response = client.post(
        reverse("web:payment_allocate", args=[paid.pk]),
        {f"alloc-{first.pk}": "1200", f"alloc-{second.pk}": "300,00"},
    )

    assert response.status_code == 302
    paid.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (paid.allocated, paid.status) == (Decimal("1500.00"), PaymentStatus.MATCHED)
    assert (first.open_amount, second.open_amount) == (Decimal("0.00"), Decimal("300.00"))

    # undoing needs a reason
    allocation = Allocation.objects.get(invoice=second)
    refused = client.post(reverse("web:allocation_unmatch", args=[allocation.pk]), {"reason": ""})
    assert refused.status_code == 400
    assert Allocation.objects.filter(pk=allocation.pk).exists()

    done = client.post(
        reverse("web:allocation_unmatch", args=[allocation.pk]),
        {"reason": "Mauvaise facture", "next": reverse("web:invoice_detail", args=[second.pk])},
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("web:invoice_detail", args=[second.pk])
    assert not Allocation.objects.filter(pk=allocation.pk).exists()
    paid.refresh_from_db()
    second.refresh_from_db()
    assert paid.status == PaymentStatus.PARTIAL and second.open_amount == Decimal("600.00")
    history = page_text(client.get(reverse("web:payment_detail", args=[paid.pk])))
    assert "Mauvaise facture" in history[history.index("audit-trail") :]  # why it was undone
    again = client.post(reverse("web:allocation_unmatch", args=[allocation.pk]), {"reason": "x"})
    assert again.status_code == 404


def test_allocating_more_than_the_payment_holds_is_refused_with_the_reason(
    adv: User, compta: User, acme: Customer
) -> None:
    first = issued_invoice(adv, acme)
    second = issued_invoice(adv, acme)
    paid = payment(compta, acme, "1000.00")
    response = client_for(compta).post(
        reverse("web:payment_allocate", args=[paid.pk]),
        {f"alloc-{first.pk}": "800", f"alloc-{second.pk}": "800"},
    )
    assert response.status_code == 400
    assert 'id="allocation-errors"' in response.content.decode()
    assert not Allocation.objects.exists()
    bad = client_for(compta).post(
        reverse("web:payment_allocate", args=[paid.pk]), {f"alloc-{first.pk}": "douze"}
    )
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    nothing = client_for(compta).post(reverse("web:payment_allocate", args=[paid.pk]), {})
    assert nothing.status_code == 400


def test_the_payment_list_filters_by_status_and_customer(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    matched = payment(compta, acme, "1200.00")
    allocate_payment(actor=compta, payment=matched, portions=[Portion(invoice.pk, Decimal(1200))])
    loose = payment(compta, None, "50.00", reference="VIR INCONNU")
    client = client_for(compta)

    unmatched = client.get(reverse("web:payment_list"), {"status": "unmatched"})
    by_name = client.get(reverse("web:payment_list"), {"customer": "acme"})
    junk = client.get(reverse("web:payment_list"), {"received_from": "31/31/2026", "page": "x"})

    assert f'data-pk="{loose.pk}"' in unmatched.content.decode()
    assert f'data-pk="{matched.pk}"' not in unmatched.content.decode()
    assert f'data-pk="{matched.pk}"' in by_name.content.decode()
    assert junk.status_code == 200 and "field-error" in junk.content.decode()


# ---------------------------------------------------------------- reconciliation


def test_a_proposal_is_shown_with_its_confidence_and_confirmed(
    adv: User, compta: User, acme: Customer
) -> None:
    _older = issued_invoice(adv, acme)
    invoice = issued_invoice(adv, acme, net="250")  # 300 € TTC
    paid = payment(compta, None, "300.00", reference="VIR")
    Payment.objects.filter(pk=paid.pk).update(payer_name="ACME INFORMATIQEU")
    client = client_for(compta)

    ran = client.post(reverse("web:matching_run"))
    assert ran.status_code == 200
    assert 'id="report-proposals">1<' in ran.content.decode()
    proposal = MatchProposal.objects.get(payment=paid, status=ProposalStatus.PENDING)
    html = page_text(client.get(reverse("web:reconciliation")))
    card = html[html.index(f'id="proposal-{proposal.pk}"') :]
    assert "85\u00a0%" in card and "ACME INFORMATIQEU" in card and str(invoice.number) in card
    assert proposal.explanation[:30] in card

    confirmed = client.post(reverse("web:proposal_accept", args=[proposal.pk]))

    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("web:reconciliation")
    invoice.refresh_from_db()
    assert invoice.open_amount == 0
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED
    twice = client.post(reverse("web:proposal_accept", args=[proposal.pk]))
    assert twice.status_code == 409 and "déjà été traitée" in page_text(twice)


def test_modifying_a_proposal_prefills_the_form_and_accepts_the_amounts_typed(
    adv: User, compta: User, acme: Customer
) -> None:
    first = issued_invoice(adv, acme)
    second = issued_invoice(adv, acme, net="500")
    paid = payment(compta, None, "1000.00", reference="VIR")
    Payment.objects.filter(pk=paid.pk).update(payer_name="Acme Informatique")
    client = client_for(compta)
    client.post(reverse("web:matching_run"))
    proposal = MatchProposal.objects.get(payment=paid, status=ProposalStatus.PENDING)

    form = client.get(reverse("web:payment_detail", args=[paid.pk]), {"proposal": proposal.pk})
    html = form.content.decode()
    assert reverse("web:proposal_accept", args=[proposal.pk]) in html
    assert f'name="alloc-{first.pk}" id="alloc-{first.pk}" value="1000,00"' in html

    too_much = client.post(
        reverse("web:proposal_accept", args=[proposal.pk]), {f"alloc-{first.pk}": "2000"}
    )
    assert too_much.status_code == 400 and 'id="allocation-errors"' in too_much.content.decode()
    accepted = client.post(
        reverse("web:proposal_accept", args=[proposal.pk]),
        {f"alloc-{first.pk}": "700", f"alloc-{second.pk}": "300"},
    )
    assert accepted.status_code == 302
    assert sorted(Allocation.objects.values_list("amount", flat=True)) == [300, 700]


def test_rejecting_a_proposal_needs_a_reason(adv: User, compta: User, acme: Customer) -> None:
    invoice = issued_invoice(adv, acme)
    paid = payment(compta, None, "1200.00")
    proposal = MatchProposal.objects.create(
        payment=paid,
        customer=acme,
        reason=MatchReason.PAYER_EXACT_AMOUNT,
        confidence=Decimal("0.85"),
        allocations=[{"invoice": invoice.pk, "number": invoice.number, "amount": "1200.00"}],
    )
    client = client_for(compta)
    assert client.post(reverse("web:proposal_reject", args=[proposal.pk])).status_code == 400
    done = client.post(
        reverse("web:proposal_reject", args=[proposal.pk]), {"reason": "Pas ce client"}
    )
    assert done.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED


def test_payments_without_proposal_are_listed_on_the_reconciliation_screen(
    compta: User,
) -> None:
    alone = payment(compta, None, "42.00", reference="VIR MYSTERE")
    html = client_for(compta).get(reverse("web:reconciliation")).content.decode()
    section = html[html.index('id="unmatched-payments"') :]
    assert f'data-pk="{alone.pk}"' in section and "VIR MYSTERE" in section


# ---------------------------------------------------------------- disputes


def test_a_dispute_opened_from_the_invoice_then_resolved_and_closed(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    client = client_for(compta)
    invoice_page = client.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()
    assert reverse("web:dispute_open", args=[invoice.pk]) in invoice_page
    assert 'id="open-amount"' in invoice_page

    opened = client.post(
        reverse("web:dispute_open", args=[invoice.pk]),
        {
            "reason": "price",
            "owner": compta.pk,
            "due_on": (timezone.localdate() + dt.timedelta(days=10)).isoformat(),
            "notes": "Le client conteste le tarif journalier.",
        },
    )

    dispute = Dispute.objects.get()
    assert opened.status_code == 302
    assert opened["Location"] == reverse("web:dispute_detail", args=[dispute.pk])
    assert dispute.status == DisputeStatus.OPEN and dispute.amount == Decimal("1200.00")
    invoice_page = client.get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()
    assert reverse("web:dispute_detail", args=[dispute.pk]) in invoice_page
    assert 'id="open-dispute-link"' not in invoice_page  # one open dispute at a time
    listing = client.get(reverse("web:dispute_list"), {"status": "open"}).content.decode()
    assert f'data-pk="{dispute.pk}"' in listing

    # a credit note resolution without the credit note is refused next to the field
    refused = client.post(
        reverse("web:dispute_resolve", args=[dispute.pk]), {"resolution": "credit_note"}
    )
    assert refused.status_code == 400 and "field-error" in refused.content.decode()
    note = create_credit_note(actor=adv, invoice=invoice, reason="commercial_gesture")
    note = issue_invoice(actor=adv, invoice=note)
    page = client.get(reverse("web:dispute_detail", args=[dispute.pk])).content.decode()
    assert str(note.number) in page  # offered in the credit note list
    resolved = client.post(
        reverse("web:dispute_resolve", args=[dispute.pk]),
        {"resolution": "credit_note", "credit_note": note.pk, "note": "Avoir accordé"},
    )
    assert resolved.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.credit_note) == (DisputeStatus.RESOLVED, note)

    assert client.post(reverse("web:dispute_reopen", args=[dispute.pk])).status_code == 400
    closed = client.post(reverse("web:dispute_close", args=[dispute.pk]), {"note": "Appliqué"})
    assert closed.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.CLOSED
    history = page_text(client.get(reverse("web:dispute_detail", args=[dispute.pk])))
    assert "Avoir accordé" in history and "Appliqué" in history  # the audit trail
    again = client.post(reverse("web:dispute_close", args=[dispute.pk]))
    assert again.status_code == 409


def test_a_rejected_dispute_needs_a_note_and_can_be_reopened(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    client = client_for(compta)
    client.post(
        reverse("web:dispute_open", args=[invoice.pk]),
        {"reason": "quality", "owner": compta.pk, "due_on": timezone.localdate().isoformat()},
    )
    dispute = Dispute.objects.get()
    no_note = client.post(
        reverse("web:dispute_resolve", args=[dispute.pk]), {"resolution": "rejected"}
    )
    assert no_note.status_code == 400
    client.post(
        reverse("web:dispute_resolve", args=[dispute.pk]),
        {"resolution": "rejected", "note": "Prestation conforme au cahier des charges"},
    )
    reopened = client.post(
        reverse("web:dispute_reopen", args=[dispute.pk]), {"reason": "Le client insiste"}
    )
    assert reopened.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"reason": "nope", "owner": "1", "due_on": "2026-12-01"},
        {"reason": "price", "owner": "999999", "due_on": "2026-12-01"},
        {"reason": "price", "owner": "1", "due_on": "2000-01-01"},
        {"reason": "price", "owner": "1", "due_on": "99999-01-01", "lines": ["abc"]},
    ],
)
def test_bad_dispute_input_is_a_form_error(
    adv: User, compta: User, acme: Customer, data: dict[str, Any]
) -> None:
    invoice = issued_invoice(adv, acme)
    if data.get("owner") == "1":
        data = data | {"owner": str(compta.pk)}
    response = client_for(compta).post(reverse("web:dispute_open", args=[invoice.pk]), data)
    assert response.status_code == 400
    assert "field-error" in response.content.decode() or "errorlist" in response.content.decode()
    assert not Dispute.objects.exists()


def test_an_auditor_cannot_open_a_dispute(adv: User, auditeur: User, acme: Customer) -> None:
    invoice = issued_invoice(adv, acme)
    response = client_for(auditeur).post(
        reverse("web:dispute_open", args=[invoice.pk]),
        {"reason": "price", "owner": auditeur.pk, "due_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 403 and not Dispute.objects.exists()


def test_overdue_disputes_come_first(adv: User, compta: User, acme: Customer) -> None:
    from levier.collections.disputes import open_dispute

    today = timezone.localdate()
    later = open_dispute(
        actor=compta,
        invoice=issued_invoice(adv, acme),
        reason="price",
        owner=compta,
        due_on=today + dt.timedelta(days=30),
    )
    overdue = open_dispute(
        actor=compta,
        invoice=issued_invoice(adv, acme),
        reason="quantity",
        owner=compta,
        due_on=today - dt.timedelta(days=2),
        opened_on=today - dt.timedelta(days=10),
    )
    html = client_for(compta).get(reverse("web:dispute_list")).content.decode()
    assert html.index(f'data-pk="{overdue.pk}"') < html.index(f'data-pk="{later.pk}"')
    assert 'class="overdue"' in html


# ---------------------------------------------------------------- dunning


def test_the_dunning_preview_shows_the_reminder_and_the_skips_then_the_run_sends_it(
    adv: User,
    compta: User,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    default_scenario()
    today = timezone.localdate()
    late = dunning_customer("Retard Durable SARL", email="compta@retard.example")
    disputed_customer = dunning_customer("Contestataire SA", email="ap@conteste.example")
    reminded = invoice_due(adv, late, today - dt.timedelta(days=10))
    disputed = invoice_due(adv, disputed_customer, today - dt.timedelta(days=10))
    from levier.collections.disputes import open_dispute

    open_dispute(actor=compta, invoice=disputed, reason="price", owner=compta, due_on=today)
    client = client_for(compta)

    preview = page_text(client.get(reverse("web:dunning")))

    assert "Retard Durable SARL" in preview and str(reminded.number) in preview
    assert "compta@retard.example" in preview
    skipped = preview[preview.index('id="dunning-skipped"') :]
    assert str(disputed.number) in skipped and 'data-reason="dispute"' in skipped
    assert not DunningRun.objects.exists()  # a preview writes nothing

    unconfirmed = client.post(reverse("web:dunning_run"), {"run_date": today.isoformat()})
    assert unconfirmed.status_code == 400 and not DunningRun.objects.exists()
    ahead = client.post(
        reverse("web:dunning_run"),
        {"run_date": (today + dt.timedelta(days=3)).isoformat(), "confirm": "on"},
    )
    assert ahead.status_code == 400 and not DunningRun.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):  # the sending job, after the commit
        ran = client.post(
            reverse("web:dunning_run"), {"run_date": today.isoformat(), "confirm": "on"}
        )

    run = DunningRun.objects.get()
    assert ran.status_code == 302
    assert ran["Location"] == reverse("web:dunning_run_detail", args=[run.pk])
    message = DunningMessage.objects.get(customer=late)
    assert message.status == MessageStatus.SENT
    assert [m.to for m in mailoutbox] == [["compta@retard.example"]]
    detail = page_text(client.get(ran["Location"]))
    assert "Retard Durable SARL" in detail and "compta@retard.example" in detail
    sent = page_text(client.get(reverse("web:dunning_message", args=[message.pk])))
    assert "releve-de-compte" in sent  # the statement attached
    history = client.get(reverse("web:dunning_runs")).content.decode()
    assert f'data-pk="{run.pk}"' in history
    customer_page = client.get(reverse("web:customer_detail", args=[late.pk])).content.decode()
    assert 'id="collections-reminders"' in customer_page and message.step.name in customer_page


def test_a_commercial_cannot_run_the_reminders(commercial: User) -> None:
    response = client_for(commercial).post(
        reverse("web:dunning_run"),
        {"run_date": timezone.localdate().isoformat(), "confirm": "on"},
    )
    assert response.status_code == 403 and not DunningRun.objects.exists()


def test_a_broken_step_text_is_refused_next_to_the_field(compta: User) -> None:
    default_scenario()
    step = DunningStep.objects.filter(scenario__is_default=True).order_by("offset_days").first()
    assert step is not None
    client = client_for(compta)
    page = client.get(reverse("web:dunning_step_edit", args=[step.pk]))
    assert page.status_code == 200 and "customer_name" in page.content.decode()

    response = client.post(
        reverse("web:dunning_step_edit", args=[step.pk]),
        {
            "name": step.name,
            "offset_days": step.offset_days,
            "channel": step.channel,
            "subject": step.subject,
            "body": "Bonjour {{ nom_du_client }}, {% if %}",
        },
    )

    assert response.status_code == 400
    html = page_text(response)
    body_field = html[html.index('id="body-field"') : html.index('id="merge-fields"')]
    assert "field-error" in body_field and "nom_du_client" in body_field
    before = step.body
    step.refresh_from_db()
    assert step.body == before

    saved = client.post(
        reverse("web:dunning_step_edit", args=[step.pk]),
        {
            "name": step.name,
            "offset_days": step.offset_days,
            "channel": step.channel,
            "subject": step.subject,
            "body": "Bonjour {{ customer_name }},\n{{ invoices_table }}",
        },
    )
    assert saved.status_code == 302
    step.refresh_from_db()
    assert step.body.startswith("Bonjour {{ customer_name }}")


def test_a_direction_reads_the_scenarios_but_cannot_edit_them(direction: User) -> None:
    default_scenario()
    step = DunningStep.objects.filter(scenario__is_default=True).first()
    assert step is not None
    client = client_for(direction)
    assert client.get(reverse("web:dunning_scenarios")).status_code == 200
    read_only = client.get(reverse("web:dunning_step_edit", args=[step.pk]))
    assert read_only.status_code == 200 and 'id="save-step"' not in read_only.content.decode()
    response = client.post(
        reverse("web:dunning_step_edit", args=[step.pk]),
        {"name": "X", "offset_days": "3", "channel": "email", "subject": "", "body": ""},
    )
    assert response.status_code == 403


# ---------------------------------------------------------------- my day and the customer page


def test_my_day_lists_the_tasks_and_a_task_is_done_with_a_note(
    compta: User, acme: Customer
) -> None:
    today = timezone.localdate()
    task = CollectionTask.objects.create(
        customer=acme, kind="call", title="Appeler Acme", due_on=today, amount=Decimal("900")
    )
    payment(compta, None, "75.00")
    client = client_for(compta)
    page = client.get(reverse("web:collections_today")).content.decode()
    assert "Appeler Acme" in page and 'id="unmatched-count">1<' in page

    done = client.post(
        reverse("web:task_complete", args=[task.pk]),
        {"note": "Paiement promis vendredi", "next": reverse("web:collections_today")},
    )

    assert done.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert CollectionNote.objects.filter(customer=acme, text__contains="promis").exists()
    twice = client.post(reverse("web:task_complete", args=[task.pk]), {"note": "encore"})
    assert twice.status_code == 409 and 'class="msg-error"' in twice.content.decode()


def test_cancelling_a_task_needs_a_note(compta: User, acme: Customer) -> None:
    task = CollectionTask.objects.create(
        customer=acme, kind="call", title="Appeler Acme", due_on=timezone.localdate()
    )
    url = reverse("web:customer_detail", args=[acme.pk])
    response = client_for(compta).post(
        reverse("web:task_complete", args=[task.pk]), {"cancel": "on", "next": url}
    )
    assert response.status_code == 400 and 'id="collections"' in response.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_the_customer_page_shows_the_account_and_records_a_promise_and_a_note(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    client = client_for(compta)
    page = page_text(client.get(reverse("web:customer_detail", args=[acme.pk])))
    assert 'id="collections"' in page and 'id="aged-balance"' in page
    assert money("1200") in page and str(invoice.number) in page

    bad = client.post(
        reverse("web:promise_record", args=[acme.pk]),
        {"invoices": [invoice.pk], "promised_on": "2001-01-01"},
    )
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    assert not PromiseToPay.objects.exists()

    promised = client.post(
        reverse("web:promise_record", args=[acme.pk]),
        {
            "invoices": [invoice.pk],
            "promised_on": (timezone.localdate() + dt.timedelta(days=7)).isoformat(),
            "note": "Promis au téléphone",
        },
    )
    assert promised.status_code == 302
    promise = PromiseToPay.objects.get()
    assert promise.amount == Decimal("1200.00") and promise.status == PromiseStatus.OPEN

    empty_note = client.post(reverse("web:collection_note_add", args=[acme.pk]), {"kind": "call"})
    assert empty_note.status_code == 400
    noted = client.post(
        reverse("web:collection_note_add", args=[acme.pk]),
        {"kind": "call", "text": "Rappeler la comptable lundi"},
    )
    assert noted.status_code == 302
    page = page_text(client.get(reverse("web:customer_detail", args=[acme.pk])))
    assert "Rappeler la comptable lundi" in page and "Promis au téléphone" in page

    cancelled = client.post(
        reverse("web:promise_cancel", args=[promise.pk]), {"reason": "Le client se rétracte"}
    )
    assert cancelled.status_code == 302
    promise.refresh_from_db()
    assert promise.status == PromiseStatus.CANCELLED


def test_the_account_statement_downloads_as_a_pdf(adv: User, compta: User, acme: Customer) -> None:
    issued_invoice(adv, acme)
    client = client_for(compta)
    response = client.get(reverse("web:account_statement_pdf", args=[acme.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    bad_date = client.get(reverse("web:account_statement_pdf", args=[acme.pk]), {"as_of": "x"})
    assert bad_date.status_code == 400


def test_sending_the_statement_without_an_address_says_so(
    adv: User, compta: User, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    nobody = CustomerFactory(name="Sans Adresse SARL", with_contacts=False, invoice_email="")
    response = client_for(compta).post(reverse("web:account_statement_send", args=[nobody.pk]))
    assert response.status_code == 400 and "Sans Adresse SARL" in page_text(response)
    reachable = dunning_customer("Joignable SAS", email="compta@joignable.example")
    with django_capture_on_commit_callbacks(execute=True):
        sent = client_for(compta).post(reverse("web:account_statement_send", args=[reachable.pk]))
    assert sent.status_code == 302
    assert [m.to for m in mailoutbox] == [["compta@joignable.example"]]
    page = page_text(client_for(compta).get(reverse("web:customer_detail", args=[reachable.pk])))
    assert "compta@joignable.example" in page[page.index('id="statement-emails"') :]


def test_the_invoice_page_shows_the_payment_matched(
    adv: User, compta: User, acme: Customer
) -> None:
    invoice = issued_invoice(adv, acme)
    paid = payment(compta, acme, "1200.00")
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, Decimal(1200))])
    html = client_for(adv).get(reverse("web:invoice_detail", args=[invoice.pk])).content.decode()
    assert 'id="paid-badge"' in html
    assert reverse("web:payment_detail", args=[paid.pk]) in html
    # ADV reads the matching; only accounting may undo it
    assert reverse("web:allocation_unmatch", args=[Allocation.objects.get().pk]) not in html


# ---------------------------------------------------------------- junk, as the accountant


COLLECTIONS_JUNK: list[dict[str, Any]] = [
    {},
    {
        "amount": "1e999",
        "received_on": "99999-99-99",
        "customer": "-1",
        "method": "x",
        "alloc-1": "NaN",
        "alloc-999999999999": "1",
        "reason": "x" * 5000,
        "q": "%" * 300,
        "page": "-1",
        "as_of": "0000-00-00",
        "run_date": "2199-12-31",
        "confirm": "on",
        "resolution": "credit_note",
        "credit_note": "abc",
        "corrected_invoice": "-5",
        "owner": "0",
        "due_on": "1-1-1",
        "lines": ["x", "99999999999999999999"],
        "invoices": ["9" * 30],
        "promised_on": "31/12/9999",
        "kind": "??",
        "text": "\x00",
        "offset_days": "99999999999",
        "channel": "x",
        "body": "{% if %}{{ x",
        "subject": "{% load os %}",
        "cancel": "on",
        "next": "//evil.example/",
        "statement_files": "not a file",
    },
    {"proposal": "1", "mine": "1", "kind": "task", "status": "zzz", "upage": "999", "spage": "x"},
    {"resolution": "rejected", "note": "", "as_of": "1900-01-01", "run_date": "1900-01-01"},
]


def test_the_collections_routes_answer_junk_from_the_accountant_with_a_4xx_or_a_page(
    adv: User, compta: User, acme: Customer
) -> None:
    """The generic junk test signs in as the other roles; Comptabilité passes the role checks."""
    from django.urls import URLPattern

    from levier.collections.disputes import open_dispute
    from levier.collections.dunning import run_dunning
    from levier.collections.followup import record_promise
    from levier.web import urls_collections
    from levier.web.tests.test_no_server_error import concrete_paths

    default_scenario()
    today = timezone.localdate()
    invoice = issued_invoice(adv, acme, issue_date=today - dt.timedelta(days=60))
    late = invoice_due(adv, dunning_customer("Junk SARL"), today - dt.timedelta(days=10))
    paid = payment(compta, acme, "100.00")
    allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, Decimal(100))])
    proposal = MatchProposal.objects.create(
        payment=payment(compta, None, "5.00"),
        reason=MatchReason.PAYER_PARTIAL,
        confidence=Decimal("0.60"),
        allocations=[{"invoice": invoice.pk, "number": invoice.number, "amount": "5.00"}],
    )
    dispute = open_dispute(actor=compta, invoice=late, reason="price", owner=compta, due_on=today)
    promise = record_promise(actor=compta, customer=acme, invoices=[invoice], promised_on=today)
    task = CollectionTask.objects.create(customer=acme, kind="call", title="T", due_on=today)
    run = run_dunning(actor=compta, run_date=today)
    ids = sorted(
        {
            acme.pk,
            invoice.pk,
            paid.pk,
            Allocation.objects.get().pk,
            proposal.pk,
            dispute.pk,
            promise.pk,
            task.pk,
            run.pk,
            DunningStep.objects.first().pk,  # type: ignore[union-attr]
            1,
        }
        | set(DunningMessage.objects.values_list("pk", flat=True))
    )
    client = client_for(compta)
    client.raise_request_exception = True
    patterns = [p for p in urls_collections.urlpatterns if isinstance(p, URLPattern)]
    assert len(patterns) > 20
    for pattern in patterns:
        for path in concrete_paths(str(pattern.pattern), ids):
            for body in COLLECTIONS_JUNK:
                for response in (
                    client.get(path, body),
                    client.post(path, body),
                    client.post(path, body, HTTP_HX_REQUEST="true"),
                ):
                    assert response.status_code < 500, (path, body)
            upload = {"statement_files": SimpleUploadedFile("x.txt", b"\xff\xfe\x00" * 99)}
            assert client.post(path, upload).status_code < 500, (path, "upload")


def test_accounting_enters_the_ecb_rate_of_a_half_year(compta: User) -> None:
    from levier.collections.models import LateInterestRate

    client = client_for(compta)
    page = client.get(reverse("web:dunning_scenarios"))
    assert 'id="rate-form"' in page.content.decode()
    response = client.post(
        reverse("web:interest_rate_save"),
        {"valid_from": "2027-01-01", "ecb_rate": "2,00", "margin_points": "10"},
    )
    assert response.status_code == 302
    row = LateInterestRate.objects.get(valid_from=dt.date(2027, 1, 1))
    assert row.legal_rate == Decimal("12.00")


def test_a_rate_that_does_not_start_a_half_year_is_refused_on_the_form(compta: User) -> None:
    response = client_for(compta).post(
        reverse("web:interest_rate_save"),
        {"valid_from": "2027-02-01", "ecb_rate": "2", "margin_points": "10"},
    )
    assert response.status_code == 400
    assert "1" in unescape(response.content.decode())
    from levier.collections.models import LateInterestRate

    assert not LateInterestRate.objects.filter(valid_from=dt.date(2027, 2, 1)).exists()


def test_direction_reads_the_rates_but_cannot_enter_one(direction: User) -> None:
    client = client_for(direction)
    assert 'id="rate-form"' not in client.get(reverse("web:dunning_scenarios")).content.decode()
    response = client.post(
        reverse("web:interest_rate_save"),
        {"valid_from": "2027-01-01", "ecb_rate": "2", "margin_points": "10"},
    )
    assert response.status_code == 403


def test_accounting_creates_a_segment_scenario_and_gives_a_customer_its_own(compta: User) -> None:
    from levier.collections.dunning_defaults import seed_default_scenario
    from levier.collections.models import CustomerScenario, DunningScenario

    default = seed_default_scenario()
    client = client_for(compta)
    created = client.post(
        reverse("web:scenario_create"), {"name": "Secteur public", "segment": "Public"}
    )
    assert created.status_code == 302
    public = DunningScenario.objects.get(name="Secteur public")
    assert public.segment == "Public" and public.steps.count() == default.steps.count()
    buyer = CustomerFactory()
    page = client.get(reverse("web:customer_detail", args=[buyer.pk]))
    assert 'id="dunning-scenario"' in page.content.decode()
    assigned = client.post(
        reverse("web:customer_scenario", args=[buyer.pk]), {"scenario": str(public.pk)}
    )
    assert assigned.status_code == 302
    assert CustomerScenario.objects.get(customer=buyer).scenario == public
    junk = client.post(reverse("web:customer_scenario", args=[buyer.pk]), {"scenario": "9" * 30})
    assert junk.status_code == 400


def test_a_sales_rep_cannot_create_a_scenario(commercial: User) -> None:
    response = client_for(commercial).post(
        reverse("web:scenario_create"), {"name": "Laxiste", "segment": ""}
    )
    assert response.status_code == 403
