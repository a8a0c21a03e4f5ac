"""The only code that writes the customer master.

Each service checks the actor's role first, runs in one transaction and writes its audit
event in that same transaction, so a customer and its trail never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from django.apps import apps
from django.db import models, transaction
from django.db.models import F
from django.utils.translation import gettext

from levier.accounts.permissions import Action, PermissionDenied, can, require
from levier.audit.choices import Verb
from levier.audit.services import diff, record_event, snapshot
from levier.customers.matching import (
    CERTAINTY_LABELS,
    Certainty,
    DuplicateCandidate,
    find_duplicates,
)
from levier.customers.models import Contact, Customer, DeliveryAddress
from levier.customers.validation import (
    LIST_SEPARATOR,
    clean_contact,
    clean_customer,
    clean_delivery_address,
    label_of,
)
from levier.lib.errors import NotAllowed, StaleVersion, ValidationFailed

if TYPE_CHECKING:
    from levier.accounts.models import User
    from levier.customers.csv_import import ImportReport

__all__ = [
    "CREDIT_TERMS_DEFAULTS",
    "DuplicateCandidate",
    "DuplicatesFound",
    "add_contact",
    "add_delivery_address",
    "changed_credit_terms",
    "create_customer",
    "find_duplicates",
    "import_customers",
    "merge_customers",
    "update_contact",
    "update_customer",
]


class DuplicatesFound(ValidationFailed):
    """Creation refused because the customer seems to exist already.

    Carries the candidates so the UI can show them with a "create anyway" confirmation.
    """

    code = "duplicate"

    def __init__(self, candidates: list[DuplicateCandidate]) -> None:
        lines = [
            gettext("#%(id)s %(name)s (%(certainty)s: %(reason)s)")
            % {
                "id": c.customer.pk,
                "name": c.customer.name,
                "certainty": CERTAINTY_LABELS[c.certainty],
                "reason": c.reason,
            }
            for c in candidates
        ]
        field = "siren" if any(c.certainty == Certainty.CERTAIN for c in candidates) else "name"
        message = gettext("possible duplicate of %(candidates)s") % {
            "candidates": str(LIST_SEPARATOR).join(lines)
        }
        super().__init__(
            gettext("Customer: %(problem)s") % {"problem": message},
            errors={
                field: [
                    gettext("%(field)s: %(problem)s")
                    % {"field": label_of(Customer, field), "problem": message}
                ]
            },
        )
        self.candidates = candidates


# What a new customer gets when nobody allowed to set them says otherwise (the model defaults).
# These fields decide whether Comptabilité must approve an order (levier/sales/circuit.py:
# terms longer than the customer's, exposure over the credit limit), so only the roles with
# `EDIT_CREDIT_TERMS` may change them.
# (30 days net, no credit limit, not strategic).
def _model_default(name: str) -> Any:
    field = Customer._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.get_default()


CREDIT_TERMS_DEFAULTS: dict[str, Any] = {
    name: _model_default(name)
    for name in ("payment_terms_days", "payment_terms_basis", "credit_limit", "is_strategic")
}


def changed_credit_terms(values: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The credit-terms fields whose cleaned value in `values` differs from `current`."""
    return [
        name
        for name, default in CREDIT_TERMS_DEFAULTS.items()
        if name in values and values[name] != current.get(name, default)
    ]


def _require_credit_terms(
    actor: User | None, values: Mapping[str, Any], current: Mapping[str, Any]
) -> None:
    """PermissionDenied naming the first credit-terms field the actor may not change."""
    changed = changed_credit_terms(values, current)
    if changed and not can(actor, Action.EDIT_CREDIT_TERMS):
        raise PermissionDenied(actor, Action.EDIT_CREDIT_TERMS, label_of(Customer, changed[0]))


