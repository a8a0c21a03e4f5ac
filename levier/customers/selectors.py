"""Read queries on the customer master, shared by the web pages, the API and the KPIs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Q, QuerySet, Sum

from levier.audit.models import AuditEvent
from levier.audit.selectors import events_for
from levier.customers.matching import normalize_name
from levier.customers.models import Contact, Customer, DeliveryAddress
from levier.lib.money import ZERO

# Orders that commit the customer and count against its credit limit: in the circuit or
# validated. Drafts are not yet a commitment; rejected and cancelled ones never will be.
OPEN_ORDER_STATUSES = ("submitted", "validated")
RECENT_DOCUMENTS = 10
RECENT_EVENTS = 100


def list_customers(*, include_inactive: bool = False) -> QuerySet[Customer]:
    """All customers in search-name order (for paginated lists; slice before evaluating)."""
    base = Customer.objects.all() if include_inactive else Customer.objects.filter(is_active=True)
    return base.order_by("search_name", "pk")


def search_customers(
    query: str, limit: int = 50, *, include_inactive: bool = False
) -> QuerySet[Customer]:
    """Customers matching `query`, by identifier or by name, at most `limit` of them.

    Digits only: 9 → SIREN, 14 → SIRET, 5 → postcode (or SIREN prefix) — exact lookups on
    indexed columns. Otherwise the normalized name: a prefix range on the indexed
    `search_name` (an index range scan in SQLite and PostgreSQL alike), widened to a
    "contains" match only when the prefix finds fewer than `limit` customers.
    """
    base = Customer.objects.all() if include_inactive else Customer.objects.filter(is_active=True)
    text = (query or "").strip()
    if not text:
        return base.order_by("search_name", "pk")[:limit]
    digits = re.sub(r"[\s.]", "", text)
    if digits.isdigit():
        if len(digits) == 9:
            return base.filter(siren=digits).order_by("search_name", "pk")[:limit]
        if len(digits) == 14:
            return base.filter(Q(siret=digits) | Q(siren=digits[:9])).order_by("search_name", "pk")[
                :limit
            ]
        if len(digits) == 5:
            return base.filter(postcode=digits).order_by("search_name", "pk")[:limit]
    needle = normalize_name(text)
    if not needle:
        return base.none()
    prefix = base.filter(search_name__gte=needle, search_name__lt=needle + "\uffff")
    prefix_ids = list(prefix.order_by("search_name", "pk").values_list("pk", flat=True)[:limit])
    if len(prefix_ids) < limit and len(needle) >= 3:
        extra = list(
            base.filter(search_name__contains=needle)
            .exclude(pk__in=prefix_ids)
            .order_by("search_name", "pk")
            .values_list("pk", flat=True)[: limit - len(prefix_ids)]
        )
        prefix_ids += extra
    return base.filter(pk__in=prefix_ids).order_by("search_name", "pk")


@dataclass
class Customer360:
    customer: Customer
    contacts: list[Contact]
    delivery_addresses: list[DeliveryAddress]
    recent_quotes: list[Any]
    recent_orders: list[Any]
    # Submitted and validated orders TTC: the same exposure the credit-limit rule uses.
    open_order_total: Decimal
    quote_count: int
    order_count: int
    events: list[AuditEvent]
    merged_from: list[Customer] = field(default_factory=list)

    @property
    def credit_available(self) -> Decimal | None:
        limit = self.customer.credit_limit
        return None if limit is None else limit - self.open_order_total


def customer_360(customer: Customer) -> Customer360:
    """Everything the 360° page shows, in a fixed number of queries."""
    Order = apps.get_model("sales", "Order")
    Quote = apps.get_model("sales", "Quote")
    contacts = list(customer.contacts.all())
    addresses = list(customer.delivery_addresses.all())
    orders = Order.objects.filter(customer=customer)
    quotes = Quote.objects.filter(customer=customer)
    open_total = orders.filter(status__in=OPEN_ORDER_STATUSES).aggregate(t=Sum("total_gross"))["t"]
    # The customer's own events plus those of its contacts and delivery addresses.
    children = Q(object_type="customers.contact", object_id__in=[str(c.pk) for c in contacts]) | Q(
        object_type="customers.deliveryaddress", object_id__in=[str(a.pk) for a in addresses]
    )
    events = (
        events_for(customer) | AuditEvent.objects.filter(children).select_related("actor")
    ).order_by("-created_at", "-id")
    return Customer360(
        customer=customer,
        contacts=contacts,
        delivery_addresses=addresses,
        recent_quotes=list(quotes.order_by("-created_at")[:RECENT_DOCUMENTS]),
        recent_orders=list(orders.order_by("-created_at")[:RECENT_DOCUMENTS]),
        open_order_total=open_total or ZERO,
        quote_count=quotes.count(),
        order_count=orders.count(),
        events=list(events[:RECENT_EVENTS]),
        merged_from=list(customer.merged_from.all()),
    )
