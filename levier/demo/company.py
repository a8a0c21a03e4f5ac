"""The demo company, Numéria Conseil: users, catalog, circuit, customers, then its history.

Everything a user can do goes through the real services (`create_customer`,
`create_product`, `create_rule`, `create_order`, `submit_order`, `approve_order`…), so the
audit trail, the approval steps and the confirmation-email log are the ones the application
itself writes. Only two things bypass them:

- the demo users, created with `User.objects.create` (there is no user service yet);
- at benchmark volumes (more than `BULK_CUSTOMERS` customers), the customers, contacts and
  delivery addresses are validated with the same `clean_*` functions as the services, then
  inserted with `bulk_create` and no audit events, like a database restore. Orders still go
  through the services one by one.

The history is then spread over the last 24 months by `levier.demo.history`: see its
docstring for how the timestamps are backdated.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from levier.accounts.models import User
from levier.catalog.models import Product
from levier.catalog.services import create_product
from levier.customers.models import Contact, Customer, DeliveryAddress
from levier.customers.services import (
    DuplicatesFound,
    add_contact,
    add_delivery_address,
    create_customer,
    update_customer,
)
from levier.customers.validation import clean_contact, clean_customer, clean_delivery_address
from levier.demo import data
from levier.lib.identifiers import fake_siren, fake_siret, vat_from_siren
from levier.sales.circuit_services import create_rule, update_procedure_sheet

# Past this many customers, they are bulk-inserted (validated, but without audit events).
BULK_CUSTOMERS = 1000
BULK_BATCH = 1000

Progress = Callable[[Iterator[Any], int, str], Iterator[Any]]


def no_progress(items: Iterator[Any], total: int, label: str) -> Iterator[Any]:
    return items


@dataclass(frozen=True)
class Scale:
    """How big the demo is. The defaults are `levier load-demo` without options."""

    customers: int = 150
    orders: int = 600
    seed: int = 2026

    @property
    def quotes(self) -> int:
        """Quotes that never became an order (drafts, sent, declined)."""
        return max(4, self.orders // 10)

    @property
    def bulk(self) -> bool:
        return self.customers > BULK_CUSTOMERS


@dataclass
class DemoCustomer:
    """A customer with what the order generator needs to know about it."""

    customer: Customer
    address_ids: list[int] = field(default_factory=list)


@dataclass
class Cast:
    """The demo users by username, and the admin who configures everything."""

    users: dict[str, User]

    @property
    def admin(self) -> User:
        return self.users["admin"]

    def by_role(self, role: str) -> list[User]:
        return [u for u in self.users.values() if u.role == role]


# ---------------------------------------------------------------- users and configuration


def create_users() -> Cast:
    joined = timezone.now() - dt.timedelta(days=3 * 365)
    # One Argon2 hash for all: it costs ~0.4 s each, and the password is public anyway.
    password = make_password(data.PASSWORD)
    users: dict[str, User] = {}
    for username, first, last, role, staff in data.USERS:
        user = User.objects.create(
            username=username,
            password=password,
            email=f"{ascii_slug(first)}.{ascii_slug(last)}@numeria-conseil.example",
            first_name=first,
            last_name=last,
            role=role,
            is_staff=staff,
            is_superuser=staff,
        )
        users[username] = user
    User.objects.filter(pk__in=[u.pk for u in users.values()]).update(date_joined=joined)
    return Cast(users)


def create_catalog(cast: Cast) -> list[Product]:
    products = []
    for code, label, unit, price, rate, mention, account, mode in data.PRODUCTS:
        products.append(
            create_product(
                actor=cast.admin,
                data={
                    "code": code,
                    "label": label,
                    "unit": unit,
                    "unit_price": price,
                    "vat_rate": rate,
                    "vat_exemption_mention": mention,
                    "revenue_account": account,
                    "default_invoicing_mode": mode,
                },
            )
        )
    return products


def create_circuit(cast: Cast) -> None:
    for name, kind, threshold, role in data.RULES:
        create_rule(
            actor=cast.admin,
            data={"name": name, "kind": kind, "threshold": threshold, "approver_role": role},
        )
    for role, title, checklist in data.PROCEDURE_SHEETS:
        update_procedure_sheet(actor=cast.admin, role=role, title=title, checklist=checklist)


# ---------------------------------------------------------------- customer generation


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def _weighted(rng: random.Random, items: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    return rng.choices(items, weights=[item[-1] for item in items])[0]


class CustomerGenerator:
    """Builds valid customer, contact and address data (no database access).

    Names, SIRENs and SIRETs are unique within one generator; SIREN/SIRET pass the Luhn
    checks of python-stdnum and the VAT number is derived from the SIREN, so every record
    passes `levier.customers.validation.clean_customer`.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names: set[str] = set()
        self.sirens: set[str] = set()

    def _base_name(self) -> tuple[str, str]:
        rng = self.rng
        segment, words = rng.choice(data.SECTORS)
        brand = rng.choice(data.BRAND_HEADS) + rng.choice(data.BRAND_TAILS)
        surname = rng.choice(data.SURNAMES)
        pattern = rng.randrange(6)
        if pattern == 0:
            name = f"{surname} {rng.choice(words)}"
        elif pattern == 1:
            name = f"{rng.choice(data.GROUP_PREFIXES)} {surname}"
        elif pattern == 2:
            name = brand
        elif pattern == 3:
            name = f"{brand} {rng.choice(words)}"
        elif pattern == 4:
            name = f"{surname} & {rng.choice(data.SURNAMES)}"
        else:
            name = f"{rng.choice(words)} {surname}"
        return name, segment

    def _unique_name(self, city: str) -> tuple[str, str]:
        for attempt in range(50):
            name, segment = self._base_name()
            if attempt > 5:
                name = f"{name} {city}"
            if attempt > 20:
                name = f"{name} {attempt}"
            if name.lower() not in self.names:
                self.names.add(name.lower())
                return name, segment
        raise RuntimeError("could not invent a unique company name")  # pragma: no cover

    def _siren(self) -> str:
        while True:
            siren = fake_siren(self.rng)
            if siren not in self.sirens:
                self.sirens.add(siren)
                return siren

    def _street(self) -> str:
        rng = self.rng
        return (
            f"{rng.randint(1, 180)} {rng.choice(data.STREET_TYPES)} {rng.choice(data.STREET_NAMES)}"
        )

    def customer(self, account_manager: User | None = None) -> dict[str, Any]:
        rng = self.rng
        city, postcode, _ = _weighted(rng, data.CITIES)
        base, segment = self._unique_name(city)
        form = _weighted(rng, data.LEGAL_FORMS)[0]
        siren = self._siren()
        days, basis, _ = _weighted(rng, data.TERMS)
        return {
            "name": f"{base} {form}",
            "trade_name": base if rng.random() < 0.15 else "",
            "siren": siren,
            "siret": fake_siret(rng, siren),
            "vat_number": vat_from_siren(siren),
            "address_line1": self._street(),
            "address_line2": rng.choice(data.ADDRESS_EXTRAS),
            "postcode": postcode,
            "city": city,
            "country": "FR",
            "payment_terms_days": days,
            "payment_terms_basis": basis,
            "invoice_channel": rng.choices(["email", "einvoicing", "post"], weights=[70, 25, 5])[0],
            "po_number_required": rng.random() < 0.3,
            "credit_limit": rng.choice(data.CREDIT_LIMITS) if rng.random() < 0.25 else None,
            "is_strategic": rng.random() < 0.1,
            "segment": segment,
            "account_manager": account_manager,
        }

    def contacts(self, customer_name: str) -> list[dict[str, Any]]:
        """A purchasing contact and an accounts-payable contact (sometimes the same person)."""
        rng = self.rng
        domain = f"{ascii_slug(customer_name)[:40].strip('-')}.client.example"

        def person(purchasing: bool, payable: bool) -> dict[str, Any]:
            first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.SURNAMES)
            return {
                "first_name": first,
                "last_name": last,
                "email": f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}",
                "phone": f"0{rng.randint(1, 5)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
                f"{rng.randint(10, 99)} {rng.randint(10, 99)}",
                "is_purchasing": purchasing,
                "is_accounts_payable": payable,
                "is_dunning": payable,
            }

        if rng.random() < 0.1:
            return [person(True, True)]
        return [person(True, False), person(False, True)]

    def delivery_addresses(self) -> list[dict[str, Any]]:
        rng = self.rng
        if rng.random() >= 0.3:
            return []
        addresses = []
        for n in range(rng.choice((1, 1, 2))):
            city, postcode, _ = _weighted(rng, data.CITIES)
            addresses.append(
                {
                    "label": rng.choice(data.SITE_LABELS) + (f" {city}" if n else ""),
                    "line1": self._street(),
                    "postcode": postcode,
                    "city": city,
                    "country": "FR",
                    "is_default": n == 0,
                }
            )
        return addresses


