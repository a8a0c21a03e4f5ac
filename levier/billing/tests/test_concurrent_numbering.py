"""Concurrent issuing on PostgreSQL: 4 processes × 2,500 invoices → 10,000 numbers, no gap.

Not timed. Each process has its own connection and issues its own drafts as fast as it can,
so the counter row is contended all the time. Runs only on PostgreSQL (SQLite serializes
writers anyway). LEVIER_CONCURRENT_INVOICES scales it down for a quick local run.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice, InvoiceLine
from levier.billing.numbering import default_series
from levier.billing.services import issue_invoice
from levier.customers.tests.factories import CustomerFactory

PROCESSES = 4
TOTAL = int(os.environ.get("LEVIER_CONCURRENT_INVOICES", "10000"))
DAY = dt.date(2026, 11, 27)


def _issue_slice(ids: list[int], adv_id: int, failures: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    connections.close_all()  # never share the parent's socket
    try:
        adv = User.objects.get(pk=adv_id)
        for pk in ids:
            issue_invoice(actor=adv, invoice=Invoice(pk=pk), issue_date=DAY)
    except Exception as exc:  # reported to the parent, which fails the test
        failures.put(repr(exc))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_four_processes_issuing_at_once_get_distinct_consecutive_numbers(settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the concurrency test runs on PostgreSQL (set DATABASE_URL)")
    settings.LEVIER_AUTO_SEND_INVOICES = False  # numbering only: the forks inherit it
    adv = User.objects.create_user("adv.concurrent", password="x-long-password-123", role=Role.ADV)
    customer = CustomerFactory()
    series = default_series(DocumentKind.INVOICE)
    drafts = Invoice.objects.bulk_create(
        Invoice(
            kind=DocumentKind.INVOICE,
            series=series,
            customer=customer,
            billable_on=DAY,
            payment_terms_days=30,
            payment_terms_basis="net",
            total_net=Decimal("100.00"),
            total_vat=Decimal("20.00"),
            total_gross=Decimal("120.00"),
            created_by=adv,
        )
        for _ in range(TOTAL)
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=d,
            position=1,
            description="Régie",
            quantity=Decimal("1"),
            unit="day",
            unit_price=Decimal("100"),
            vat_rate=Decimal("20"),
            net_amount=Decimal("100.00"),
        )
        for d in drafts
    )
    ids = [d.pk for d in drafts]
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    failures = ctx.Queue()
    procs = [
        ctx.Process(target=_issue_slice, args=(ids[w::PROCESSES], adv.pk, failures))
        for w in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=1200)
    errors = [failures.get() for _ in range(failures.qsize())] if not failures.empty() else []
    assert errors == []
    assert all(proc.exitcode == 0 for proc in procs)

    numbers = list(
        Invoice.objects.filter(status=InvoiceStatus.ISSUED).values_list("number", flat=True)
    )
    sequence = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert len(numbers) == len(set(numbers)) == TOTAL
    assert sequence == list(range(1, TOTAL + 1))  # distinct, consecutive, no gap
    # chronological too: chain order and number order agree
    by_chain = list(
        Invoice.objects.filter(status=InvoiceStatus.ISSUED)
        .order_by("chain_index")
        .values_list("number", flat=True)
    )
    assert by_chain == sorted(by_chain)
