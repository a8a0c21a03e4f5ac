"""Quotes, orders and the validation circuit: the only code that writes them.

Each public function is one business event, runs in one transaction, locks what it changes
(`select_for_update`, customer before order when both are needed), checks the transition
table, writes the audit trail in the same transaction and queues side effects on commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import APPROVAL_ACTION, Action, PermissionDenied, require
from levier.audit.choices import Verb
from levier.audit.services import diff, record_event, snapshot
from levier.catalog.choices import InvoicingMode
from levier.customers.choices import TermsBasis
from levier.customers.models import Customer, DeliveryAddress
from levier.lib.errors import NotAllowed, StaleVersion, ValidationFailed
from levier.lib.payment_terms import PaymentTerms, PaymentTermsError
from levier.lib.payment_terms import TermsBasis as LibTermsBasis
from levier.sales.choices import ApprovalStatus, OrderStatus, QuoteStatus
from levier.sales.circuit import OrderFacts, RuleView, required_steps
from levier.sales.lines import LineData, describe_lines, parse_lines, raw_lines_of, totals_of
from levier.sales.models import (
    ApprovalRule,
    ApprovalStep,
    DocumentCounter,
    Order,
    OrderLine,
    Quote,
    QuoteLine,
    SalesDocument,
)
from levier.sales.transitions import check_order_transition, check_quote_transition

ORDER_HEADER_FIELDS = [
    "customer_id",
    "po_number",
    "requested_delivery_date",
    "delivery_address_id",
    "invoicing_mode",
    "payment_terms_days",
    "payment_terms_basis",
    "notes",
    "total_net",
    "total_vat",
    "total_gross",
]
# Orders that still weigh on the customer's credit (later issues add open receivables).
EXPOSURE_STATUSES = (OrderStatus.SUBMITTED, OrderStatus.VALIDATED)


# ---------------------------------------------------------------- numbering


def next_number(prefix: str, year: int) -> str:
    """CMD-2026-000042. A locked counter row; orders and quotes may skip, invoices never do.

    One `UPDATE … RETURNING` takes the row lock and increments in a single round trip (both
    SQLite ≥ 3.35 and PostgreSQL support it); the row is created on first use of a key.
    """
    key = f"{prefix}-{year}"
    q = connection.ops.quote_name
    sql = (
        f"UPDATE {q(DocumentCounter._meta.db_table)} SET {q('last_value')} = {q('last_value')} + 1 "
        f"WHERE {q('key')} = %s RETURNING {q('last_value')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        DocumentCounter.objects.get_or_create(key=key)
        return next_number(prefix, year)
    return f"{prefix}-{year}-{row[0]:06d}"


# ---------------------------------------------------------------- shared header handling


def _terms(days: Any, basis: Any, customer: Customer) -> tuple[int, str]:
    if days in (None, ""):
        return customer.payment_terms_days, customer.payment_terms_basis
    try:
        days_int = int(days)
    except (TypeError, ValueError):
        message = _("payment terms: “%(value)s” is not a whole number of days") % {"value": days}
        raise ValidationFailed(message, errors={"payment_terms_days": [message]}) from None
    basis = basis or TermsBasis.NET
    if basis not in TermsBasis.values:
        message = _("payment terms basis: unknown value “%(value)s”") % {"value": basis}
        raise ValidationFailed(message, errors={"payment_terms_basis": [message]})
    try:
        PaymentTerms(days_int, LibTermsBasis(basis)).check_legal()
    except PaymentTermsError as exc:
        message = _("payment terms: %(problem)s") % {"problem": exc}
        raise ValidationFailed(
            message, errors={"payment_terms_days": [message]}, code="terms_over_legal_cap"
        ) from None
    return days_int, str(basis)


def _usable_customer(customer: Customer) -> None:
    if not customer.is_active or customer.merged_into_id is not None:
        message = _(
            "customer %(name)s: inactive or merged into another record; use the surviving one"
        ) % {"name": customer}
        raise ValidationFailed(message, errors={"customer": [message]})


def _check_invoicing_mode(mode: str) -> str:
    if mode not in InvoicingMode.values:
        message = _("invoicing mode: unknown value “%(value)s”") % {"value": mode}
        raise ValidationFailed(message, errors={"invoicing_mode": [message]})
    return mode


def _apply_totals(document: SalesDocument, lines: Sequence[LineData]) -> None:
    totals = totals_of(lines)
    document.total_net, document.total_vat, document.total_gross = (
        totals.net,
        totals.vat,
        totals.gross,
    )


def _line_kwargs(n: int, line: LineData) -> dict[str, Any]:
    return {
        "position": n,
        "product_id": line.product_id,
        "description": line.description,
        "quantity": line.quantity,
        "unit": line.unit,
        "unit_price": line.unit_price,
        "discount_percent": line.discount_percent,
        "vat_rate": line.vat_rate,
        "net_amount": line.net_amount,
    }


def _own_or_adv(actor: User, document: SalesDocument) -> None:
    """Sales reps edit their own documents; ADV edits anyone's."""
    if actor.role == Role.COMMERCIAL and document.created_by_id != actor.pk:
        raise PermissionDenied(actor, Action.EDIT_ORDER)


