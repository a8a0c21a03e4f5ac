from __future__ import annotations

import pytest

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.customers.models import Customer
from levier.customers.services import (
    add_contact,
    add_delivery_address,
    create_customer,
    import_customers,
    update_customer,
)
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import customer_data

MAY_MANAGE = [Role.COMMERCIAL, Role.ADV, Role.COMPTABILITE, Role.ADMINISTRATEUR]
MAY_NOT_MANAGE = [Role.AUDITEUR, Role.DIRECTION]


@pytest.mark.parametrize("role", MAY_MANAGE)
def test_roles_that_manage_customers_may_create_one(role: Role, personas: dict[Role, User]) -> None:
    customer = create_customer(actor=personas[role], data=customer_data())
    assert Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.parametrize("role", MAY_NOT_MANAGE)
def test_auditor_and_management_may_not_create_a_customer(
    role: Role, personas: dict[Role, User]
) -> None:
    with pytest.raises(PermissionDenied):
        create_customer(actor=personas[role], data=customer_data())
    assert not Customer.objects.exists()


@pytest.mark.parametrize("role", MAY_NOT_MANAGE)
def test_auditor_and_management_may_not_edit_a_customer_or_its_contacts(
    role: Role, personas: dict[Role, User]
) -> None:
    customer = CustomerFactory()
    actor = personas[role]
    with pytest.raises(PermissionDenied):
        update_customer(actor=actor, customer=customer, data={"city": "X"}, expected_version=1)
    with pytest.raises(PermissionDenied):
        add_contact(actor=actor, customer=customer, data={"last_name": "X"})
    with pytest.raises(PermissionDenied):
        add_delivery_address(actor=actor, customer=customer, data={})


def test_anonymous_may_not_create_a_customer(db: None) -> None:
    with pytest.raises(PermissionDenied):
        create_customer(actor=None, data=customer_data())


def test_inactive_user_may_not_create_a_customer(adv: User) -> None:
    adv.is_active = False
    with pytest.raises(PermissionDenied):
        create_customer(actor=adv, data=customer_data())


@pytest.mark.parametrize(
    "role", [Role.COMMERCIAL, Role.COMPTABILITE, Role.DIRECTION, Role.AUDITEUR]
)
def test_only_adv_and_admin_may_import_customers(role: Role, personas: dict[Role, User]) -> None:
    with pytest.raises(PermissionDenied):
        import_customers(actor=personas[role], file=b"name;siren\n")
