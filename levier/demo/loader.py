"""Loading the whole demo company into the configured database, in a fixed order."""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass, field

from django.utils import timezone

from levier.accounts.models import User
from levier.audit.models import AuditEvent
from levier.catalog.models import Product
from levier.collections.month_ends import store_month_ends
from levier.customers.models import Contact, Customer
from levier.demo.billing import create_billing_history
from levier.demo.collections import create_collections_history
from levier.demo.company import (
    Progress,
    Scale,
    create_catalog,
    create_circuit,
    create_customers,
    create_users,
    no_progress,
)
from levier.demo.history import HistoryGenerator, status_counts, waiting_counts
from levier.demo.timeline import Timeline, renumber_by_year
from levier.kpis.history import backfill_snapshots
from levier.sales.models import ApprovalStep, OrderEmail, Quote


@dataclass
class Summary:
    seconds: float
    users: int
    products: int
    customers: int
    contacts: int
    orders: dict[str, int]
    waiting: dict[str, int]
    quotes: dict[str, int]
    approval_steps: int
    audit_events: int
    emails: int
    contracts: int = 0
    invoices: int = 0
    credit_notes: int = 0
    collections: dict[str, int] = field(default_factory=dict)
    kpi_snapshots: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)


def load_demo(scale: Scale | None = None, progress: Progress = no_progress) -> Summary:
    """Create the demo company in an empty database; returns what was created.

    Not one transaction: each service commits its own, as in real use, so the confirmation
    emails are dispatched on commit (the caller must point EMAIL_BACKEND somewhere harmless).
    """
    scale = scale or Scale()
    started = time.perf_counter()
    rng = random.Random(scale.seed)
    timeline = Timeline()
    setup_moment = timezone.localtime().replace(hour=9, minute=0) - dt.timedelta(days=800)
    with timeline.at(setup_moment):
        cast = create_users()
        products = create_catalog(cast)
        create_circuit(cast)
    for product in products:
        timeline.stamp(product, created_at=setup_moment, updated_at=setup_moment)
    with timeline.at(setup_moment + dt.timedelta(days=10)):
        customers = create_customers(cast, scale, rng, progress)
    for n, demo in enumerate(customers[:5000]):
        moment = setup_moment + dt.timedelta(days=10, minutes=n)
        timeline.stamp(demo.customer, created_at=moment, updated_at=moment)
    HistoryGenerator(cast, products, customers, scale, rng, timeline).run(progress)
    timeline.apply()
    renumber_by_year()
    # After renumbering: contracts are titled after their order's final number.
    contracts, invoices, credit_notes = create_billing_history(cast, rng, timeline, progress)
    collections = create_collections_history(cast, rng, timeline, progress)
    timeline.apply()
    # The open items at past month ends, which the past dates' aged balances count from (the
    # Monday job stores them in real use).
    store_month_ends()
    # A year of Monday snapshots, so the dashboard's trends and sparklines have a history.
    snapshots = backfill_snapshots(timezone.localdate(), weeks=52)
    quotes: dict[str, int] = {}
    for status in Quote.objects.values_list("status", flat=True):
        quotes[status] = quotes.get(status, 0) + 1
    return Summary(
        seconds=time.perf_counter() - started,
        users=User.objects.count(),
        products=Product.objects.count(),
        customers=Customer.objects.count(),
        contacts=Contact.objects.count(),
        orders=status_counts(),
        waiting=waiting_counts(),
        quotes=quotes,
        approval_steps=ApprovalStep.objects.count(),
        audit_events=AuditEvent.objects.count(),
        emails=OrderEmail.objects.count(),
        contracts=contracts,
        invoices=invoices,
        credit_notes=credit_notes,
        collections=collections,
        kpi_snapshots=snapshots,
        logins=[(u.username, u.role) for u in cast.users.values()],
    )
