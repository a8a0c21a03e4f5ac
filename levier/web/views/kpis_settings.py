"""Administration › Indicateurs: the KPI thresholds and the weekly report (the Administrateur).

Two screens: the thresholds table (amber and red limits and the direction of each figure,
its default and where it comes from), and the weekly report (its recipients, "send the
report now", the history of sendings). Only the Administrateur may open them
(`MANAGE_KPI_SETTINGS`; the services check it again). A refused input is a form error
naming the field with a 400, the data left as it was; never a 500.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.kpis.history import figures_date, monday_of
from levier.kpis.models import ReportRecipient, WeeklyReportSending
from levier.kpis.report import (
    ReportNotSent,
    add_recipient,
    recipient_lines,
    remove_recipient,
    send_weekly_report,
    set_recipient_enabled,
)
from levier.kpis.thresholds import (
    UNIT_LABELS,
    Threshold,
    clear_threshold,
    reset_threshold,
    save_threshold,
    thresholds,
)
from levier.lib.errors import ValidationFailed
from levier.web.views.collections_common import paginate
from levier.web.views.customers import request_actor

MAX_INPUT = 40
EARLIEST = dt.date(2000, 1, 3)  # a Monday; a report of an earlier week makes no sense


def _manager(request: HttpRequest) -> User:
    actor = request_actor(request)
    require(actor, Action.MANAGE_KPI_SETTINGS)
    return actor


def _errors_of(exc: ValidationFailed) -> dict[str, list[str]]:
    errors = {("general" if k == "__all__" else k): v for k, v in exc.errors.items()}
    return errors or {"general": [exc.message]}


# --- thresholds ---------------------------------------------------------------------------------


def _rows(
    found: dict[str, Threshold], key: str = "", data: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One row per figure; the row being edited keeps what was typed (`data`)."""
    rows = []
    for threshold in found.values():
        row: dict[str, Any] = {
            "key": threshold.key,
            "label": threshold.label,
            "unit": str(UNIT_LABELS.get(threshold.unit, threshold.unit)),
            "amber": "" if threshold.amber is None else f"{threshold.amber.normalize():f}",
            "red": "" if threshold.red is None else f"{threshold.red.normalize():f}",
            "higher_is_better": threshold.higher_is_better,
            "defined": threshold.defined,
            "is_default": threshold.is_default,
            "source": threshold.source,
            "errors": {},
        }
        if threshold.key == key and data is not None:
            row.update(data)
        rows.append(row)
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def kpi_thresholds(request: HttpRequest) -> HttpResponse:
    actor = _manager(request)
    found = thresholds()
    if request.method != "POST":
        return render(request, "web/kpis/settings_thresholds.html", {"rows": _rows(found)})
    key = str(request.POST.get("key", ""))[:60]
    action = str(request.POST.get("action", "save"))
    amber = str(request.POST.get("amber", ""))[:MAX_INPUT]
    red = str(request.POST.get("red", ""))[:MAX_INPUT]
    higher_is_better = request.POST.get("higher_is_better") == "1"
    data: dict[str, Any] = {"amber": amber, "red": red, "higher_is_better": higher_is_better}
    try:
        if action == "clear":
            saved = clear_threshold(actor=actor, key=key)
            text = _("%(label)s: no status from now on.")
        elif action == "reset":
            saved = reset_threshold(actor=actor, key=key)
            text = _("%(label)s: back to the default limits.")
        elif action == "save":
            saved = save_threshold(
                actor=actor,
                key=key,
                amber=amber,
                red=red,
                higher_is_better=higher_is_better,
            )
            text = _("%(label)s: limits saved.")
        else:
            raise ValidationFailed.on("action", _("Unknown action"))
    except ValidationFailed as exc:
        errors = _errors_of(exc)
        if key not in found:
            general = [message for messages_ in errors.values() for message in messages_]
            context = {"rows": _rows(found), "general_errors": general}
        else:
            data["errors"] = errors
            context = {"rows": _rows(found, key, data), "edited": key}
        return render(request, "web/kpis/settings_thresholds.html", context, status=400)
    messages.success(request, text % {"label": saved.label})
    return redirect("web:kpi_thresholds")


# --- the weekly report --------------------------------------------------------------------------


