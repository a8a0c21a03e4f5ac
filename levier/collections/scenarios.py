"""Dunning scenarios as data: create one (for a customer segment), give one to a customer,
remove a step no reminder used. The texts of steps are edited with `dunning.save_step`."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.collections.models import (
    CustomerScenario,
    DunningItem,
    DunningMessage,
    DunningScenario,
    DunningStep,
)
from levier.customers.models import Customer
from levier.lib.errors import NotAllowed, ValidationFailed

STEP_FIELDS = ("name", "offset_days", "channel", "subject", "body", "is_formal_notice")


@transaction.atomic
def create_scenario(
    *, actor: User, name: str, segment: str = "", copy_from: DunningScenario | None = None
) -> DunningScenario:
    """A new scenario, for the customers of `segment` (blank: only those assigned to it),
    starting with a copy of `copy_from`'s steps so its texts need only be adapted."""
    require(actor, Action.MANAGE_DUNNING)
    name, segment = name.strip(), segment.strip()
    if not name or len(name) > 100:
        raise ValidationFailed.on("name", _("give the scenario a name (100 characters at most)"))
    if DunningScenario.objects.filter(name__iexact=name).exists():
        raise ValidationFailed.on("name", _("a scenario already has this name"))
    if len(segment) > 50:
        raise ValidationFailed.on("segment", _("a segment has 50 characters at most"))
    other = DunningScenario.objects.filter(segment__iexact=segment).first() if segment else None
    if other is not None:
        raise ValidationFailed.on(
            "segment",
            _("the segment %(segment)s already follows the scenario %(name)s")
            % {"segment": segment, "name": other.name},
        )
    try:
        with transaction.atomic():
            scenario = DunningScenario.objects.create(name=name, segment=segment)
    except IntegrityError:  # a concurrent creation of the same name or segment
        raise ValidationFailed.on(
            "name", _("a scenario already has this name or segment")
        ) from None
    if copy_from is not None:
        DunningStep.objects.bulk_create(
            [
                DunningStep(scenario=scenario, **{f: getattr(step, f) for f in STEP_FIELDS})
                for step in copy_from.steps.all()
            ]
        )
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=scenario,
        changes={"name": name, "segment": segment, "copied_from": str(copy_from or "")},
    )
    return scenario


@transaction.atomic
def assign_scenario(*, actor: User, customer: Customer, scenario: DunningScenario | None) -> None:
    """Give the customer its own scenario (None: back to its segment's, or the default)."""
    require(actor, Action.MANAGE_DUNNING)
    current = CustomerScenario.objects.select_for_update().filter(customer=customer).first()
    before = current.scenario.name if current else None
    if scenario is None:
        if current is not None:
            current.delete()
    elif current is None:
        CustomerScenario.objects.create(customer=customer, scenario=scenario)
    else:
        current.scenario = scenario
        current.save(update_fields=["scenario"])
    record_event(
        actor=actor,
        verb=Verb.UPDATE,
        instance=customer,
        changes={"dunning_scenario": [before, scenario.name if scenario else None]},
    )


@transaction.atomic
def delete_step(*, actor: User, step: DunningStep) -> None:
    """Remove a step no reminder used yet; a used one is history: edit it instead."""
    require(actor, Action.MANAGE_DUNNING)
    step = DunningStep.objects.select_for_update().select_related("scenario").get(pk=step.pk)
    used = (
        DunningItem.objects.filter(step=step).exists()
        or DunningMessage.objects.filter(step=step).exists()
    )
    if used:
        raise NotAllowed(
            _("reminders already went out at this step: change its text or days instead"),
            code="step_used",
        )
    record_event(
        actor=actor,
        verb=Verb.DELETE,
        instance=step.scenario,
        changes={"step": step.name, "offset_days": step.offset_days},
    )
    step.delete()
