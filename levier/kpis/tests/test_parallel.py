"""On PostgreSQL `compute_kpis` reads the cut-off and the forecast on other connections that
share its snapshot (`levier.kpis.parallel`): the same figures as in one transaction, and
nothing committed meanwhile is seen by any of them."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection, transaction

from levier.accounts.models import User
from levier.billing.models import Invoice
from levier.contracts.tests.test_cutoff import a_bit_of_everything
from levier.customers.models import Customer
from levier.customers.tests.factories import CustomerFactory
from levier.kpis import parallel
from levier.kpis.services import compute_headline, compute_kpis

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="one transaction on SQLite: its snapshot cannot be shared between connections",
    ),
]


def _commit_a_customer_elsewhere() -> None:
    def create() -> None:
        try:
            CustomerFactory()
        finally:
            connection.close()

    writer = threading.Thread(target=create)
    writer.start()
    writer.join()


def test_the_other_connections_read_the_books_as_they_stood_at_the_snapshot() -> None:
    with parallel.shared_snapshot() as snapshot:
        assert snapshot is not None
        before = Customer.objects.count()
        _commit_a_customer_elsewhere()
        seen_elsewhere = parallel.in_snapshot(snapshot, Customer.objects.count).result()
        assert (Customer.objects.count(), seen_elsewhere) == (before, before)
    assert Customer.objects.count() == before + 1


def _parallel_workers() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        (value,) = cursor.fetchone()
    return str(value)


def test_the_readers_run_without_parallel_workers_of_their_own_until_they_end() -> None:
    """Three readers already share the cores: no query adds PostgreSQL's workers to them,
    and the setting ends with the readers' transactions (SET LOCAL)."""
    outside = _parallel_workers()
    assert outside != "0"  # the server's default, or the test would prove nothing
    with parallel.shared_snapshot() as snapshot:
        here = _parallel_workers()
        elsewhere = parallel.in_snapshot(snapshot, _parallel_workers).result()
    assert (here, elsewhere) == ("0", "0")
    assert _parallel_workers() == outside


def test_the_figures_are_those_of_one_transaction(
    adv: User, book: dict[str, Invoice], monkeypatch: pytest.MonkeyPatch
) -> None:
    a_bit_of_everything(adv)
    threads: list[str] = []
    run = parallel._run

    def spied(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return run(*args)

    monkeypatch.setattr(parallel, "_run", spied)
    for as_of in (dt.date(2026, 3, 31), dt.date(2026, 12, 31)):
        threads.clear()
        shared = compute_kpis(as_of, 90)
        assert len(threads) == 2 and all(n.startswith("levier-kpis") for n in threads)
        headline = compute_headline(as_of, 90)
        with transaction.atomic():  # a transaction already open: all of it on this one
            threads.clear()
            assert compute_kpis(as_of, 90) == shared
            assert compute_headline(as_of, 90) == headline
            assert threads == []
        assert shared.fae > 0 and shared.receivables_ttc > 0
        assert headline["fae"] == shared.fae


def test_inside_an_open_transaction_or_switched_off_nothing_is_shared(settings: Any) -> None:
    with transaction.atomic(), parallel.shared_snapshot() as snapshot:
        assert snapshot is None
    settings.LEVIER_KPI_PARALLEL = False
    with parallel.shared_snapshot() as snapshot:
        assert snapshot is None