CREDIT_FIELDS = ("payment_terms_days", "payment_terms_basis", "credit_limit", "is_strategic")


def create_customers(
    cast: Cast, scale: Scale, rng: random.Random, progress: Progress = no_progress
) -> list[DemoCustomer]:
    generator = CustomerGenerator(rng)
    managers = cast.by_role("commercial")
    if scale.bulk:
        return bulk_create_customers(generator, scale.customers, managers, progress)
    writers = [cast.users["adv"], cast.users["adv2"], *managers]
    result = []
    for n in progress(iter(range(scale.customers)), scale.customers, "customers"):
        actor = writers[n % len(writers)]
        values = generator.customer(account_manager=managers[n % len(managers)])
        # Sales or ADV opens the account; Comptabilité then sets the terms, credit limit and
        # strategic flag it alone may set (EDIT_CREDIT_TERMS), as in a real ADV team.
        credit = {k: values.pop(k) for k in CREDIT_FIELDS if k in values}
        for _ in range(5):
            try:
                customer = create_customer(actor=actor, data=values)
                break
            except DuplicatesFound:  # a name too close to one in the same postcode
                values = generator.customer(account_manager=values["account_manager"])
                credit = {k: values.pop(k) for k in CREDIT_FIELDS if k in values}
        else:  # pragma: no cover - five near-duplicates in a row
            raise RuntimeError("the demo generator keeps producing duplicates")
        if any(credit.get(k) != getattr(customer, k) for k in credit):
            customer = update_customer(
                actor=cast.users["compta"],
                customer=customer,
                data=credit,
                expected_version=customer.version,
            )
        for contact in generator.contacts(customer.name):
            add_contact(actor=actor, customer=customer, data=contact)
        demo = DemoCustomer(customer)
        for address in generator.delivery_addresses():
            demo.address_ids.append(
                add_delivery_address(actor=actor, customer=customer, data=address).pk
            )
        result.append(demo)
    return result


