"""The account statement (relevé de compte) and the aged balance."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.models import AuditEvent
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.aging import aged_balance
from levier.collections.payments import record_payment
from levier.collections.statement import (
    account_statement_html,
    account_statement_pdf,
    send_account_statement,
)
from levier.collections.tests.dunning_factories import RUN, customer, days_before, invoices_due, pay
from levier.lib.errors import ValidationFailed

pytestmark = pytest.mark.django_db

NNBSP, NBSP = "\u202f", "\u00a0"


def euros(text: str) -> str:
    """« 1 200,00 € » as Babel writes it (narrow no-break space, no-break space before €)."""
    return text.replace(" ", NNBSP) + f"{NBSP}€"


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> None:
    complete_company_profile()
    settings.LEVIER_AUTO_SEND_INVOICES = False


def test_the_aged_balance_buckets_sum_to_the_open_total(adv: User, compta: User) -> None:
    buyer = customer()
    # not due (due today and later), 1–30, 31–60, 61–90, > 90 days late
    lates = [-10, 0, 1, 30, 31, 60, 61, 90, 91, 200]
    invoices = invoices_due(adv, [(buyer, days_before(RUN, late), "1000") for late in lates])
    pay(compta, invoices[-1], RUN - dt.timedelta(days=1), Decimal("500.00"))

    aged = aged_balance(buyer, RUN)

    assert aged.not_due == Decimal("2400.00")
    assert aged.days_1_30 == Decimal("2400.00")
    assert aged.days_31_60 == Decimal("2400.00")
    assert aged.days_61_90 == Decimal("2400.00")
    assert aged.over_90 == Decimal("1900.00")  # 1,200 + 1,200 − 500 paid
    assert sum(amount for _key, amount in aged.buckets()) == aged.total == Decimal("11500.00")
    assert aged.total == sum(i.open_amount for i in buyer.invoices.all())
    assert aged.overdue == Decimal("9100.00")


def test_the_aged_balance_takes_a_fixed_number_of_queries(adv: User) -> None:
    # Today: one query on the kept open amounts; a past date: the nearest stored month end
    # looked up (none here), then three aggregates (invoices, credit notes, payments),
    # whatever the number of invoices.
    buyer = customer()
    invoices_due(adv, [(buyer, days_before(RUN, late), "1000") for late in (5, 50)])
    with CaptureQueriesContext(connection) as today:
        aged_balance(buyer, timezone.localdate())
    with CaptureQueriesContext(connection) as past:
        aged_balance(buyer, RUN)
    invoices_due(adv, [(buyer, days_before(RUN, 4), "100")] * 10)  # numbers follow dates
    with CaptureQueriesContext(connection) as past_with_more:
        aged_balance(buyer, RUN)

    assert len(today) == 1
    assert len(past) == len(past_with_more) == 4
    assert all("CASE WHEN" in query["sql"].upper() for query in past.captured_queries[1:])


def test_the_ledger_aged_balance_covers_every_customer(adv: User) -> None:
    first, second = customer(), customer()
    invoices_due(adv, [(first, days_before(RUN, 5), "1000"), (second, days_before(RUN, 95), "500")])

    aged = aged_balance(None, RUN)

    assert (aged.days_1_30, aged.over_90, aged.total) == (
        Decimal("1200.00"),
        Decimal("600.00"),
        Decimal("1800.00"),
    )


def test_settled_and_credited_invoices_leave_the_aged_balance(adv: User, compta: User) -> None:
    buyer = customer()
    paid, credited, open_one = invoices_due(
        adv,
        [
            (buyer, days_before(RUN, 40), "1000"),
            (buyer, days_before(RUN, 35), "1000"),
            (buyer, days_before(RUN, 20), "1000"),
        ],
    )
    pay(compta, paid, RUN - dt.timedelta(days=2))
    note = create_credit_note(actor=adv, invoice=credited, reason="duplicate")
    issue_invoice(actor=adv, invoice=note, issue_date=RUN - dt.timedelta(days=1))

    aged = aged_balance(buyer, RUN)

    assert aged.days_1_30 == open_one.open_amount == aged.total
    assert aged.days_31_60 == Decimal("0.00")
    html = account_statement_html(buyer, RUN)
    assert open_one.number in html and paid.number not in html and credited.number not in html


def test_an_empty_ledger_has_a_zero_aged_balance() -> None:
    aged = aged_balance(None, RUN)
    assert aged.total == Decimal("0.00") and all(a == 0 for _k, a in aged.buckets())


def test_the_statement_lists_open_invoices_credits_totals_and_buckets(
    adv: User, compta: User
) -> None:
    buyer = customer("Industries Durand SA")
    late, partly_paid, not_due = invoices_due(
        adv,
        [
            (buyer, days_before(RUN, 40), "1000"),
            (buyer, days_before(RUN, 10), "1000"),
            (buyer, RUN + dt.timedelta(days=20), "500"),
        ],
    )
    pay(compta, partly_paid, RUN - dt.timedelta(days=3), Decimal("200.00"))
    record_payment(
        actor=compta,
        customer=buyer,
        method="cheque",
        received_on=RUN - dt.timedelta(days=1),
        amount=Decimal("150.00"),
        reference="CHQ 7781",
    )

    html = account_statement_html(buyer, RUN)

    for expected in [
        "Relevé de compte",
        "Situation au 27/11/2026",
        "Industries Durand SA",
        "Levier Conseil",
        late.number,
        "18/10/2026",  # its due date
        "40 j",
        partly_paid.number,
        euros("200,00"),  # paid on it
        euros("1 000,00"),  # left on it
        not_due.number,
        "Chèque",
        "CHQ 7781",
        euros("-150,00"),
        euros("2 800,00"),  # open total: 1,200 + 1,000 + 600
        euros("2 650,00"),  # balance after the unallocated cheque
        "31 à 60 jours",
        "Plus de 90 jours",
        "RF",
    ]:
        assert expected in html, expected
    assert html.index(late.number) < html.index(partly_paid.number) < html.index(not_due.number)


def test_the_statement_is_a_french_pdf(adv: User) -> None:
    buyer = customer("Industries Durand SA")
    [invoice] = invoices_due(adv, [(buyer, days_before(RUN, 40), "1000")])

    pdf = account_statement_pdf(buyer, RUN)

    assert pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "RELEVÉ DE COMPTE" in text and invoice.number in text
    assert "Balance âgée" in text and "Solde à régler" in text


def test_a_statement_as_of_an_earlier_date_leaves_out_later_invoices(adv: User) -> None:
    buyer = customer()
    early, later = invoices_due(
        adv, [(buyer, days_before(RUN, 40), "1000"), (buyer, days_before(RUN, 5), "1000")]
    )

    html = account_statement_html(buyer, RUN - dt.timedelta(days=40))

    assert early.number in html and later.number not in html


def test_the_statement_is_emailed_to_the_reminder_address(
    adv: User, compta: User, django_capture_on_commit_callbacks: Any
) -> None:
    buyer = customer("Industries Durand SA", email="relances@durand.example")
    invoices_due(adv, [(buyer, days_before(RUN, 10), "1000")])

    with django_capture_on_commit_callbacks(execute=True):
        to = send_account_statement(actor=compta, customer=buyer, as_of=RUN)

    assert to == ["relances@durand.example"]
    [email] = mail.outbox
    assert email.to == ["relances@durand.example"]
    assert email.subject == "Relevé de compte au 27/11/2026 – Levier Conseil"
    assert f"Solde à régler à cette date : {euros('1 200,00')}" in email.body
    [(name, content, kind)] = email.attachments  # type: ignore[misc]
    assert name == f"releve-de-compte-{buyer.pk}-2026-11-27.pdf" and kind == "application/pdf"
    assert content.startswith(b"%PDF")
    comments = list(
        AuditEvent.objects.filter(object_type="customers.customer", object_id=str(buyer.pk))
        .order_by("pk")
        .values_list("comment", flat=True)
    )
    assert comments == [
        "Envoi du relevé de compte au 27/11/2026 demandé",
        "Relevé de compte au 27/11/2026 envoyé à relances@durand.example",
    ]


def test_a_customer_without_an_address_cannot_be_sent_its_statement(compta: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        send_account_statement(actor=compta, customer=customer(email=""), as_of=RUN)
    assert refused.value.code == "no_recipient"


def test_the_auditor_cannot_send_a_statement(auditeur: User) -> None:
    with pytest.raises(PermissionDenied):
        send_account_statement(actor=auditeur, customer=customer(), as_of=RUN)


def test_a_failed_statement_email_is_logged_and_sent_again_by_the_sweeper(
    adv: User, compta: User, django_capture_on_commit_callbacks: Any
) -> None:
    from unittest import mock

    from django.core.management import call_command

    from levier.collections.choices import MessageStatus
    from levier.collections.models import StatementEmail

    buyer = customer("Industries Durand SA", email="relances@durand.example")
    invoices_due(adv, [(buyer, days_before(RUN, 10), "1000")])
    with (
        mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("mail server down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        send_account_statement(actor=compta, customer=buyer, as_of=RUN)
    row = StatementEmail.objects.get()
    assert (row.status, row.attempts, row.error) == (
        MessageStatus.FAILED,
        1,
        "OSError: mail server down",
    )
    assert mail.outbox == []

    call_command("send_reminders", "--older-than-minutes", "0", stdout=io.StringIO())

    row.refresh_from_db()
    assert (row.status, row.attempts) == (MessageStatus.SENT, 2)
    [email] = mail.outbox
    assert email.to == ["relances@durand.example"]


def test_the_aged_balance_of_a_past_date_counts_what_was_owed_that_day(
    adv: User, compta: User
) -> None:
    from levier.collections.payments import Portion, allocate_payment

    buyer = customer("Industries Durand SA")
    (invoice,) = invoices_due(adv, [(buyer, dt.date(2026, 10, 20), "1000")])
    money = record_payment(
        actor=compta,
        customer=buyer,
        method="transfer",
        received_on=dt.date(2026, 11, 10),
        amount=Decimal("1200.00"),
    )
    allocate_payment(actor=compta, payment=money, portions=[Portion(invoice.pk, Decimal("1200"))])

    before = aged_balance(buyer, dt.date(2026, 10, 31))
    after = aged_balance(buyer, dt.date(2026, 11, 15))

    assert (before.total, before.days_1_30) == (Decimal("1200.00"), Decimal("1200.00"))
    assert after.total == Decimal("0.00")
    html = account_statement_html(buyer, dt.date(2026, 10, 31))
    assert invoice.number in html
