from __future__ import annotations

import pytest
from django.apps import apps

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.choices import Verb
from levier.audit.selectors import events_for
from levier.customers.models import Customer
from levier.customers.services import merge_customers
from levier.customers.tests.factories import CustomerFactory, DeliveryAddressFactory
from levier.lib.errors import NotAllowed, ValidationFailed


def _order(customer: Customer, user: User, number: str) -> object:
    Order = apps.get_model("sales", "Order")
    return Order.objects.create(
        number=number, customer=customer, created_by=user, payment_terms_days=30
    )


def _quote(customer: Customer, user: User, number: str) -> object:
    Quote = apps.get_model("sales", "Quote")
    return Quote.objects.create(
        number=number, customer=customer, created_by=user, payment_terms_days=30
    )


def test_merge_moves_contacts_addresses_quotes_and_orders_to_the_kept_customer(adv: User) -> None:
    # given a customer entered twice, each with its contacts, address and documents
    keep, remove = CustomerFactory(), CustomerFactory()
    DeliveryAddressFactory(customer=keep)
    DeliveryAddressFactory(customer=remove)
    _order(remove, adv, "CMD-TEST-1")
    _quote(remove, adv, "DEV-TEST-1")
    # when ADV merges them
    merge_customers(actor=adv, keep=keep, remove=remove, reason="Saisi deux fois")
    # then everything belongs to the kept customer, which keeps its single default address
    assert keep.contacts.count() == 2
    assert keep.delivery_addresses.count() == 2
    assert keep.delivery_addresses.filter(is_default=True).count() == 1
    assert apps.get_model("sales", "Order").objects.get().customer_id == keep.pk
    assert apps.get_model("sales", "Quote").objects.get().customer_id == keep.pk
    assert remove.is_active is False and remove.merged_into_id == keep.pk


def test_merge_is_audited_on_both_customers_with_the_reason(adv: User) -> None:
    keep, remove = CustomerFactory(), CustomerFactory()
    merge_customers(actor=adv, keep=keep, remove=remove, reason="Doublon import")
    for customer in (keep, remove):
        event = events_for(customer).get()
        assert event.verb == Verb.MERGE and event.comment == "Doublon import"
    assert events_for(remove).get().changes["merged_into"] == [None, keep.pk]


def test_merge_needs_a_reason_and_two_distinct_active_customers(adv: User) -> None:
    keep, remove = CustomerFactory(), CustomerFactory()
    with pytest.raises(ValidationFailed):
        merge_customers(actor=adv, keep=keep, remove=remove, reason=" ")
    with pytest.raises(ValidationFailed):
        merge_customers(actor=adv, keep=keep, remove=keep, reason="x")
    merge_customers(actor=adv, keep=keep, remove=remove, reason="doublon")
    with pytest.raises(NotAllowed):
        merge_customers(actor=adv, keep=keep, remove=remove, reason="again")


def test_earlier_merges_follow_the_removed_customer_to_the_survivor(adv: User) -> None:
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    merge_customers(actor=adv, keep=b, remove=c, reason="1")
    merge_customers(actor=adv, keep=a, remove=b, reason="2")
    c.refresh_from_db()
    assert c.merged_into_id == a.pk


@pytest.mark.parametrize("role", ["commercial", "compta", "direction", "auditeur"])
def test_only_adv_and_admin_may_merge(role: str, request: pytest.FixtureRequest) -> None:
    actor = request.getfixturevalue(role)
    keep, remove = CustomerFactory(), CustomerFactory()
    with pytest.raises(PermissionDenied):
        merge_customers(actor=actor, keep=keep, remove=remove, reason="x")
    remove.refresh_from_db()
    assert remove.is_active


def test_merge_bumps_the_version_of_moved_orders_and_quotes(adv: User) -> None:
    # given an order and a quote of the customer to remove, open in someone's edit form
    keep, remove = CustomerFactory(), CustomerFactory()
    order = _order(remove, adv, "CMD-TEST-9")
    quote = _quote(remove, adv, "DEV-TEST-9")
    untouched = _order(keep, adv, "CMD-TEST-10")
    # when the customers are merged
    merge_customers(actor=adv, keep=keep, remove=remove, reason="doublon")
    # then the moved documents have a new version, so the open form is stale
    for document in (order, quote, untouched):
        document.refresh_from_db()  # type: ignore[attr-defined]
    assert (order.version, quote.version) == (2, 2)  # type: ignore[attr-defined]
    assert untouched.version == 1  # type: ignore[attr-defined]


def test_an_order_edit_opened_before_the_merge_is_refused_as_stale(adv: User) -> None:
    from levier.lib.errors import StaleVersion
    from levier.sales.services import update_order

    keep, remove = CustomerFactory(), CustomerFactory()
    order = _order(remove, adv, "CMD-TEST-11")
    merge_customers(actor=adv, keep=keep, remove=remove, reason="doublon")
    with pytest.raises(StaleVersion):
        update_order(actor=adv, order=order, expected_version=1, notes="old form")
    order.refresh_from_db()  # type: ignore[attr-defined]
    assert order.customer_id == keep.pk and order.notes == ""  # type: ignore[attr-defined]


def test_merge_is_one_audit_event_per_customer_listing_what_moved(adv: User) -> None:
    keep, remove = CustomerFactory(), CustomerFactory()
    DeliveryAddressFactory(customer=remove)
    _order(remove, adv, "CMD-TEST-12")
    _order(remove, adv, "CMD-TEST-13")
    _quote(remove, adv, "DEV-TEST-12")
    merge_customers(actor=adv, keep=keep, remove=remove, reason="doublon")
    moved = {
        "contacts": 1,
        "delivery_addresses": 1,
        "quotes": 1,
        "orders": 2,
        "merged_customers": 0,
    }
    kept_event = events_for(keep).get()
    assert kept_event.changes == {"merged_from": remove.pk, "moved": moved}
    assert events_for(remove).get().changes["moved"] == moved
    # the moved documents get no event of their own: the customers' events say what moved
    Order = apps.get_model("sales", "Order")
    from levier.audit.models import AuditEvent

    assert not AuditEvent.objects.filter(object_type="sales.order").exists()
    assert Order.objects.filter(customer=keep).count() == 2
