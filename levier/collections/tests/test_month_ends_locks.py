"""Storing a month end on PostgreSQL never waits for a table while holding another (no
deadlock with payment matching): it asks for all of them at once, lets go when refused,
and gives up after a few tries, leaving the month end for the next run."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction

from levier.accounts.models import User
from levier.billing.tests.factories import complete_company_profile
from levier.collections import month_ends
from levier.collections.models import MonthEnd
from levier.collections.tests.factories import issued_invoice

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite has one writer at a time: no lock"
    ),
]


class Writer(threading.Thread):
    """A transaction elsewhere that is writing allocations, until released."""

    def __init__(self) -> None:
        super().__init__()
        self.holding, self.release = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("LOCK TABLE collections_allocation IN ROW EXCLUSIVE MODE")
                self.holding.set()
                self.release.wait(30)
        finally:
            connection.close()


def test_a_month_end_is_left_for_the_next_run_while_writers_hold_the_tables(
    adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    complete_company_profile()
    issued_invoice(adv, issue_date=dt.date(2026, 1, 15))
    monkeypatch.setattr(month_ends, "LOCK_ATTEMPTS", 3)
    monkeypatch.setattr(month_ends, "LOCK_PAUSE_SECONDS", 0.01)
    writer = Writer()
    writer.start()
    assert writer.holding.wait(10)
    try:
        with pytest.raises(month_ends.BooksBusy, match="collections_allocation"):
            month_ends.store_month_end(dt.date(2026, 1, 31))
        assert month_ends.store_month_ends() == []
        assert not MonthEnd.objects.exists()
    finally:
        writer.release.set()
        writer.join()
    assert month_ends.store_month_ends()[0] == dt.date(2026, 1, 31)


class OtherRun(threading.Thread):
    """Another Monday job storing the same month end, committing a moment later."""

    def __init__(self, day: dt.date) -> None:
        super().__init__()
        self.day, self.inserted = day, threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                MonthEnd.objects.create(day=self.day)
                self.inserted.set()
                time.sleep(0.5)  # long enough for the other run to wait on the same day
        finally:
            connection.close()


def test_two_runs_storing_the_same_month_end_at_once_both_finish(adv: User) -> None:
    complete_company_profile()
    issued_invoice(adv, issue_date=dt.date(2026, 9, 15))
    other = OtherRun(dt.date(2026, 9, 30))
    other.start()
    assert other.inserted.wait(10)
    try:
        stored = month_ends.store_month_ends()
    finally:
        other.join()
    assert dt.date(2026, 9, 30) not in stored  # the other run's
    assert dt.date(2026, 10, 31) in stored  # and this one went on
    assert MonthEnd.objects.filter(day=dt.date(2026, 9, 30)).count() == 1
