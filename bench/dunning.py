"""Dunning run: 100,000 open issued invoices over 10,000 customers → plan, then run.

    python bench/dunning.py [--db sqlite|postgres|both] [--invoices 100000] [--customers 10000]

Set-up (not timed): customers and their contacts from the demo generator, the default French
scenario and the interest rates seeded, then the invoices bulk-inserted as issued (numbered,
due from 10 days ahead to 5–120 days late depending on the customer, one in ten partly paid),
1 % of them disputed, 1 % under a promise to pay; about 10 % of the customers are strategic,
as the demo generator makes them; the tables ANALYZEd.
Timed: `plan_dunning` (the preview), `run_dunning` (messages, items, tasks, audit in one
transaction) and a second run the same day (everything already done). Queries are counted
for each. The jobs that send the reminders are counted, not run: sending is a PDF and an
email per customer after the commit, measured by bench_documents.py. Target: the run in
< 60 s on PostgreSQL on a 2-core machine, with a number of queries that grows with the
batches, not with the invoices.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchDatabase, arguments, run_each_database, table, write_result

RUN = dt.date(2026, 11, 27)


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        invoices=(int, 100_000, "open issued invoices"),
        customers=(int, 10_000, "customers they are spread over"),
    )
    if run_each_database(args):
        return
    with BenchDatabase(args.db, "levier_bench_dunning", args.pg_url):
        bench(args.db, args.invoices, args.customers)


def set_up(invoice_count: int, customer_count: int) -> None:
    from tqdm import tqdm

    from levier.accounts.choices import Role
    from levier.billing.choices import DocumentKind, InvoiceStatus
    from levier.billing.models import Invoice
    from levier.billing.numbering import default_series
    from levier.billing.tests.factories import complete_company_profile
    from levier.collections.dunning_defaults import seed_default_scenario, seed_interest_rates
    from levier.collections.models import Dispute, PromiseToPay
    from levier.demo.company import CustomerGenerator, bulk_create_customers, create_users

    rng = random.Random(2026)
    cast = create_users()
    adv = cast.by_role(Role.ADV)[0]
    compta = cast.by_role(Role.COMPTABILITE)[0]
    complete_company_profile()
    seed_interest_rates()
    seed_default_scenario()
    customers = [
        d.customer
        for d in bulk_create_customers(
            CustomerGenerator(rng), customer_count, cast.by_role(Role.COMMERCIAL)
        )
    ]
    series = default_series(DocumentKind.INVOICE)
    # How late each customer pays at worst: most within the reminders, some past the
    # formal notice, a few long gone (hand-over), so every channel gets its share.
    worst = {c.pk: rng.choice((5, 10, 20, 20, 25, 35, 40, 60, 120)) for c in customers}
    rows = []
    for n in tqdm(range(invoice_count), desc="invoices", file=sys.stderr, mininterval=2):
        customer = customers[n % customer_count]
        due = RUN - dt.timedelta(days=rng.randint(-10, worst[customer.pk]))
        issued = due - dt.timedelta(days=30)
        net = Decimal(rng.randrange(10_000, 2_000_000)) / 100
        vat = (net * Decimal("0.2")).quantize(Decimal("0.01"))
        gross = net + vat
        paid = (gross * Decimal("0.4")).quantize(Decimal("0.01")) if n % 10 == 0 else 0
        rows.append(
            Invoice(
                kind=DocumentKind.INVOICE,
                status=InvoiceStatus.ISSUED,
                series=series,
                number=f"F2026-{n + 1:06d}",
                customer=customer,
                issue_date=issued,
                due_date=due,
                billable_on=issued,
                payment_terms_days=30,
                payment_terms_basis="net",
                buyer_name=customer.name,
                total_net=net,
                total_vat=vat,
                total_gross=gross,
                open_amount=gross - paid,
                created_by=adv,
            )
        )
    invoices = Invoice.objects.bulk_create(rows, batch_size=2000)
    disputed = rng.sample(invoices, invoice_count // 100)
    Dispute.objects.bulk_create(
        Dispute(
            invoice=invoice,
            reason="price",
            amount=invoice.open_amount,
            owner=compta,
            due_on=RUN,
            opened_on=RUN,
            opened_by=compta,
        )
        for invoice in disputed
    )
    for invoice in rng.sample(invoices, invoice_count // 100):
        promise = PromiseToPay.objects.create(
            customer=invoice.customer,
            promised_on=RUN + dt.timedelta(days=rng.randint(-5, 15)),
            amount=invoice.open_amount,
            created_by=compta,
            created_on=RUN - dt.timedelta(days=10),
        )
        promise.invoices.add(invoice)


def bench(db: str, invoice_count: int, customer_count: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from levier.accounts.choices import Role
    from levier.accounts.models import User
    from levier.audit.choices import Channel
    from levier.audit.context import channel
    from levier.collections import dunning

    started = time.perf_counter()
    set_up(invoice_count, customer_count)
    if db == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    set_up_seconds = time.perf_counter() - started
    compta = User.objects.filter(role=Role.COMPTABILITE).order_by("pk").first()
    assert compta is not None
    enqueued: list[int] = []

    def count_jobs(fn: object, **kwargs: int) -> None:
        enqueued.append(kwargs["message_id"])

    dunning.enqueue = count_jobs  # type: ignore[assignment]

    rows = []
    with channel(Channel.CLI):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            plan = dunning.plan_dunning(RUN)
            plan_seconds = time.perf_counter() - started
        rows.append(["plan_dunning (preview)", f"{plan_seconds:.1f}", len(queries)])
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            run = dunning.run_dunning(actor=compta, run_date=RUN)
            run_seconds = time.perf_counter() - started
        rows.append(["run_dunning", f"{run_seconds:.1f}", len(queries)])
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            again = dunning.run_dunning(actor=compta, run_date=RUN)
            again_seconds = time.perf_counter() - started
        rows.append(["run_dunning again (all done)", f"{again_seconds:.1f}", len(queries)])
    assert run.items == plan.items and again.items == 0, (run.items, plan.items, again.items)
    assert len(enqueued) == run.messages
    result = {
        "invoices": invoice_count,
        "customers": customer_count,
        "set_up_seconds": round(set_up_seconds, 1),
        "plan_seconds": round(plan_seconds, 2),
        "run_seconds": round(run_seconds, 2),
        "rerun_seconds": round(again_seconds, 2),
        "messages": run.messages,
        "tasks": run.tasks,
        "items": run.items,
        "skipped": run.skipped,
        "already_done_on_rerun": dunning.plan_dunning(RUN).already_done,
        "queries": rows,
    }
    path = write_result("dunning", db, result)
    print(
        f"{db}: {invoice_count} open invoices over {customer_count} customers → "
        f"{run.messages} reminders queued, {run.tasks} tasks, {run.items} invoice steps "
        f"(skipped: {run.skipped}); run in {run_seconds:.1f} s"
    )
    print(table(["step", "seconds", "queries"], rows))
    print(f"→ {path}")


if __name__ == "__main__":
    main()
