"""Contracts: creation checks, amendments that keep history, notice and renewal."""

import datetime as dt
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.billing.run import run_billing
from levier.contracts.choices import ContractStatus
from levier.contracts.models import Amendment, ContractLine
from levier.contracts.services import (
    amend_contract,
    close_contract,
    create_contract_from_order,
    enter_time,
    give_notice,
)
from levier.contracts.tests.factories import contract_line, make_contract
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.sales.tests.factories import make_order

pytestmark = pytest.mark.django_db
D = Decimal


def test_percent_milestones_always_add_up_to_the_line_to_the_cent(adv: User) -> None:
    contract = make_contract(
        adv,
        [
            contract_line(
                "milestones",
                "1000",
                milestones=[
                    {"label": f"Étape {n}", "percent": "33.33", "trigger": "delivery"}
                    for n in range(2)
                ]
                + [{"label": "Solde", "percent": "33.34", "trigger": "acceptance"}],
            )
        ],
    )
    amounts = [m.amount for m in contract.lines.get().milestones.all()]
    assert amounts == [D("333.30"), D("333.30"), D("333.40")]
    assert sum(amounts) == D("1000.00")


def test_milestones_that_do_not_make_the_whole_line_are_refused(adv: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make_contract(
            adv,
            [
                contract_line(
                    "milestones",
                    "1000",
                    milestones=[{"label": "Acompte", "percent": "30", "trigger": "signature"}],
                )
            ],
        )
    assert "lines.1.milestones" in refused.value.errors
    assert "30" in refused.value.errors["lines.1.milestones"][0]


def test_each_bad_line_is_named_with_its_field(adv: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make_contract(
            adv,
            [
                contract_line("recurring", "1000"),  # no frequency
                contract_line("weekly", "10"),
                contract_line("on_order", "abc"),
            ],
        )
    assert {"lines.1.frequency", "lines.2.mode", "lines.3.unit_price"} <= set(refused.value.errors)


def test_a_tacit_renewal_needs_an_initial_term(adv: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make_contract(adv, [contract_line("on_order", "10")], tacit_renewal=True)
    assert "initial_term_months" in refused.value.errors


def test_a_contract_from_a_validated_order_carries_its_lines_and_mode(
    adv: User, commercial: User
) -> None:
    from levier.sales.services import approve_order, submit_order

    order = make_order(commercial, invoicing_mode="recurring")
    submit_order(actor=commercial, order=order)
    order = approve_order(actor=adv, order=order)  # no rule: ADV's check is the only step
    assert order.status == "validated"
    contract = create_contract_from_order(actor=adv, order=order)
    assert contract.order == order and contract.customer == order.customer
    lines = list(contract.lines.all())
    assert len(lines) == order.lines.count()
    assert {(line.mode, line.frequency) for line in lines} == {("recurring", "monthly")}


def test_an_order_not_yet_validated_makes_no_contract(adv: User, commercial: User) -> None:
    with pytest.raises(NotAllowed):
        create_contract_from_order(actor=adv, order=make_order(commercial))


def test_an_amendment_changes_future_periods_and_keeps_billed_ones(adv: User) -> None:
    contract = make_contract(adv, [contract_line("recurring", "1000", frequency="monthly")])
    run_billing(actor=adv, as_of=dt.date(2026, 3, 1), issue=True, issue_date=dt.date(2026, 3, 1))
    line = contract.lines.get()
    amendment = amend_contract(
        actor=adv,
        contract=contract,
        effective_on=dt.date(2026, 4, 1),
        reason="Extension du périmètre",
        line_changes={line.pk: {"unit_price": "1200"}},
    )
    assert amendment.number == 1 and amendment.changes["line 1"]["unit_price"][1] == "1200"
    old, new = ContractLine.objects.filter(contract=contract).order_by("position")
    assert old.end_date == dt.date(2026, 3, 31) and new.start_date == dt.date(2026, 4, 1)
    assert len(amendment.snapshot["lines"]) == 2
    april = run_billing(actor=adv, as_of=dt.date(2026, 4, 1)).drafts.get()
    assert list(april.lines.values_list("unit_price", flat=True)) == [D("1200.0000")]


def test_an_amendment_must_change_something_and_say_why(adv: User) -> None:
    contract = make_contract(adv, [contract_line("on_order", "10")])
    with pytest.raises(ValidationFailed):
        amend_contract(actor=adv, contract=contract, effective_on=dt.date(2026, 2, 1), reason="")
    with pytest.raises(ValidationFailed):
        amend_contract(actor=adv, contract=contract, effective_on=dt.date(2026, 2, 1), reason="x")
    assert not Amendment.objects.exists()


def test_notice_before_the_deadline_ends_the_contract_at_the_end_of_the_term(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("recurring", "100", frequency="monthly")],
        start=dt.date(2026, 1, 1),
        initial_term_months=12,
        tacit_renewal=True,
        notice_months=3,
    )
    # Renewal on 1 Jan 2027, three months' notice: deadline 30 Sep 2026.
    noticed = give_notice(
        actor=adv, contract=contract, given_on=dt.date(2026, 9, 30), reason="Budget"
    )
    assert noticed.end_date == dt.date(2026, 12, 31)
    assert noticed.status == ContractStatus.NOTICE_GIVEN


def test_late_notice_lets_the_contract_renew_once_more(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("recurring", "100", frequency="monthly")],
        start=dt.date(2026, 1, 1),
        initial_term_months=12,
        tacit_renewal=True,
        notice_months=3,
    )
    noticed = give_notice(
        actor=adv, contract=contract, given_on=dt.date(2026, 10, 1), reason="Budget"
    )
    assert noticed.end_date == dt.date(2027, 12, 31)


def test_a_contract_ends_only_after_its_end_date(adv: User) -> None:
    contract = make_contract(adv, [contract_line("on_order", "10")], end_date=dt.date(2026, 6, 30))
    with pytest.raises(NotAllowed):
        close_contract(actor=adv, contract=contract, today=dt.date(2026, 6, 30))
    assert close_contract(actor=adv, contract=contract, today=dt.date(2026, 7, 1)).status == (
        ContractStatus.ENDED
    )


def test_time_already_invoiced_cannot_be_changed(adv: User) -> None:
    contract = make_contract(adv, [contract_line("time_and_materials", "650")])
    line = contract.lines.get()
    enter_time(actor=adv, line=line, month=dt.date(2026, 1, 1), quantity=D("10"))
    run_billing(actor=adv, as_of=dt.date(2026, 2, 1))
    with pytest.raises(NotAllowed):
        enter_time(actor=adv, line=line, month=dt.date(2026, 1, 15), quantity=D("12"))


def test_sales_cannot_create_contracts(commercial: User) -> None:
    with pytest.raises(PermissionDenied):
        make_contract(commercial, [contract_line("on_order", "10")])


def test_an_amendment_cannot_reprice_days_already_invoiced(adv: User) -> None:
    contract = make_contract(adv, [contract_line("recurring", "1000", frequency="monthly")])
    run_billing(actor=adv, as_of=dt.date(2026, 3, 1))  # March billed in advance
    line = contract.lines.get()
    with pytest.raises(NotAllowed, match="31/03/2026"):
        amend_contract(
            actor=adv,
            contract=contract,
            effective_on=dt.date(2026, 3, 15),
            reason="Hausse",
            line_changes={line.pk: {"unit_price": "1200"}},
        )
    assert not Amendment.objects.exists()


def test_notice_on_an_open_ended_contract_runs_the_notice_period(adv: User) -> None:
    contract = make_contract(
        adv, [contract_line("recurring", "100", frequency="monthly")], notice_months=3
    )
    noticed = give_notice(
        actor=adv, contract=contract, given_on=dt.date(2026, 11, 28), reason="Fin"
    )
    assert noticed.end_date == dt.date(2027, 2, 28)


def test_a_contract_may_agree_its_own_late_payment_interest(adv: User) -> None:
    agreed = make_contract(adv, [contract_line("on_order", "1000")], late_interest_rate="15,5")
    assert agreed.late_interest_rate == Decimal("15.5")
    assert make_contract(adv, [contract_line("on_order", "1000")]).late_interest_rate is None
    with pytest.raises(ValidationFailed) as refused:
        make_contract(adv, [contract_line("on_order", "1000")], late_interest_rate="80")
    assert "late_interest_rate" in refused.value.errors