def create_customer(
    *, actor: User | None, data: Mapping[str, Any], allow_duplicate: bool = False
) -> Customer:
    """Create a customer after checking identifiers, legal terms and likely duplicates.

    Terms, credit limit or strategic flag other than the defaults need `EDIT_CREDIT_TERMS`.
    """
    require(actor, Action.MANAGE_CUSTOMER)
    values = clean_customer(data)
    _require_credit_terms(actor, values, CREDIT_TERMS_DEFAULTS)
    with transaction.atomic():
        if not allow_duplicate:
            candidates = find_duplicates(values)
            if candidates:
                raise DuplicatesFound(candidates)
        customer = Customer.objects.create(**values)
        record_event(actor=actor, verb=Verb.CREATE, instance=customer, changes=snapshot(customer))
    return customer


def update_customer(
    *,
    actor: User | None,
    customer: Customer,
    data: Mapping[str, Any],
    expected_version: int,
    allow_duplicate: bool = False,
) -> Customer:
    """Apply `data` over the customer's current values; refuse if someone saved meanwhile.

    `data` may be partial: missing keys keep their current value, and the whole record is
    re-validated so a change of country or SIREN cannot leave the identifiers inconsistent.
    A SIREN changed to one another active customer already has is refused like a creation
    (a second establishment of the same company is allowed with `allow_duplicate`).
    Changing the terms, credit limit or strategic flag needs `EDIT_CREDIT_TERMS`; sending them
    unchanged does not.
    """
    require(actor, Action.MANAGE_CUSTOMER)
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.version != int(expected_version):
            raise StaleVersion(
                gettext(
                    "Customer %(name)s was changed by someone else (version %(version)s, "
                    "your form had version %(expected)s): reload it and apply your change again"
                )
                % {"name": locked.name, "version": locked.version, "expected": expected_version},
                errors={
                    "__all__": [gettext("version: the customer was changed since you opened it")]
                },
            )
        if not locked.is_active:
            raise NotAllowed(
                gettext("Customer %(name)s is inactive (merged); edit the one it was merged into")
                % {"name": locked.name}
            )
        before = snapshot(locked)
        current = {key: getattr(locked, key) for key in before}
        current["account_manager"] = locked.account_manager
        merged = {
            **current,
            **{k: v for k, v in data.items() if k in current or k == "account_manager"},
        }
        values = clean_customer(merged)
        _require_credit_terms(actor, values, current)
        if values.get("siren") and values["siren"] != locked.siren and not allow_duplicate:
            same_siren = [
                c
                for c in find_duplicates(values, exclude_pk=locked.pk)
                if c.certainty == Certainty.CERTAIN
            ]
            if same_siren:
                raise DuplicatesFound(same_siren)
        for key, value in values.items():
            setattr(locked, key, value)
        after = snapshot(locked)
        changes = diff(before, after)
        if changes:
            locked.version += 1
            locked.save()
            record_event(actor=actor, verb=Verb.UPDATE, instance=locked, changes=changes)
    customer.refresh_from_db()
    return customer


def add_contact(*, actor: User | None, customer: Customer, data: Mapping[str, Any]) -> Contact:
    require(actor, Action.MANAGE_CUSTOMER)
    values = clean_contact(data)
    with transaction.atomic():
        contact = Contact.objects.create(customer=customer, **values)
        record_event(
            actor=actor,
            verb=Verb.CREATE,
            instance=contact,
            changes=snapshot(contact),
            comment=f"contact of customer #{customer.pk}",
        )
    return contact


def update_contact(*, actor: User | None, contact: Contact, data: Mapping[str, Any]) -> Contact:
    require(actor, Action.MANAGE_CUSTOMER)
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        before = snapshot(locked)
        values = clean_contact({**{k: getattr(locked, k) for k in before}, **data})
        for key, value in values.items():
            setattr(locked, key, value)
        changes = diff(before, snapshot(locked))
        if changes:
            locked.save()
            record_event(
                actor=actor,
                verb=Verb.UPDATE,
                instance=locked,
                changes=changes,
                comment=f"contact of customer #{locked.customer_id}",
            )
    contact.refresh_from_db()
    return contact


