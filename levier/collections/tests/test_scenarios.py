"""Dunning scenarios as data: per segment, per customer, steps removed only while unused."""

from __future__ import annotations

import datetime as dt

import pytest

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.billing.tests.factories import complete_company_profile
from levier.collections.dunning import plan_dunning
from levier.collections.models import DunningStep
from levier.collections.scenarios import assign_scenario, create_scenario, delete_step
from levier.collections.tests.dunning_factories import (
    RUN,
    customer,
    days_before,
    default_scenario,
    invoices_due,
)
from levier.lib.errors import NotAllowed, ValidationFailed


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def test_a_segment_scenario_starts_as_a_copy_of_the_default_and_applies_to_its_customers(
    adv: User, compta: User
) -> None:
    default = default_scenario()
    public = create_scenario(
        actor=compta, name="Secteur public", segment="Public", copy_from=default
    )
    assert public.steps.count() == default.steps.count()
    # The public sector is reminded later and without a courtesy email: J+10 first.
    DunningStep.objects.filter(scenario=public, offset_days=-5).delete()
    DunningStep.objects.filter(scenario=public, offset_days=3).update(offset_days=10)
    buyer = customer("Mairie de Lyon", segment="Public")
    invoices_due(adv, [(buyer, days_before(RUN, 3), "1000")])
    assert plan_dunning(RUN).messages == []
    assert plan_dunning(RUN + dt.timedelta(days=7)).messages[0].step.scenario == public


def test_a_customer_given_its_own_scenario_follows_it(adv: User, compta: User) -> None:
    default = default_scenario()
    gentle = create_scenario(actor=compta, name="Client historique", copy_from=default)
    DunningStep.objects.filter(scenario=gentle, offset_days__lte=3).delete()
    buyer = customer("Fidèle SA")
    invoices_due(adv, [(buyer, days_before(RUN, 3), "1000")])
    assert len(plan_dunning(RUN).messages) == 1
    assign_scenario(actor=compta, customer=buyer, scenario=gentle)
    assert plan_dunning(RUN).messages == []
    assign_scenario(actor=compta, customer=buyer, scenario=None)
    assert len(plan_dunning(RUN).messages) == 1


def test_two_scenarios_cannot_share_a_name_or_a_segment(compta: User) -> None:
    create_scenario(actor=compta, name="Grands comptes", segment="Industrie")
    with pytest.raises(ValidationFailed) as same_name:
        create_scenario(actor=compta, name="grands comptes")
    assert "name" in same_name.value.errors
    with pytest.raises(ValidationFailed) as same_segment:
        create_scenario(actor=compta, name="Autre", segment="industrie")
    assert "segment" in same_segment.value.errors


def test_a_step_already_used_by_a_reminder_cannot_be_removed(adv: User, compta: User) -> None:
    from levier.collections.dunning import run_dunning

    default = default_scenario()
    invoices_due(adv, [(customer("Durand SA"), days_before(RUN, 3), "1000")])
    run_dunning(actor=compta, run_date=RUN)
    used = default.steps.get(offset_days=3)
    with pytest.raises(NotAllowed):
        delete_step(actor=compta, step=used)
    unused = default.steps.get(offset_days=45)
    delete_step(actor=compta, step=unused)
    assert not DunningStep.objects.filter(pk=unused.pk).exists()


def test_sales_cannot_change_scenarios(commercial: User) -> None:
    with pytest.raises(PermissionDenied):
        create_scenario(actor=commercial, name="Laxiste")
