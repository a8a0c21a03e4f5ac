"""Payment matching (lettrage): 20,000 payments against 200,000 open invoices.

    python bench/matching.py [--db sqlite|postgres|both] [--invoices 200000]
                             [--customers 5000] [--payments 20000]

Set-up (not timed): customers from the demo generator (half with their IBAN on file), then
already-issued invoices bulk-inserted with every field issuing sets (number, dates, buyer,
chain index, placeholder hashes, totals, open amount; no lines: matching never reads them), some
customers billing the same monthly fee every month. Then payments whose truth is kept:
half quote a reference (an RF or the invoice number, with random spacing, case and
separators; some for several invoices, some partial, some over), half do not (the payer's
IBAN is on file, or only its name, misspelt; some pay several invoices, some part of one;
one in ten of those comes from nobody we know).

Timed: `match_payments` over all of them, in one transaction. Reported: seconds, the share
matched automatically, the proposals, and the WRONG automatic allocations (an invoice the
payment did not pay, against the generated truth; target 0), per kind of payment, and the
first wrong ones in detail. Target: < 20 s on PostgreSQL. BENCH_PROFILE=1 profiles the run.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchDatabase, arguments, run_each_database, table, write_result

START = dt.date(2025, 1, 1)
NOISE = ("VIR SEPA", "VIREMENT", "PAIEMENT", "REGLEMENT", "VIR INST", "")


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        invoices=(int, 200_000, "open issued invoices"),
        customers=(int, 5_000, "customers"),
        payments=(int, 20_000, "payments to match"),
    )
    if run_each_database(args):
        return
    with BenchDatabase(args.db, "levier_bench_matching", args.pg_url):
        bench(args.db, args.customers, args.invoices, args.payments)


def mangle_number(rng: Any, number: str) -> str:
    """How a payer copies "F2026-000123": case, separators, spaces, split anywhere."""
    body = number.replace("-", rng.choice(["-", " ", "", "/", ".", "_", " - "]))
    if rng.random() < 0.3:
        body = body.lower()
    if rng.random() < 0.2:
        cut = rng.randrange(1, len(body))
        body = f"{body[:cut]} {body[cut:]}"
    return body


def mangle_rf(rng: Any, rf: str) -> str:
    if rng.random() < 0.5:  # printed in groups of four, as on the invoice
        rf = " ".join(rf[i : i + 4] for i in range(0, len(rf), 4))
    return rf.lower() if rng.random() < 0.3 else rf


def misspell(rng: Any, name: str) -> str:
    """A bank's copy of a name: upper-case, a typo, sometimes the legal form dropped."""
    text = name.upper()
    if rng.random() < 0.4:
        text = text.rsplit(" ", 1)[0]
    letters = list(text)
    i = rng.randrange(len(letters))
    if letters[i].isalpha():
        letters[i] = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return "".join(letters)