def bulk_create_customers(
    generator: CustomerGenerator,
    count: int,
    managers: list[User],
    progress: Progress = no_progress,
) -> list[DemoCustomer]:
    """Benchmark volumes: validated by the services' `clean_*`, inserted in batches."""
    result: list[DemoCustomer] = []
    batches = range(0, count, BULK_BATCH)
    for start in progress(iter(batches), len(batches), "customers (x1000)"):
        size = min(BULK_BATCH, count - start)
        rows = [
            generator.customer(
                account_manager=managers[(start + i) % len(managers)] if managers else None
            )
            for i in range(size)
        ]
        customers = Customer.objects.bulk_create([Customer(**clean_customer(row)) for row in rows])
        contacts: list[Contact] = []
        addresses: list[DeliveryAddress] = []
        for customer in customers:
            contacts += [
                Contact(customer=customer, **clean_contact(c))
                for c in generator.contacts(customer.name)
            ]
            addresses += [
                DeliveryAddress(customer=customer, **clean_delivery_address(a))
                for a in generator.delivery_addresses()
            ]
        Contact.objects.bulk_create(contacts)
        created = DeliveryAddress.objects.bulk_create(addresses)
        demo = {c.pk: DemoCustomer(c) for c in customers}
        for address in created:
            demo[address.customer_id].address_ids.append(address.pk)
        result += demo.values()
    return result
