"""Jobs through a real Celery worker (Redis broker), and in-process without a broker.

The worker runs in a thread of the test process (celery.contrib.testing), so it shares the
test database; the test is transactional so the worker's connection sees committed rows.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core.management import CommandError, call_command

from levier.accounts.tests.factories import UserFactory
from levier.audit.choices import Channel, Verb
from levier.audit.models import AuditEvent
from levier.celery import app as celery_app
from levier.customers.models import Customer
from levier.customers.tests.factories import ContactFactory, CustomerFactory
from levier.jobs import dispatch
from levier.lib.testing.smtp import SmtpServer
from levier.sales.choices import SendStatus
from levier.sales.jobs import send_order_confirmation
from levier.sales.models import OrderEmail
from levier.sales.tests.test_send_order_confirmation import make_validated_order

pytestmark = pytest.mark.celery

REDIS_URL = os.environ.get("LEVIER_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_unreachable(url: str) -> str | None:
    """Why Redis cannot be used, or None when it answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is unreachable ({exc}); .ci/run starts one"
    finally:
        client.close()
    return None


@dataclass
class FinishedTasks:
    """Tasks the worker finished, as (task name, state), for the test to wait on."""

    done: list[tuple[str, str]] = field(default_factory=list)
    _event: threading.Event = field(default_factory=threading.Event)

    def record(self, sender: Any = None, state: str = "", **kwargs: Any) -> None:
        self.done.append((sender.name, state))
        self._event.set()

    def wait(self, timeout: float = 30.0) -> list[tuple[str, str]]:
        if not self._event.wait(timeout):
            raise AssertionError(f"the worker finished no task within {timeout}s")
        return self.done


@pytest.fixture
def celery_worker(settings: Any) -> Iterator[FinishedTasks]:
    """A Celery worker thread consuming the job queue on the test Redis."""
    reason = redis_unreachable(REDIS_URL)
    if reason:
        pytest.skip(reason)
    # One queue per test run, named after the real one: two suites running at once (SQLite and
    # PostgreSQL, two developers) on the same Redis would otherwise take each other's jobs.
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BROKER_URL = REDIS_URL  # makes `dispatch` send to the broker
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    overrides = {
        "broker_url": REDIS_URL,
        "task_default_queue": queue,
        "worker_hijack_root_logger": False,
    }
    previous = {key: celery_app.conf[key] for key in overrides}
    celery_app.conf.update(overrides)
    finished = FinishedTasks()
    task_postrun.connect(finished.record, weak=False)
    try:
        with start_worker(
            celery_app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            queues=[settings.CELERY_TASK_DEFAULT_QUEUE],
            shutdown_timeout=30,
        ):
            yield finished
    finally:
        task_postrun.disconnect(finished.record)
        celery_app.conf.update(previous)
        celery_app.close()  # drop the broker connection pool built on the test URL
        forget_queue(REDIS_URL, queue)


def forget_queue(url: str, queue: str) -> None:
    """Delete the per-run queue's keys (kombu's Redis layout), so runs leave nothing behind."""
    client = redis.Redis.from_url(url)
    try:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    finally:
        client.close()


def customer_with_purchasing_contact() -> Customer:
    customer: Customer = CustomerFactory(name="Industries Durand SA", with_contacts=False)
    ContactFactory(customer=customer, email="achats@durand.example", is_purchasing=True)
    return customer


@pytest.mark.django_db(transaction=True)
def test_worker_sends_the_confirmation_dispatched_to_the_broker(
    smtp_server: SmtpServer, celery_worker: FinishedTasks
) -> None:
    # given
    order = make_validated_order(customer_with_purchasing_contact(), UserFactory())

    # when
    dispatch(send_order_confirmation, order_id=order.pk)

    # then
    assert celery_worker.wait() == [("levier.sales.jobs.send_order_confirmation", "SUCCESS")]
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Confirmation de commande CMD-2026-00042"
    assert message["To"] == "achats@durand.example"
    log = OrderEmail.objects.get(order=order)
    assert (log.status, log.attempts) == (SendStatus.SENT, 1)
    event = AuditEvent.objects.get(object_type="sales.order", object_id=str(order.pk))
    assert (event.verb, event.channel) == (Verb.SEND, Channel.JOB)


@pytest.mark.django_db
def test_without_a_broker_the_job_runs_in_the_calling_process(
    smtp_server: SmtpServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CELERY_BROKER_URL = ""

    def no_broker(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("sent to a broker although CELERY_BROKER_URL is unset")

    monkeypatch.setattr(celery_app, "send_task", no_broker)
    order = make_validated_order(customer_with_purchasing_contact(), UserFactory())

    dispatch(send_order_confirmation, order_id=order.pk)

    # Already there when dispatch returns: no worker was involved.
    assert len(smtp_server.messages) == 1
    assert OrderEmail.objects.get(order=order).status == SendStatus.SENT


def test_worker_command_refuses_to_start_without_a_broker(settings: Any) -> None:
    settings.CELERY_BROKER_URL = ""

    with pytest.raises(CommandError, match="CELERY_BROKER_URL is not set"):
        call_command("worker")


def test_worker_command_consumes_the_levier_queue(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CELERY_BROKER_URL = REDIS_URL
    started: list[dict[str, Any]] = []

    class FakeWorker:
        exitcode = 0

        def __init__(self, **kwargs: Any) -> None:
            started.append(kwargs)

        def start(self) -> None:
            pass

    monkeypatch.setattr(celery_app, "Worker", FakeWorker)

    call_command("worker", "--concurrency", "3", "--loglevel", "warning")

    assert started == [
        {"queues": [settings.CELERY_TASK_DEFAULT_QUEUE], "concurrency": 3, "loglevel": "WARNING"}
    ]
