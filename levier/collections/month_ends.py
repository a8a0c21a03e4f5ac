"""Open items stored at month ends: the bases an aged balance at a past date counts from.

What an invoice owed on a day is its total less the credit notes issued and the payments
received by then (kpis.md). Counted from today, a date a year back costs a year of payments
(bench/kpis.py: 0.5 to 0.7 s at 1,000,000 invoices); counted from the nearest stored month
end, it costs at most half a month of them. `levier.collections.aging.open_parts`
chooses the nearest base: today's open amounts or a stored month end.

Kept exact without trusting anyone to remember: every change that moves an open amount goes
through `levier.collections.balances.refresh_open_amounts` (credit notes, allocations and
their undoing), which recomputes the stored rows of the invoices it touches at every stored
month end, from the facts, as it recomputes their open amounts; an invoice issued with a date
on or before a stored month end is recomputed the same way by `issue_invoices`. Only month
ends before today are stored, so an invoice issued today never touches them.

`store_month_ends` (the Monday job, `make demo`, bench/kpis.py) stores the missing ones;
without any, `open_parts` counts as before, from today or forward from the invoices open
that day.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Min
from django.utils import timezone

from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.models import Allocation, MonthEnd, MonthEndItem, Payment
from levier.lib.periods import add_months

log = logging.getLogger(__name__)

# What every invoice owed at each month end `m` joined to it, when not zero: the same sum
# as `open_items`, with the same shortcut (an invoice settled by then owed nothing, unless
# credited after it was paid). ROUND: SQLite subtracts decimals as binary floats.
_ITEMS_SQL = """
INSERT INTO {items} (month_end_id, invoice_id, customer_id, issue_date, due_date, amount)
SELECT month_end_id, invoice_id, customer_id, issue_date, due_date, amount FROM (
    SELECT m.id AS month_end_id, i.id AS invoice_id, i.customer_id, i.issue_date, i.due_date,
           ROUND(i.total_gross
                 - COALESCE((SELECT SUM(c.total_gross) FROM {invoices} c
                             WHERE c.credited_invoice_id = i.id AND c.status = 'issued'
                               AND c.kind = 'credit_note' AND c.issue_date <= m.day), 0)
                 - COALESCE((SELECT SUM(a.amount) FROM {allocations} a
                             JOIN {payments} p ON p.id = a.payment_id
                             WHERE a.invoice_id = i.id AND p.received_on <= m.day), 0),
                 2) AS amount
    FROM {month_ends} m
    JOIN {invoices} i ON i.issue_date <= m.day
    WHERE i.status = 'issued' AND i.kind = 'invoice'
      AND (i.settled_on IS NULL OR i.settled_on > m.day OR i.open_amount < 0)
      AND {which}
) owed
WHERE amount <> 0
"""


def _items_sql(which: str) -> str:
    q = connection.ops.quote_name
    return _ITEMS_SQL.format(
        items=q(MonthEndItem._meta.db_table),
        invoices=q(Invoice._meta.db_table),
        allocations=q(Allocation._meta.db_table),
        payments=q(Payment._meta.db_table),
        month_ends=q(MonthEnd._meta.db_table),
        which=which,
    )


def month_end_of(day: dt.date) -> dt.date:
    return add_months(day.replace(day=1), 1) - dt.timedelta(days=1)


class BooksBusy(Exception):
    """The invoices or allocations stayed locked by writers: no month end stored this time."""


# How many times, and how long apart, storing a month end asks for the tables before giving
# up (the next Monday job tries again).
LOCK_ATTEMPTS = 40
LOCK_PAUSE_SECONDS = 0.25


def _lock_writers() -> None:
    """Hold off the writers of invoices and allocations while a month end is read and
    stored: a change committed in between would be in neither the rows read nor (the month
    end not being stored yet for it) the rows its own refresh rewrites. SQLite has one writer
    at a time already.

    NOWAIT, retried: waiting for one table while holding another could deadlock with a writer
    that holds the second and wants the first (payment matching locks invoices, then writes
    allocations, then invoices); asking for all three at once and letting go on refusal never
    holds anything while waiting."""
    if connection.vendor != "postgresql":
        return
    q = connection.ops.quote_name
    tables = ", ".join(q(m._meta.db_table) for m in (Invoice, Allocation, Payment))
    for attempt in range(LOCK_ATTEMPTS):
        try:
            with transaction.atomic(), connection.cursor() as cursor:  # a savepoint
                cursor.execute(f"LOCK TABLE {tables} IN SHARE MODE NOWAIT")
            return
        except OperationalError:
            if attempt + 1 < LOCK_ATTEMPTS:
                time.sleep(LOCK_PAUSE_SECONDS)
    raise BooksBusy(f"{tables} stayed locked by writers ({LOCK_ATTEMPTS} attempts)")


@transaction.atomic
def store_month_end(day: dt.date) -> MonthEnd:
    """Store the open items at `day`, a month end before today (again: replaced)."""
    if day != month_end_of(day):
        raise ValueError(f"{day} is not the last day of a month")
    if day >= timezone.localdate():
        raise ValueError(f"{day} is not in the past: only past month ends are stored")
    _lock_writers()
    MonthEnd.objects.filter(day=day).delete()
    month_end = MonthEnd.objects.create(day=day)
    with connection.cursor() as cursor:
        cursor.execute(_items_sql("m.id = %s"), [month_end.pk])
    return month_end


def store_month_ends(until: dt.date | None = None) -> list[dt.date]:
    """Store every month end not stored yet, from the month of the first issued invoice to
    the last month end before today (or `until`, if earlier). Each in its own transaction,
    so that writers wait for one month end at a time. Returns the days stored; stops at the
    first month end the writers' locks keep from being stored (logged)."""
    first = Invoice.objects.filter(
        status=InvoiceStatus.ISSUED, kind=DocumentKind.INVOICE
    ).aggregate(first=Min("issue_date"))["first"]
    if first is None:
        return []
    last = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    if until is not None:
        last = min(last, until)
    stored = set(MonthEnd.objects.values_list("day", flat=True))
    done: list[dt.date] = []
    day = month_end_of(first)
    while day <= last:
        if day not in stored:
            try:
                store_month_end(day)
                done.append(day)
            except BooksBusy as exc:  # the KPIs count as before; the next run goes on
                log.warning("month end %s not stored: %s", day, exc)
                return done
            except IntegrityError:  # another run (two Monday jobs at once) stored it first
                log.info("month end %s stored meanwhile by another run", day)
        day = month_end_of(day + dt.timedelta(days=1))
    return done


def refresh_month_end_items(invoice_ids: Iterable[int]) -> None:
    """Recompute the stored rows of these invoices at every stored month end, from the facts
    (after their open amounts and settled dates are refreshed: the rows use `settled_on`).
    Callers hold the invoices locked, as `refresh_open_amounts` requires."""
    ids = sorted(set(invoice_ids))
    if not ids or not MonthEnd.objects.exists():
        return
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        MonthEndItem.objects.filter(invoice_id__in=chunk).delete()
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(_items_sql(f"i.id IN ({marks})"), chunk)


def issued_on_stored_month(issue_date: dt.date) -> bool:
    """Whether documents issued on `issue_date` change a stored month end (a date typed in
    the past; the billing run and ADV issue today)."""
    return MonthEnd.objects.filter(day__gte=issue_date).exists()


def nearest_month_end(as_of: dt.date) -> MonthEnd | None:
    """The stored month end closest to `as_of` within a month either side (the earlier one
    on a tie), in one query; None without any."""
    month = dt.timedelta(days=31)
    near = list(MonthEnd.objects.filter(day__gte=as_of - month, day__lte=as_of + month))
    if not near:
        return None
    return min(near, key=lambda m: (abs((m.day - as_of).days), m.day))
