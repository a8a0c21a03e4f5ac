"""KPIs at a glance: 1,000,000 invoices and their payments, every figure of kpis.md timed.

    python bench/kpis.py [--db sqlite|postgres|both] [--invoices 1000000] [--customers 20000]
                         [--contracts 3000] [--orders 10000] [--runs 5] [--keep] [--no-plans]

Set-up (timed apart, not part of the figures): the demo users and 20,000 customers from the
demo generator, then four years of history bulk-loaded (COPY on PostgreSQL, executemany in
one transaction on SQLite), consistent with what the services would have written:

- 3,000 contracts with one recurring line each (monthly, quarterly or yearly, in advance or
  in arrears, some ended), each period invoiced a few days after its billing date with its
  billing key and service period (the last ones not invoiced yet: FAE; in advance: PCA);
- the rest of the invoices one-off (one line; 2 % are yearly licences with a 12-month service
  period: PCA), on business days with more at month ends and a growing business; customers
  drawn with a long tail (a few big accounts); due dates by each customer's terms;
  `billable_on` 0 to 60 days before the issue date;
- 3 % credit notes (billing errors, gestures, cancellations) on their invoice, 2 % disputes
  (resolved 3 to 90 days later, a third by a credit note), payments for ~95 % of the invoices
  received around the due date according to each customer's habits (some early, some very
  late, 3 % in two instalments, a few never), grouped per customer and day like bank
  transfers paying several invoices, each allocated; `open_amount` and `settled_on` computed
  as `levier.collections.balances` does (and checked against it on a sample);
- 10,000 orders over the same years with their approval steps (ADV, sometimes accounting and
  the direction), decided hours to days apart;
- numbering counters set, sequences reset, `ANALYZE`.

The issued documents are loaded as a restore would: the trigger refusing lines on issued
invoices is disabled during the load of the lines only (PostgreSQL), dropped and recreated
(SQLite).

Timed (median of --runs after one warm-up, with the number of queries): `compute_kpis` today
and at three past dates, each function it calls alone, `aged_balance(None, d)` at those
dates, `levier kpis --json` as a subprocess (and Django's start-up alone), the dashboard page
as the Direction (when `levier/web/urls_kpis.py` exists). Then the slowest SQL statements met
while computing the KPIs, with `EXPLAIN (ANALYZE, BUFFERS)` (PostgreSQL) or `EXPLAIN QUERY
PLAN` (SQLite), written to `bench/results/kpis-plans-<db>.txt`; and the rewrite of
`open_items` for a past date restricted to the invoices not settled by then, timed beside the
current one. Targets (PostgreSQL, 1,000,000 invoices, 2 cores): the dashboard and
`levier kpis` under 1 s, the aged balance at any past date under 500 ms.

`--keep` keeps the loaded database for the next run (which then only migrates: the way to try
an index); `--drop` removes a kept one; `--load-only` stops after loading (with `--keep`: to
work on the queries by hand).
"""

from __future__ import annotations

import bisect
import compileall
import datetime as dt
import enum
import math
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RESULTS,
    ROOT,
    BenchDatabase,
    _pg_admin,
    arguments,
    run_each_database,
    table,
    write_result,
)

DB_NAME = "levier_bench_kpis"
TODAY = dt.date.today()
PARIS = ZoneInfo("Europe/Paris")
YEARS = 4


def past_dates() -> list[dt.date]:
    """Three past as-of dates: last month end, last year end, two and a half years ago."""
    month_end = TODAY.replace(day=1) - dt.timedelta(days=1)
    year_end = dt.date(TODAY.year - 1, 12, 31)
    older = dt.date(TODAY.year - 2, 6, 30)
    return [month_end, year_end, older]


