"""`levier send-pending-emails`: the sweeper that sends confirmations whose job was lost."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from levier.accounts.models import User
from levier.audit.choices import Channel, Verb
from levier.audit.models import AuditEvent
from levier.celery import app as celery_app
from levier.customers.models import Customer
from levier.lib.testing.smtp import SmtpServer
from levier.sales.choices import OrderStatus, SendStatus
from levier.sales.jobs import queue_order_confirmation
from levier.sales.models import Order, OrderEmail
from levier.sales.tests.test_send_order_confirmation import (  # noqa: F401 (fixtures)
    broker_down,
    durand,
    make_validated_order,
)

pytestmark = pytest.mark.django_db


def sweep(*args: str) -> str:
    out = StringIO()
    call_command("send_pending_emails", *args, stdout=out)
    return out.getvalue()


def sweep_json(*args: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(sweep("--json", *args))
    return report


def row(
    order: Order,
    status: str,
    *,
    age: dt.timedelta,
    attempts: int = 1,
    claimed: bool = True,
) -> OrderEmail:
    """A confirmation row last touched `age` ago (claimed then, or created then if unclaimed)."""
    then = timezone.now() - age
    email = OrderEmail.objects.create(
        order=order,
        kind="confirmation",
        subject=f"Confirmation de commande {order.number}",
        recipients="achats@durand.example",
        status=status,
        attempts=attempts,
        claimed_at=then if claimed else None,
    )
    OrderEmail.objects.filter(pk=email.pk).update(created_at=then)  # auto_now_add otherwise
    return email


def test_confirmation_left_queued_by_a_broker_outage_is_sent_by_the_sweeper(
    smtp_server: SmtpServer,
    durand: Customer,  # noqa: F811
    adv: User,
    broker_down: str,  # noqa: F811
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: validated while Redis was down; the operation succeeded, the job was lost
    order = make_validated_order(durand, adv)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        queue_order_confirmation(order)
    assert OrderEmail.objects.get(order=order).status == SendStatus.QUEUED
    assert smtp_server.messages == []

    # when: the sweeper runs later, without a broker (jobs run in its process)
    settings.CELERY_BROKER_URL = ""
    report = sweep_json("--older-than-minutes", "0")

    # then
    [message] = smtp_server.messages
    assert message["To"] == "achats@durand.example"
    assert message["Subject"] == "Confirmation de commande CMD-2026-00042"
    log = OrderEmail.objects.get(order=order)
    assert (log.status, log.attempts) == (SendStatus.SENT, 1)
    assert report["mode"] == "in-process"
    [result] = report["emails"]
    assert result["order"] == "CMD-2026-00042"
    assert (result["previous_status"], result["result"], result["attempts"]) == (
        "queued",
        "sent",
        1,
    )
    event = AuditEvent.objects.get(object_id=str(order.pk), verb=Verb.SEND)
    assert event.channel == Channel.JOB


def test_sweeper_picks_queued_failed_and_stale_rows_only(
    smtp_server: SmtpServer,
    durand: Customer,  # noqa: F811
    adv: User,
) -> None:
    # given
    def order(n: int) -> Order:
        return make_validated_order(durand, adv, number=f"CMD-2026-{n:05d}")

    ten_minutes, one_minute = dt.timedelta(minutes=10), dt.timedelta(minutes=1)
    picked = {
        "queued": row(order(1), SendStatus.QUEUED, age=ten_minutes, attempts=0, claimed=False),
        "failed": row(order(2), SendStatus.FAILED, age=ten_minutes, attempts=4),
        "stale": row(order(3), SendStatus.SENDING, age=dt.timedelta(minutes=20)),
    }
    left = {
        "queued just now": row(order(4), SendStatus.QUEUED, age=one_minute, claimed=False),
        "failed just now": row(order(5), SendStatus.FAILED, age=one_minute),
        "failed 5 times": row(order(6), SendStatus.FAILED, age=ten_minutes, attempts=5),
        # older than --older-than-minutes but younger than the 10-minute claim timeout
        "being sent": row(order(7), SendStatus.SENDING, age=dt.timedelta(minutes=8)),
        "skipped": row(order(8), SendStatus.SKIPPED, age=ten_minutes, attempts=0),
        "sent": row(order(9), SendStatus.SENT, age=ten_minutes),
    }

    # when
    output = sweep()

    # then
    assert len(smtp_server.messages) == 3
    assert sorted(m["Subject"][-5:] for m in smtp_server.messages) == ["00001", "00002", "00003"]
    for email in picked.values():
        email.refresh_from_db()
        assert email.status == SendStatus.SENT
    for name, email in left.items():
        before = (email.status, email.attempts)
        email.refresh_from_db()
        assert (email.status, email.attempts) == before, name
    assert "CMD-2026-00001: queued (attempt 0) -> sent" in output
    assert "CMD-2026-00002: failed (attempt 4) -> sent" in output
    assert "CMD-2026-00003: sending (attempt 1) -> sent" in output
    assert "3 pending confirmation(s) re-dispatched (in-process): 3 sent" in output


def test_sweeper_with_nothing_pending_says_so(
    smtp_server: SmtpServer,
    durand: Customer,  # noqa: F811
    adv: User,
) -> None:
    row(make_validated_order(durand, adv), SendStatus.SENT, age=dt.timedelta(hours=1))

    assert sweep() == "No pending order confirmation.\n"
    assert sweep_json() == {"mode": "in-process", "older_than_minutes": 5, "emails": []}
    assert smtp_server.messages == []


def test_sweeper_reports_a_send_that_fails_again_and_exits_zero(
    durand: Customer,  # noqa: F811
    adv: User,
    settings: Any,
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    order = make_validated_order(durand, adv)
    row(order, SendStatus.FAILED, age=dt.timedelta(minutes=10), attempts=2)

    [result] = sweep_json()["emails"]  # call_command would raise on a non-zero exit

    assert (result["result"], result["attempts"]) == ("failed", 3)
    assert "ConnectionRefusedError" in result["error"]
    assert OrderEmail.objects.get(order=order).status == SendStatus.FAILED


def test_sweeper_with_a_broker_hands_the_rows_to_the_workers(
    durand: Customer,  # noqa: F811
    adv: User,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    sent: list[tuple[str, dict[str, Any], str]] = []

    def fake_send_task(name: str, kwargs: dict[str, Any], queue: str) -> None:
        sent.append((name, kwargs, queue))

    monkeypatch.setattr(celery_app, "send_task", fake_send_task)
    order = make_validated_order(durand, adv)
    row(order, SendStatus.QUEUED, age=dt.timedelta(minutes=10), attempts=0, claimed=False)

    output = sweep()

    assert sent == [
        (
            "levier.sales.jobs.send_order_confirmation",
            {"order_id": order.pk},
            settings.CELERY_TASK_DEFAULT_QUEUE,
        )
    ]
    assert "CMD-2026-00042: queued (attempt 0) -> dispatched" in output
    assert OrderEmail.objects.get(order=order).status == SendStatus.QUEUED  # a worker's job


def test_sweeper_with_the_broker_down_reports_it_and_leaves_the_row_queued(
    smtp_server: SmtpServer,
    durand: Customer,  # noqa: F811
    adv: User,
    broker_down: str,  # noqa: F811
) -> None:
    order = make_validated_order(durand, adv)
    row(order, SendStatus.QUEUED, age=dt.timedelta(minutes=10), attempts=0, claimed=False)

    [result] = sweep_json()["emails"]

    assert result["result"] == "broker-unreachable"
    assert OrderEmail.objects.get(order=order).status == SendStatus.QUEUED
    assert smtp_server.messages == []


def test_sweeper_leaves_orders_no_longer_validated_skipped(
    smtp_server: SmtpServer,
    durand: Customer,  # noqa: F811
    adv: User,
) -> None:
    order = make_validated_order(durand, adv, status=OrderStatus.CANCELLED)
    row(order, SendStatus.QUEUED, age=dt.timedelta(minutes=10), attempts=0, claimed=False)

    [result] = sweep_json()["emails"]

    assert result["result"] == "skipped"
    assert smtp_server.messages == []
