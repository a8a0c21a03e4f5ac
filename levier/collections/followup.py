"""What a collector records on an account: promises to pay, call notes, tasks done.

A promise holds the reminders of its invoices until its date (levier.collections.dunning
reads it); `review_promises` then says whether it was kept (every invoice settled) or
broken, which puts the account back in the worklist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied, can, require
from levier.audit.choices import Verb
from levier.audit.services import record_event, record_events
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.choices import NoteKind, PromiseStatus, TaskStatus
from levier.collections.models import CollectionNote, CollectionTask, PromiseToPay
from levier.collections.transitions import check_promise_transition
from levier.customers.models import Customer
from levier.integrations.events import Event, EventName, record_domain_event, record_domain_events
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.money import ZERO

MAX_PROMISE_DAYS = 180


@transaction.atomic
def record_promise(
    *,
    actor: User,
    customer: Customer,
    invoices: Sequence[Invoice],
    promised_on: dt.date,
    amount: Decimal | None = None,
    note: str = "",
    today: dt.date | None = None,
) -> PromiseToPay:
    """The customer promised to pay these invoices by a date (amount: their open total)."""
    require(actor, Action.FOLLOW_UP_ACCOUNT)
    today = today or timezone.localdate()
    if not invoices:
        raise ValidationFailed.on(
            "invoices", _("choose the invoices the customer promises to pay"), "empty"
        )
    rows = list(Invoice.objects.filter(pk__in=[i.pk for i in invoices]))
    if any(
        i.customer_id != customer.pk
        or i.status != InvoiceStatus.ISSUED
        or i.kind != DocumentKind.INVOICE
        or (i.open_amount or ZERO) <= ZERO
        for i in rows
    ) or len(rows) != len({i.pk for i in invoices}):
        raise ValidationFailed.on(
            "invoices", _("a promise covers open invoices of this customer only"), "invoices"
        )
    if promised_on < today:
        raise ValidationFailed.on("promised_on", _("the promised date is today or later"), "date")
    if promised_on > today + dt.timedelta(days=MAX_PROMISE_DAYS):
        raise ValidationFailed.on(
            "promised_on",
            _("a promise beyond %(days)s days is a payment plan: ask the Direction")
            % {"days": MAX_PROMISE_DAYS},
            "date",
        )
    open_total = sum((i.open_amount or ZERO for i in rows), ZERO)
    amount = open_total if amount is None else amount
    if amount <= ZERO or amount > open_total:
        raise ValidationFailed.on(
            "amount",
            _("the amount promised is between 0 and the open total (%(total)s €)")
            % {"total": open_total},
            "amount",
        )
    promise = PromiseToPay.objects.create(
        customer=customer,
        promised_on=promised_on,
        amount=amount,
        note=note.strip(),
        created_by=actor,
        created_on=today,
    )
    promise.invoices.set(rows)
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=promise,
        changes={
            "invoices": [i.number for i in rows],
            "promised_on": str(promised_on),
            "amount": str(amount),
        },
        comment=note.strip()[:1000],
    )
    record_domain_event(
        EventName.PROMISE_RECORDED,
        promise,
        {
            "promise_id": promise.pk,
            "customer_id": customer.pk,
            "invoice_numbers": [i.number for i in rows],
            "promised_on": promised_on.isoformat(),
            "amount": str(amount),
        },
    )
    return promise


def _promise_payload(promise: PromiseToPay) -> dict[str, object]:
    return {
        "promise_id": promise.pk,
        "customer_id": promise.customer_id,
        "promised_on": promise.promised_on.isoformat(),
        "amount": str(promise.amount),
        "status": promise.status,
    }


@transaction.atomic
def cancel_promise(*, actor: User, promise: PromiseToPay, reason: str) -> PromiseToPay:
    require(actor, Action.FOLLOW_UP_ACCOUNT)
    promise = PromiseToPay.objects.select_for_update().get(pk=promise.pk)
    check_promise_transition(promise.status, PromiseStatus.CANCELLED)
    if not reason.strip():
        raise ValidationFailed.on(
            "reason", _("say why the promise is cancelled"), "reason_required"
        )
    promise.status = PromiseStatus.CANCELLED
    promise.save(update_fields=["status"])
    record_domain_event(EventName.PROMISE_CANCELLED, promise, _promise_payload(promise))
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=promise,
        changes={"status": [PromiseStatus.OPEN, PromiseStatus.CANCELLED]},
        comment=reason.strip()[:1000],
    )
    return promise


@transaction.atomic
def review_promises(*, as_of: dt.date, actor: User | None = None) -> dict[str, int]:
    """Promises whose date has passed become kept (all paid) or broken (something open)."""
    due = (
        PromiseToPay.objects.select_for_update()
        .filter(status=PromiseStatus.OPEN, promised_on__lt=as_of)
        .prefetch_related(Prefetch("invoices", queryset=Invoice.objects.only("open_amount")))
    )
    decided: dict[PromiseStatus, list[PromiseToPay]] = {
        PromiseStatus.KEPT: [],
        PromiseStatus.BROKEN: [],
    }
    for promise in due:
        kept = all((i.open_amount or ZERO) <= ZERO for i in promise.invoices.all())
        target = PromiseStatus.KEPT if kept else PromiseStatus.BROKEN
        check_promise_transition(promise.status, target)
        promise.status = target
        decided[target].append(promise)
    # A constant number of queries however many promises fell due (a first run after a
    # holiday may review hundreds).
    for target, promises in decided.items():
        if not promises:
            continue
        PromiseToPay.objects.filter(pk__in=[p.pk for p in promises]).update(status=target)
        record_events(
            actor=actor,
            verb=Verb.TRANSITION,
            entries=[(p, {"status": [PromiseStatus.OPEN, target]}) for p in promises],
        )
        name = EventName.PROMISE_KEPT if target == PromiseStatus.KEPT else EventName.PROMISE_BROKEN
        record_domain_events([Event(name, p, _promise_payload(p)) for p in promises])
    counts = {target.value: len(promises) for target, promises in decided.items()}
    return counts


@transaction.atomic
def add_note(
    *,
    actor: User,
    customer: Customer,
    kind: NoteKind | str,
    text: str,
    invoice: Invoice | None = None,
) -> CollectionNote:
    """A call, email or meeting about the account, kept on the customer page."""
    require(actor, Action.FOLLOW_UP_ACCOUNT)
    if kind not in NoteKind.values:
        raise ValidationFailed.on("kind", _("choose the kind of note"), "kind")
    if not text.strip():
        raise ValidationFailed.on("text", _("the note is empty"), "text")
    if invoice is not None and invoice.customer_id != customer.pk:
        raise ValidationFailed.on(
            "invoice", _("the invoice belongs to another customer"), "invoice"
        )
    note = CollectionNote.objects.create(
        customer=customer, invoice=invoice, kind=kind, text=text.strip()[:5000], author=actor
    )
    record_event(actor=actor, verb=Verb.CREATE, instance=note, changes={"kind": str(kind)})
    return note


@transaction.atomic
def complete_task(
    *, actor: User, task: CollectionTask, note: str = "", cancel: bool = False
) -> CollectionTask:
    """Mark a collection task done (or cancelled); the note goes on the customer.

    Accounting handles the tasks the reminders create; a task assigned to someone (a
    strategic account's manager) is also theirs to close.
    """
    task = CollectionTask.objects.select_for_update().get(pk=task.pk)
    if not (can(actor, Action.RUN_DUNNING) or (actor.is_active and task.assignee_id == actor.pk)):
        raise PermissionDenied(actor, Action.RUN_DUNNING)
    if task.status != TaskStatus.OPEN:
        raise NotAllowed(_("this task is already closed"), code="task_closed")
    if cancel and not note.strip():
        raise ValidationFailed.on("note", _("say why the task is cancelled"), "note_required")
    before = task.status
    task.status = TaskStatus.CANCELLED if cancel else TaskStatus.DONE
    task.done_by, task.done_at = actor, timezone.now()
    task.save(update_fields=["status", "done_by", "done_at"])
    record_event(
        actor=actor,
        verb=Verb.TRANSITION,
        instance=task,
        changes={"status": [before, task.status]},
        comment=note.strip()[:1000],
    )
    if note.strip():
        CollectionNote.objects.create(
            customer_id=task.customer_id,
            kind=NoteKind.CALL if task.kind == "call" else NoteKind.NOTE,
            text=f"{task.title} — {note.strip()}"[:5000],
            author=actor,
        )
    return task