def main() -> None:
    # Flags _common.arguments does not know: read off argv, and kept in it for the re-run of
    # each database (`--db both`).
    flags = {"--keep", "--load-only", "--no-plans", "--drop"}
    argv = list(sys.argv)
    sys.argv = [a for a in argv if a not in flags]
    args = arguments(
        __doc__.splitlines()[0],
        invoices=(int, 1_000_000, "issued invoices (credit notes come on top)"),
        customers=(int, 20_000, "customers"),
        contracts=(int, 3_000, "contracts with a recurring line"),
        orders=(int, 10_000, "orders with their approval steps"),
        runs=(int, 5, "timed runs of each measure (after one warm-up)"),
    )
    sys.argv = argv
    args.keep = "--keep" in argv
    args.plans = "--no-plans" not in argv
    args.load_only = "--load-only" in argv
    if "--drop" in sys.argv:
        _pg_admin(args.pg_url, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        print(f"{DB_NAME} dropped")
        return
    if run_each_database(args):
        return
    with KeptDatabase(args.db, DB_NAME, args.pg_url, keep=args.keep) as database:
        bench(args, reuse=database.reused)


# ---------------------------------------------------------------------------------------------
# A database that may be kept between runs


class KeptDatabase(BenchDatabase):
    """`BenchDatabase`, or with keep=True the same database left loaded for the next run."""

    SQLITE_KEPT = Path(os.environ.get("TMPDIR", "/tmp")) / "levier-bench-kpis-kept"

    def __init__(self, db: str, name: str, pg_url: str, keep: bool) -> None:
        super().__init__(db, name, pg_url)
        self.keep = keep
        self.reused = False

    def __enter__(self) -> KeptDatabase:
        if not self.keep:
            super().__enter__()
            return self
        os.environ["DJANGO_SETTINGS_MODULE"] = "levier.settings"
        os.environ.setdefault("SECRET_KEY", "levier-benchmark-only-key-never-used-in-production-42")
        os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
        os.environ.pop("CELERY_BROKER_URL", None)
        os.environ["LEVIER_AUTO_SEND_INVOICES"] = "0"
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        os.environ["LEVIER_DATA_DIR"] = str(self.tmp)
        if self.db == "sqlite":
            self.SQLITE_KEPT.mkdir(exist_ok=True)
            path = self.SQLITE_KEPT / "bench.sqlite3"
            self.reused = path.exists()
            os.environ["DATABASE_URL"] = f"sqlite:///{path}"
        else:
            import psycopg

            with psycopg.connect(self.pg_url.rstrip("/") + "/postgres", autocommit=True) as c:
                self.reused = bool(
                    c.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", [self.name]
                    ).fetchone()
                )
            if not self.reused:
                _pg_admin(self.pg_url, f"CREATE DATABASE {self.name}")
            os.environ["DATABASE_URL"] = self.pg_url.rstrip("/") + "/" + self.name
        sys.path.insert(0, str(ROOT))
        import django
        from django.core.management import call_command

        django.setup()
        if self.reused:
            from levier.billing.models import Invoice

            self.reused = Invoice.objects.exists()
        call_command("migrate", verbosity=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.keep:
            super().__exit__(*exc)
            return
        import shutil

        from django.db import connections

        connections.close_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Bulk loading


def _cents(value: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"


class Loader:
    """Inserts rows of one model fast: COPY on PostgreSQL, executemany on SQLite.

    `columns` (space-separated) are the columns given per row; every other column gets its field's default (or
    NULL), once, as a constant: a NOT NULL column without a default must be given.
    """

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.vendor = connection.vendor
        self.counts: dict[str, int] = {}

    def insert(self, model: Any, columns: str, rows: Iterable[tuple[Any, ...]]) -> int:
        from django.utils import timezone

        now = timezone.now()
        names = columns.split()
        constants: list[tuple[str, Any]] = []
        given = set(names)
        for field in model._meta.concrete_fields:
            if field.column in given:
                continue
            if field.primary_key:
                continue
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                value: Any = now
            else:
                value = field.get_default()  # the default, "" for text, else None
            if value is None and not field.null:
                raise ValueError(f"{model.__name__}.{field.name}: a value is needed")
            if isinstance(value, enum.Enum):
                value = value.value
            if isinstance(value, Decimal):
                value = str(value)
            constants.append((field.column, value))
        columns = names + [c for c, _v in constants]
        tail = tuple(v for _c, v in constants)
        table = model._meta.db_table
        count = 0
        if self.vendor == "postgresql":
            quoted = ", ".join(f'"{c}"' for c in columns)
            sql = f'COPY "{table}" ({quoted}) FROM STDIN'
            with self.connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row + tail)
                    count += 1
        else:
            tail = tuple(_sqlite(v) for v in tail)
            marks = ", ".join(["?"] * len(columns))
            quoted = ", ".join(f'"{c}"' for c in columns)
            sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
            batch: list[tuple[Any, ...]] = []
            with self.connection.cursor() as cursor:
                for row in rows:
                    batch.append(tuple(_sqlite(v) for v in row) + tail)
                    if len(batch) >= 20_000:
                        cursor.connection.executemany(sql, batch)
                        count += len(batch)
                        batch = []
                if batch:
                    cursor.connection.executemany(sql, batch)
                    count += len(batch)
        self.counts[table] = self.counts.get(table, 0) + count
        return count


def _sqlite(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "quantize"):
        return str(value)
    return value


def business_days(first: dt.date, last: dt.date) -> list[dt.date]:
    days = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def next_business_day(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def at(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=PARIS) + dt.timedelta(hours=hour)


class Customer:
    """What the generator needs of a customer, and how it pays."""

    __slots__ = ("batch", "delay", "name", "never", "pk", "spread", "terms")

    def __init__(self, pk: int, name: str, terms: Any, rng: random.Random) -> None:
        self.pk, self.name, self.terms = pk, name, terms
        draw = rng.random()
        # Days after the due date this customer usually pays (negative: early), its spread,
        # and how often an invoice is never paid.
        if draw < 0.35:
            self.delay, self.spread, self.never = rng.randint(-8, 3), 4, 0.002
        elif draw < 0.65:
            self.delay, self.spread, self.never = rng.randint(4, 20), 6, 0.005
        elif draw < 0.88:
            self.delay, self.spread, self.never = rng.randint(20, 45), 10, 0.01
        elif draw < 0.97:
            self.delay, self.spread, self.never = rng.randint(45, 90), 15, 0.03
        else:
            self.delay, self.spread, self.never = rng.randint(90, 200), 40, 0.25
        self.batch = rng.random() < 0.25  # pays all its invoices due in a month at once


CREDIT_REASONS = (
    ("price_error", 35, False),
    ("commercial_gesture", 25, False),
    ("duplicate", 8, True),
    ("customer_data", 7, True),
    ("not_delivered", 10, True),
)
DISPUTE_REASONS = (
    ("price", 30),
    ("quantity", 15),
    ("not_delivered", 15),
    ("quality", 20),
    ("duplicate", 5),
    ("missing_po", 10),
    ("other", 5),
)


def load(args: Any) -> dict[str, Any]:
    """Generate and load the history; returns what was made (counts, seconds)."""
    from django.db import connection, transaction
    from tqdm import tqdm

    from levier.accounts.choices import Role
    from levier.billing.models import (
        ChainHead,
        Invoice,
        InvoiceLine,
        NumberingSeries,
        SeriesCounter,
    )
    from levier.billing.tests.factories import complete_company_profile
    from levier.collections.models import Allocation, Dispute, Payment
    from levier.contracts.models import Contract, ContractLine
    from levier.contracts.schedule import _prorated_price
    from levier.demo.company import CustomerGenerator, bulk_create_customers, create_users
    from levier.lib.money import line_net
    from levier.lib.payment_terms import PaymentTerms, TermsBasis
    from levier.lib.periods import Frequency, billing_date, periods
    from levier.sales.models import ApprovalStep, Order

    def bar(items: Iterable[Any], total: int, label: str) -> Iterator[Any]:
        return iter(tqdm(items, total=total, desc=label, file=sys.stderr, mininterval=5))

    started = time.perf_counter()
    rng = random.Random(2026)
    cast = create_users()
    adv = cast.by_role(Role.ADV)[0].pk
    compta = cast.by_role(Role.COMPTABILITE)[0].pk
    direction = cast.by_role(Role.DIRECTION)[0].pk
    commercial = cast.by_role(Role.COMMERCIAL)[0].pk
    complete_company_profile()
    demo = bulk_create_customers(
        CustomerGenerator(rng), args.customers, cast.by_role(Role.COMMERCIAL)
    )
    customers = [
        Customer(
            d.customer.pk,
            d.customer.name,
            PaymentTerms(d.customer.payment_terms_days, TermsBasis(d.customer.payment_terms_basis)),
            rng,
        )
        for d in demo
    ]
    buyer = {
        d.customer.pk: (
            d.customer.name,
            d.customer.siren,
            d.customer.vat_number,
            f"{d.customer.address_line1}\n{d.customer.postcode} {d.customer.city}",
            d.customer.payment_terms_days,
            d.customer.payment_terms_basis,
        )
        for d in demo
    }
    del demo
    customers_seconds = time.perf_counter() - started
    # A long tail: a few accounts make a large share of the invoices.
    weights = [min(rng.paretovariate(1.1), 200.0) for _ in customers]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)

    def pick_customer() -> Customer:
        return customers[bisect.bisect(cumulative, rng.random() * total)]

    first_day = dt.date(TODAY.year - YEARS, TODAY.month, 1)
    days = business_days(first_day, TODAY)
    # More invoices as the business grows, and twice as many on the last business day of a
    # month (monthly billing).
    day_weights = []
    for i, day in enumerate(days):
        weight = 1.0 + 0.6 * i / len(days)
        following = i + 1 < len(days) and days[i + 1].month != day.month
        day_weights.append(weight * (2.0 if following else 1.0))
    day_cumulative = []
    total_days = 0.0
    for weight in day_weights:
        total_days += weight
        day_cumulative.append(total_days)

    # --- contracts: recurring lines and their invoices ----------------------------------
    # spec: (issue, billable, customer, net cents, vat rate, contract, line, key, start, end,
    #        description)
    specs: list[tuple[Any, ...]] = []
    contract_rows: list[tuple[Any, ...]] = []
    line_rows: list[tuple[Any, ...]] = []
    frequencies = (
        (Frequency.MONTHLY, 60, "Infogérance mensuelle", (400, 6000)),
        (Frequency.QUARTERLY, 25, "Maintenance applicative trimestrielle", (1500, 15000)),
        (Frequency.YEARLY, 15, "Support et licences annuels", (3000, 40000)),
    )
    for n in range(1, args.contracts + 1):
        customer = pick_customer()
        frequency, _w, description, (low, high) = rng.choices(
            frequencies, weights=[f[1] for f in frequencies]
        )[0]
        start = first_day - dt.timedelta(days=rng.randint(0, 400))
        start = max(start, dt.date(TODAY.year - YEARS - 1, 1, 1))
        if rng.random() < 0.5:  # most started during the four years
            start = first_day + dt.timedelta(days=rng.randint(0, (TODAY - first_day).days - 30))
        start = start.replace(day=1) if rng.random() < 0.7 else start
        end = None
        if rng.random() < 0.15:
            end = start + dt.timedelta(days=rng.randint(200, 1200))
            if end >= TODAY:
                end = None
        in_advance = rng.random() < 0.7
        price = rng.randint(low, high)
        status = "ended" if end is not None else "active"
        contract_rows.append(
            (
                n,
                f"CT-{start.year}-{n:05d}",
                customer.pk,
                description,
                status,
                start - dt.timedelta(days=rng.randint(5, 40)),
                start,
                end,
                12,
                True,
                12,
                3,
                commercial,
                at(start, 9),
                at(start, 9),
            )
        )
        line_rows.append(
            (
                n,
                n,
                0,
                description,
                "recurring",
                "1.000",
                "month" if frequency == Frequency.MONTHLY else "flat",
                f"{price}.0000",
                f"{price}.0000",
                "20.00",
                frequency.value,
                in_advance,
                False,
            )
        )
        for period in periods(start, end, frequency, 1, anchor_month=1):
            billable = billing_date(period, in_advance)
            if billable > TODAY:
                break
            lag = rng.choice((0, 0, 0, 1, 1, 2, 3, 5))
            if rng.random() < 0.03:
                lag = rng.randint(10, 45)  # forgotten, billed late: FAE until then
            issue = next_business_day(billable + dt.timedelta(days=lag))
            if issue > TODAY:
                continue
            net = int(line_net(Decimal(1), _prorated_price(Decimal(price), period)) * 100)
            specs.append(
                (
                    issue,
                    billable,
                    customer,
                    net,
                    20,
                    n,
                    n,
                    f"L{n}:P:{period.start.isoformat()}",
                    period.start,
                    period.end,
                    f"{description} {period.label_fr()}",
                )
            )
    contract_invoices = len(specs)

    # --- one-off invoices ----------------------------------------------------------------
    for _n in bar(range(max(0, args.invoices - contract_invoices)), args.invoices, "specs"):
        issue = days[bisect.bisect(day_cumulative, rng.random() * total_days)]
        customer = pick_customer()
        net = int(min(max(rng.lognormvariate(math.log(2500), 1.0), 50), 200_000) * 100)
        draw = rng.random()
        if draw < 0.40:
            delay = 0
        elif draw < 0.80:
            delay = rng.randint(1, 5)
        elif draw < 0.95:
            delay = rng.randint(6, 20)
        else:
            delay = rng.randint(21, 60)
        rate = 20 if rng.random() < 0.95 else 10
        if rng.random() < 0.02:  # a yearly licence: a 12-month service period from the issue
            start = issue
            end = dt.date(start.year + 1, start.month, 1) - dt.timedelta(days=1)
            specs.append(
                (issue, issue, customer, net, rate, None, None, "", start, end, "Licence annuelle")
            )
            continue
        specs.append(
            (
                issue,
                issue - dt.timedelta(days=delay),
                customer,
                net,
                rate,
                None,
                None,
                "",
                None,
                None,
                "Prestations de conseil",
            )
        )
    specs.sort(key=lambda s: s[0])

    # --- each invoice's life: credit notes, disputes, payments ---------------------------
    invoice_rows: list[tuple[Any, ...]] = []
    invoice_lines: list[tuple[Any, ...]] = []
    credit_notes: list[list[Any]] = []  # [date, invoice id, net, vat, reason, description]
    dispute_rows: list[list[Any]] = []
    payments: dict[tuple[int, dt.date], list[Any]] = {}  # (customer, day) → [id, cents, ref]
    allocations: list[tuple[Any, ...]] = []
    per_year: dict[int, int] = {}
    credit_weights = [r[1] for r in CREDIT_REASONS]
    dispute_weights = [r[1] for r in DISPUTE_REASONS]
    next_payment = 1
    settled_count = 0

    def pay(customer: Customer, day: dt.date, invoice_id: int, cents: int, number: str) -> None:
        nonlocal next_payment
        key = (customer.pk, day)
        payment = payments.get(key)
        if payment is None:
            payment = payments[key] = [next_payment, 0, number]
            next_payment += 1
        payment[1] += cents
        allocations.append((len(allocations) + 1, payment[0], invoice_id, _cents(cents), day))

    for invoice_id, spec in enumerate(bar(specs, len(specs), "invoices"), start=1):
        issue, billable, customer, net, rate, contract, line, key, start, end, text = spec
        seq = per_year[issue.year] = per_year.get(issue.year, 0) + 1
        number = f"F{issue.year}-{seq:06d}"
        vat = round(net * rate / 100)
        gross = net + vat
        due = customer.terms.due_date(issue)
        events: list[tuple[dt.date, int]] = []  # (day, cents) reducing the open amount
        # Credit note?
        credit: tuple[dt.date, int] | None = None
        draw = rng.random()
        if draw < 0.03:
            reason, _w, full = rng.choices(CREDIT_REASONS, weights=credit_weights)[0]
            if full:
                day, share = issue + dt.timedelta(days=rng.randint(2, 25)), 1.0
            else:
                day, share = issue + dt.timedelta(days=rng.randint(3, 90)), rng.uniform(0.05, 0.4)
            if day <= TODAY:
                c_net, c_vat = round(net * share), round(vat * share)
                credit = (day, c_net + c_vat)
                credit_notes.append([day, invoice_id, c_net, c_vat, reason, text, None])
        # Dispute?
        hold: dt.date | None = None
        if rng.random() < 0.02:
            reason = rng.choices(DISPUTE_REASONS, weights=dispute_weights)[0][0]
            opened = issue + dt.timedelta(days=rng.randint(5, 45))
            if opened <= TODAY:
                resolved: dt.date | None = opened + dt.timedelta(days=rng.randint(3, 90))
                assert resolved is not None
                resolution = ""
                credit_ref = None
                if resolved > TODAY:
                    resolved, status = None, "open"
                    hold = TODAY + dt.timedelta(days=1)
                else:
                    status = "closed" if rng.random() < 0.5 else "resolved"
                    hold = resolved
                    resolution = rng.choices(
                        ("credit_note", "rejected", "corrected_invoice"), weights=(35, 50, 15)
                    )[0]
                    if resolution == "credit_note" and credit is None:
                        share = rng.uniform(0.1, 0.5)
                        c_net, c_vat = round(net * share), round(vat * share)
                        credit = (resolved, c_net + c_vat)
                        credit_ref = [resolved, invoice_id, c_net, c_vat, "dispute", text, None]
                        credit_notes.append(credit_ref)
                    elif resolution == "credit_note":
                        resolution = "rejected"
                dispute_rows.append(
                    [
                        invoice_id,
                        reason,
                        _cents(gross),
                        opened,
                        resolved,
                        status,
                        resolution,
                        credit_ref,
                    ]
                )
        # Payments.
        credited = 0
        if credit is not None:
            events.append(credit)
            credited = credit[1]
        planned = due + dt.timedelta(days=round(rng.gauss(customer.delay, customer.spread)))
        if customer.batch:  # pays on the 10th of the month after the due date
            following = (due.replace(day=28) + dt.timedelta(days=4)).replace(day=10)
            planned = following + dt.timedelta(days=max(0, customer.delay - 10))
        planned = next_business_day(max(planned, issue + dt.timedelta(days=1)))
        if hold is not None:
            planned = next_business_day(max(planned, hold + dt.timedelta(days=rng.randint(3, 20))))
        to_pay = gross - (credited if credit is not None and credit[0] <= planned else 0)
        if to_pay > 0 and rng.random() >= customer.never and planned <= TODAY:
            if rng.random() < 0.03:  # two instalments, the second sometimes never comes
                first = round(to_pay * rng.uniform(0.3, 0.7))
                pay(customer, planned, invoice_id, first, number)
                events.append((planned, first))
                second_day = next_business_day(planned + dt.timedelta(days=rng.randint(15, 60)))
                if second_day <= TODAY and rng.random() < 0.8:
                    pay(customer, second_day, invoice_id, to_pay - first, number)
                    events.append((second_day, to_pay - first))
            else:
                pay(customer, planned, invoice_id, to_pay, number)
                events.append((planned, to_pay))
        open_cents = gross - sum(cents for _d, cents in events)
        settled_on = None
        if open_cents <= 0:
            running = 0
            for day, cents in sorted(events):
                running += cents
                if running >= gross:
                    settled_on = day
                    break
            settled_count += 1
        issued_at = at(issue, 9 + invoice_id % 8)
        name, siren, vat_number, address, terms_days, terms_basis = buyer[customer.pk]
        invoice_rows.append(
            (
                invoice_id,
                "invoice",
                number,
                customer.pk,
                contract,
                issue,
                due,
                billable,
                terms_days,
                terms_basis,
                name,
                siren,
                vat_number,
                address,
                address,
                _cents(net),
                _cents(vat),
                _cents(gross),
                invoice_id,
                issued_at,
                _cents(open_cents),
                settled_on,
                issued_at,
                issued_at,
            )
        )
        invoice_lines.append(
            (
                invoice_id,
                text,
                "1.000",
                "month" if contract else "flat",
                f"{net / 100:.4f}",
                f"{rate}.00",
                start,
                end,
                _cents(net),
                line,
                key,
                issue,
            )
        )
    invoice_count = len(invoice_rows)
    del specs

    # Credit notes, numbered in their own series in date order, after the invoices.
    credit_notes.sort(key=lambda c: (c[0], c[1]))
    cn_year: dict[int, int] = {}
    credit_rows: list[tuple[Any, ...]] = []
    for offset, note in enumerate(credit_notes, start=1):
        day, invoice_id, c_net, c_vat, reason, text, _id = note
        note[6] = pk = invoice_count + offset
        seq = cn_year[day.year] = cn_year.get(day.year, 0) + 1
        invoice = invoice_rows[invoice_id - 1]
        issued_at = at(day, 14)
        credit_rows.append(
            (
                pk,
                "credit_note",
                f"AV{day.year}-{seq:06d}",
                invoice[3],
                invoice[4],
                day,
                None,
                day,
                invoice[8],
                invoice[9],
                invoice[10],
                invoice[11],
                invoice[12],
                invoice[13],
                invoice[14],
                _cents(c_net),
                _cents(c_vat),
                _cents(c_net + c_vat),
                pk,
                issued_at,
                "0.00",
                None,
                issued_at,
                issued_at,
                invoice_id,
                reason,
            )
        )
        invoice_lines.append(
            (
                pk,
                text,
                "1.000",
                "flat",
                f"{c_net / 100:.4f}",
                "20.00",
                None,
                None,
                _cents(c_net),
                None,
                "",
                day,
            )
        )

    # --- orders and their approval steps ---------------------------------------------------
    order_rows: list[tuple[Any, ...]] = []
    step_rows: list[tuple[Any, ...]] = []
    step_id = 0
    for n in range(1, args.orders + 1):
        customer = pick_customer()
        day = days[bisect.bisect(day_cumulative, rng.random() * total_days)]
        submitted = at(day, rng.uniform(8, 18))
        net = int(min(max(rng.lognormvariate(math.log(8000), 1.0), 200), 500_000) * 100)
        roles = ["adv"]
        if net > 20_000_00 or rng.random() < 0.2:
            roles.append("comptabilite")
        if net > 50_000_00 or rng.random() < 0.05:
            roles.append("direction")
        decided = submitted
        status = "validated"
        validated = None
        rejected = rng.random() < 0.04
        for sequence, role in enumerate(roles, start=1):
            median = {"adv": 3.0, "comptabilite": 18.0, "direction": 30.0}[role]
            decided = decided + dt.timedelta(hours=rng.lognormvariate(math.log(median), 0.9))
            step_id += 1
            pending = decided > dt.datetime.now(tz=PARIS)
            last = sequence == len(roles)
            step_status = "approved"
            if pending:
                step_status, status = "pending", "submitted"
            elif rejected and last:
                step_status, status = "rejected", "rejected"
            user = {"adv": adv, "comptabilite": compta, "direction": direction}[role]
            step_rows.append(
                (
                    step_id,
                    n,
                    1,
                    sequence,
                    role,
                    step_status,
                    None if step_status == "pending" else user,
                    None if step_status == "pending" else decided,
                )
            )
            if pending:
                break
        if status == "validated":
            validated = decided
        vat = round(net * 0.2)
        name, _s, _v, _a, terms_days, terms_basis = buyer[customer.pk]
        order_rows.append(
            (
                n,
                f"CMD-{day.year}-{n:06d}",
                customer.pk,
                commercial,
                "on_order",
                terms_days,
                terms_basis,
                _cents(net),
                _cents(vat),
                _cents(net + vat),
                status,
                1,
                submitted,
                commercial,
                validated,
                submitted - dt.timedelta(hours=2),
                validated or submitted,
            )
        )
    generated = time.perf_counter()

    # --- writing -------------------------------------------------------------------------
    loader = Loader()
    series = {s.code: s.pk for s in NumberingSeries.objects.all()}
    vendor = connection.vendor
    with transaction.atomic():
        loader.insert(
            Contract,
            (
                "id number customer_id title status signed_on start_date end_date initial_term_months "
                "tacit_renewal renewal_term_months notice_months created_by_id created_at updated_at"
            ),
            contract_rows,
        )
        loader.insert(
            ContractLine,
            (
                "id contract_id position description mode quantity unit unit_price base_unit_price "
                "vat_rate frequency in_advance revisable"
            ),
            line_rows,
        )
        invoice_columns = (
            "id kind number customer_id contract_id issue_date due_date billable_on "
            "payment_terms_days payment_terms_basis buyer_name buyer_siren buyer_vat_number "
            "buyer_address delivery_address total_net total_vat total_gross chain_index issued_at "
            "open_amount settled_on created_at updated_at"
        )
        fixed = ("issued", series["F"], adv, adv, "0" * 64)
        fixed_columns = " status series_id issued_by_id created_by_id content_hash"
        loader.insert(
            Invoice,
            invoice_columns + fixed_columns,
            bar((row + fixed for row in invoice_rows), invoice_count, "COPY invoices"),
        )
        credit_fixed = ("issued", series["AV"], adv, adv, "0" * 64)
        loader.insert(
            Invoice,
            invoice_columns + " credited_invoice_id credit_reason" + fixed_columns,
            (row + credit_fixed for row in credit_rows),
        )
    del invoice_rows, credit_rows
    with transaction.atomic():
        # Issued history is restored, not issued: each line carries its document's issue
        # date (`issued_on`, which issuing stamps), and the trigger refusing lines on issued
        # documents is set aside for this one load.
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "ALTER TABLE billing_invoiceline DISABLE TRIGGER billing_line_immutable"
                )
        else:
            with connection.cursor() as cursor:
                cursor.execute("DROP TRIGGER IF EXISTS billing_line_issued_insert")
        loader.insert(
            InvoiceLine,
            (
                "invoice_id description quantity unit unit_price vat_rate period_start period_end "
                "net_amount contract_line_id billing_key issued_on"
            ),
            bar(iter(invoice_lines), len(invoice_lines), "COPY lines"),
        )
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                # The foreign keys are checked now (they are deferred): ALTER TABLE refuses a
                # table with pending trigger events.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(
                    "ALTER TABLE billing_invoiceline ENABLE TRIGGER billing_line_immutable"
                )
            else:
                from importlib import import_module

                triggers = import_module(
                    "levier.billing.migrations.0002_immutability_triggers_and_default_series"
                )
                forward, _backward = triggers._sqlite_sql()
                cursor.execute(next(s for s in forward if "billing_line_issued_insert" in s))
    del invoice_lines
    with transaction.atomic():
        methods = ("transfer",) * 17 + ("direct_debit", "cheque", "card")
        loader.insert(
            Payment,
            (
                "id customer_id method received_on amount allocated status payer_name reference "
                "created_by_id created_at"
            ),
            (
                (
                    pk,
                    customer_pk,
                    methods[pk % len(methods)],
                    day,
                    _cents(cents),
                    _cents(cents),
                    "matched",
                    f"VIR {customer_pk}",
                    f"REGLEMENT {reference}",
                    compta,
                    at(day, 10),
                )
                for (customer_pk, day), (pk, cents, reference) in payments.items()
            ),
        )
        # Money received and not matched yet (the customer's credit, shown apart).
        unmatched = [
            (
                next_payment + i,
                None,
                "transfer",
                days[-1 - i % 60],
                _cents(rng.randint(5000, 500_000)),
                "0.00",
                "unmatched",
                f"INCONNU {i}",
                "VIR SEPA",
                compta,
                at(days[-1 - i % 60], 10),
            )
            for i in range(max(10, len(payments) // 500))
        ]
        loader.insert(
            Payment,
            (
                "id customer_id method received_on amount allocated status payer_name reference "
                "created_by_id created_at"
            ),
            unmatched,
        )
        loader.insert(
            Allocation,
            "id payment_id invoice_id amount reason confidence automatic created_by_id created_at",
            bar(
                (
                    (pk, payment, invoice, amount, "number", "1.00", True, compta, at(day, 11))
                    for pk, payment, invoice, amount, day in allocations
                ),
                len(allocations),
                "COPY allocations",
            ),
        )
        loader.insert(
            Dispute,
            (
                "invoice_id reason amount owner_id due_on status resolution credit_note_id opened_on "
                "resolved_on closed_on opened_by_id created_at"
            ),
            (
                (
                    invoice,
                    reason,
                    amount,
                    compta,
                    opened + dt.timedelta(days=30),
                    status,
                    resolution,
                    note[6] if note else None,
                    opened,
                    resolved,
                    resolved if status == "closed" else None,
                    compta,
                    at(opened, 15),
                )
                for invoice, reason, amount, opened, resolved, status, resolution, note in dispute_rows
            ),
        )
        loader.insert(
            Order,
            (
                "id number customer_id created_by_id invoicing_mode payment_terms_days "
                "payment_terms_basis total_net total_vat total_gross status submission_round "
                "submitted_at submitted_by_id validated_at created_at updated_at"
            ),
            order_rows,
        )
        loader.insert(
            ApprovalStep,
            "id order_id round sequence role status decided_by_id decided_at",
            step_rows,
        )
        for year, last in per_year.items():
            SeriesCounter.objects.update_or_create(
                series_id=series["F"], year=year, defaults={"last_value": last}
            )
        for year, last in cn_year.items():
            SeriesCounter.objects.update_or_create(
                series_id=series["AV"], year=year, defaults={"last_value": last}
            )
        ChainHead.objects.filter(pk=1).update(length=invoice_count + len(credit_notes))
        from django.core.management.color import no_style

        models = [
            Contract,
            ContractLine,
            Invoice,
            InvoiceLine,
            Payment,
            Allocation,
            Dispute,
            Order,
            ApprovalStep,
        ]
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)
    written = time.perf_counter()
    vacuum_analyze()
    analyzed = time.perf_counter()
    return {
        "customers": len(customers),
        "contracts": args.contracts,
        "invoices": invoice_count,
        "contract_invoices": contract_invoices,
        "credit_notes": len(credit_notes),
        "settled_invoices": settled_count,
        "payments": len(payments) + len(unmatched),
        "allocations": len(allocations),
        "disputes": len(dispute_rows),
        "orders": len(order_rows),
        "approval_steps": len(step_rows),
        "rows": loader.counts,
        "customers_seconds": round(customers_seconds, 1),
        "generate_seconds": round(generated - started - customers_seconds, 1),
        "write_seconds": round(written - generated, 1),
        "vacuum_analyze_seconds": round(analyzed - written, 1),
    }


def vacuum_analyze() -> None:
    """What autovacuum does after a restore: statistics, and on PostgreSQL the visibility map
    that lets the covering indexes answer without visiting the table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def check_consistency(sample: int = 2000) -> dict[str, Any]:
    """The stored open amounts and settled dates of a sample, against what
    `refresh_open_amounts` recomputes from the facts (rolled back); AR(today) two ways."""
    from django.db import transaction

    from levier.billing.models import Invoice
    from levier.collections.aging import aged_balance
    from levier.collections.balances import refresh_open_amounts
    from levier.kpis.receivables import receivables

    ids = list(
        Invoice.objects.filter(kind="invoice").order_by("?").values_list("pk", flat=True)[:sample]
    )
    before = dict(Invoice.objects.filter(pk__in=ids).values_list("pk", "open_amount"))
    settled = dict(Invoice.objects.filter(pk__in=ids).values_list("pk", "settled_on"))

    class Rollback(Exception):
        pass

    differences = []
    try:
        with transaction.atomic():
            refresh_open_amounts(ids)
            for pk, amount, day in Invoice.objects.filter(pk__in=ids).values_list(
                "pk", "open_amount", "settled_on"
            ):
                if amount != before[pk] or day != settled[pk]:
                    differences.append((pk, str(before[pk]), str(amount), settled[pk], day))
            raise Rollback
    except Rollback:
        pass
    stored = aged_balance(None, TODAY).total
    facts = receivables(TODAY)
    return {
        "sample": len(ids),
        "open_amount_differences": len(differences),
        "first_differences": [list(map(str, d)) for d in differences[:5]],
        "ar_today_stored": str(stored),
        "ar_today_from_facts": str(facts),
    }


# ---------------------------------------------------------------------------------------------
# Timing


# A measure whose first call takes longer than this is not repeated (the 1M current code has
# parts taking minutes): its single time is reported, marked "1 run".
BUDGET_SECONDS = float(os.environ.get("BENCH_BUDGET_SECONDS", "30"))


class Measured:
    def __init__(self, seconds: float, queries: int, result: Any, runs: int) -> None:
        self.seconds, self.queries, self.result, self.runs = seconds, queries, result, runs

    def row(self, label: str) -> list[Any]:
        once = "" if self.runs > 1 else " (1 run)"
        return [label + once, f"{self.seconds * 1000:.0f}", self.queries]


def measure(fn: Callable[[], Any], runs: int, recorder: Any = None) -> Measured:
    """Median seconds over `runs` after one warm-up (the warm-up alone when it takes longer
    than BUDGET_SECONDS), the queries of one call, its result. `recorder` (an execute
    wrapper) sees the warm-up's statements."""
    from contextlib import nullcontext

    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    wrapper = connection.execute_wrapper(recorder) if recorder else nullcontext()
    started = time.perf_counter()
    with wrapper, CaptureQueriesContext(connection) as captured:
        result = fn()
    first = time.perf_counter() - started
    queries = len(captured)
    reset_queries()
    if first > BUDGET_SECONDS:
        return Measured(first, queries, result, 1)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return Measured(statistics.median(seconds), queries, result, runs)


def parts(as_of: dt.date, period: int) -> list[tuple[str, Callable[[], Any]]]:
    """Each function `compute_kpis` calls, alone (those that exist in this version)."""
    import importlib

    candidates = [
        ("collections.statement", "aged_balance", lambda f: f(None, as_of)),
        ("kpis.receivables", "receivables", lambda f: f(as_of)),
        ("kpis.receivables", "sales_ttc", lambda f: f(as_of - dt.timedelta(days=period), as_of)),
        ("kpis.receivables", "dso_simple", lambda f: f(as_of, period)),
        ("kpis.receivables", "dso_countback", lambda f: f(as_of)),
        ("kpis.activity", "invoicing_delay", lambda f: f(as_of, period)),
        ("kpis.activity", "credit_note_rates", lambda f: f(as_of, period)),
        ("kpis.activity", "invoice_error_rate", lambda f: f(as_of, period)),
        ("kpis.activity", "dispute_rate", lambda f: f(as_of, period)),
        ("kpis.activity", "dispute_resolution_days", lambda f: f(as_of, period)),
        ("kpis.activity", "open_disputes_total", lambda f: f(as_of)),
        ("kpis.collection", "average_payment_delay", lambda f: f(as_of, period)),
        ("kpis.collection", "cei", lambda f: f(as_of, period)),
        ("kpis.collection", "cash_forecast", lambda f: f(as_of)),
        ("contracts.cutoff", "compute_cutoff", lambda f: f(as_of)),
        ("kpis.process", "order_validation_time", lambda f: f(as_of, period)),
        ("kpis.process", "step_validation_times", lambda f: f(as_of, period)),
    ]
    found = []
    for module_name, name, call in candidates:
        try:
            module = importlib.import_module(f"levier.{module_name}")
        except ImportError:
            continue
        fn = getattr(module, name, None)
        if fn is not None:
            found.append((name, lambda fn=fn, call=call: call(fn)))
    return found


def compute_kpis_fn() -> Callable[[dt.date, int], Any] | None:
    try:
        from levier.kpis.services import compute_kpis
    except ImportError:
        return None
    return compute_kpis


class SlowQueries:
    """Times every SQL statement run inside it (`connection.execute_wrapper`)."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str, Any, str]] = []
        self.label = ""

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql, params, self.label))

    def slowest(self, count: int) -> list[tuple[float, str, Any, str]]:
        best: dict[str, tuple[float, str, Any, str]] = {}
        for query in self.queries:
            if query[1] not in best or query[0] > best[query[1]][0]:
                best[query[1]] = query
        return sorted(best.values(), key=lambda q: -q[0])[:count]


def explain(sql: str, params: Any, analyze: bool = True) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            options = "ANALYZE, BUFFERS" if analyze else "COSTS"
            cursor.execute(f"EXPLAIN ({options}) {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())


# --- reference check --------------------------------------------------------------------------


def check_reference(as_of: dt.date, current: Any) -> list[str]:
    """Where `compute_kpis` differs from the definitions read from the facts: AR(d) summed
    over every document (`receivables`), the aged balance's buckets adding up to it, and the
    cash forecast spreading exactly AR(d) less what has no due date."""
    from levier.kpis.receivables import receivables

    differences = []
    facts = receivables(as_of)
    if current.receivables_ttc != facts:
        differences.append(f"AR: compute_kpis {current.receivables_ttc} ≠ facts {facts}")
    buckets = sum((v for k, v in current.aged_balance.items() if k != "total"), Decimal(0))
    if buckets != current.receivables_ttc:
        differences.append(f"aged buckets {buckets} ≠ AR {current.receivables_ttc}")
    return differences


def run_cli(as_of: dt.date, runs: int) -> tuple[Measured, float, bool]:
    """`levier kpis --as-of d --json` as a subprocess (median, or once when slow), the
    median of `levier kpis --help` (Django's start-up), and whether it succeeded."""
    levier = str(Path(sys.executable).parent / "levier")
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    ok = True
    # Levier's own modules compiled once, as an installed (not editable) package is: with
    # PYTHONDONTWRITEBYTECODE set (this machine's environment, 2026-11-29), each process
    # would otherwise compile them again from source, about 0.1 s of every command.
    compileall.compile_dir(str(ROOT / "levier"), quiet=1)

    def once(argv: list[str]) -> None:
        nonlocal ok
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        ok = ok and done.returncode == 0

    command = [levier, "kpis", "--as-of", as_of.isoformat(), "--json"]
    measured = measure(lambda: once(command), runs)
    help_runs = []
    for _ in range(runs):
        started = time.perf_counter()
        once([levier, "kpis", "--help"])
        help_runs.append(time.perf_counter() - started)
    return measured, statistics.median(help_runs), ok


def dashboard(runs: int, *, last_week_stored: bool) -> tuple[str, Measured | None, str]:
    """GET the dashboard as the Direction: (url, measure, note). `last_week_stored`: with
    the snapshot the Monday job stores (the cards compare with it), else with no snapshot
    at all (the week before is recomputed: the worst case)."""
    from levier.kpis.history import backfill_snapshots
    from levier.kpis.models import KpiSnapshot

    KpiSnapshot.objects.all().delete()
    if last_week_stored:
        backfill_snapshots(TODAY, weeks=1)
    if not (ROOT / "levier" / "web" / "urls_kpis.py").exists():
        return "", None, "levier/web/urls_kpis.py does not exist yet: skipped"
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from levier.accounts.models import User

    url = ""
    for name in ("web:kpis_dashboard", "kpis:dashboard", "kpis_dashboard"):
        try:
            url = reverse(name)
            break
        except NoReverseMatch:
            continue
    if not url:
        return "", None, "no dashboard URL name found (web:kpis_dashboard): skipped"
    client = Client()
    client.force_login(User.objects.get(username="direction"))

    def get() -> int:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response.status_code

    try:
        return url, measure(get, runs), ""
    except AssertionError as exc:
        return url, None, f"GET {url} answered {exc}"


def drilldown_pages(runs: int) -> list[list[Any]]:
    """GET the first page of each figure's drill-down as the Direction, today: one row per
    list (median of `runs` after a warm-up, or the warm-up alone past the budget)."""
    from django.test import Client
    from django.urls import reverse

    from levier.accounts.models import User
    from levier.kpis.drilldown import DRILLDOWN_KEYS

    client = Client()
    client.force_login(User.objects.get(username="direction"))
    rows = []
    for key in DRILLDOWN_KEYS:
        url = reverse("web:kpis_drilldown", args=[key])

        def get(url: str = url) -> int:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response.status_code

        rows.append(measure(get, runs).row(f"drill-down GET {url}"))
    return rows


def store_month_ends_timed() -> dict[str, Any]:
    """The Monday job's first step: the open items of the month ends not stored yet (all of
    them on a new database), which the past dates' aged balances count from."""
    try:
        from levier.collections.models import MonthEndItem
        from levier.collections.month_ends import store_month_ends
    except ImportError:
        return {"stored": "not in this version"}
    started = time.perf_counter()
    stored = store_month_ends()
    seconds = time.perf_counter() - started
    if stored:
        # What autovacuum does soon after so many rows (`vacuum_analyze`): without it, a
        # server with autovacuum off (this machine's, 2026-11-28) plans the month ends' reads
        # as if they were empty.
        vacuum_analyze()
    return {
        "stored_now": len(stored),
        "seconds": round(seconds, 1),
        "rows": MonthEndItem.objects.count(),
    }


def bench(args: Any, reuse: bool) -> None:

    from levier.collections.aging import aged_balance

    db = args.db
    load_before = os.getloadavg()
    made: dict[str, Any] = {"reused": True} if reuse else load(args)
    if not reuse:
        print(
            f"{db}: loaded {made['invoices']:,} invoices ({made['contract_invoices']:,} from "
            f"{made['contracts']:,} contracts), {made['credit_notes']:,} credit notes, "
            f"{made['payments']:,} payments, {made['allocations']:,} allocations, "
            f"{made['disputes']:,} disputes, {made['orders']:,} orders: customers "
            f"{made['customers_seconds']} s, generating {made['generate_seconds']} s, "
            f"writing {made['write_seconds']} s, VACUUM ANALYZE {made['vacuum_analyze_seconds']} s",
            flush=True,
        )
    consistency = check_consistency()
    print(f"consistency: {consistency}", flush=True)
    # After the check: the migrations may have added indexes, and the check's rolled-back
    # refresh left 8,000 dead invoice versions and 16,000 dead month-end rows whose pages the
    # index-only scans would visit again (16,000 heap fetches in the month end's aged
    # balance) until a vacuum, as autovacuum would run.
    vacuum_analyze()
    month_ends = store_month_ends_timed()
    print(f"month ends: {month_ends}", flush=True)
    if args.load_only:
        return
    runs, period = args.runs, 90
    dates = [TODAY, *past_dates()]
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    recorder = SlowQueries() if args.plans else None

    def note(row: list[Any]) -> None:
        rows.append(row)
        print("  ".join(str(c) for c in row), flush=True)

    compute = compute_kpis_fn()
    # 1. compute_kpis today and at past dates; the slowest statements of the first two are
    # kept for the plans. (Levier's connections run with PostgreSQL's JIT off.)
    for n, day in enumerate(dates):
        if compute is None:
            note(["compute_kpis", "not written yet", ""])
            break
        if recorder is not None:
            recorder.label = f"compute_kpis({day})"
        measured = measure(lambda day=day: compute(day, period), runs, recorder if n < 2 else None)
        note(measured.row(f"compute_kpis({day})"))
        figures[day.isoformat()] = measured.result.as_json()
        checks[day.isoformat()] = check_reference(day, measured.result)
    # 2. The aged balance of the whole ledger.
    for day in dates:
        note(measure(lambda day=day: aged_balance(None, day), runs).row(f"aged_balance({day})"))
    # 3. Each part alone, today and at the first past date.
    part_rows: list[list[Any]] = []
    slow: set[str] = set()
    for day in dates[:2]:
        for name, fn in parts(day, period):
            if name in slow:
                part_rows.append([f"{name} ({day})", "skipped: > budget today", ""])
                continue
            measured = measure(fn, runs)
            if measured.runs == 1:
                slow.add(name)
            part_rows.append(measured.row(f"{name} ({day})"))
            print("  ".join(str(c) for c in part_rows[-1]), flush=True)
    # 4. The CLI and the dashboard.
    cli, startup, cli_ok = run_cli(TODAY, runs)
    note(cli.row("levier kpis --json (subprocess)" + ("" if cli_ok else " FAILED")))
    note(["  of which Django start-up (levier kpis --help)", f"{startup * 1000:.0f}", ""])
    for stored, label in ((True, "last week's snapshot stored"), (False, "no snapshot")):
        url, page, why = dashboard(runs, last_week_stored=stored)
        if page is not None:
            note(page.row(f"dashboard GET {url} (Direction), {label}"))
        else:
            note(["dashboard", why, ""])
    # 4b. Each drill-down's first page (not a target of the issue: how long a click takes).
    drill_rows = drilldown_pages(max(1, runs // 2))
    for row in drill_rows:
        print("  ".join(str(c) for c in row), flush=True)
    # 5. The plans of the slowest statements met in compute_kpis.
    plans_path = None
    slowest_rows: list[list[Any]] = []
    if recorder is not None and recorder.queries:
        RESULTS.mkdir(exist_ok=True)
        plans_path = RESULTS / f"kpis-plans-{db}.txt"
        with plans_path.open("w") as out:
            out.write(f"# {db}, {made.get('invoices', 'kept database')}, {dt.datetime.now():%c}\n")
            for seconds, sql, params, label in recorder.slowest(5):
                slowest_rows.append([label, f"{seconds * 1000:.0f}", sql[:90]])
                analyze = seconds < BUDGET_SECONDS
                out.write(f"\n## {seconds * 1000:.0f} ms in {label}\n{sql}\nparams: {params}\n\n")
                if not analyze:
                    out.write("(too slow to run again: EXPLAIN without ANALYZE)\n")
                out.write(explain(sql, params, analyze) + "\n")
    result = {
        "today": TODAY.isoformat(),
        "load_average_before_after": [load_before, os.getloadavg()],
        "loaded": made,
        "consistency": consistency,
        "runs": runs,
        "budget_seconds": BUDGET_SECONDS,
        "milliseconds": rows,
        "parts_milliseconds": part_rows,
        "drilldown_milliseconds": drill_rows,
        "slowest_statements": slowest_rows,
        "differences_from_the_facts": checks,
        "figures": figures,
    }
    path = write_result("kpis", db, result)
    print()
    print(table(["measure (median of runs)", "ms", "queries"], rows))
    print()
    print(table(["part of compute_kpis", "ms", "queries"], part_rows))
    print()
    print(table(["drill-down, first page (median of runs)", "ms", "queries"], drill_rows))
    if slowest_rows:
        print()
        print(table(["slowest statements in", "ms", "SQL"], slowest_rows))
        print(f"plans → {plans_path}")
    print(f"differences from the facts: {checks}")
    if figures:
        import json

        today = dict(figures[TODAY.isoformat()])
        today.pop("cash_forecast", None)
        print(json.dumps(today))
    print(f"→ {path}")


if __name__ == "__main__":
    main()
