"""Customer search: 100,000 customers, then ~20 realistic queries through the selector.

    python bench/customer_search.py [--db sqlite|postgres|both] [--customers 100000]

Customers are bulk-created by the demo generator (valid SIREN/SIRET/VAT, French names,
postcodes). Each query runs `list(levier.customers.selectors.search_customers(query))`
REPEAT times; the median and p95 of all these server-side timings are reported (target:
< 100 ms). The tables are ANALYZEd first, as autovacuum would do on a live database.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from statistics import median, quantiles

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchDatabase, arguments, run_each_database, table, write_result

REPEAT = 7
NAME_QUERIES = [
    "Martin",  # surname prefix, many matches
    "Groupe",  # legal-form-like prefix
    "Établissements Vidal",
    "agri",  # brand prefix
    "Hexaval",
    "dupont sas",  # legal form dropped by normalization
    "Roux & Fabre",
    "mor",  # short prefix
    "logistique",  # substring (word inside the name)
    "santé",  # substring with an accent
    "pharma",
    "transports",
    "conseil",
    "inexistante zzz",  # no match: prefix, then a full substring scan
]
POSTCODES = ["69003", "75008", "92400", "38000"]


def main() -> None:
    args = arguments(__doc__.splitlines()[0], customers=(int, 100_000, "customers to create"))
    run_each_database(args)
    with BenchDatabase(args.db, "levier_bench_search", args.pg_url):
        bench(args.db, args.customers)


def bench(db: str, count: int) -> None:
    from django.db import connection
    from tqdm import tqdm

    from levier.customers.models import Customer
    from levier.customers.selectors import search_customers
    from levier.demo.company import CustomerGenerator, bulk_create_customers

    rng = random.Random(2026)
    started = time.perf_counter()

    def progress(items, total, label):  # type: ignore[no-untyped-def]
        return iter(tqdm(items, total=total, desc=f"{db}: {label}", file=sys.stderr))

    bulk_create_customers(CustomerGenerator(rng), count, [], progress)
    load_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    sample = list(Customer.objects.order_by("?").values_list("siren", "siret")[:3])
    queries = NAME_QUERIES + POSTCODES + [s for s, _ in sample[:2]] + [sample[2][1]]
    rows, timings = [], []
    for query in queries:
        runs = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            found = list(search_customers(query))
            runs.append(1000 * (time.perf_counter() - t0))
        timings += runs
        rows.append([query, len(found), f"{median(runs):.2f}", f"{max(runs):.2f}"])
    p50 = median(timings)
    p95 = quantiles(timings, n=20)[-1]
    print(f"\n== customer search on {db}: {count} customers (bulk load {load_seconds:.0f} s) ==")
    print(table(["query", "results", "median ms", "max ms"], rows))
    print(f"\nall {len(timings)} runs: median {p50:.2f} ms, p95 {p95:.2f} ms (target < 100 ms)")
    path = write_result(
        "customer_search",
        db,
        {
            "customers": count,
            "repeat": REPEAT,
            "median_ms": round(p50, 3),
            "p95_ms": round(p95, 3),
            "queries": [
                {"query": q, "results": n, "median_ms": float(m), "max_ms": float(x)}
                for q, n, m, x in rows
            ],
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