def add_delivery_address(
    *, actor: User | None, customer: Customer, data: Mapping[str, Any]
) -> DeliveryAddress:
    """Add a delivery address; a new default one takes the flag from the previous default."""
    require(actor, Action.MANAGE_CUSTOMER)
    values = clean_delivery_address(data)
    with transaction.atomic():
        has_default = customer.delivery_addresses.filter(is_default=True).exists()
        if not has_default:
            values["is_default"] = True  # the first address is the one orders use by default
        elif values["is_default"]:
            customer.delivery_addresses.filter(is_default=True).update(is_default=False)
        address = DeliveryAddress.objects.create(customer=customer, **values)
        record_event(
            actor=actor,
            verb=Verb.CREATE,
            instance=address,
            changes=snapshot(address),
            comment=f"delivery address of customer #{customer.pk}",
        )
    return address


def merge_customers(
    *, actor: User | None, keep: Customer, remove: Customer, reason: str
) -> Customer:
    """Fold `remove` into `keep`: its contacts, addresses, quotes and orders move over.

    `remove` is not deleted: it stays inactive with `merged_into` set, so documents and the
    audit trail that mention it still resolve.
    """
    require(actor, Action.MERGE_CUSTOMERS)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            gettext("Merge: a reason is required"),
            errors={"reason": [gettext("reason: required")]},
        )
    if keep.pk == remove.pk:
        raise ValidationFailed(
            gettext("Merge: a customer cannot be merged into itself"),
            errors={"remove": [gettext("customer to remove: same as the one to keep")]},
        )
    Order = apps.get_model("sales", "Order")
    Quote = apps.get_model("sales", "Quote")
    with transaction.atomic():
        # Fixed lock order (by pk) so two concurrent merges of the same pair cannot deadlock.
        locked = {
            c.pk: c
            for c in Customer.objects.select_for_update()
            .filter(pk__in=[keep.pk, remove.pk])
            .order_by("pk")
        }
        kept, removed = locked[keep.pk], locked[remove.pk]
        for customer in (kept, removed):
            if not customer.is_active:
                raise NotAllowed(
                    gettext("Merge: customer %(name)s is inactive (already merged?)")
                    % {"name": customer.name}
                )
        moved = {
            "contacts": Contact.objects.filter(customer=removed).update(customer=kept),
            "delivery_addresses": DeliveryAddress.objects.filter(customer=removed).update(
                customer=kept, is_default=False
            ),
            # The version bump makes an edit form opened on a moved document before the merge
            # get a stale-version refusal instead of saving over the new customer.
            "quotes": Quote.objects.filter(customer=removed).update(
                customer=kept, version=F("version") + 1
            ),
            "orders": Order.objects.filter(customer=removed).update(
                customer=kept, version=F("version") + 1
            ),
            # Earlier merges into `removed` now point at the survivor: no chains to follow.
            "merged_customers": Customer.objects.filter(merged_into=removed).update(
                merged_into=kept
            ),
        }
        removed.is_active = False
        removed.merged_into = kept
        removed.version += 1
        removed.save(update_fields=["is_active", "merged_into", "version", "updated_at"])
        kept.version += 1
        kept.save(update_fields=["version", "updated_at"])
        record_event(
            actor=actor,
            verb=Verb.MERGE,
            instance=kept,
            changes={"merged_from": removed.pk, "moved": moved},
            comment=reason,
        )
        record_event(
            actor=actor,
            verb=Verb.MERGE,
            instance=removed,
            changes={"is_active": [True, False], "merged_into": [None, kept.pk], "moved": moved},
            comment=reason,
        )
    keep.refresh_from_db()
    remove.refresh_from_db()
    return keep


def import_customers(
    *,
    actor: User | None,
    file: IO[bytes] | bytes,
    skip_invalid: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Import customers from a CSV file (columns: docs/customers-import.md).

    Default: all or nothing. With `skip_invalid`, the valid rows are imported and the others
    reported. `dry_run` checks everything and writes nothing (the UI's preview step).
    """
    from levier.customers.csv_import import run_import

    require(actor, Action.IMPORT_CUSTOMERS)
    return run_import(actor=actor, file=file, skip_invalid=skip_invalid, dry_run=dry_run)
