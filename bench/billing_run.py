"""Billing run throughput: N recurring contracts → N drafts → N issued, numbered invoices.

    python bench/billing_run.py [--db sqlite|postgres|both] [--contracts 10000]

Set-up (not timed): N customers, N monthly contracts of one line starting on 1 January,
created through `create_contract`. Timed: `run_billing(as_of=1 January, issue=True)` in one
process, split into its two phases (drafts, then issue). Target: ≥ 500 invoices/s on
PostgreSQL on a 2-core machine. Queries per invoice are counted on runs of 10 and 100
contracts: a constant number means no N+1.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchDatabase, arguments, run_each_database, table, write_result

DAY = dt.date(2026, 1, 1)


def main() -> None:
    args = arguments(__doc__.splitlines()[0], contracts=(int, 10_000, "contracts billed"))
    if run_each_database(args):
        return
    with BenchDatabase(args.db, "levier_bench_billing", args.pg_url):
        bench(args.db, args.contracts)


def bench(db: str, count: int) -> None:
    import random

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from tqdm import tqdm

    from levier.audit.choices import Channel
    from levier.audit.context import channel
    from levier.billing.models import Invoice
    from levier.billing.run import issue_drafts, run_billing
    from levier.billing.tests.factories import complete_company_profile
    from levier.contracts.models import Contract
    from levier.contracts.services import create_contract
    from levier.customers.models import Customer
    from levier.demo.company import CustomerGenerator, bulk_create_customers, create_users

    rng = random.Random(2026)
    cast = create_users()
    adv = cast.users["adv"]
    complete_company_profile()
    total = count + 110
    customers = [
        d.customer
        for d in bulk_create_customers(CustomerGenerator(rng), total, cast.by_role("commercial"))
    ]
    Customer.objects.update(po_number_required=False)
    line = {
        "description": "Infogérance mensuelle",
        "quantity": "1",
        "unit": "month",
        "unit_price": "1250",
        "vat_rate": "20",
        "mode": "recurring",
        "frequency": "monthly",
    }
    with channel(Channel.CLI):
        for customer in tqdm(customers, desc=f"{db}: contracts", file=sys.stderr, mininterval=2):
            create_contract(
                actor=adv,
                customer=customer,
                title="Infogérance",
                signed_on=DAY,
                start_date=DAY,
                lines=[line],
            )
        contracts = Contract.objects.order_by("pk")
        ids = list(contracts.values_list("pk", flat=True))
        query_rows = []
        for size, chunk in ((10, ids[:10]), (100, ids[10:110])):
            with CaptureQueriesContext(connection) as queries:
                run = run_billing(
                    actor=adv, as_of=DAY, issue=True, contracts=contracts.filter(pk__in=chunk)
                )
            assert run.issued_count == size, (run.issued_count, run.errors)
            query_rows.append([size, len(queries), f"{len(queries) / size:.1f}"])
        timed = contracts.filter(pk__in=ids[110:])
        started = time.perf_counter()
        run = run_billing(actor=adv, as_of=DAY, contracts=timed)
        drafted = time.perf_counter()
        issued, errors = issue_drafts(
            actor=adv, invoices=list(run.drafts.order_by("pk")), issue_date=None
        )
        finished = time.perf_counter()
    assert run.drafts_count == count and issued == count and not errors, (run.drafts_count, errors)
    numbers = sorted(
        int(n.rsplit("-", 1)[1])
        for n in Invoice.objects.filter(status="issued").values_list("number", flat=True)
    )
    assert numbers == list(range(1, total + 1)), "numbers must be consecutive"
    seconds = finished - started
    result = {
        "contracts": count,
        "drafts_seconds": round(drafted - started, 2),
        "issue_seconds": round(finished - drafted, 2),
        "invoices_per_second": round(count / seconds, 1),
        "drafts_per_second": round(count / (drafted - started), 1),
        "issues_per_second": round(count / (finished - drafted), 1),
        "queries": query_rows,
    }
    path = write_result("billing_run", db, result)
    print(
        f"{db}: {count} recurring contracts → {count} issued invoices in {seconds:.1f} s "
        f"= {result['invoices_per_second']} invoices/s "
        f"(drafts {result['drafts_per_second']}/s, issuing {result['issues_per_second']}/s)"
    )
    print(table(["contracts in the run", "queries", "queries per invoice"], query_rows))
    print(f"→ {path}")


if __name__ == "__main__":
    main()