def _delivery_address(customer: Customer, address_id: Any) -> DeliveryAddress | None:
    if address_id in (None, ""):
        return None
    address = DeliveryAddress.objects.filter(pk=address_id, customer=customer).first()
    if address is None:
        raise ValidationFailed(
            "delivery address: not one of this customer's addresses",
            errors={"delivery_address": ["not one of this customer's addresses"]},
        )
    return address


# ---------------------------------------------------------------- orders


@transaction.atomic
def create_order(
    *,
    actor: User,
    customer: Customer,
    lines: Sequence[Mapping[str, Any]],
    po_number: str = "",
    requested_delivery_date: dt.date | None = None,
    invoicing_mode: str = InvoicingMode.ON_ORDER,
    payment_terms_days: int | str | None = None,
    payment_terms_basis: str | None = None,
    delivery_address_id: int | str | None = None,
    notes: str = "",
    quote: Quote | None = None,
) -> Order:
    require(actor, Action.EDIT_ORDER)
    _usable_customer(customer)
    parsed = parse_lines(lines)
    days, basis = _terms(payment_terms_days, payment_terms_basis, customer)
    order = Order(
        number=next_number("CMD", timezone.localdate().year),
        customer=customer,
        created_by=actor,
        quote=quote,
        po_number=po_number.strip()[:50],
        requested_delivery_date=requested_delivery_date,
        delivery_address=_delivery_address(customer, delivery_address_id),
        invoicing_mode=_check_invoicing_mode(invoicing_mode),
        payment_terms_days=days,
        payment_terms_basis=basis,
        notes=notes,
    )
    _apply_totals(order, parsed)
    order.save()
    OrderLine.objects.bulk_create(
        OrderLine(order=order, **_line_kwargs(n, line)) for n, line in enumerate(parsed, start=1)
    )
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=order,
        changes={
            **snapshot(order, [*ORDER_HEADER_FIELDS, "status"]),
            "lines": describe_lines(parsed),
        },
    )
    return order


def _lock_order(order: Order, *, with_customer: bool = False) -> Order:
    """Lock and re-read the order (and its customer when the rule needs the customer's data).

    Locking the customer row too serializes the submissions of one customer, so two orders
    submitted at the same moment cannot both pass the credit-limit check on stale exposure.
    """
    if not with_customer:
        return Order.objects.select_for_update().get(pk=order.pk)
    # Fixed lock order, customer then order, as merge_customers does: no deadlock between
    # a submission and a merge. The customer may change between the read and the locks
    # (an edit moving the draft to another customer): then lock again.
    while True:
        customer_id = Order.objects.filter(pk=order.pk).values_list("customer_id", flat=True).get()
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.customer_id == customer_id:
            locked.customer = customer
            return locked


