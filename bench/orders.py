"""Order throughput: create, submit and validate N orders of 3 lines through the services.

    python bench/orders.py [--db sqlite|postgres|both] [--orders 10000]

Each order is `create_order` (3 catalog lines) → `submit_order` → `approve_order` by ADV,
which validates it (the bench customers trigger no other rule) and runs the confirmation
email job in-process on commit (locmem backend: rendered, never sent). Targets: ≥ 200
orders/s on PostgreSQL on a 2-core machine, and a number of SQL queries per order that does
not grow with the number of lines nor with the orders already in the database: it is
measured with CaptureQueriesContext on orders of 1, 3 and 10 lines, once with ~100 orders
in the database and again after the N-order run.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchDatabase, arguments, run_each_database, table, write_result

WARMUP_ORDERS = 100
CUSTOMERS = 200


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        orders=(int, 10_000, "orders in the timed run"),
        workers=(int, 1, "processes running orders at the same time (users working in parallel)"),
        jobs=(str, "inline", "inline: jobs run in-process after commit; broker: queued to Redis"),
    )
    if run_each_database(args):
        return
    if args.jobs == "broker":
        # The web process of a Celery deployment only queues the confirmation job: measure
        # the services plus a real enqueue to Redis (no worker consumes it during the run).
        os.environ["BENCH_CELERY_BROKER_URL"] = os.environ.get(
            "LEVIER_REDIS_URL", "redis://127.0.0.1:6379/14"
        )
    with BenchDatabase(args.db, "levier_bench", args.pg_url):
        bench(args.db, args.orders, args.workers, args.jobs)


def bench(db: str, count: int, workers: int = 1, jobs: str = "inline") -> None:
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from tqdm import tqdm

    from levier.audit.choices import Channel
    from levier.audit.context import channel
    from levier.customers.models import Customer
    from levier.demo.company import (
        CustomerGenerator,
        bulk_create_customers,
        create_catalog,
        create_circuit,
        create_users,
    )
    from levier.sales.models import Order
    from levier.sales.services import approve_order, create_order, submit_order

    rng = random.Random(2026)
    cast = create_users()
    products = create_catalog(cast)
    create_circuit(cast)  # the demo's four rules: they are evaluated on every submission
    managers = cast.by_role("commercial")
    customers = [
        d.customer for d in bulk_create_customers(CustomerGenerator(rng), CUSTOMERS, managers)
    ]
    # No credit limit, no PO requirement: every order needs exactly the ADV step, so the
    # figures compare across runs and databases.
    Customer.objects.update(credit_limit=None, po_number_required=False)
    customers = list(Customer.objects.all())
    creators, adv = managers, cast.users["adv"]
    small = [p for p in products if p.unit in ("day", "hour") and p.unit_price < 1000]

    def lines(n: int) -> list[dict[str, Any]]:
        return [
            {"product_id": p.pk, "quantity": str(rng.randint(1, 5))}
            for p in rng.choices(small, k=n)
        ]

    timings: dict[str, list[float]] = {"create": [], "submit": [], "approve": []}

    def one_order(i: int, n_lines: int = 3, record: bool = True) -> Order:
        creator = creators[i % len(creators)]
        customer = customers[i % len(customers)]
        t0 = time.perf_counter()
        order = create_order(
            actor=creator, customer=customer, lines=lines(n_lines), po_number=f"PO{i}"
        )
        t1 = time.perf_counter()
        order = submit_order(actor=creator, order=order)
        t2 = time.perf_counter()
        order = approve_order(actor=adv, order=order)
        t3 = time.perf_counter()
        assert order.status == "validated", order.status
        if record:
            timings["create"].append(t1 - t0)
            timings["submit"].append(t2 - t1)
            timings["approve"].append(t3 - t2)
        if len(getattr(mail, "outbox", [])) > 500:
            mail.outbox.clear()
        return order

    def count_queries(existing: int) -> list[list[Any]]:
        rows = []
        for n_lines in (1, 3, 10):
            per_service = []
            creator, customer = creators[0], customers[0]
            with CaptureQueriesContext(connection) as q_create:
                order = create_order(
                    actor=creator, customer=customer, lines=lines(n_lines), po_number="Q"
                )
            with CaptureQueriesContext(connection) as q_submit:
                order = submit_order(actor=creator, order=order)
            with CaptureQueriesContext(connection) as q_approve:
                order = approve_order(actor=adv, order=order)
            per_service = [len(q_create), len(q_submit), len(q_approve)]
            rows.append([existing, n_lines, *per_service, sum(per_service)])
            detail[f"{existing}-{n_lines}"] = {
                "create": [q["sql"] for q in q_create.captured_queries],
                "submit": [q["sql"] for q in q_submit.captured_queries],
                "approve": [q["sql"] for q in q_approve.captured_queries],
            }
        return rows

    broker = os.environ.get("BENCH_CELERY_BROKER_URL")
    if broker:
        from django.conf import settings

        from levier.celery import app as celery_app

        settings.CELERY_BROKER_URL = broker
        settings.CELERY_TASK_DEFAULT_QUEUE = f"levier-bench-{os.getpid()}"
        celery_app.conf.broker_url = broker

    def run_slice(start: int, stop: int) -> None:
        from django.db import connections

        connections.close_all()  # a forked child must open its own connection
        with channel(Channel.CLI):
            for i in range(start, stop):
                one_order(i)

    detail: dict[str, dict[str, list[str]]] = {}
    with channel(Channel.CLI):
        for i in range(WARMUP_ORDERS):
            one_order(i, record=False)
        query_rows = count_queries(Order.objects.count())
        started = time.perf_counter()
        if workers <= 1:
            for i in tqdm(range(count), desc=f"{db}: orders", file=sys.stderr, mininterval=2):
                one_order(WARMUP_ORDERS + i)
        else:
            connection.close()
            bounds = [WARMUP_ORDERS + count * w // workers for w in range(workers + 1)]
            ctx = multiprocessing.get_context("fork")
            procs = [
                ctx.Process(target=run_slice, args=(bounds[w], bounds[w + 1]))
                for w in range(workers)
            ]
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join()
                assert proc.exitcode == 0, f"a bench worker failed ({proc.exitcode})"
        elapsed = time.perf_counter() - started
        validated = Order.objects.filter(status="validated").count()
        assert validated == WARMUP_ORDERS + 3 + count, validated
        query_rows += count_queries(Order.objects.count())
    if broker:
        import redis

        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        client = redis.Redis.from_url(broker)
        queued = client.llen(queue)
        client.delete(queue)
        print(f"confirmation jobs queued to Redis during the run: {queued}")

    rate = count / elapsed
    per_service = {k: 1000 * median(v) for k, v in timings.items() if v}
    print(
        f"\n== orders on {db}: {count} orders of 3 lines in {elapsed:.1f} s = {rate:.0f} orders/s "
        f"({workers} process{'es' if workers > 1 else ''}, jobs {jobs}) =="
    )
    if workers <= 1:
        print(
            table(
                ["service", "median ms", "mean ms"],
                [
                    [k, f"{per_service[k]:.2f}", f"{1000 * sum(v) / len(v):.2f}"]
                    for k, v in timings.items()
                ],
            )
        )
    print()
    print(
        table(
            ["existing orders", "lines", "create", "submit", "approve", "total queries"], query_rows
        )
    )
    path = write_result(
        f"orders-w{workers}-{jobs}",
        db,
        {
            "orders": count,
            "workers": workers,
            "jobs": jobs,
            "seconds": round(elapsed, 2),
            "orders_per_second": round(rate, 1),
            "median_ms": {k: round(v, 3) for k, v in per_service.items()},
            "queries": [
                dict(
                    zip(
                        ["existing_orders", "lines", "create", "submit", "approve", "total"],
                        row,
                        strict=True,
                    )
                )
                for row in query_rows
            ],
            "queries_sql": detail,
        },
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
