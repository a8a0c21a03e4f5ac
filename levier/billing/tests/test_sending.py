"""Sending issued invoices and credit notes on the customer's channel, as a logged job.

Emails go through a real SMTP server (aiosmtpd on 127.0.0.1, `smtp_server`); the platform is
the default outbox folder (under the test's tmp_path) or a recording stand-in; post is left
to print. The issuing code will call `queue_invoice_dispatch` itself; these tests call it
explicitly after issuing.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from email.message import EmailMessage
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from facturx import get_xml_from_pdf

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.choices import Channel, Verb
from levier.audit.models import AuditEvent
from levier.billing.jobs_sending import (
    MAX_SEND_ATTEMPTS,
    NO_RECIPIENT_REASON,
    send_invoice_dispatch,
)
from levier.billing.models import Invoice, InvoiceDispatch
from levier.billing.platform import OutboxPlatform, PlatformError
from levier.billing.sending import (
    mark_printed,
    queue_invoice_dispatch,
    queue_invoice_dispatches,
    resend_invoice,
)
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.customers.models import Customer
from levier.customers.tests.factories import ContactFactory, CustomerFactory
from levier.jobs import dispatch
from levier.lib.errors import NotAllowed
from levier.lib.testing.smtp import SmtpServer, free_port
from levier.lib.testing.smtp import smtp_server as smtp_server

pytestmark = pytest.mark.django_db

Status = InvoiceDispatch.Status
DAY = dt.date(2026, 11, 27)
NNBSP = "\u202f"  # French thousands separator (narrow no-break space)
NBSP = "\u00a0"  # before "€"
TTC = f"9{NNBSP}930,00{NBSP}€"  # 10 × 800 € at 20 % + 2 × 150 € at 10 %

# What the recording platform stand-in received, and what it should do next.
SUBMITTED: list[tuple[str, str, bytes]] = []
PLATFORM_FAILURES: list[Exception] = []


class RecordingPlatform:
    """A connector stand-in: records each submission, or raises the queued failure."""

    label = "Plateforme de test"

    def submit(self, invoice: Invoice, facturx: bytes, filename: str) -> str:
        if PLATFORM_FAILURES:
            raise PLATFORM_FAILURES.pop(0)
        SUBMITTED.append((str(invoice.number), filename, facturx))
        return f"PDP-{len(SUBMITTED):04d}"


@pytest.fixture(autouse=True)
def _outbox(settings: Any, tmp_path: Path) -> Path:
    SUBMITTED.clear()
    PLATFORM_FAILURES.clear()
    settings.LEVIER_OUTBOX_DIR = tmp_path / "outbox"
    settings.DEFAULT_FROM_EMAIL = "facturation@levier.example"
    return Path(settings.LEVIER_OUTBOX_DIR)


@pytest.fixture
def durand() -> Customer:
    """A customer whose purchasing and accounts-payable contacts are two people."""
    customer: Customer = CustomerFactory(name="Industries Durand SA", with_contacts=False)
    ContactFactory(
        customer=customer, last_name="Achat", email="achats@durand.example", is_purchasing=True
    )
    ContactFactory(
        customer=customer,
        last_name="Compta",
        email="compta@durand.example",
        is_accounts_payable=True,
    )
    ContactFactory(customer=customer, last_name="Sansmail", email="", is_accounts_payable=True)
    return customer


def issued(adv: User, customer: Customer, **kw: Any) -> Invoice:
    return issue_invoice(actor=adv, invoice=draft_invoice(adv, customer, **kw), issue_date=DAY)


def run(row: InvoiceDispatch) -> InvoiceDispatch:
    """Run the row's job in this process (what the on-commit dispatch does), then reload."""
    dispatch(send_invoice_dispatch, dispatch_id=row.pk)
    row.refresh_from_db()
    return row


def set_channel(customer: Customer, channel: str, **fields: Any) -> None:
    Customer.objects.filter(pk=customer.pk).update(invoice_channel=channel, **fields)
    customer.refresh_from_db()


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def sweep(*args: str) -> str:
    out = StringIO()
    call_command("send_invoices", *args, stdout=out)
    return out.getvalue()


def aged(row: InvoiceDispatch, status: str, minutes: int, attempts: int = 1) -> None:
    """The row as a job left it `minutes` ago."""
    InvoiceDispatch.objects.filter(pk=row.pk).update(
        status=status,
        attempts=attempts,
        claimed_at=timezone.now() - dt.timedelta(minutes=minutes),
    )


# ---------------------------------------------------------------- email