def _report_page(
    request: HttpRequest,
    *,
    errors: dict[str, list[str]] | None = None,
    data: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    today = timezone.localdate()
    week = monday_of(today)
    listed_users = set(
        ReportRecipient.objects.filter(user__isnull=False).values_list("user_id", flat=True)
    )
    candidates = (
        User.objects.filter(is_active=True)
        .exclude(role=Role.DIRECTION)
        .exclude(email="")
        .exclude(pk__in=listed_users)
        .order_by("last_name", "first_name", "username")
    )
    context = {
        "lines": recipient_lines(),
        "candidates": candidates,
        "errors": errors or {},
        "data": data or {},
        "page": paginate(
            request,
            WeeklyReportSending.objects.select_related("requested_by").order_by("-sent_at", "-pk"),
        ),
        "this_week": week,
        "this_week_as_of": figures_date(week),
    }
    return render(request, "web/kpis/settings_report.html", context, status=status)


@login_required
@require_GET
def kpi_report_settings(request: HttpRequest) -> HttpResponse:
    _manager(request)
    return _report_page(request)


def _int(raw: object) -> int | None:
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


@login_required
@require_POST
def kpi_recipient_add(request: HttpRequest) -> HttpResponse:
    actor = _manager(request)
    data = {
        "email": str(request.POST.get("email", ""))[:300],
        "user": str(request.POST.get("user", ""))[:30],
    }
    try:
        row = add_recipient(actor=actor, email=data["email"], user_id=data["user"] or None)
    except ValidationFailed as exc:
        return _report_page(request, errors=_errors_of(exc), data=data, status=400)
    messages.success(request, _("%(who)s will receive the weekly report.") % {"who": row})
    return redirect("web:kpi_report_settings")


@login_required
@require_POST
def kpi_recipient_toggle(request: HttpRequest) -> HttpResponse:
    actor = _manager(request)
    enabled = request.POST.get("enabled") == "1"
    row_id = _int(request.POST.get("row")) if request.POST.get("row") else None
    user_id = _int(request.POST.get("user")) if row_id is None else None
    try:
        if row_id is None and user_id is None:
            raise ValidationFailed.on("recipient", _("Recipient: not on the list"))
        row = set_recipient_enabled(actor=actor, enabled=enabled, row_id=row_id, user_id=user_id)
    except ValidationFailed as exc:
        return _report_page(request, errors=_errors_of(exc), status=400)
    text = (
        _("%(who)s will receive the weekly report.")
        if enabled
        else _("%(who)s will no longer receive the weekly report.")
    )
    messages.success(request, text % {"who": row})
    return redirect("web:kpi_report_settings")


@login_required
@require_POST
def kpi_recipient_remove(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _manager(request)
    try:
        if _int(pk) is None:
            raise ValidationFailed.on("recipient", _("Recipient: not on the list"))
        remove_recipient(actor=actor, row_id=pk)
    except ValidationFailed as exc:
        return _report_page(request, errors=_errors_of(exc), status=400)
    messages.success(request, _("Recipient removed."))
    return redirect("web:kpi_report_settings")


@login_required
@require_POST
def kpi_report_send(request: HttpRequest) -> HttpResponse:
    """Send the report now: this week's (figures as of last Sunday), or a past week's."""
    actor = _manager(request)
    raw = str(request.POST.get("as_of", "")).strip()[:20]
    day: dt.date | None = None
    if raw:
        try:
            day = dt.date.fromisoformat(raw)
            if not EARLIEST <= day <= timezone.localdate():
                raise ValueError(raw)
        except ValueError:
            return _report_page(
                request,
                errors={"as_of": [_("Week: a past date (YYYY-MM-DD), from 2000 on")]},
                data={"as_of": raw},
                status=400,
            )
    try:
        sent_to = send_weekly_report(day, actor=actor)
    except ValidationFailed as exc:
        return _report_page(request, errors=_errors_of(exc), data={"as_of": raw}, status=400)
    except ReportNotSent as exc:
        return _report_page(
            request, errors={"send": [exc.message]}, data={"as_of": raw}, status=exc.http_status
        )
    messages.success(request, _("Weekly report sent to %(to)s.") % {"to": ", ".join(sent_to)})
    return redirect("web:kpi_report_settings")