def _check_version(document: SalesDocument, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != document.version:
        raise StaleVersion(
            _(
                "%(number)s was changed by someone else (version %(current)s, you edited "
                "version %(yours)s); reload it and redo your change"
            )
            % {"number": document.number, "current": document.version, "yours": expected_version}
        )


@transaction.atomic
def update_order(
    *,
    actor: User,
    order: Order,
    expected_version: int | None,
    lines: Sequence[Mapping[str, Any]] | None = None,
    **fields: Any,
) -> Order:
    """Edit a draft. `expected_version` is the version the user loaded (optimistic lock)."""
    require(actor, Action.EDIT_ORDER)
    order = _lock_order(order, with_customer=True)
    _own_or_adv(actor, order)
    _check_version(order, expected_version)
    if order.status != OrderStatus.DRAFT:
        raise NotAllowed(
            _("%(number)s is %(status)s: only drafts can be edited")
            % {"number": order.number, "status": order.get_status_display()}
        )
    before = snapshot(order, ORDER_HEADER_FIELDS)
    allowed = {"po_number", "requested_delivery_date", "invoicing_mode", "notes", "customer"}
    unknown = (
        set(fields) - allowed - {"payment_terms_days", "payment_terms_basis", "delivery_address_id"}
    )
    if unknown:
        raise ValidationFailed(
            _("unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    if "customer" in fields and fields["customer"].pk != order.customer_id:
        _usable_customer(fields["customer"])
        order.customer = fields["customer"]
        # The old customer's delivery address cannot stay on the new customer's order.
        if "delivery_address_id" not in fields:
            order.delivery_address = None
    if "po_number" in fields:
        fields["po_number"] = (fields["po_number"] or "").strip()[:50]
    for name in ("po_number", "requested_delivery_date", "notes"):
        if name in fields:
            setattr(
                order, name, fields[name] or ("" if name != "requested_delivery_date" else None)
            )
    if "invoicing_mode" in fields:
        order.invoicing_mode = _check_invoicing_mode(fields["invoicing_mode"])
    if "payment_terms_days" in fields:
        order.payment_terms_days, order.payment_terms_basis = _terms(
            fields["payment_terms_days"], fields.get("payment_terms_basis"), order.customer
        )
    if "delivery_address_id" in fields:
        order.delivery_address = _delivery_address(order.customer, fields["delivery_address_id"])
    changes: dict[str, Any] = {}
    if lines is not None:
        parsed = parse_lines(lines)
        old_lines = list(order.lines.all())
        _apply_totals(order, parsed)
        order.lines.all().delete()
        OrderLine.objects.bulk_create(
            OrderLine(order=order, **_line_kwargs(n, line))
            for n, line in enumerate(parsed, start=1)
        )
        new_text = describe_lines(parsed)
        old_text = describe_lines(old_lines)
        if new_text != old_text:
            changes["lines"] = [old_text, new_text]
    order.last_edited_by = actor
    order.version += 1
    order.save()
    changes.update(diff(before, snapshot(order, ORDER_HEADER_FIELDS)))
    record_event(actor=actor, verb=Verb.UPDATE, instance=order, changes=changes)
    return order


def missing_for_submission(order: Order, line_count: int | None = None) -> list[str]:
    """What blocks submission, in words the sales rep can act on."""
    if line_count is None:
        line_count = order.lines.count()
    customer = order.customer
    missing: list[str] = []
    if customer.country == "FR" and not customer.siret:
        missing.append(_("Customer %(name)s: SIRET missing") % {"name": customer.name})
    if customer.country == "FR" and not customer.siren:
        missing.append(_("Customer %(name)s: SIREN missing") % {"name": customer.name})
    if not (customer.address_line1 and customer.postcode and customer.city):
        missing.append(_("Customer %(name)s: billing address incomplete") % {"name": customer.name})
    if not customer.contacts.filter(is_accounts_payable=True).exclude(email="").exists():
        missing.append(
            _("Customer %(name)s: no billing (accounts payable) contact with an email")
            % {"name": customer.name}
        )
    if customer.po_number_required and not order.po_number:
        missing.append(_("This customer requires its purchase order (PO) number"))
    if line_count == 0:
        missing.append(_("The order has no line"))
    return missing


def _exposure_after(order: Order) -> Decimal:
    others = (
        Order.objects.filter(customer_id=order.customer_id, status__in=EXPOSURE_STATUSES)
        .exclude(pk=order.pk)
        .aggregate(total=Sum("total_gross"))["total"]
    )
    return (others or Decimal("0")) + order.total_gross


def line_stats(order: Order) -> tuple[int, Decimal]:
    """Number of lines and the largest discount, in one aggregate query."""
    stats = order.lines.aggregate(n=Count("id"), m=Max("discount_percent"))
    return stats["n"], stats["m"] or Decimal("0")


def order_facts(order: Order, max_discount: Decimal | None = None) -> OrderFacts:
    if max_discount is None:
        max_discount = line_stats(order)[1]
    customer = order.customer
    return OrderFacts(
        total_net=order.total_net,
        max_discount_percent=max_discount,
        terms=order.payment_terms,
        customer_terms=customer.payment_terms,
        exposure_after=_exposure_after(order)
        if customer.credit_limit is not None
        else Decimal("0"),
        credit_limit=customer.credit_limit,
    )


def active_rules() -> list[RuleView]:
    return [
        RuleView(kind=r.kind, threshold=r.threshold, approver_role=r.approver_role, name=r.name)
        for r in ApprovalRule.objects.filter(is_active=True)
    ]


@transaction.atomic
def submit_order(*, actor: User, order: Order, expected_version: int | None = None) -> Order:
    require(actor, Action.SUBMIT_ORDER)
    order = _lock_order(order, with_customer=True)
    _own_or_adv(actor, order)
    _check_version(order, expected_version)
    check_order_transition(order.status, OrderStatus.SUBMITTED)
    line_count, max_discount = line_stats(order)
    missing = missing_for_submission(order, line_count)
    if missing:
        raise ValidationFailed(
            _("The order cannot be submitted: %(missing)s") % {"missing": "; ".join(missing)},
            errors={"__all__": missing},
            code="incomplete",
        )
    try:
        order.payment_terms.check_legal()
    except PaymentTermsError as exc:
        raise ValidationFailed(
            _("payment terms: %(problem)s") % {"problem": exc}, code="terms_over_legal_cap"
        ) from None
    steps = required_steps(order_facts(order, max_discount), active_rules())
    order.submission_round += 1
    ApprovalStep.objects.bulk_create(
        ApprovalStep(
            order=order,
            round=order.submission_round,
            sequence=n,
            role=spec.role,
            reasons="\n".join(spec.reasons),
        )
        for n, spec in enumerate(steps, start=1)
    )
    order.status = OrderStatus.SUBMITTED
    order.submitted_at = timezone.now()
    order.submitted_by = actor
    order.rejection_reason = ""
    order.version += 1
    order.save(
        update_fields=[
            "status",
            "submitted_at",
            "submitted_by",
            "submission_round",
            "rejection_reason",
            "version",
            "updated_at",
        ]
    )
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=order,
        changes={
            "status": [OrderStatus.DRAFT, OrderStatus.SUBMITTED],
            "circuit": [s.role for s in steps],
        },
    )
    return order


def current_step(order: Order) -> ApprovalStep | None:
    """The first pending step of the current round: the only one that can be decided now."""
    return (
        ApprovalStep.objects.filter(
            order=order, round=order.submission_round, status=ApprovalStatus.PENDING
        )
        .order_by("sequence")
        .first()
    )


def _pending_steps(order: Order) -> list[ApprovalStep]:
    return list(
        ApprovalStep.objects.filter(
            order=order, round=order.submission_round, status=ApprovalStatus.PENDING
        ).order_by("sequence")
    )


def _decide_checks(actor: User, order: Order) -> tuple[ApprovalStep, list[ApprovalStep]]:
    """The step to decide now and the ones after it; refuses whoever may not decide it."""
    if order.status != OrderStatus.SUBMITTED:
        raise NotAllowed(
            _("%(number)s is %(status)s: nothing to approve")
            % {"number": order.number, "status": order.get_status_display()}
        )
    pending = _pending_steps(order)
    if not pending:  # pragma: no cover - a submitted order always has a pending step
        raise NotAllowed(_("%(number)s has no pending approval step") % {"number": order.number})
    step, later = pending[0], pending[1:]
    require(actor, APPROVAL_ACTION[Role(step.role)])
    if actor.role != step.role:
        raise PermissionDenied(actor, APPROVAL_ACTION[Role(step.role)])
    if actor.pk in {order.created_by_id, order.submitted_by_id, order.last_edited_by_id}:
        raise NotAllowed(
            _(
                "%(user)s wrote, changed or submitted %(number)s and cannot approve it: another person must"
            )
            % {"user": actor.username, "number": order.number}
        )
    return step, later


@transaction.atomic
def approve_order(
    *, actor: User, order: Order, comment: str = "", expected_version: int | None = None
) -> Order:
    """Approve the current step. `expected_version` is the version the approver looked at:
    an order reopened, changed and resubmitted since then is refused, never approved unseen.
    """
    order = _lock_order(order)
    _check_version(order, expected_version)
    step, later = _decide_checks(actor, order)
    now = timezone.now()
    step.status, step.decided_by, step.decided_at, step.comment = (
        ApprovalStatus.APPROVED,
        actor,
        now,
        comment,
    )
    step.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    record_event(
        actor=actor, verb=Verb.APPROVE, instance=order, changes={"step": step.role}, comment=comment
    )
    if not later:
        check_order_transition(order.status, OrderStatus.VALIDATED)
        order.status, order.validated_at = OrderStatus.VALIDATED, now
        order.version += 1
        order.save(update_fields=["status", "validated_at", "version", "updated_at"])
        record_event(
            actor=actor,
            verb=Verb.TRANSITION,
            instance=order,
            changes={"status": [OrderStatus.SUBMITTED, OrderStatus.VALIDATED]},
        )
        # The pending email is written in this transaction, the job queued after commit.
        from levier.sales.jobs import queue_order_confirmation  # jobs import services' models

        queue_order_confirmation(order)
    return order


@transaction.atomic
def reject_order(
    *, actor: User, order: Order, comment: str, expected_version: int | None = None
) -> Order:
    if not comment.strip():
        message = _("A rejection needs a reason")
        raise ValidationFailed(message, errors={"comment": [message]})
    order = _lock_order(order)
    _check_version(order, expected_version)
    step, later = _decide_checks(actor, order)
    now = timezone.now()
    step.status, step.decided_by, step.decided_at, step.comment = (
        ApprovalStatus.REJECTED,
        actor,
        now,
        comment,
    )
    step.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    if later:
        ApprovalStep.objects.filter(pk__in=[s.pk for s in later]).update(status=ApprovalStatus.VOID)
    check_order_transition(order.status, OrderStatus.REJECTED)
    order.status, order.rejection_reason = OrderStatus.REJECTED, comment
    order.version += 1
    order.save(update_fields=["status", "rejection_reason", "version", "updated_at"])
    record_event(
        actor=actor,
        verb=Verb.REJECT,
        instance=order,
        changes={"status": [OrderStatus.SUBMITTED, OrderStatus.REJECTED], "step": step.role},
        comment=comment,
    )
    return order


@transaction.atomic
def reopen_order(*, actor: User, order: Order) -> Order:
    """A rejected order goes back to draft for correction; the reason stays on it."""
    require(actor, Action.EDIT_ORDER)
    order = _lock_order(order)
    _own_or_adv(actor, order)
    check_order_transition(order.status, OrderStatus.DRAFT)
    order.status = OrderStatus.DRAFT
    order.version += 1
    order.save(update_fields=["status", "version", "updated_at"])
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=order,
        changes={"status": [OrderStatus.REJECTED, OrderStatus.DRAFT]},
    )
    return order


@transaction.atomic
def cancel_order(*, actor: User, order: Order, reason: str) -> Order:
    require(actor, Action.EDIT_ORDER)
    if not reason.strip():
        message = _("A cancellation needs a reason")
        raise ValidationFailed(message, errors={"reason": [message]})
    order = _lock_order(order)
    _own_or_adv(actor, order)
    previous = order.status
    check_order_transition(order.status, OrderStatus.CANCELLED)
    ApprovalStep.objects.filter(order=order, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.VOID
    )
    order.status = OrderStatus.CANCELLED
    order.version += 1
    order.save(update_fields=["status", "version", "updated_at"])
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=order,
        changes={"status": [previous, OrderStatus.CANCELLED]},
        comment=reason,
    )
    return order


