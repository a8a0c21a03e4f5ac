"""Administration of the validation circuit: approval rules and procedure sheets.

Only the Administrateur may change them: the services refuse everyone else (403 through the
middleware); the views also check first, so nobody fills in a form bound to be refused.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from levier.accounts.choices import Role
from levier.accounts.permissions import Action, require
from levier.audit.selectors import events_for
from levier.lib.errors import ValidationFailed
from levier.sales.choices import RuleKind
from levier.sales.circuit_services import (
    APPROVER_ROLES,
    create_rule,
    update_procedure_sheet,
    update_rule,
)
from levier.sales.models import ApprovalRule, ProcedureSheet
from levier.web.views.orders import actor_of

SHEET_ROLES = (Role.COMMERCIAL, Role.ADV, Role.COMPTABILITE, Role.DIRECTION)
MAX_TEXT = 5000


def _errors_of(exc: ValidationFailed) -> dict[str, list[str]]:
    """Field errors for the template ("general" for the rest: templates can't read "__all__")."""
    errors = {("general" if k == "__all__" else k): v for k, v in exc.errors.items()}
    return errors or {"general": [exc.message]}


def _rule_data(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "name": post.get("name", "")[:200],
        "kind": post.get("kind", ""),
        "threshold": post.get("threshold", "")[:40],
        "approver_role": post.get("approver_role", ""),
        # A checkbox is absent when unticked: say so, the service defaults to active.
        "is_active": post.get("is_active") in ("on", "1", "true"),
    }


def _rule_data_of(rule: ApprovalRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "threshold": "" if rule.threshold is None else str(rule.threshold),
        "approver_role": rule.approver_role,
        "is_active": rule.is_active,
    }


def _rule_form_context(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "data": data,
        "errors": errors,
        "kinds": RuleKind.choices,
        "roles": [(r.value, r.label) for r in APPROVER_ROLES],
    }


@login_required
@require_http_methods(["GET", "POST"])
def rule_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, Action.MANAGE_RULES)
    data: dict[str, Any] = {"is_active": True, "kind": RuleKind.AMOUNT_OVER}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        data = _rule_data(request)
        try:
            rule = create_rule(actor=actor, data=data)
        except ValidationFailed as exc:
            errors = _errors_of(exc)
            status = 400
        else:
            messages.success(request, _("Rule “%(name)s” created.") % {"name": rule.name})
            return redirect("web:rule_list")
    ctx = _rule_form_context(data, errors)
    ctx["rules"] = list(ApprovalRule.objects.order_by("-is_active", "kind", "threshold", "pk"))
    return render(request, "web/admin/rule_list.html", ctx, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    rule = get_object_or_404(ApprovalRule, pk=pk)
    require(actor, Action.MANAGE_RULES)
    data = _rule_data_of(rule)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if "toggle_active" in request.POST:
            data["is_active"] = not rule.is_active
        else:
            data = _rule_data(request)
        try:
            rule = update_rule(actor=actor, rule=rule, data=data)
        except ValidationFailed as exc:
            errors = _errors_of(exc)
            status = 400
        else:
            if "toggle_active" in request.POST:
                text = (
                    _("Rule “%(name)s” activated.")
                    if rule.is_active
                    else _("Rule “%(name)s” deactivated.")
                )
            else:
                text = _("Rule “%(name)s” saved.")
            messages.success(request, text % {"name": rule.name})
            return redirect("web:rule_list")
    ctx = _rule_form_context(data, errors)
    ctx.update(rule=rule, events=list(events_for(rule)[:100]))
    return render(request, "web/admin/rule_edit.html", ctx, status=status)


@login_required
@require_GET
def procedure_sheet_list(request: HttpRequest) -> HttpResponse:
    require(actor_of(request), Action.MANAGE_RULES)
    sheets = {sheet.role: sheet for sheet in ProcedureSheet.objects.all()}
    rows = [(role.value, role.label, sheets.get(role.value)) for role in SHEET_ROLES]
    return render(request, "web/admin/procedure_sheet_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def procedure_sheet_edit(request: HttpRequest, role: str) -> HttpResponse:
    if role not in [r.value for r in SHEET_ROLES]:
        raise Http404("no procedure sheet for this role")
    actor = actor_of(request)
    require(actor, Action.MANAGE_RULES)
    sheet = ProcedureSheet.objects.filter(role=role).first()
    title = sheet.title if sheet else ""
    checklist = sheet.checklist if sheet else ""
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        title = request.POST.get("title", "")[:200]
        checklist = request.POST.get("checklist", "")[:MAX_TEXT]
        try:
            update_procedure_sheet(actor=actor, role=role, title=title, checklist=checklist)
        except ValidationFailed as exc:
            errors = _errors_of(exc)
            status = 400
        else:
            messages.success(request, _("Procedure sheet saved."))
            return redirect("web:procedure_sheet_list")
    return render(
        request,
        "web/admin/procedure_sheet_edit.html",
        {
            "role": role,
            "role_label": Role(role).label,
            "sheet": sheet,
            "title_value": title,
            "checklist": checklist,
            "errors": errors,
            "events": list(events_for(sheet)[:100]) if sheet else [],
        },
        status=status,
    )
