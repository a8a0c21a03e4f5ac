"""Factur-X throughput: issue N invoices of 3 lines, then time their Factur-X PDF generation.

    python bench/bench_documents.py [--db sqlite|postgres|both] [--invoices 200] [--workers 1]

Each document is what `levier export-invoices --format facturx` writes: the EN 16931
description of the issued invoice, its CII, the French HTML rendered by WeasyPrint as
PDF/A-3b, then the CII embedded by the `factur-x` library. The invoices are read as the
export reads them (chunked, lines prefetched, the company profile once), so the figure is
document generation, not ORM work. Three documents are rendered first, untimed: the first
one compiles the template and builds what every PDF shares (`documents._Renderer`: the
font configuration, the parsed stylesheet, the compiled XSD).

The figure to read is invoices per second per core (the issue's target: 20). It is printed
twice: from CPU time (documents per CPU-second, the per-core rate of an idle machine) and
from wall time (with --workers N the N processes run at once and the total rate is divided
by N; run no more workers than cores). Wall time depends on what else the machine runs:
the load average before and after the run is printed so that a shared machine shows.

WeasyPrint subsets the embedded fonts with HarfBuzz when libharfbuzz-subset is installed
(Debian: libharfbuzz-subset0) and falls back to fontTools otherwise, which is several times
slower: the stage table shows it in the "pdf/a" row.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import sys
import time
from itertools import islice
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchDatabase, arguments, run_each_database, table, write_result

WARMUP = 3
CUSTOMERS = 50
PROFILED = 20  # documents timed stage by stage (HTML, PDF/A, embedding)


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        invoices=(int, 200, "invoices issued then rendered as Factur-X"),
        workers=(int, 1, "processes rendering at the same time"),
    )
    if run_each_database(args):
        return
    with BenchDatabase(args.db, "levier_bench_documents", args.pg_url):
        bench(args.db, args.invoices, args.workers)


def issue_invoices(count: int) -> float:
    """Issue `count` invoices of 3 catalogue lines through the services; returns seconds."""
    from levier.billing.services import create_draft_invoice, issue_invoice
    from levier.billing.tests.factories import complete_company_profile
    from levier.customers.models import Customer
    from levier.demo.company import (
        CustomerGenerator,
        bulk_create_customers,
        create_catalog,
        create_users,
    )

    rng = random.Random(2026)
    cast = create_users()
    products = create_catalog(cast)
    complete_company_profile()  # a seller whose identifiers pass their check digits
    bulk_create_customers(CustomerGenerator(rng), CUSTOMERS, cast.by_role("commercial"))
    # French customers only, no PO requirement: every invoice issues and has an e-invoice
    # (a foreign customer would need an electronic address the master does not hold yet).
    customers = list(Customer.objects.filter(country="FR"))
    Customer.objects.update(po_number_required=False)
    adv = cast.users["adv"]
    sellable = [p for p in products if p.is_active and p.vat_rate > 0]
    started = time.perf_counter()
    for i in range(count):
        lines = [
            {"product_id": p.pk, "quantity": str(rng.randint(1, 20))}
            for p in rng.sample(sellable, k=3)
        ]
        draft = create_draft_invoice(
            actor=adv,
            customer=customers[i % len(customers)],
            lines=lines,
            billable_on=dt.date(2026, 11, 1) + dt.timedelta(days=i % 27),
            po_number=f"BC-{i:05d}",
        )
        issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 11, 28))
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (forked workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def render_all(start: int, stop: int) -> None:
    """Render documents [start, stop) of the export order (a forked worker's share)."""
    from django.db import connections

    from levier.billing.company import company_profile
    from levier.billing.documents import facturx_pdf
    from levier.billing.management.commands.export_invoices import issued_documents

    connections.close_all()  # a forked child must open its own connection
    profile = company_profile()
    for invoice in islice(issued_documents(), start, stop):
        pdf = facturx_pdf(invoice, profile=profile)
        assert pdf.startswith(b"%PDF"), invoice.number


def profile_stages(count: int) -> dict[str, float]:
    """Median milliseconds of each stage of one Factur-X document, as `facturx_pdf` runs them."""
    from levier.billing import documents
    from levier.billing.company import company_profile
    from levier.billing.management.commands.export_invoices import issued_documents
    from levier.einvoice.cii import to_cii_xml

    profile = company_profile()
    stages: dict[str, list[float]] = {
        "xml": [],  # EN 16931 description and its CII
        "xsd": [],  # the CII against the Factur-X XSD
        "html": [],  # the template, without its stylesheet (parsed once)
        "pdf/a": [],  # WeasyPrint: parse, cascade, layout, draw, fonts, PDF/A
        "embed": [],  # factur-x: the XML attached, the XMP written (pypdf)
    }
    for invoice in islice(issued_documents(), count):
        t0 = time.perf_counter()
        document = documents.einvoice_of(invoice, profile=profile)
        xml = to_cii_xml(document)
        t1 = time.perf_counter()
        documents.check_xsd(xml)
        t2 = time.perf_counter()
        html = documents._html(invoice, profile, document, inline_css=False)
        t3 = time.perf_counter()
        pdf = documents.html_to_pdf(html, pdf_variant="pdf/a-3b")
        t4 = time.perf_counter()
        documents.seal(pdf, xml, documents.facturx_metadata(invoice, profile))
        t5 = time.perf_counter()
        times = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
        for name, seconds in zip(stages, times, strict=True):
            stages[name].append(seconds)
    return {name: 1000 * median(values) for name, values in stages.items()}


def bench(db: str, count: int, workers: int) -> None:
    from django.db import connection

    from levier.audit.choices import Channel
    from levier.audit.context import channel

    with channel(Channel.CLI):
        issue_seconds = issue_invoices(count)
    render_all(0, WARMUP)
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), cpu_seconds()
    if workers <= 1:
        render_all(0, count)
    else:
        connection.close()
        bounds = [count * w // workers for w in range(workers + 1)]
        ctx = multiprocessing.get_context("fork")
        procs = [
            ctx.Process(target=render_all, args=(bounds[w], bounds[w + 1])) for w in range(workers)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
            assert proc.exitcode == 0, f"a bench worker failed ({proc.exitcode})"
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    load_after = os.getloadavg()[0]
    rate = count / elapsed
    per_core = rate / max(1, min(workers, os.cpu_count() or 1))
    per_cpu_second = count / cpu
    stages = profile_stages(min(PROFILED, count))

    cores = os.cpu_count() or 1
    print(
        f"\n== Factur-X on {db}: {per_cpu_second:.1f} invoices/s per core (CPU time), "
        f"{per_core:.1f} invoices/s per core (wall) =="
    )
    print(
        f"CPU time {cpu:.1f} s for {count} invoices = {per_cpu_second:.1f} invoices per "
        "CPU-second (the per-core figure on an idle machine)"
    )
    print(
        f"wall {elapsed:.1f} s = {rate:.1f} invoices/s with {workers} "
        f"process{'es' if workers > 1 else ''} = {per_core:.1f} invoices/s per core; "
        f"load average {load_before:.1f} before, {load_after:.1f} after, on {cores} cores"
        + (" (more runnable processes than cores: a shared machine)" if load_after > cores else "")
    )
    print(f"(issuing them took {issue_seconds:.1f} s = {count / issue_seconds:.0f} invoices/s)\n")
    rows: list[list[Any]] = [[name, f"{ms:.1f}"] for name, ms in stages.items()]
    rows.append(["total", f"{sum(stages.values()):.1f}"])
    print(table(["stage (one document)", "median ms"], rows))
    path = write_result(
        f"documents-w{workers}",
        db,
        {
            "invoices": count,
            "workers": workers,
            "seconds": round(elapsed, 2),
            "invoices_per_second": round(rate, 2),
            "invoices_per_second_per_core": round(per_core, 2),
            "cpu_seconds": round(cpu, 2),
            "invoices_per_cpu_second": round(per_cpu_second, 2),
            "load_average": [round(load_before, 2), round(load_after, 2)],
            "cores": cores,
            "issue_seconds": round(issue_seconds, 2),
            "median_ms": {name: round(ms, 2) for name, ms in stages.items()},
        },
    )
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
