"""The "Sending" section of the invoice page, its buttons, and the customer's channel.

Requests run inside the test's transaction, so the job a sending enqueues for the commit does
not run here (the send itself is tested in levier/billing/tests/test_sending.py): a new
sending shows as "queued".
"""

from __future__ import annotations

import datetime as dt
from html import unescape
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from levier.accounts.models import User
from levier.audit.choices import Verb
from levier.audit.models import AuditEvent
from levier.billing.models import Invoice, InvoiceDispatch
from levier.billing.sending import queue_invoice_dispatch
from levier.billing.services import issue_invoice
from levier.billing.tests.factories import complete_company_profile, draft_invoice
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import customer_data

pytestmark = pytest.mark.django_db

Status = InvoiceDispatch.Status
DAY = dt.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def issued(adv: User, customer: Customer | None = None) -> Invoice:
    return issue_invoice(actor=adv, invoice=draft_invoice(adv, customer), issue_date=DAY)


def page(client: Client, invoice: Invoice) -> str:
    response = client.get(reverse("web:invoice_detail", args=[invoice.pk]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def flashed(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_invoice_page_shows_the_send_log_with_its_error(adv: User) -> None:
    invoice = issued(adv)
    row = queue_invoice_dispatch(invoice, actor=adv)
    InvoiceDispatch.objects.filter(pk=row.pk).update(
        status=Status.FAILED, attempts=2, error="SMTPRecipientsRefused: boîte inconnue"
    )

    html = page(client_for(adv), invoice)

    assert 'id="sending"' in html
    assert f'id="dispatch-{row.pk}" data-status="failed"' in html
    assert row.recipients and row.recipients in html
    assert "SMTPRecipientsRefused: boîte inconnue" in html
    assert 'id="resend-invoice"' in html


def test_a_draft_has_no_sending_section(adv: User) -> None:
    html = page(client_for(adv), draft_invoice(adv))
    assert 'id="sending"' not in html


def test_adv_sends_again_a_new_queued_sending_and_an_audit_event(adv: User) -> None:
    invoice = issued(adv)
    first = queue_invoice_dispatch(invoice, actor=adv)
    InvoiceDispatch.objects.filter(pk=first.pk).update(status=Status.SENT)

    response = client_for(adv).post(reverse("web:invoice_resend", args=[invoice.pk]))

    assert response.status_code == 302
    assert response["Location"].endswith(f"/invoices/{invoice.pk}/#sending")
    new = InvoiceDispatch.objects.exclude(pk=first.pk).get()
    assert (new.status, new.created_by, new.channel) == (Status.QUEUED, adv, "email")
    assert AuditEvent.objects.filter(
        verb=Verb.SEND, actor=adv, object_id=str(invoice.pk), changes__dispatch=new.pk
    ).exists()
    html = page(client_for(adv), invoice)
    assert f'id="dispatch-{new.pk}" data-status="queued"' in html


def test_a_commercial_sees_the_log_but_cannot_send_again(adv: User, commercial: User) -> None:
    invoice = issued(adv)
    queue_invoice_dispatch(invoice, actor=adv)
    client = client_for(commercial)

    html = page(client, invoice)
    response = client.post(reverse("web:invoice_resend", args=[invoice.pk]))

    assert 'id="sending"' in html and 'id="resend-invoice"' not in html
    assert response.status_code == 302
    assert any("not allowed" in m or "permet pas" in m for m in flashed(response))
    assert InvoiceDispatch.objects.count() == 1
    assert not AuditEvent.objects.filter(verb=Verb.SEND).exists()


def test_sending_a_draft_is_refused_with_a_message(adv: User) -> None:
    draft = draft_invoice(adv)

    response = client_for(adv).post(reverse("web:invoice_resend", args=[draft.pk]))

    assert response.status_code == 302
    assert flashed(response)
    assert not InvoiceDispatch.objects.exists()


def test_comptabilite_marks_a_postal_sending_printed(adv: User, compta: User) -> None:
    customer: Customer = CustomerFactory(invoice_channel="post")
    invoice = issued(adv, customer)
    row = queue_invoice_dispatch(invoice, actor=adv)
    InvoiceDispatch.objects.filter(pk=row.pk).update(status=Status.TO_PRINT)
    client = client_for(compta)
    html = page(client, invoice)
    assert f'id="mark-printed-{row.pk}"' in html
    assert reverse("web:invoice_pdf", args=[invoice.pk]) in html

    response = client.post(reverse("web:dispatch_mark_printed", args=[row.pk]))

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.printed_by) == (Status.PRINTED, compta)
    assert f'id="mark-printed-{row.pk}"' not in page(client, invoice)


def test_the_worklist_lists_what_to_print_and_what_failed(
    adv: User, compta: User, commercial: User
) -> None:
    to_print = queue_invoice_dispatch(issued(adv, CustomerFactory(invoice_channel="post")))
    failed = queue_invoice_dispatch(issued(adv))
    sent = queue_invoice_dispatch(issued(adv))
    InvoiceDispatch.objects.filter(pk=to_print.pk).update(status=Status.TO_PRINT)
    InvoiceDispatch.objects.filter(pk=failed.pk).update(
        status=Status.FAILED, attempts=5, error="Aucun destinataire : …"
    )
    InvoiceDispatch.objects.filter(pk=sent.pk).update(status=Status.SENT)
    client = client_for(compta)
    url = reverse("web:sendings_to_handle")

    html = unescape(client.get(url).content.decode())

    assert f'id="mark-printed-{to_print.pk}"' in html
    assert f'id="dispatch-{failed.pk}"' in html and "Aucun destinataire : …" in html
    assert f'id="dispatch-{sent.pk}"' not in html
    read_only = client_for(commercial).get(url).content.decode()
    assert f'id="dispatch-{to_print.pk}"' in read_only and 'id="mark-printed-' not in read_only

    response = client.post(reverse("web:dispatch_mark_printed", args=[to_print.pk]), {"next": url})

    assert (response.status_code, response["Location"]) == (302, url)
    assert f'id="mark-printed-{to_print.pk}"' not in client.get(url).content.decode()


def test_marking_printed_what_is_not_to_print_is_refused(adv: User) -> None:
    row = queue_invoice_dispatch(issued(adv), actor=adv)

    response = client_for(adv).post(reverse("web:dispatch_mark_printed", args=[row.pk]))

    assert response.status_code == 302
    assert flashed(response)
    row.refresh_from_db()
    assert row.status == Status.QUEUED


def test_sending_routes_answer_junk_with_4xx(adv: User) -> None:
    client = client_for(adv)
    invoice = issued(adv)
    assert client.get(reverse("web:invoice_resend", args=[invoice.pk])).status_code == 405
    assert client.post("/invoices/987654321/send/").status_code == 404
    assert client.post("/invoices/sendings/987654321/printed/").status_code == 404
    assert client.post("/invoices/abc/send/").status_code == 404


# ---------------------------------------------------------------- the customer's channel


def _form(customer: Customer, **overrides: str) -> dict[str, str]:
    data = {k: str(v) for k, v in customer_data().items()}
    data.update(
        name=customer.name,
        siren=customer.siren,
        siret=customer.siret,
        vat_number=customer.vat_number,
        invoice_channel="email",
        payment_terms_basis="net",
        version=str(customer.version),
    )
    data.update(overrides)
    return data


def test_the_customer_edit_screen_sets_the_channel_and_invoice_email(adv: User) -> None:
    customer: Customer = CustomerFactory()
    client = client_for(adv)
    assert (
        'name="invoice_email"'
        in client.get(reverse("web:customer_edit", args=[customer.pk])).content.decode()
    )

    response = client.post(
        reverse("web:customer_edit", args=[customer.pk]),
        _form(customer, invoice_channel="email", invoice_email=" Factures@Client.example "),
    )

    assert response.status_code == 302, response.content.decode()
    customer.refresh_from_db()
    assert (customer.invoice_channel, customer.invoice_email) == (
        "email",
        "factures@client.example",
    )
    detail = client.get(reverse("web:customer_detail", args=[customer.pk])).content.decode()
    assert "factures@client.example" in detail

    response = client.post(
        reverse("web:customer_edit", args=[customer.pk]),
        _form(customer, invoice_channel="einvoicing", invoice_email=""),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.invoice_channel, customer.invoice_email) == ("einvoicing", "")


def test_a_bad_invoice_email_or_channel_is_a_field_error(adv: User) -> None:
    customer: Customer = CustomerFactory()
    client = client_for(adv)

    response = client.post(
        reverse("web:customer_edit", args=[customer.pk]),
        _form(customer, invoice_email="factures@@client"),
    )

    assert response.status_code == 400
    assert "factures@@client" in unescape(response.content.decode())
    response = client.post(
        reverse("web:customer_edit", args=[customer.pk]), _form(customer, invoice_channel="fax")
    )
    assert response.status_code == 400
    customer.refresh_from_db()
    assert (customer.invoice_channel, customer.invoice_email) == ("email", "")
