"""The worklist: what waits for the signed-in user, by role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from levier.accounts.choices import Role
from levier.accounts.permissions import Action, can
from levier.sales.models import Order
from levier.sales.selectors import (
    my_open_orders,
    my_open_quotes,
    my_submitted_orders,
    orders_awaiting,
)
from levier.web.views.contracts import renewal_worklist
from levier.web.views.orders import actor_of

WORKLIST_SIZE = 50


@dataclass
class Worklist:
    key: str  # stable id for the template and the tests
    title: Any
    documents: list[Any]
    kind: str = "order"  # "order" or "quote"
    age_from: str = "created_at"
    empty: Any = None  # what to say when the list is empty (default: "Nothing here.")


def _first(queryset: QuerySet[Any]) -> list[Any]:
    return list(queryset[:WORKLIST_SIZE])


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    role = actor.role
    lists: list[Worklist] = []
    if role in (Role.ADV, Role.COMPTABILITE, Role.DIRECTION):
        titles = {
            Role.ADV: _("Orders awaiting my check"),
            Role.COMPTABILITE: _("Orders awaiting my approval (accounting)"),
            Role.DIRECTION: _("Orders awaiting my approval (management)"),
        }
        lists.append(
            Worklist(
                "awaiting",
                titles[Role(role)],
                _first(orders_awaiting(role)),
                age_from="submitted_at",
                empty=_("No order waits for you."),
            )
        )
    if can(actor, Action.EDIT_ORDER):
        own = [
            Worklist(
                "drafts",
                _("My drafts and rejected orders"),
                _first(my_open_orders(actor)),
                age_from="updated_at",
            ),
            Worklist(
                "submitted",
                _("My orders in validation"),
                _first(my_submitted_orders(actor)),
                age_from="submitted_at",
            ),
            Worklist("quotes", _("My open quotes"), _first(my_open_quotes(actor)), kind="quote"),
        ]
        # Sales reps live in these lists; ADV, who also writes orders, sees only the busy ones.
        lists += own if role == Role.COMMERCIAL else [w for w in own if w.documents]
    # ADV watches the notice deadlines of tacitly renewed contracts: one missed, one more term.
    renewals = renewal_worklist(timezone.localdate()) if role == Role.ADV else None
    # Accounting's collections day: what the collector's worklist holds (levier.collections).
    collector_day = None
    if role == Role.COMPTABILITE:
        from levier.web.views.collections_followup import day_summary

        collector_day = day_summary(timezone.localdate())
    if role == Role.AUDITEUR:
        recent = Order.objects.select_related("customer").order_by("-created_at", "-pk")
        lists.append(Worklist("recent", _("Recent orders"), _first(recent)))
    if role == Role.DIRECTION and not request.GET.get("worklist"):
        # The Direction's home is the KPI dashboard, with the orders awaiting its approval;
        # the full worklist stays at /?worklist=1.
        from levier.web.views.kpis import dashboard_response

        return dashboard_response(request, actor, worklists=lists)
    return render(
        request,
        "web/home/home.html",
        {
            "worklists": lists,
            "renewals": renewals,
            "collector_day": collector_day,
            "is_admin": can(actor, Action.MANAGE_RULES),
            "can_create": can(actor, Action.EDIT_ORDER),
        },
    )
