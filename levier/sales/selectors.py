"""Read queries shared by the web UI, the demo and (later) the API and KPIs."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.sales.choices import ApprovalStatus, OrderStatus, QuoteStatus
from levier.sales.models import ApprovalStep, Order, ProcedureSheet, Quote


def orders_awaiting(role: Role | str) -> QuerySet[Order]:
    """Submitted orders whose current step (first pending one) belongs to `role`."""
    earlier_pending = ApprovalStep.objects.filter(
        order=OuterRef("order"),
        round=OuterRef("round"),
        status=ApprovalStatus.PENDING,
        sequence__lt=OuterRef("sequence"),
    )
    current = ApprovalStep.objects.filter(
        order=OuterRef("pk"),
        round=OuterRef("submission_round"),
        status=ApprovalStatus.PENDING,
        role=role,
    ).filter(~Exists(earlier_pending))
    return (
        Order.objects.filter(status=OrderStatus.SUBMITTED)
        .filter(Exists(current))
        .select_related("customer", "created_by")
        .order_by("submitted_at", "pk")
    )


def my_open_orders(user: User) -> QuerySet[Order]:
    """A sales rep's drafts and rejected orders: what waits for them."""
    return (
        Order.objects.filter(created_by=user, status__in=[OrderStatus.DRAFT, OrderStatus.REJECTED])
        .select_related("customer")
        .order_by("-updated_at")
    )


def my_submitted_orders(user: User) -> QuerySet[Order]:
    return (
        Order.objects.filter(created_by=user, status=OrderStatus.SUBMITTED)
        .select_related("customer")
        .order_by("-submitted_at")
    )


def my_open_quotes(user: User) -> QuerySet[Quote]:
    return (
        Quote.objects.filter(created_by=user, status__in=[QuoteStatus.DRAFT, QuoteStatus.SENT])
        .select_related("customer")
        .order_by("-updated_at")
    )


def approval_history(order: Order) -> QuerySet[ApprovalStep]:
    return (
        ApprovalStep.objects.filter(order=order)
        .select_related("decided_by")
        .order_by("-round", "sequence")
    )


def procedure_sheet_for(role: Role | str) -> ProcedureSheet | None:
    return ProcedureSheet.objects.filter(role=role).first()