def test_issued_invoice_is_emailed_to_accounts_payable_with_its_facturx_pdf(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    invoice = issued(adv, durand, po_number="PO-DURAND-7781")

    # when: queued in the issuing transaction, sent by the job dispatched on commit
    with django_capture_on_commit_callbacks(execute=True):
        row = queue_invoice_dispatch(invoice, actor=adv)
        assert row.status == Status.QUEUED and smtp_server.received == []

    [received] = smtp_server.received
    assert received.rcpt_tos == ["compta@durand.example"]  # not the purchasing contact
    message = received.message
    assert message["To"] == "compta@durand.example"
    assert message["From"] == "facturation@levier.example"
    assert message["Reply-To"] == "adv@levier.example"  # the seller's billing email
    assert message["Subject"] == "Facture F2026-000001 – Levier Conseil"
    text = text_part(message)
    for expected in [
        "Veuillez trouver ci-joint notre facture F2026-000001 du 27 novembre 2026, "
        f"d'un montant de {TTC} TTC.",
        f"Montant TTC : {TTC}",
        "Échéance : 27 décembre 2026",
        "Votre référence (bon de commande) : PO-DURAND-7781",
        "Merci de régler cette facture au plus tard le 27 décembre 2026 par virement :",
        "IBAN : FR76 3000 6000 0112 3456 7890 189",
        "BIC : AGRIFRPP",
        "Référence de paiement à indiquer : RF82F2026000001",
        "Factur-X",
    ]:
        assert expected in text, expected
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "F2026-000001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    xml_name, xml = get_xml_from_pdf(io.BytesIO(pdf), check_xsd=False)
    assert xml_name == "factur-x.xml" and b"F2026-000001" in xml

    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == (Status.SENT, 1, "")
    assert row.channel == "email" and row.created_by == adv
    assert row.recipients == "compta@durand.example"
    assert row.message_id == message["Message-ID"]
    assert row.sent_at is not None
    event = AuditEvent.objects.get(
        object_type="billing.invoice", object_id=str(invoice.pk), verb=Verb.SEND
    )
    assert event.channel == Channel.JOB and event.actor is None
    assert event.changes["to"] == ["compta@durand.example"]
    assert event.changes["dispatch"] == row.pk


def test_the_customers_invoice_email_takes_precedence_over_its_contacts(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    set_channel(durand, "email", invoice_email="factures@durand.example")

    row = run(queue_invoice_dispatch(issued(adv, durand), actor=adv))

    assert row.status == Status.SENT
    assert [mail.rcpt_tos for mail in smtp_server.received] == [["factures@durand.example"]]


def test_credit_note_email_names_the_credited_invoice_and_asks_for_no_payment(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    invoice = issued(adv, durand)
    note = create_credit_note(actor=adv, invoice=invoice, reason="duplicate")
    note = issue_invoice(actor=adv, invoice=note, issue_date=DAY)

    row = run(queue_invoice_dispatch(note, actor=adv))

    assert row.status == Status.SENT
    [message] = smtp_server.messages
    assert message["Subject"] == "Avoir AV2026-000001 – Levier Conseil"
    text = text_part(message)
    assert (
        f"notre avoir AV2026-000001 du 27 novembre 2026, d'un montant de {TTC} TTC, "
        "sur la facture F2026-000001 du 27 novembre 2026." in text
    )
    assert "vous n'avez rien à régler" in text
    assert "IBAN" not in text
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "AV2026-000001.pdf"


def test_no_recipient_fails_with_a_french_reason_and_sends_nothing(
    smtp_server: SmtpServer, adv: User
) -> None:
    customer: Customer = CustomerFactory(with_contacts=False)
    ContactFactory(customer=customer, email="achats@x.example", is_purchasing=True)

    row = run(queue_invoice_dispatch(issued(adv, customer), actor=adv))

    assert smtp_server.messages == []
    assert (row.status, row.attempts) == (Status.FAILED, 1)
    assert row.error == NO_RECIPIENT_REASON
    assert "comptabilité fournisseurs" in row.error
    assert not AuditEvent.objects.filter(verb=Verb.SEND).exists()


def test_a_failing_smtp_server_leaves_the_row_failed_then_the_sweeper_sends_it(
    smtp_server: SmtpServer, durand: Customer, adv: User, settings: Any
) -> None:
    row = queue_invoice_dispatch(issued(adv, durand), actor=adv)
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens: connection refused

    row = run(row)

    assert (row.status, row.attempts) == (Status.FAILED, 1)
    assert "ConnectionRefusedError" in row.error
    assert smtp_server.messages == []

    # a fresh failure is left alone, then retried once it is older than --older-than-minutes
    settings.EMAIL_PORT = real_port
    assert sweep() == "No pending invoice sending.\n"
    output = sweep("--older-than-minutes", "0")

    assert "F2026-000001 (email): failed (attempt 1) -> sent" in output
    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == (Status.SENT, 2, "")
    assert len(smtp_server.messages) == 1


def test_claiming_twice_sends_once(smtp_server: SmtpServer, durand: Customer, adv: User) -> None:
    row = queue_invoice_dispatch(issued(adv, durand), actor=adv)

    run(row)
    row = run(row)

    assert len(smtp_server.messages) == 1
    assert (row.status, row.attempts) == (Status.SENT, 1)
    assert AuditEvent.objects.filter(verb=Verb.SEND).count() == 1


def test_a_fresh_claim_is_left_to_its_run_and_a_stale_one_is_taken_over(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    row = queue_invoice_dispatch(issued(adv, durand), actor=adv)
    aged(row, Status.SENDING, minutes=1)

    row = run(row)

    assert smtp_server.messages == [] and row.status == Status.SENDING

    aged(row, Status.SENDING, minutes=30)  # the claim timeout is 10 minutes
    row = run(row)

    assert len(smtp_server.messages) == 1
    assert (row.status, row.attempts) == (Status.SENT, 2)


def test_queueing_twice_keeps_one_row(durand: Customer, adv: User) -> None:
    invoice = issued(adv, durand)

    first = queue_invoice_dispatch(invoice, actor=adv)
    second = queue_invoice_dispatch(invoice)

    assert first.pk == second.pk
    assert InvoiceDispatch.objects.count() == 1


def test_a_draft_cannot_be_queued(durand: Customer, adv: User) -> None:
    with pytest.raises(ValueError, match="issued"):
        queue_invoice_dispatch(draft_invoice(adv, durand))
    assert not InvoiceDispatch.objects.exists()


def test_a_batch_is_queued_in_a_constant_number_of_queries(
    durand: Customer,
    adv: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    post: Customer = CustomerFactory(name="Papier SARL", invoice_channel="post")
    platform: Customer = CustomerFactory(invoice_channel="einvoicing")
    mailbox: Customer = CustomerFactory(invoice_email="factures@mailbox.example")

    def batch(count: int) -> list[Invoice]:
        customers = [durand, post, platform, mailbox]
        return [issued(adv, customers[n % len(customers)]) for n in range(count)]

    small, large = batch(2), batch(12)
    already = queue_invoice_dispatch(large[0], actor=adv)
    with (
        django_capture_on_commit_callbacks() as small_jobs,
        CaptureQueriesContext(connection) as small_queries,
    ):
        queue_invoice_dispatches(small, actor=adv)
    with (
        django_capture_on_commit_callbacks() as jobs,
        CaptureQueriesContext(connection) as large_queries,
    ):
        rows = queue_invoice_dispatches(large, actor=adv)

    # constant whatever the batch size
    assert len(large_queries.captured_queries) == len(small_queries.captured_queries)
    assert len(small_jobs) == 2 and len(jobs) == 12  # one job per row, the existing included
    assert [row.invoice_id for row in rows] == [invoice.pk for invoice in large]
    assert rows[0].pk == already.pk
    assert all(row.pk and row.created_by == adv for row in rows)
    by_channel = {row.channel: row.recipients for row in rows}
    assert by_channel["post"].startswith("Papier SARL, ")
    assert by_channel["einvoicing"] == OutboxPlatform.label
    recipients = {row.invoice.customer_id: row.recipients for row in rows}
    assert recipients[durand.pk] == "compta@durand.example"
    assert recipients[mailbox.pk] == "factures@mailbox.example"
    assert all(row.subject == f"Facture {row.invoice.number} – Levier Conseil" for row in rows)


# ---------------------------------------------------------------- platform


def test_platform_sending_drops_the_facturx_file_in_the_outbox_and_keeps_its_id(
    smtp_server: SmtpServer, durand: Customer, adv: User, _outbox: Path
) -> None:
    set_channel(durand, "einvoicing")

    row = run(queue_invoice_dispatch(issued(adv, durand), actor=adv))

    assert (row.status, row.attempts, row.error) == (Status.SENT, 1, "")
    assert row.channel == "einvoicing"
    assert row.external_id == "F2026-000001.pdf"
    assert row.recipients == OutboxPlatform.label
    assert sorted(p.name for p in _outbox.iterdir()) == ["F2026-000001.pdf"]  # no leftover
    content = (_outbox / "F2026-000001.pdf").read_bytes()
    xml_name, xml = get_xml_from_pdf(io.BytesIO(content), check_xsd=False)
    assert xml_name == "factur-x.xml" and b"F2026-000001" in xml
    assert smtp_server.messages == []
    event = AuditEvent.objects.get(verb=Verb.SEND)
    assert event.changes["platform_reference"] == "F2026-000001.pdf"


def test_the_platform_class_comes_from_the_setting_and_its_refusal_is_retried(
    durand: Customer, adv: User, settings: Any
) -> None:
    settings.LEVIER_EINVOICING_PLATFORM = f"{__name__}.RecordingPlatform"
    set_channel(durand, "einvoicing")
    PLATFORM_FAILURES.append(PlatformError("HTTP 503 : plateforme indisponible"))
    row = queue_invoice_dispatch(issued(adv, durand), actor=adv)
    assert row.recipients == "Plateforme de test"

    row = run(row)

    assert row.status == Status.FAILED
    assert row.error == "PlatformError: HTTP 503 : plateforme indisponible"
    assert SUBMITTED == []

    report = json.loads(sweep("--older-than-minutes", "0", "--json"))

    [result] = report["dispatches"]
    assert (result["number"], result["result"], result["attempts"]) == ("F2026-000001", "sent", 2)
    row.refresh_from_db()
    assert (row.status, row.external_id) == (Status.SENT, "PDP-0001")
    [(number, filename, pdf)] = SUBMITTED
    assert (number, filename) == ("F2026-000001", "F2026-000001.pdf")
    assert pdf.startswith(b"%PDF")


def test_outbox_refuses_a_file_name_that_leaves_the_folder(tmp_path: Path) -> None:
    outbox = OutboxPlatform(tmp_path)
    for name in ("../F1.pdf", ".hidden.pdf", "a/b.pdf", ""):
        with pytest.raises(ValueError):
            outbox.submit(None, b"%PDF", name)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- post


def test_post_is_left_to_print_then_marked_printed_by_a_person(
    smtp_server: SmtpServer, durand: Customer, adv: User, compta: User
) -> None:
    set_channel(durand, "post")

    row = run(queue_invoice_dispatch(issued(adv, durand), actor=adv))

    assert (row.status, row.error, row.sent_at) == (Status.TO_PRINT, "", None)
    assert row.recipients.startswith("Industries Durand SA, 12 rue de la Paix")
    assert smtp_server.messages == []
    assert run(row).status == Status.TO_PRINT  # the job does not redo it

    printed = mark_printed(actor=compta, dispatch=row)

    assert (printed.status, printed.printed_by) == (Status.PRINTED, compta)
    assert printed.sent_at is not None
    event = AuditEvent.objects.get(verb=Verb.SEND)
    assert event.actor == compta and event.comment == "Imprimé et posté"
    with pytest.raises(NotAllowed):
        mark_printed(actor=compta, dispatch=row)


def test_only_adv_and_comptabilite_mark_printed(
    durand: Customer, adv: User, commercial: User
) -> None:
    set_channel(durand, "post")
    row = run(queue_invoice_dispatch(issued(adv, durand), actor=adv))

    with pytest.raises(PermissionDenied):
        mark_printed(actor=commercial, dispatch=row)

    row.refresh_from_db()
    assert row.status == Status.TO_PRINT


# ---------------------------------------------------------------- resend


def test_resend_creates_a_new_logged_sending_and_an_audit_event(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    compta: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    invoice = issued(adv, durand)
    first = run(queue_invoice_dispatch(invoice, actor=adv))

    with django_capture_on_commit_callbacks(execute=True):
        second = resend_invoice(actor=compta, invoice=invoice)

    assert second.pk != first.pk
    second.refresh_from_db()
    assert (second.status, second.created_by) == (Status.SENT, compta)
    assert len(smtp_server.messages) == 2
    first.refresh_from_db()
    assert first.status == Status.SENT  # the log keeps the first sending as it was
    request = AuditEvent.objects.get(verb=Verb.SEND, actor=compta)
    assert request.object_id == str(invoice.pk)
    assert request.changes["dispatch"] == second.pk
    assert request.comment == "Nouvel envoi demandé (e-mail)"


def test_resend_replaces_a_pending_sending_instead_of_doubling_it(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    invoice = issued(adv, durand)
    failed = queue_invoice_dispatch(invoice, actor=adv)
    aged(failed, Status.FAILED, minutes=60)

    new = resend_invoice(actor=adv, invoice=invoice)

    failed.refresh_from_db()
    assert failed.status == Status.SUPERSEDED
    assert failed.error == f"Remplacé par l'envoi n° {new.pk}."
    # the replaced row is neither retried by the sweeper nor sent by its own job
    assert run(failed).status == Status.SUPERSEDED
    sweep("--older-than-minutes", "0")
    assert len(smtp_server.messages) == 1
    new.refresh_from_db()
    assert new.status == Status.SENT


def test_resend_uses_the_customers_current_channel(
    durand: Customer, adv: User, _outbox: Path
) -> None:
    invoice = issued(adv, durand)
    queue_invoice_dispatch(invoice, actor=adv)
    set_channel(durand, "einvoicing")

    new = run(resend_invoice(actor=adv, invoice=invoice))

    assert (new.channel, new.status) == ("einvoicing", Status.SENT)
    assert (_outbox / "F2026-000001.pdf").exists()


def test_resend_waits_for_a_sending_in_progress(durand: Customer, adv: User) -> None:
    invoice = issued(adv, durand)
    row = queue_invoice_dispatch(invoice, actor=adv)
    aged(row, Status.SENDING, minutes=1)

    with pytest.raises(NotAllowed, match="F2026-000001"):
        resend_invoice(actor=adv, invoice=invoice)

    assert InvoiceDispatch.objects.count() == 1


def test_a_commercial_cannot_resend(durand: Customer, adv: User, commercial: User) -> None:
    invoice = issued(adv, durand)
    before = list(InvoiceDispatch.objects.values_list("pk", "status"))

    with pytest.raises(PermissionDenied):
        resend_invoice(actor=commercial, invoice=invoice)

    assert list(InvoiceDispatch.objects.values_list("pk", "status")) == before
    assert not AuditEvent.objects.filter(verb=Verb.SEND).exists()


def test_a_draft_cannot_be_resent(durand: Customer, adv: User) -> None:
    with pytest.raises(NotAllowed):
        resend_invoice(actor=adv, invoice=draft_invoice(adv, durand))
    assert not InvoiceDispatch.objects.exists()


# ---------------------------------------------------------------- the sweeper


def test_sweeper_takes_queued_failed_and_stale_rows_only(
    smtp_server: SmtpServer, adv: User
) -> None:
    def row_for(status: str, minutes: int, attempts: int = 1) -> InvoiceDispatch:
        invoice = issued(adv, CustomerFactory())
        row = queue_invoice_dispatch(invoice, actor=adv)
        aged(row, status, minutes, attempts)
        return row

    lost = row_for(Status.QUEUED, 10)
    failed = row_for(Status.FAILED, 10)
    stale = row_for(Status.SENDING, 30)
    fresh_failure = row_for(Status.FAILED, 1)
    in_progress = row_for(Status.SENDING, 8)  # older than 5 minutes, claim still valid
    given_up = row_for(Status.FAILED, 10, attempts=MAX_SEND_ATTEMPTS)
    to_print = row_for(Status.TO_PRINT, 60)
    sent = row_for(Status.SENT, 60)

    report = json.loads(sweep("--json"))

    assert report["mode"] == "in-process"
    assert {r["dispatch_id"] for r in report["dispatches"]} == {lost.pk, failed.pk, stale.pk}
    assert all(r["result"] == "sent" for r in report["dispatches"])
    assert len(smtp_server.messages) == 3
    for row, status in [
        (fresh_failure, Status.FAILED),
        (in_progress, Status.SENDING),
        (given_up, Status.FAILED),
        (to_print, Status.TO_PRINT),
        (sent, Status.SENT),
    ]:
        row.refresh_from_db()
        assert row.status == status


def test_issuing_queues_the_sending_on_the_customers_channel(durand: Customer, adv: User) -> None:
    invoice = issued(adv, durand)
    dispatch = InvoiceDispatch.objects.get(invoice=invoice)
    assert (dispatch.channel, dispatch.status) == (durand.invoice_channel, "queued")


def test_without_automatic_sending_issuing_queues_nothing(
    durand: Customer, adv: User, settings: Any
) -> None:
    settings.LEVIER_AUTO_SEND_INVOICES = False
    issued(adv, durand)
    assert not InvoiceDispatch.objects.exists()


def test_a_run_whose_row_was_replaced_meanwhile_does_not_write_its_outcome(
    durand: Customer, adv: User
) -> None:
    from levier.billing import jobs_sending

    invoice = issued(adv, durand)
    row = InvoiceDispatch.objects.get(invoice=invoice)
    claimed = jobs_sending._claim(row.pk)
    assert claimed is not None
    held, _recipients = claimed
    # "Send again" replaced it while the SMTP server was slow to answer.
    InvoiceDispatch.objects.filter(pk=row.pk).update(status="superseded")
    jobs_sending._record_failure(held, OSError("connection reset"))
    row.refresh_from_db()
    assert (row.status, row.error) == ("superseded", "")
