"""Reading the books from two connections at once, both seeing the same state (PostgreSQL).

Half of `compute_kpis` is the cut-off, mostly Python walking the contracts' periods, while
most of the other figures wait on the database: on two cores the two overlap (bench/kpis.py).
What a second connection reads must be what the first reads, or the figures would not add
up: the first runs REPEATABLE READ and exports its snapshot (`pg_export_snapshot`), the
second imports it (`SET TRANSACTION SNAPSHOT`), so both read the books as they stood at the
first one's first query, whatever commits meanwhile.

Where the snapshot cannot be shared, everything runs on the caller's connection, in one
transaction, as before: on SQLite; inside a transaction already open (a test, a job that
writes what it computes); or with `LEVIER_KPI_PARALLEL` off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.utils import translation

T = TypeVar("T")

# The readers at once besides the caller's connection: the dashboard's four (cut-off,
# forecast, breakdowns, and the week before's headline when no snapshot holds it).
WORKERS = 4
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="levier-kpis")
        return _pool


def can_share_snapshot() -> bool:
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and bool(settings.LEVIER_KPI_PARALLEL)
    )


def _repeatable_read() -> None:
    with connection.cursor() as cursor:  # the transaction's first statement
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # No parallel workers of PostgreSQL's own inside a query: the readers here already
        # keep the cores busy, and a parallel plan builds its hash tables again in each
        # worker. bench/kpis.py's database, compute_kpis today, 3 × 6 runs interleaved:
        # median 757–826 ms with them, 691–714 ms without.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")


_current = threading.local()


@contextmanager
def shared_snapshot() -> Iterator[str | None]:
    """One transaction on this connection, for reading only; yields the id of its snapshot
    for `in_snapshot`, or None where it cannot be shared. Inside another `shared_snapshot`
    (the dashboard around `compute_kpis`), the same one."""
    outer = getattr(_current, "snapshot", None)
    if outer is not None:
        yield outer
        return
    if not can_share_snapshot():
        with transaction.atomic():
            yield None
        return
    with transaction.atomic():
        _repeatable_read()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        _current.snapshot = snapshot
        try:
            yield snapshot
        finally:
            _current.snapshot = None


def in_snapshot(snapshot: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """`fn(*args, **kwargs)` on another connection reading `snapshot`, started now; or, with
    no snapshot, run here at once. The caller waits for the result inside `shared_snapshot`
    (the snapshot lives as long as the transaction that exported it)."""
    if snapshot is None:
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:  # raised again by .result(), as from the other thread
            done.set_exception(exc)
        return done
    return _executor().submit(_run, snapshot, translation.get_language(), fn, args, kwargs)


def _run(snapshot: str, language: str | None, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
    try:
        with translation.override(language), transaction.atomic():
            _repeatable_read()
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            return fn(*args, **kwargs)
    finally:
        connection.close()  # this thread's own connection: not left open between calls
