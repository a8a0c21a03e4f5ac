"""Submit → ADV → (Comptabilité) → (Direction) → validated, or rejected back to draft."""

from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.models import AuditEvent
from levier.customers.tests.factories import CustomerFactory
from levier.lib.errors import NotAllowed, StaleVersion, ValidationFailed
from levier.sales.choices import ApprovalStatus, OrderStatus
from levier.sales.models import ApprovalStep
from levier.sales.selectors import orders_awaiting
from levier.sales.services import (
    approve_order,
    reject_order,
    reopen_order,
    submit_order,
    update_order,
)
from levier.sales.tests.factories import line, make_order, standard_rules
from levier.sales.transitions import InvalidTransition

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rules(db: None) -> None:
    standard_rules()


def big_order(actor: User) -> object:
    return make_order(actor, lines=[line("80", "800")])  # 64 000 € HT > 50 000 €


def test_small_order_is_validated_by_adv_alone(
    commercial: User, adv: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    order = submit_order(actor=commercial, order=make_order(commercial))
    assert [s.role for s in order.approval_steps.all()] == ["adv"]
    order = approve_order(actor=adv, order=order, comment="OK")
    assert order.status == OrderStatus.VALIDATED
    assert order.validated_at is not None


def test_big_order_goes_adv_then_direction(commercial: User, adv: User, direction: User) -> None:
    order = submit_order(actor=commercial, order=big_order(commercial))
    assert [s.role for s in order.approval_steps.order_by("sequence")] == ["adv", "direction"]
    assert list(orders_awaiting("adv")) == [order]
    assert list(orders_awaiting("direction")) == []
    # Direction cannot jump the queue
    with pytest.raises(PermissionDenied):
        approve_order(actor=direction, order=order)
    order = approve_order(actor=adv, order=order)
    assert order.status == OrderStatus.SUBMITTED
    assert list(orders_awaiting("direction")) == [order]
    order = approve_order(actor=direction, order=order, comment="Client stratégique")
    assert order.status == OrderStatus.VALIDATED
    decided = order.approval_steps.order_by("sequence")
    assert [(s.decided_by, s.status) for s in decided] == [
        (adv, "approved"),
        (direction, "approved"),
    ]


def test_nobody_approves_their_own_order(adv: User, adv2: User) -> None:
    order = submit_order(actor=adv, order=make_order(adv))
    with pytest.raises(NotAllowed):
        approve_order(actor=adv, order=order)
    assert approve_order(actor=adv2, order=order).status == OrderStatus.VALIDATED


def test_rejection_needs_a_reason_and_sends_the_order_back_with_it(
    commercial: User, adv: User, direction: User
) -> None:
    order = submit_order(actor=commercial, order=big_order(commercial))
    order = approve_order(actor=adv, order=order)
    with pytest.raises(ValidationFailed):
        reject_order(actor=direction, order=order, comment="  ")
    order = reject_order(actor=direction, order=order, comment="Remise trop forte")
    assert order.status == OrderStatus.REJECTED
    assert order.rejection_reason == "Remise trop forte"
    order = reopen_order(actor=commercial, order=order)
    assert order.status == OrderStatus.DRAFT
    assert order.rejection_reason == "Remise trop forte"
    # resubmission opens a new round; the old decisions stay in the history
    order = submit_order(actor=commercial, order=order)
    assert order.submission_round == 2
    assert ApprovalStep.objects.filter(order=order, round=1).count() == 2
    assert (
        ApprovalStep.objects.filter(order=order, round=2, status=ApprovalStatus.PENDING).count()
        == 2
    )


def test_rejection_by_adv_voids_the_later_steps(commercial: User, adv: User) -> None:
    order = submit_order(actor=commercial, order=big_order(commercial))
    reject_order(actor=adv, order=order, comment="PO manquant")
    statuses = list(order.approval_steps.order_by("sequence").values_list("status", flat=True))
    assert statuses == ["rejected", "void"]


def test_incomplete_customer_blocks_submission_with_the_list_of_what_is_missing(
    commercial: User,
) -> None:
    customer = CustomerFactory(siret="", po_number_required=True, with_contacts=False)
    order = make_order(commercial, customer=customer)
    with pytest.raises(ValidationFailed) as err:
        submit_order(actor=commercial, order=order)
    missing = err.value.errors["__all__"]
    assert any("SIRET" in m for m in missing)
    assert any("contact facturation" in m for m in missing)
    assert any("bon de commande" in m for m in missing)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_longer_terms_than_customer_add_accounting_step(
    commercial: User, adv: User, compta: User
) -> None:
    order = make_order(commercial, payment_terms_days=60)
    order = submit_order(actor=commercial, order=order)
    assert [s.role for s in order.approval_steps.order_by("sequence")] == ["adv", "comptabilite"]
    approve_order(actor=adv, order=order)
    assert approve_order(actor=compta, order=order).status == OrderStatus.VALIDATED


def test_customer_over_credit_limit_needs_accounting(commercial: User, adv: User) -> None:
    customer = CustomerFactory(credit_limit=Decimal("10000"))
    first = submit_order(
        actor=commercial, order=make_order(commercial, customer=customer, lines=[line("10", "700")])
    )
    assert [s.role for s in first.approval_steps.all()] == ["adv"]  # 8 400 € TTC ≤ 10 000 €
    second = submit_order(
        actor=commercial, order=make_order(commercial, customer=customer, lines=[line("3", "700")])
    )
    assert [s.role for s in second.approval_steps.order_by("sequence")] == ["adv", "comptabilite"]


def test_submitted_order_is_frozen(commercial: User) -> None:
    order = submit_order(actor=commercial, order=make_order(commercial))
    with pytest.raises(NotAllowed):
        update_order(actor=commercial, order=order, expected_version=order.version, po_number="X")
    with pytest.raises(InvalidTransition):
        submit_order(actor=commercial, order=order)


def test_every_decision_is_audited_with_who_and_comment(commercial: User, adv: User) -> None:
    order = submit_order(actor=commercial, order=make_order(commercial))
    approve_order(actor=adv, order=order, comment="Conforme")
    approval = AuditEvent.objects.get(
        object_type="sales.order", object_id=str(order.pk), verb="approve"
    )
    assert (approval.actor, approval.comment) == (adv, "Conforme")
    assert AuditEvent.objects.filter(object_id=str(order.pk), verb="transition").count() == 2


def test_validation_queues_the_confirmation_after_commit(
    commercial: User, adv: User, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    order = submit_order(actor=commercial, order=make_order(commercial))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_order(actor=adv, order=order)
    assert len(callbacks) == 1


def test_adv_who_changed_a_colleagues_draft_cannot_approve_it(
    commercial: User, adv: User, adv2: User
) -> None:
    order = make_order(commercial)
    order = update_order(actor=adv, order=order, expected_version=order.version, po_number="PO-9")
    order = submit_order(actor=commercial, order=order)
    with pytest.raises(NotAllowed):
        approve_order(actor=adv, order=order)
    assert approve_order(actor=adv2, order=order).status == OrderStatus.VALIDATED


def test_adv_who_submitted_a_colleagues_order_cannot_approve_it(
    commercial: User, adv: User, adv2: User
) -> None:
    order = submit_order(actor=adv, order=make_order(commercial))
    assert order.submitted_by == adv
    with pytest.raises(NotAllowed):
        approve_order(actor=adv, order=order)
    approve_order(actor=adv2, order=order)


def test_an_approver_cannot_approve_a_version_they_never_saw(
    commercial: User, adv: User, direction: User
) -> None:
    order = submit_order(actor=commercial, order=big_order(commercial))
    seen_by_direction = order.version
    # meanwhile ADV rejects, the rep raises the amount and resubmits, ADV approves
    reject_order(actor=adv, order=order, comment="PO manquant")
    order = reopen_order(actor=commercial, order=order)
    order = update_order(
        actor=commercial, order=order, expected_version=order.version, lines=[line("500", "800")]
    )
    order = submit_order(actor=commercial, order=order)
    approve_order(actor=adv, order=order, expected_version=order.version)
    with pytest.raises(StaleVersion):
        approve_order(actor=direction, order=order, expected_version=seen_by_direction)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert approve_order(actor=direction, order=order, expected_version=order.version).status == (
        OrderStatus.VALIDATED
    )
