"""Administration of the validation circuit: rules and procedure sheets (Administrateur)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import diff, record_event, snapshot
from levier.lib.errors import ValidationFailed
from levier.lib.money import MoneyError, to_decimal
from levier.sales.choices import RuleKind
from levier.sales.models import ApprovalRule, ProcedureSheet

APPROVER_ROLES = (Role.ADV, Role.COMPTABILITE, Role.DIRECTION)
RULE_FIELDS = ["name", "kind", "threshold", "approver_role", "is_active"]


def _clean_rule(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = str(data.get("name", "")).strip()
    if not name:
        errors["name"] = [gettext("%(field)s: required") % {"field": gettext("name")}]
    kind = data.get("kind")
    if kind not in RuleKind.values:
        errors["kind"] = [
            gettext("%(field)s: unknown value “%(value)s”")
            % {"field": gettext("condition"), "value": kind}
        ]
    role = data.get("approver_role")
    if role not in [r.value for r in APPROVER_ROLES]:
        errors["approver_role"] = [
            gettext("approver role: must be ADV, Comptabilité or Direction, not “%(value)s”")
            % {"value": role}
        ]
    threshold: Decimal | None = None
    raw = data.get("threshold")
    if kind in (RuleKind.AMOUNT_OVER, RuleKind.DISCOUNT_OVER):
        try:
            threshold = to_decimal(raw if raw is not None else "")
        except MoneyError:
            errors["threshold"] = [
                gettext("threshold: “%(value)s” is not a number (required for this condition)")
                % {"value": "" if raw is None else raw}
            ]
        else:
            if threshold < 0:
                errors["threshold"] = [
                    gettext("%(field)s: cannot be negative") % {"field": gettext("threshold")}
                ]
            elif kind == RuleKind.DISCOUNT_OVER and threshold > 100:
                errors["threshold"] = [
                    gettext("threshold: a discount is at most %(max)s %%") % {"max": 100}
                ]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    return {
        "name": name[:100],
        "kind": kind,
        "threshold": threshold,
        "approver_role": role,
        "is_active": bool(data.get("is_active", True)),
    }


@transaction.atomic
def create_rule(*, actor: User, data: dict[str, Any]) -> ApprovalRule:
    require(actor, Action.MANAGE_RULES)
    rule = ApprovalRule.objects.create(**_clean_rule(data))
    record_event(actor=actor, verb=Verb.CREATE, instance=rule, changes=snapshot(rule, RULE_FIELDS))
    return rule


@transaction.atomic
def update_rule(*, actor: User, rule: ApprovalRule, data: dict[str, Any]) -> ApprovalRule:
    require(actor, Action.MANAGE_RULES)
    rule = ApprovalRule.objects.select_for_update().get(pk=rule.pk)
    before = snapshot(rule, RULE_FIELDS)
    for name, value in _clean_rule(data).items():
        setattr(rule, name, value)
    rule.save()
    record_event(
        actor=actor,
        verb=Verb.UPDATE,
        instance=rule,
        changes=diff(before, snapshot(rule, RULE_FIELDS)),
    )
    return rule


@transaction.atomic
def update_procedure_sheet(*, actor: User, role: str, title: str, checklist: str) -> ProcedureSheet:
    require(actor, Action.MANAGE_RULES)
    if role not in Role.values:
        raise ValidationFailed(
            gettext("%(field)s: unknown value “%(value)s”")
            % {"field": gettext("role"), "value": role},
            errors={"role": [gettext("unknown role")]},
        )
    if not title.strip() or not checklist.strip():
        raise ValidationFailed(
            gettext("title and checklist are required"),
            errors={
                k: [gettext("required")]
                for k, v in (("title", title), ("checklist", checklist))
                if not v.strip()
            },
        )
    sheet, created = ProcedureSheet.objects.select_for_update().get_or_create(
        role=role, defaults={"title": title.strip(), "checklist": checklist.strip()}
    )
    before = snapshot(sheet, ["title", "checklist"])
    if not created:
        sheet.title, sheet.checklist = title.strip()[:200], checklist.strip()
        sheet.save()
    record_event(
        actor=actor,
        verb=Verb.CREATE if created else Verb.UPDATE,
        instance=sheet,
        changes=snapshot(sheet, ["title", "checklist"])
        if created
        else diff(before, snapshot(sheet, ["title", "checklist"])),
    )
    return sheet
