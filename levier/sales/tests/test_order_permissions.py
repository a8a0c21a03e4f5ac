"""Role × action, enforced in the services (not only by hidden buttons)."""

import pytest

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.lib.errors import DomainError
from levier.sales.circuit_services import create_rule, update_procedure_sheet
from levier.sales.services import approve_order, submit_order
from levier.sales.tests.factories import make_order

pytestmark = pytest.mark.django_db

MAY_CREATE_ORDERS = {Role.COMMERCIAL, Role.ADV}


@pytest.mark.parametrize("role", list(Role))
def test_only_sales_and_adv_create_orders(personas: dict[Role, User], role: Role) -> None:
    actor = personas[role]
    if role in MAY_CREATE_ORDERS:
        assert make_order(actor).created_by == actor
    else:
        with pytest.raises(PermissionDenied):
            make_order(actor)


@pytest.mark.parametrize("role", list(Role))
def test_only_adv_decides_the_adv_step(
    personas: dict[Role, User], commercial2: User, role: Role
) -> None:
    order = submit_order(actor=commercial2, order=make_order(commercial2))
    if role == Role.ADV:
        approve_order(actor=personas[role], order=order)
    else:
        with pytest.raises(PermissionDenied):
            approve_order(actor=personas[role], order=order)


def test_sales_rep_cannot_submit_a_colleagues_order(commercial: User, commercial2: User) -> None:
    order = make_order(commercial)
    with pytest.raises(PermissionDenied):
        submit_order(actor=commercial2, order=order)


@pytest.mark.parametrize("role", list(Role))
def test_only_the_administrator_edits_rules_and_procedure_sheets(
    personas: dict[Role, User], role: Role
) -> None:
    data = {
        "name": "Seuil",
        "kind": "amount_over",
        "threshold": "10000",
        "approver_role": "direction",
    }
    if role == Role.ADMINISTRATEUR:
        assert create_rule(actor=personas[role], data=data).threshold == 10000
        assert update_procedure_sheet(
            actor=personas[role], role="adv", title="Contrôle ADV", checklist="PO\nPrix"
        ).items == ["PO", "Prix"]
    else:
        with pytest.raises(PermissionDenied):
            create_rule(actor=personas[role], data=data)
        with pytest.raises(PermissionDenied):
            update_procedure_sheet(actor=personas[role], role="adv", title="x", checklist="y")


def test_rule_without_a_numeric_threshold_is_refused_naming_the_field(admin_user: User) -> None:
    with pytest.raises(DomainError) as err:
        create_rule(
            actor=admin_user,
            data={
                "name": "x",
                "kind": "amount_over",
                "threshold": "beaucoup",
                "approver_role": "direction",
            },
        )
    assert "threshold" in err.value.errors
