from __future__ import annotations

import pytest

from levier.accounts.models import User
from levier.audit.choices import Verb
from levier.audit.selectors import events_for
from levier.customers.models import Customer
from levier.customers.services import (
    add_contact,
    add_delivery_address,
    create_customer,
    update_contact,
    update_customer,
)
from levier.customers.tests.factories import ContactFactory, CustomerFactory
from levier.customers.tests.helpers import customer_data
from levier.lib.errors import NotAllowed, StaleVersion, ValidationFailed


def test_update_bumps_version_and_audits_only_changed_fields(compta: User) -> None:
    customer = create_customer(actor=compta, data=customer_data())
    update_customer(
        actor=compta,
        customer=customer,
        data={"payment_terms_days": "45", "city": "Bordeaux"},
        expected_version=1,
    )
    assert customer.version == 2 and customer.payment_terms_days == 45
    event = events_for(customer).first()
    assert event is not None and event.verb == Verb.UPDATE
    assert event.changes["payment_terms_days"] == [30, 45]
    assert "city" not in event.changes


def test_edit_based_on_an_old_version_is_refused_and_changes_nothing(adv: User, adv2: User) -> None:
    customer = CustomerFactory()
    update_customer(actor=adv, customer=customer, data={"city": "Lille"}, expected_version=1)
    with pytest.raises(StaleVersion):
        update_customer(actor=adv2, customer=customer, data={"city": "Nice"}, expected_version=1)
    customer.refresh_from_db()
    assert customer.city == "Lille" and customer.version == 2


def test_update_without_change_keeps_the_version_and_writes_no_event(adv: User) -> None:
    customer = create_customer(actor=adv, data=customer_data())
    update_customer(actor=adv, customer=customer, data={"city": "Bordeaux"}, expected_version=1)
    assert customer.version == 1
    assert events_for(customer).count() == 1


def test_update_revalidates_identifiers(adv: User) -> None:
    customer = CustomerFactory()
    with pytest.raises(ValidationFailed) as exc:
        update_customer(
            actor=adv, customer=customer, data={"siren": "123456789"}, expected_version=1
        )
    assert exc.value.errors["siren"][0].startswith("SIREN : clé de contrôle (Luhn) incorrecte")
    customer.refresh_from_db()
    assert customer.version == 1


def test_update_renormalizes_the_search_name(adv: User) -> None:
    customer = CustomerFactory()
    update_customer(
        actor=adv, customer=customer, data={"name": "Été Conseil SAS"}, expected_version=1
    )
    assert customer.search_name == "ete conseil"


def test_merged_customer_cannot_be_edited(adv: User) -> None:
    keep = CustomerFactory()
    gone = CustomerFactory(is_active=False, merged_into=keep)
    with pytest.raises(NotAllowed):
        update_customer(actor=adv, customer=gone, data={"city": "Nice"}, expected_version=1)


def test_contact_needs_a_last_name_and_a_valid_email(commercial: User) -> None:
    customer = CustomerFactory(with_contacts=False)
    with pytest.raises(ValidationFailed) as exc:
        add_contact(actor=commercial, customer=customer, data={"email": "not-an-email"})
    assert set(exc.value.errors) == {"last_name", "email"}
    contact = add_contact(
        actor=commercial,
        customer=customer,
        data={"last_name": "Durand", "email": "J.Durand@Client.fr", "is_dunning": "on"},
    )
    assert contact.email == "j.durand@client.fr" and contact.is_dunning
    assert events_for(contact).get().verb == Verb.CREATE


def test_contact_update_is_audited(commercial: User) -> None:
    contact = ContactFactory()
    update_contact(actor=commercial, contact=contact, data={"phone": "+33 6 12 34 56 78"})
    assert contact.phone == "+33 6 12 34 56 78"
    assert events_for(contact).get().changes == {"phone": ["", "+33 6 12 34 56 78"]}


def test_first_delivery_address_is_default_and_a_new_default_replaces_it(adv: User) -> None:
    customer: Customer = CustomerFactory()
    base = {"label": "Entrepôt", "line1": "1 quai Nord", "postcode": "13002", "city": "Marseille"}
    first = add_delivery_address(actor=adv, customer=customer, data=base)
    assert first.is_default
    second = add_delivery_address(
        actor=adv, customer=customer, data={**base, "label": "Agence", "is_default": True}
    )
    first.refresh_from_db()
    assert second.is_default and not first.is_default


def test_french_delivery_postcode_has_five_digits(adv: User) -> None:
    customer = CustomerFactory()
    data = {"label": "Site", "line1": "1 rue", "postcode": "1300", "city": "Marseille"}
    with pytest.raises(ValidationFailed) as exc:
        add_delivery_address(actor=adv, customer=customer, data=data)
    assert exc.value.errors["postcode"] == [
        "code postal : un code postal français comporte 5 chiffres"
    ]


def test_changing_the_siren_to_another_customers_is_refused_as_a_duplicate(adv: User) -> None:
    from levier.customers.services import DuplicatesFound

    existing = CustomerFactory()
    other = CustomerFactory()
    with pytest.raises(DuplicatesFound) as err:
        update_customer(
            actor=adv,
            customer=other,
            data={"siren": existing.siren, "siret": "", "vat_number": ""},
            expected_version=other.version,
        )
    assert [c.customer for c in err.value.candidates] == [existing]
    other.refresh_from_db()
    assert other.siren != existing.siren
