"""What the collections screens share: who may read them, refusals, redirects, pages.

The services check every write (`require`); these screens also refuse to *show* the
collections back office (bank lines, payers' IBANs, reminders) to roles that have no use
for it. The permission matrix has no "view collections" action yet, so the readers are
listed here: the roles that act on collections, plus Direction and the auditors who read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme

from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied, can
from levier.lib.errors import DomainError
from levier.sales.transitions import InvalidTransition
from levier.web.views.billing import _refusal_status, _refuse
from levier.web.views.customers import request_actor

PAGE_SIZE = 50
# The service refusals a screen turns into a message or a form error with a 4xx.
REFUSALS: tuple[type[Exception], ...] = (DomainError, PermissionDenied, InvalidTransition)


def may_read_collections(user: User) -> bool:
    return can(user, Action.VIEW_COLLECTIONS)


def require_reader(request: HttpRequest, action: Action = Action.MATCH_PAYMENTS) -> User:
    """The signed-in user if they may read the collections screens, else PermissionDenied.

    `action` is what the refusal names: the main action of the screen (the middleware
    answers 403 with the message).
    """
    actor = request_actor(request)
    if not may_read_collections(actor):
        raise PermissionDenied(actor, action)
    return actor


def refuse(request: HttpRequest, exc: Exception) -> int:
    """A service's refusal as messages; returns the HTTP status it deserves."""
    _refuse(request, exc)
    return refusal_status(exc)


def refusal_status(exc: Exception) -> int:
    return _refusal_status(exc)


def redirect_back(request: HttpRequest, default: str) -> HttpResponse:
    """Back to the screen the button was on (`next`), when it is one of ours."""
    target = str(request.POST.get("next", ""))
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def paginate(request: HttpRequest, rows: Any, size: int = PAGE_SIZE) -> Page[Any]:
    return Paginator(rows, size).get_page(request.GET.get("page"))


def error_messages(request: HttpRequest, errors: Sequence[str]) -> None:
    for error in errors:
        messages.error(request, error)


def form_errors_text(form: Any) -> list[str]:
    """A bound form's errors as "Label: message" lines (for a message after a redirect)."""
    lines: list[str] = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            lines.append(f"{label}: {error}" if label else str(error))
    return lines


def permission_flags(actor: User) -> dict[str, bool]:
    return {
        "can_import": can(actor, Action.IMPORT_BANK_STATEMENTS),
        "can_record": can(actor, Action.RECORD_PAYMENT),
        "can_match": can(actor, Action.MATCH_PAYMENTS),
        "can_run_dunning": can(actor, Action.RUN_DUNNING),
        "can_manage_dunning": can(actor, Action.MANAGE_DUNNING),
        "can_manage_disputes": can(actor, Action.MANAGE_DISPUTES),
        "can_follow_up": can(actor, Action.FOLLOW_UP_ACCOUNT),
    }


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """A PDF the browser downloads under `filename`."""
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=filename) or "attachment"
    )
    return response