def bench(db: str, customer_count: int, invoice_count: int, payment_count: int) -> None:
    import hashlib
    import random
    from decimal import Decimal

    from django.db import connection, transaction
    from django.utils import timezone
    from tqdm import tqdm

    from levier.audit.choices import Channel
    from levier.audit.context import channel
    from levier.billing.models import Invoice, NumberingSeries, SeriesCounter
    from levier.billing.tests.factories import complete_company_profile
    from levier.collections.choices import ProposalStatus
    from levier.collections.matching import load_open_items, load_payments, propose
    from levier.collections.matching.services import match_payments
    from levier.collections.models import Allocation, MatchProposal, Payment
    from levier.customers.models import Customer
    from levier.demo.company import CustomerGenerator, bulk_create_customers, create_users
    from levier.lib.identifiers import creditor_reference

    rng = random.Random(2026)
    cast = create_users()
    compta, adv = cast.users["compta"], cast.users["adv"]
    complete_company_profile()
    customers = [
        d.customer
        for d in bulk_create_customers(
            CustomerGenerator(rng), customer_count, cast.by_role("commercial")
        )
    ]
    ibans: dict[int, str] = {}
    for n, customer in enumerate(customers):
        if rng.random() < 0.5:
            ibans[customer.pk] = f"FR76{30000 + n % 9000:05d}{n:018d}"
    Customer.objects.bulk_update(
        [Customer(pk=pk, iban=iban) for pk, iban in ibans.items()], ["iban"], batch_size=1000
    )
    # A third of the customers pay the same monthly fee on each invoice (recurring services).
    fee = {
        c.pk: Decimal(rng.choice([600, 900, 1250, 1800, 2400, 3000])) * Decimal("1.2")
        for c in customers
        if rng.random() < 0.33
    }
    series = NumberingSeries.objects.get(code="F")
    now = timezone.now()
    rows: list[Invoice] = []
    truth_customer: dict[int, int] = {}
    per_year: dict[int, int] = {}
    head = "0" * 64
    for n in tqdm(range(invoice_count), desc=f"{db}: invoices", file=sys.stderr, mininterval=2):
        customer = customers[rng.randrange(len(customers))]
        issued_on = START + dt.timedelta(days=n * 700 // invoice_count)
        seq = per_year[issued_on.year] = per_year.get(issued_on.year, 0) + 1
        number = series.format(issued_on.year, seq)
        gross = fee.get(customer.pk) or Decimal(rng.randint(20_000, 2_000_000)).scaleb(-2)
        net = (gross / Decimal("1.2")).quantize(Decimal("0.01"))
        content = hashlib.sha256(f"{head}{number}{gross}".encode()).hexdigest()
        rows.append(
            Invoice(
                kind="invoice",
                status="issued",
                series=series,
                number=number,
                customer_id=customer.pk,
                issue_date=issued_on,
                due_date=issued_on + dt.timedelta(days=customer.payment_terms_days),
                billable_on=issued_on,
                payment_terms_days=customer.payment_terms_days,
                payment_terms_basis=customer.payment_terms_basis,
                buyer_name=customer.name,
                buyer_siren=customer.siren,
                buyer_vat_number=customer.vat_number,
                buyer_address=f"{customer.address_line1}\n{customer.postcode} {customer.city}",
                delivery_address=f"{customer.address_line1}\n{customer.postcode} {customer.city}",
                currency="EUR",
                total_net=net,
                total_vat=gross - net,
                total_gross=gross,
                open_amount=gross,
                chain_index=n + 1,
                previous_hash=head,
                content_hash=content,
                issued_at=now,
                issued_by=adv,
                created_by=adv,
            )
        )
        head = content
    invoices = Invoice.objects.bulk_create(rows, batch_size=2000)
    for year, last in per_year.items():
        SeriesCounter.objects.create(series=series, year=year, last_value=last)
    by_customer: dict[int, list[Invoice]] = {}
    for invoice in invoices:
        truth_customer[invoice.pk] = invoice.customer_id
        by_customer.setdefault(invoice.customer_id, []).append(invoice)
    names = {c.pk: c.name for c in customers}

    # --- payments and their truth -------------------------------------------------------
    used: set[int] = set()
    payments: list[Payment] = []
    truth: list[set[int]] = []  # the invoices each payment pays (empty: nobody we know)
    kinds: list[str] = []

    def free(customer_id: int, oldest: bool) -> list[Invoice]:
        pool = [i for i in by_customer.get(customer_id, []) if i.pk not in used]
        return pool[:10] if oldest else pool

    def pick_customer() -> int:
        return customers[rng.randrange(len(customers))].pk

    received = START + dt.timedelta(days=720)
    for n in range(payment_count):
        draw = rng.random()
        quoted = n % 2 == 0
        customer_id = pick_customer()
        pool = free(customer_id, oldest=rng.random() < 0.7)
        if not pool or (not quoted and draw < 0.1):
            payments.append(
                Payment(
                    method="transfer",
                    received_on=received,
                    amount=Decimal(rng.randint(1_000, 900_000)).scaleb(-2),
                    payer_name=f"INCONNU {rng.randrange(10**6)}",
                    payer_iban=f"DE89{rng.randrange(10**18):018d}",
                    reference=rng.choice(NOISE),
                    created_by=compta,
                )
            )
            truth.append(set())
            kinds.append("stranger")
            continue
        size = 1
        if rng.random() < (0.1 if quoted else 0.25):
            size = rng.randint(2, 3 if quoted else 4)
        chosen = rng.sample(pool, min(size, len(pool)))
        used.update(i.pk for i in chosen)
        total = sum((i.total_gross for i in chosen), Decimal("0.00"))
        shape = rng.random()
        if shape < 0.1 and len(chosen) == 1:
            # Any amount to the cent: whole percentages of the six monthly fees made pairs
            # (72 % + 28 %) where the second part is exactly what the first left open.
            amount = Decimal(rng.randint(int(total * 10), int(total * 90))).scaleb(-2)
            kind = "partial"
        elif quoted and shape < 0.2 and len(chosen) == 1:
            amount = total + Decimal(rng.randint(100, 5_000)).scaleb(-2)
            kind = "over"
        else:
            amount = total
            kind = "several" if len(chosen) > 1 else "exact"
        if quoted:
            use_rf = rng.random() < 0.4
            refs = [
                mangle_rf(rng, creditor_reference(i.number or ""))
                if use_rf
                else mangle_number(rng, i.number or "")
                for i in chosen
            ]
            text = f"{rng.choice(NOISE)} {' '.join(refs)} DU {received:%d/%m/%Y}".strip()
            iban = ibans.get(customer_id, "") if rng.random() < 0.5 else ""
            name = names[customer_id].upper()
            kind = f"{'rf' if use_rf else 'number'}-{kind}"
        else:
            text = rng.choice(NOISE)
            if customer_id in ibans and rng.random() < 0.6:
                iban, name = ibans[customer_id], names[customer_id].upper()
                kind = f"iban-{kind}"
            else:
                iban, name = f"BE68{rng.randrange(10**12):012d}", misspell(rng, names[customer_id])
                kind = f"name-{kind}"
        payments.append(
            Payment(
                method="transfer",
                received_on=received,
                amount=amount,
                payer_name=name[:200],
                payer_iban=iban,
                reference=text[:500],
                created_by=compta,
            )
        )
        truth.append({i.pk for i in chosen})
        kinds.append(kind)
    created = Payment.objects.bulk_create(payments, batch_size=2000)
    truth_by_payment = {p.pk: t for p, t in zip(created, truth, strict=True)}
    kind_by_payment = {p.pk: k for p, k in zip(created, kinds, strict=True)}
    if connection.vendor == "postgresql":
        # The tables just filled, as autovacuum would. Not the empty allocation table: with
        # statistics saying "empty", PostgreSQL scans it whole for each invoice whose open
        # amount `refresh_open_amounts` recomputes (quadratic: 15 s for 10,000 invoices).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE billing_invoice, customers_customer, collections_payment")

    # --- timed ----------------------------------------------------------------------------
    # The two first phases alone, for the breakdown (the run below does them again).
    with transaction.atomic():
        started = time.perf_counter()
        facts = load_payments()
        index = load_open_items()
        loaded = time.perf_counter()
        propose(facts, index)
        proposed = time.perf_counter()
    with channel(Channel.CLI):
        started_run = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            report = profiler.runcall(match_payments, actor=compta)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        else:
            report = match_payments(actor=compta)
        finished = time.perf_counter()
    seconds = finished - started_run

    # --- checked against the truth ----------------------------------------------------------
    wrong_payments: set[int] = set()
    wrong_allocations = 0
    for payment_id, invoice_id in Allocation.objects.filter(automatic=True).values_list(
        "payment_id", "invoice_id"
    ):
        if invoice_id not in truth_by_payment[payment_id]:
            wrong_allocations += 1
            wrong_payments.add(payment_id)
    auto_payments = set(
        Allocation.objects.filter(automatic=True).values_list("payment_id", flat=True)
    )
    right_proposals = 0
    with_invoices = 0
    # kind → payments, automatic, wrong automatic, proposed, proposal right, payer only
    counts: dict[str, list[int]] = {}

    def count(kind: str, column: int) -> None:
        counts.setdefault(kind, [0, 0, 0, 0, 0, 0])[column] += 1

    for kind in kinds:
        count(kind, 0)
    for payment_id in auto_payments:
        count(kind_by_payment[payment_id], 1)
    for payment_id in wrong_payments:
        count(kind_by_payment[payment_id], 2)
    for payment_id, allocations in MatchProposal.objects.filter(
        status=ProposalStatus.PENDING
    ).values_list("payment_id", "allocations"):
        kind = kind_by_payment[payment_id]
        if not allocations:
            count(kind, 5)
            continue
        with_invoices += 1
        count(kind, 3)
        if {a["invoice"] for a in allocations} <= truth_by_payment[payment_id]:
            right_proposals += 1
            count(kind, 4)
    by_kind = [[kind, *counts[kind]] for kind in sorted(counts)]
    result = {
        "customers": customer_count,
        "open_invoices": invoice_count,
        "payments": payment_count,
        "seconds": round(seconds, 2),
        "load_seconds": round(loaded - started, 2),
        "propose_seconds": round(proposed - loaded, 2),
        "matched_automatically": report.matched_automatically,
        "matched_automatically_share": round(report.matched_automatically / payment_count, 3),
        "amount_matched": str(report.amount_matched),
        "proposals": report.proposals,
        "proposals_with_invoices": with_invoices,
        "proposals_right": right_proposals,
        "unmatched": report.unmatched,
        "refused_by_apply_matches": len(report.refused),
        "wrong_automatic_payments": len(wrong_payments),
        "wrong_automatic_allocations": wrong_allocations,
        "by_kind": by_kind,
    }
    path = write_result("matching", db, result)
    print(
        f"{db}: {payment_count} payments against {invoice_count} open invoices "
        f"({customer_count} customers) in {seconds:.1f} s "
        f"(load {result['load_seconds']} s + rules {result['propose_seconds']} s, then applying)"
    )
    print(
        f"  matched automatically {report.matched_automatically} "
        f"({result['matched_automatically_share']:.1%}), proposals {report.proposals} "
        f"({right_proposals}/{with_invoices} with invoices are right), "
        f"unmatched {report.unmatched}; WRONG automatic: {len(wrong_payments)} payment(s), "
        f"{wrong_allocations} allocation(s)"
    )
    print(
        table(
            [
                "kind of payment",
                "payments",
                "automatic",
                "WRONG",
                "proposed",
                "proposal right",
                "payer only",
            ],
            by_kind,
        )
    )
    for payment_id in sorted(wrong_payments)[:10]:  # what to look at when it is not 0
        payment = Payment.objects.get(pk=payment_id)
        paid = Invoice.objects.filter(pk__in=truth_by_payment[payment_id])
        made = Allocation.objects.filter(payment_id=payment_id).select_related("invoice")
        print(
            f"  WRONG {kind_by_payment[payment_id]} {payment.amount} {payment.payer_name!r} "
            f"{payment.payer_iban} {payment.reference!r}\n"
            f"    paid: {[(i.number, str(i.total_gross), i.customer_id) for i in paid]}\n"
            "    matched: "
            f"{[(a.invoice.number, str(a.amount), a.reason, a.invoice.customer_id) for a in made]}"
        )
        for invoice in paid:
            taken = [
                (a.payment_id, kind_by_payment[a.payment_id], str(a.amount), a.reason)
                for a in Allocation.objects.filter(invoice=invoice).exclude(payment_id=payment_id)
            ]
            if taken:
                print(f"    {invoice.number} was taken by {taken}")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