# ---------------------------------------------------------------- quotes


@transaction.atomic
def create_quote(
    *,
    actor: User,
    customer: Customer,
    lines: Sequence[Mapping[str, Any]],
    valid_until: dt.date | None = None,
    invoicing_mode: str = InvoicingMode.ON_ORDER,
    payment_terms_days: int | str | None = None,
    payment_terms_basis: str | None = None,
    notes: str = "",
) -> Quote:
    require(actor, Action.EDIT_ORDER)
    _usable_customer(customer)
    parsed = parse_lines(lines)
    days, basis = _terms(payment_terms_days, payment_terms_basis, customer)
    quote = Quote(
        number=next_number("DEV", timezone.localdate().year),
        customer=customer,
        created_by=actor,
        valid_until=valid_until or timezone.localdate() + dt.timedelta(days=30),
        invoicing_mode=_check_invoicing_mode(invoicing_mode),
        payment_terms_days=days,
        payment_terms_basis=basis,
        notes=notes,
    )
    _apply_totals(quote, parsed)
    quote.save()
    QuoteLine.objects.bulk_create(
        QuoteLine(quote=quote, **_line_kwargs(n, line)) for n, line in enumerate(parsed, start=1)
    )
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=quote,
        changes={
            "customer_id": customer.pk,
            "total_net": quote.total_net,
            "lines": describe_lines(parsed),
        },
    )
    return quote


