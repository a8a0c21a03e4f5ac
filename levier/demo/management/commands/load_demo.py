"""`levier load-demo`: the demo company Numéria Conseil and two years of its orders.

`levier load-demo --if-empty` (what `make demo` runs) does nothing when users exist, so a
second `make demo` reuses the database. `--customers N --orders M --seed S` generates
benchmark volumes with a progress bar.

No email leaves the machine: the load runs with Django's in-memory (locmem) email backend
and without a Celery broker, so the order confirmations are rendered and logged as they
would be in production, but never sent.
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import mail
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings
from tqdm import tqdm

from levier.accounts.models import User
from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.demo import data
from levier.demo.company import Scale
from levier.demo.loader import Summary, load_demo

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class Command(BaseCommand):
    help = "Load the demo company (users, catalog, customers, 24 months of orders)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        defaults = Scale()
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the database already has users (used by `make demo`)",
        )
        parser.add_argument(
            "--customers", type=int, default=None, help=f"default {defaults.customers}"
        )
        parser.add_argument("--orders", type=int, default=None, help=f"default {defaults.orders}")
        parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            # The demo creates well-known logins with the password "demo", one a superuser:
            # never on a database that is not explicitly a demo.
            raise CommandError("load-demo only runs in demo mode: set LEVIER_DEMO=1")
        users = User.objects.count()
        if users:
            if options["if_empty"]:
                self.stdout.write("demo already loaded")
                return
            raise CommandError(
                f"the database already has {users} users: load-demo fills an empty database "
                "(use --if-empty to skip silently, or start from a fresh LEVIER_DATA_DIR)"
            )
        defaults = Scale()
        volume = options["customers"] is not None or options["orders"] is not None
        scale = Scale(
            customers=options["customers"]
            if options["customers"] is not None
            else defaults.customers,
            orders=options["orders"] if options["orders"] is not None else defaults.orders,
            seed=options["seed"],
        )
        if scale.customers < 1 or scale.orders < 0:
            raise CommandError("--customers must be at least 1 and --orders at least 0")
        show = volume and not options["no_progress"]

        held = 0

        def progress(items: Iterator[Any], total: int, label: str) -> Iterator[Any]:
            nonlocal held
            for n, item in enumerate(tqdm(items, total=total, desc=label, disable=not show)):
                if n % 500 == 0 and getattr(mail, "outbox", None):
                    # Benchmark volumes: do not keep thousands of rendered emails in memory.
                    held += len(mail.outbox)
                    mail.outbox.clear()
                yield item

        # The confirmation job logs "sent to …" for each validated order: true of the locmem
        # backend, misleading on a console, so its info lines are muted during the load.
        jobs_log = logging.getLogger("levier.sales.jobs")
        level = jobs_log.level
        jobs_log.setLevel(logging.WARNING)
        try:
            with (
                override_settings(EMAIL_BACKEND=LOCMEM, CELERY_BROKER_URL=""),
                channel(Channel.CLI),
            ):
                summary = load_demo(scale, progress)
                held += len(getattr(mail, "outbox", []))
                if hasattr(mail, "outbox"):
                    mail.outbox.clear()
        finally:
            jobs_log.setLevel(level)
        self._report(summary, held)

    def _report(self, summary: Summary, held: int) -> None:
        out = self.stdout.write
        out(self.style.SUCCESS(f"{data.COMPANY_NAME}: demo loaded in {summary.seconds:.1f} s"))
        out(
            f"  {summary.customers} customers ({summary.contacts} contacts), {summary.products} products"
        )
        orders = ", ".join(f"{k} {v}" for k, v in summary.orders.items())
        out(f"  {sum(summary.orders.values())} orders: {orders}")
        waiting = ", ".join(f"{k} {v}" for k, v in sorted(summary.waiting.items()))
        out(f"  waiting for: {waiting or 'nobody'}")
        quotes = ", ".join(f"{k} {v}" for k, v in sorted(summary.quotes.items()))
        out(f"  {sum(summary.quotes.values())} quotes: {quotes}")
        out(
            f"  {summary.contracts} contracts, {summary.invoices} invoices issued, "
            f"{summary.credit_notes} credit notes"
        )
        out("  collections: " + ", ".join(f"{k} {v}" for k, v in summary.collections.items()))
        out(f"  {summary.kpi_snapshots} weekly KPI snapshots (the dashboard's last 52 weeks)")
        out(
            f"  {summary.approval_steps} approval steps, {summary.audit_events} audit events, "
            f"{summary.emails} confirmation emails logged ({held} held in memory, none sent)"
        )
        out("")
        out(f"Logins (password '{data.PASSWORD}'):")
        for username, role in summary.logins:
            out(f"  {username:<12} {role}")
