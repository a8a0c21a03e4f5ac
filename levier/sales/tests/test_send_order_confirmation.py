"""The order confirmation email, sent through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from levier.accounts.models import User
from levier.audit.choices import Channel, Verb
from levier.audit.models import AuditEvent
from levier.celery import app as celery_app
from levier.customers.models import Customer
from levier.customers.tests.factories import ContactFactory, CustomerFactory
from levier.jobs import dispatch, enqueue
from levier.lib.testing.smtp import SmtpServer, free_port
from levier.sales.choices import OrderStatus, SendStatus
from levier.sales.jobs import queue_order_confirmation, send_order_confirmation
from levier.sales.models import Order, OrderEmail, OrderLine

pytestmark = pytest.mark.django_db

NNBSP = "\u202f"  # French thousands separator (narrow no-break space)
NBSP = "\u00a0"  # before "€" and "%"


def make_validated_order(customer: Customer, created_by: User, **overrides: Any) -> Order:
    """A validated order of three lines over two VAT rates, totals worked out by hand.

    Lines: 12 days × 850 € − 10 % = 9 180,00; 1 year × 2 400 € = 2 400,00 (both 20 %);
    3 units × 45,50 € = 136,50 at 5,5 %. VAT: 11 580,00 × 20 % = 2 316,00 and
    136,50 × 5,5 % = 7,5075 → 7,51; HT 11 716,50, TVA 2 323,51, TTC 14 040,01.
    """
    fields: dict[str, Any] = {
        "number": "CMD-2026-00042",
        "customer": customer,
        "created_by": created_by,
        "status": OrderStatus.VALIDATED,
        "payment_terms_days": 30,
        "payment_terms_basis": "net",
        "po_number": "PO-DURAND-7781",
        "requested_delivery_date": dt.date(2026, 3, 16),
        "validated_at": dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC),
        "total_net": Decimal("11716.50"),
        "total_vat": Decimal("2323.51"),
        "total_gross": Decimal("14040.01"),
        **overrides,
    }
    order = Order.objects.create(**fields)
    OrderLine.objects.create(
        order=order,
        position=1,
        description="Audit de la chaîne commande-facture",
        quantity=Decimal("12.000"),
        unit="day",
        unit_price=Decimal("850.0000"),
        discount_percent=Decimal("10.00"),
        vat_rate=Decimal("20.00"),
        net_amount=Decimal("9180.00"),
    )
    OrderLine.objects.create(
        order=order,
        position=2,
        description="Licence annuelle Levier Cloud",
        quantity=Decimal("1.000"),
        unit="year",
        unit_price=Decimal("2400.0000"),
        vat_rate=Decimal("20.00"),
        net_amount=Decimal("2400.00"),
    )
    OrderLine.objects.create(
        order=order,
        position=3,
        description="Guide de l'administration des ventes (ouvrage)",
        quantity=Decimal("3.000"),
        unit="unit",
        unit_price=Decimal("45.5000"),
        vat_rate=Decimal("5.50"),
        net_amount=Decimal("136.50"),
    )
    return order


@pytest.fixture
def durand() -> Customer:
    """A customer with a purchasing contact and a separate accounts-payable contact."""
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
    return customer


def forget_broker_connections() -> None:
    """Drop the app's connection and producer pools, so the next send uses the current URL.

    `Celery.close()` resets the connection pool only: the producer pool (what `send_task`
    publishes through) keeps the URL it was first built with, until a fork.
    """
    celery_app.close()
    producers = celery_app.amqp._producer_pool
    if producers is not None:
        producers.force_close_all()
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down(settings: Any) -> Iterator[str]:
    """CELERY_BROKER_URL points at a closed port, and Celery gives up at the first refusal.

    Celery's defaults retry a refused publish 3 times (task_publish_retry_policy) and kombu
    retries the connection until broker_connection_timeout: both cut to nothing here, so a
    dispatch fails in milliseconds instead of most of a second.
    """
    url = f"redis://127.0.0.1:{free_port()}/0"
    overrides = {
        "broker_url": url,
        "broker_connection_timeout": 1,
        "broker_connection_retry": False,
        "broker_transport_options": {"max_retries": 0},
        "task_publish_retry_policy": {"max_retries": 0},
    }
    # The Celery conf reads Django's settings live: undo the overrides by removing them from
    # its change layer, not by writing back values (that would pin this test's URL).
    changes = celery_app.conf.changes
    previous = {key: changes[key] for key in overrides if key in changes}
    settings.CELERY_BROKER_URL = url  # makes `dispatch` send to the broker
    celery_app.conf.update(overrides)
    forget_broker_connections()  # else a pool built on a real broker would still publish
    try:
        yield url
    finally:
        for key in overrides:
            changes.pop(key, None)
        changes.update(previous)
        forget_broker_connections()


def confirmation_row(order: Order, status: str, *, claimed_ago: dt.timedelta) -> OrderEmail:
    """A send log row as a job left it (claimed `claimed_ago`, one attempt so far)."""
    return OrderEmail.objects.create(
        order=order,
        kind="confirmation",
        subject=f"Confirmation de commande {order.number}",
        recipients="achats@durand.example",
        status=status,
        attempts=1,
        claimed_at=timezone.now() - claimed_ago,
    )


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def html_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def test_validated_order_confirmation_reaches_the_purchasing_contact_in_french(
    smtp_server: SmtpServer, durand: Customer, adv: User, settings: Any
) -> None:
    # given
    settings.LEVIER_COMPANY_NAME = "Conseil Martin SAS"
    settings.DEFAULT_FROM_EMAIL = "adv@conseil-martin.example"
    order = make_validated_order(durand, adv)

    # when
    dispatch(send_order_confirmation, order_id=order.pk)

    # then
    [received] = smtp_server.received
    assert received.rcpt_tos == ["achats@durand.example"]
    message = received.message
    assert message["Subject"] == "Confirmation de commande CMD-2026-00042"
    assert message["To"] == "achats@durand.example"
    assert message["From"] == "adv@conseil-martin.example"
    text = text_part(message)
    for expected in [
        "Conseil Martin SAS vous confirme la commande CMD-2026-00042 passée par Industries Durand SA.",
        "Date : 2 mars 2026",
        "Votre référence (bon de commande) : PO-DURAND-7781",
        "Date de livraison souhaitée : 16 mars 2026",
        "- Audit de la chaîne commande-facture",
        f"12 jours × 850,00{NBSP}€ HT, remise 10{NBSP}%, TVA 20{NBSP}%",
        f"Montant HT : 9{NNBSP}180,00{NBSP}€",
        "- Licence annuelle Levier Cloud",
        f"1 an × 2{NNBSP}400,00{NBSP}€ HT, TVA 20{NBSP}%",
        "- Guide de l'administration des ventes (ouvrage)",
        f"3 unités × 45,50{NBSP}€ HT, TVA 5,5{NBSP}%",
        f"Total HT : 11{NNBSP}716,50{NBSP}€",
        f"TVA 20{NBSP}% sur 11{NNBSP}580,00{NBSP}€ : 2{NNBSP}316,00{NBSP}€",
        f"TVA 5,5{NBSP}% sur 136,50{NBSP}€ : 7,51{NBSP}€",
        f"Total TVA : 2{NNBSP}323,51{NBSP}€",
        f"Total TTC : 14{NNBSP}040,01{NBSP}€",
        "Conditions de paiement : 30 jours net",
    ]:
        assert expected in text, expected
    html = html_part(message)
    assert "PO-DURAND-7781" in html
    assert "Guide de l&#x27;administration des ventes (ouvrage)" in html
    assert f"<strong>14{NNBSP}040,01{NBSP}€</strong>" in html


def test_sent_confirmation_is_logged_and_audited_on_the_order(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    order = make_validated_order(durand, adv)

    dispatch(send_order_confirmation, order_id=order.pk)

    [message] = smtp_server.messages
    log = OrderEmail.objects.get(order=order)
    assert log.kind == "confirmation"
    assert log.status == SendStatus.SENT
    assert log.attempts == 1
    assert log.recipients == "achats@durand.example"
    assert log.subject == "Confirmation de commande CMD-2026-00042"
    assert log.message_id == message["Message-ID"]
    assert log.sent_at is not None
    assert log.error == ""
    event = AuditEvent.objects.get(object_type="sales.order", object_id=str(order.pk))
    assert event.verb == Verb.SEND
    assert event.channel == Channel.JOB
    assert event.actor is None
    assert event.changes["to"] == ["achats@durand.example"]


def test_confirmation_is_sent_only_once_per_order(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    order = make_validated_order(durand, adv)
    dispatch(send_order_confirmation, order_id=order.pk)

    dispatch(send_order_confirmation, order_id=order.pk)

    assert len(smtp_server.messages) == 1
    log = OrderEmail.objects.get(order=order)
    assert (log.status, log.attempts) == (SendStatus.SENT, 1)
    assert AuditEvent.objects.filter(object_id=str(order.pk), verb=Verb.SEND).count() == 1


def test_accounts_payable_gets_the_confirmation_when_no_purchasing_contact_has_an_email(
    smtp_server: SmtpServer, adv: User
) -> None:
    customer: Customer = CustomerFactory(with_contacts=False)
    ContactFactory(customer=customer, email="", is_purchasing=True)
    ContactFactory(customer=customer, email="fournisseurs@client.example", is_accounts_payable=True)
    order = make_validated_order(customer, adv)

    dispatch(send_order_confirmation, order_id=order.pk)

    [received] = smtp_server.received
    assert received.rcpt_tos == ["fournisseurs@client.example"]


def test_customer_without_any_contact_email_gets_no_email_and_the_skip_is_logged(
    smtp_server: SmtpServer, adv: User
) -> None:
    customer: Customer = CustomerFactory(with_contacts=False)
    ContactFactory(customer=customer, email="", is_purchasing=True, is_accounts_payable=True)
    order = make_validated_order(customer, adv)

    dispatch(send_order_confirmation, order_id=order.pk)

    assert smtp_server.messages == []
    log = OrderEmail.objects.get(order=order)
    assert log.status == SendStatus.SKIPPED
    assert "Aucun destinataire" in log.error
    assert log.attempts == 0
    assert not AuditEvent.objects.filter(object_id=str(order.pk), verb=Verb.SEND).exists()


def test_order_not_validated_gets_no_confirmation(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    order = make_validated_order(durand, adv, status=OrderStatus.SUBMITTED, validated_at=None)

    dispatch(send_order_confirmation, order_id=order.pk)

    assert smtp_server.messages == []
    assert OrderEmail.objects.get(order=order).status == SendStatus.SKIPPED


def test_mail_server_down_is_logged_as_failed_without_raising(
    durand: Customer, adv: User, settings: Any
) -> None:
    # given: Django points at a port nothing listens on
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    order = make_validated_order(durand, adv)

    # when: the job itself is called, not through dispatch() which would swallow an error
    send_order_confirmation(order_id=order.pk)

    # then
    log = OrderEmail.objects.get(order=order)
    assert log.status == SendStatus.FAILED
    assert log.attempts == 1
    assert "ConnectionRefusedError" in log.error
    assert log.sent_at is None
    assert not AuditEvent.objects.filter(object_id=str(order.pk), verb=Verb.SEND).exists()


def test_failed_confirmation_is_sent_when_the_job_runs_again(
    smtp_server: SmtpServer, durand: Customer, adv: User, settings: Any
) -> None:
    order = make_validated_order(durand, adv)
    settings.EMAIL_PORT = free_port()
    send_order_confirmation(order_id=order.pk)
    assert OrderEmail.objects.get(order=order).status == SendStatus.FAILED

    settings.EMAIL_PORT = smtp_server.port
    send_order_confirmation(order_id=order.pk)

    assert len(smtp_server.messages) == 1
    log = OrderEmail.objects.get(order=order)  # the same row, updated
    assert (log.status, log.attempts, log.error) == (SendStatus.SENT, 2, "")


def test_confirmation_queued_in_a_committed_transaction_is_sent_after_commit(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = make_validated_order(durand, adv)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        enqueue(send_order_confirmation, order_id=order.pk)
        assert smtp_server.messages == []  # not before the commit

    assert len(callbacks) == 1
    assert len(smtp_server.messages) == 1


def test_confirmation_queued_in_a_rolled_back_transaction_is_never_sent(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = make_validated_order(durand, adv)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue(send_order_confirmation, order_id=order.pk)
        raise RuntimeError("the approval failed after queuing the email")

    assert callbacks == []
    assert smtp_server.messages == []
    assert not OrderEmail.objects.filter(order=order).exists()


def test_queue_order_confirmation_writes_a_queued_row_then_sends_after_commit(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = make_validated_order(durand, adv)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        row = queue_order_confirmation(order)
        # Written in the business transaction, before any job ran.
        queued = OrderEmail.objects.get(pk=row.pk)
        assert (queued.kind, queued.status, queued.attempts) == ("confirmation", "queued", 0)
        assert queued.recipients == "achats@durand.example"
        assert queued.subject == "Confirmation de commande CMD-2026-00042"
        assert smtp_server.messages == []

    assert len(smtp_server.messages) == 1
    log = OrderEmail.objects.get(order=order)  # the same row, now sent
    assert (log.pk, log.status, log.attempts) == (row.pk, SendStatus.SENT, 1)


def test_queue_order_confirmation_rolled_back_leaves_no_row_and_sends_nothing(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = make_validated_order(durand, adv)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        queue_order_confirmation(order)
        raise RuntimeError("the approval failed after queuing the email")

    assert callbacks == []
    assert smtp_server.messages == []
    assert not OrderEmail.objects.filter(order=order).exists()


def test_queue_order_confirmation_reuses_a_failed_row_and_leaves_a_sent_one_alone(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = make_validated_order(durand, adv)
    failed = confirmation_row(order, SendStatus.FAILED, claimed_ago=dt.timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert queue_order_confirmation(order).pk == failed.pk
    log = OrderEmail.objects.get(order=order)
    assert (log.status, log.attempts) == (SendStatus.SENT, 2)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert queue_order_confirmation(order).status == SendStatus.SENT
    assert callbacks == []  # nothing enqueued
    assert len(smtp_server.messages) == 1


def test_queue_order_confirmation_refuses_an_order_not_validated(
    durand: Customer, adv: User
) -> None:
    order = make_validated_order(durand, adv, status=OrderStatus.SUBMITTED, validated_at=None)

    with pytest.raises(ValueError, match="submitted"):
        queue_order_confirmation(order)

    assert not OrderEmail.objects.filter(order=order).exists()


def test_broker_down_after_commit_does_not_break_the_operation_and_leaves_a_queued_row(
    smtp_server: SmtpServer,
    durand: Customer,
    adv: User,
    broker_down: str,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: an order being validated, as approve_order does it
    order = make_validated_order(durand, adv, status=OrderStatus.SUBMITTED, validated_at=None)

    # when
    started = time.monotonic()
    with (
        caplog.at_level(logging.ERROR, logger="levier.jobs"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        order.status, order.validated_at = OrderStatus.VALIDATED, timezone.now()
        order.save(update_fields=["status", "validated_at"])
        queue_order_confirmation(order)
    elapsed = time.monotonic() - started

    # then: the broker was tried (and refused) after the commit, without raising, quickly
    assert len(callbacks) == 1
    assert elapsed < 2, f"the refused broker took {elapsed:.1f}s"
    [record] = [r for r in caplog.records if r.name == "levier.jobs"]
    assert "not sent to the broker" in record.getMessage()
    assert record.exc_info is not None
    assert "OperationalError" in repr(record.exc_info[1])
    order.refresh_from_db()
    assert order.status == OrderStatus.VALIDATED
    row = OrderEmail.objects.get(order=order)
    assert (row.status, row.attempts, row.claimed_at) == (SendStatus.QUEUED, 0, None)
    assert smtp_server.messages == []


def test_dispatch_returns_false_instead_of_raising_when_the_broker_is_down(
    durand: Customer, adv: User, broker_down: str
) -> None:
    order = make_validated_order(durand, adv)

    assert dispatch(send_order_confirmation, order_id=order.pk) is False

    assert not OrderEmail.objects.filter(order=order).exists()  # no job ran


def test_confirmation_claimed_a_minute_ago_is_not_sent_by_a_second_dispatch(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    order = make_validated_order(durand, adv)
    row = confirmation_row(order, SendStatus.SENDING, claimed_ago=dt.timedelta(minutes=1))

    dispatch(send_order_confirmation, order_id=order.pk)

    assert smtp_server.messages == []
    after = OrderEmail.objects.get(order=order)
    assert (after.status, after.attempts, after.claimed_at) == (
        SendStatus.SENDING,
        1,
        row.claimed_at,
    )


def test_stale_sending_confirmation_is_sent_again(
    smtp_server: SmtpServer, durand: Customer, adv: User
) -> None:
    # given: a worker claimed it 20 minutes ago and died (the timeout is 10 minutes)
    order = make_validated_order(durand, adv)
    stale = confirmation_row(order, SendStatus.SENDING, claimed_ago=dt.timedelta(minutes=20))

    dispatch(send_order_confirmation, order_id=order.pk)

    assert len(smtp_server.messages) == 1
    row = OrderEmail.objects.get(order=order)
    assert (row.pk, row.status, row.attempts) == (stale.pk, SendStatus.SENT, 2)
    assert row.claimed_at is not None and row.claimed_at > stale.claimed_at  # type: ignore[operator]


def test_claim_timeout_comes_from_the_setting(
    smtp_server: SmtpServer, durand: Customer, adv: User, settings: Any
) -> None:
    settings.LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS = 30
    order = make_validated_order(durand, adv)
    confirmation_row(order, SendStatus.SENDING, claimed_ago=dt.timedelta(minutes=1))

    dispatch(send_order_confirmation, order_id=order.pk)

    assert len(smtp_server.messages) == 1


def test_a_dispatch_arriving_while_the_first_talks_to_smtp_sends_nothing(
    smtp_server: SmtpServer, durand: Customer, adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the second run starts while the first is inside message.send()
    order = make_validated_order(durand, adv)
    status_during_send: list[str] = []
    real_send = EmailMultiAlternatives.send

    def send_while_another_run_comes(self: EmailMultiAlternatives, fail_silently: bool) -> int:
        if not status_during_send:
            status_during_send.append(OrderEmail.objects.get(order=order).status)
            dispatch(send_order_confirmation, order_id=order.pk)
        return real_send(self, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", send_while_another_run_comes)

    # when
    dispatch(send_order_confirmation, order_id=order.pk)

    # then
    assert status_during_send == [SendStatus.SENDING]
    assert len(smtp_server.messages) == 1
    row = OrderEmail.objects.get(order=order)
    assert (row.status, row.attempts) == (SendStatus.SENT, 1)
    assert AuditEvent.objects.filter(object_id=str(order.pk), verb=Verb.SEND).count() == 1