def _set_quote_status(actor: User, quote: Quote, target: QuoteStatus, comment: str = "") -> Quote:
    require(actor, Action.EDIT_ORDER)
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    _own_or_adv(actor, quote)
    previous = quote.status
    check_quote_transition(quote.status, target)
    quote.status = target
    quote.version += 1
    quote.save(update_fields=["status", "version", "updated_at"])
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=quote,
        changes={"status": [previous, target]},
        comment=comment,
    )
    return quote


@transaction.atomic
def send_quote(*, actor: User, quote: Quote) -> Quote:
    return _set_quote_status(actor, quote, QuoteStatus.SENT)


@transaction.atomic
def decline_quote(*, actor: User, quote: Quote, reason: str = "") -> Quote:
    return _set_quote_status(actor, quote, QuoteStatus.DECLINED, reason)


@transaction.atomic
def convert_quote_to_order(
    *,
    actor: User,
    quote: Quote,
    po_number: str = "",
    requested_delivery_date: dt.date | None = None,
) -> Order:
    """The accepted quote becomes a draft order with the same lines, terms and mode."""
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if quote.valid_until and quote.valid_until < timezone.localdate():
        raise NotAllowed(
            _("%(number)s expired on %(date)s: issue a new quote")
            % {"number": quote.number, "date": quote.valid_until.strftime("%d/%m/%Y")}
        )
    quote = _set_quote_status(actor, quote, QuoteStatus.ACCEPTED)
    lines = raw_lines_of(quote.lines.all())
    return create_order(
        actor=actor,
        customer=quote.customer,
        lines=lines,
        po_number=po_number,
        requested_delivery_date=requested_delivery_date,
        invoicing_mode=quote.invoicing_mode,
        payment_terms_days=quote.payment_terms_days,
        payment_terms_basis=quote.payment_terms_basis,
        notes=quote.notes,
        quote=quote,
    )
