"""The collections sections of pages that belong to other screens: customer and invoice.

`customer_collections` and `invoice_collections` build what the includes
`web/collections/_customer_section.html` and `_invoice_section.html` show; the customer
and invoice views add their result to their context, so their own code stays unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone

from levier.accounts.permissions import Action, can
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.aging import aged_balance
from levier.collections.choices import DisputeStatus, PromiseStatus, TaskStatus
from levier.collections.models import (
    Allocation,
    CollectionNote,
    CollectionTask,
    CustomerScenario,
    Dispute,
    DunningItem,
    DunningMessage,
    DunningScenario,
    PromiseToPay,
    StatementEmail,
)
from levier.collections.payments import customer_credit, open_invoices
from levier.customers.models import Customer
from levier.lib.money import ZERO
from levier.web.forms_collections import NoteForm, PromiseForm, ReasonForm, TaskDoneForm
from levier.web.views.customers import request_actor

OPEN_INVOICES_SHOWN = 100
RECENT = 20


@dataclass
class OpenInvoice:
    invoice: Invoice
    days_late: int  # negative: days left before the due date


def customer_collections(
    request: HttpRequest,
    customer: Customer,
    *,
    promise_form: PromiseForm | None = None,
    note_form: NoteForm | None = None,
) -> dict[str, Any]:
    """Open amount, ageing, credit, open invoices, promises, notes, tasks, disputes, reminders."""
    actor = request_actor(request)
    today = timezone.localdate()
    invoices = open_invoices(customer)
    open_total = invoices.aggregate(total=Sum("open_amount"))["total"] or ZERO
    rows = [
        OpenInvoice(invoice, (today - invoice.due_date).days if invoice.due_date else 0)
        for invoice in invoices[:OPEN_INVOICES_SHOWN]
    ]
    aged = aged_balance(customer, today)
    own = CustomerScenario.objects.filter(customer=customer).select_related("scenario").first()
    return {
        "today": today,
        "open_total": open_total,
        # Over all open invoices (the rows shown stop at OPEN_INVOICES_SHOWN).
        "overdue_total": aged.overdue,
        "open_count": invoices.count(),
        "open_rows": rows,
        "credit": customer_credit(customer),
        "aged": aged,
        "promises": list(
            PromiseToPay.objects.filter(customer=customer)
            .select_related("created_by")
            .prefetch_related("invoices")
            .order_by("-promised_on", "-pk")[:RECENT]
        ),
        "notes": list(
            CollectionNote.objects.filter(customer=customer).select_related("author", "invoice")[
                :RECENT
            ]
        ),
        "tasks": list(
            CollectionTask.objects.filter(customer=customer)
            .select_related("assignee", "done_by")
            .order_by("status", "due_on", "pk")[:RECENT]
        ),
        "disputes": list(
            Dispute.objects.filter(invoice__customer=customer)
            .select_related("invoice", "owner")
            .order_by("status", "due_on", "pk")[:RECENT]
        ),
        "reminders": list(
            DunningMessage.objects.filter(customer=customer)
            .select_related("step", "run")
            .prefetch_related("items__invoice")[:RECENT]
        ),
        "statement_emails": list(
            StatementEmail.objects.filter(customer=customer).select_related("requested_by")[:5]
        ),
        "promise_form": promise_form or PromiseForm(open_invoices=invoices),
        "note_form": note_form or NoteForm(),
        "cancel_form": ReasonForm(),
        "task_form": TaskDoneForm(),
        "open_promise": PromiseStatus.OPEN,
        "open_task": TaskStatus.OPEN,
        "can_follow_up": can(actor, Action.FOLLOW_UP_ACCOUNT),
        "can_manage_dunning": can(actor, Action.MANAGE_DUNNING),
        "own_scenario": own.scenario if own else None,
        "scenarios": list(DunningScenario.objects.order_by("name")),
        "can_record": can(actor, Action.RECORD_PAYMENT),
    }


def invoice_collections(request: HttpRequest, invoice: Invoice) -> dict[str, Any] | None:
    """Open amount, allocations, disputes, promises and reminders of an issued invoice."""
    if invoice.status != InvoiceStatus.ISSUED or invoice.kind != DocumentKind.INVOICE:
        return None
    actor = request_actor(request)
    today = timezone.localdate()
    disputes = list(Dispute.objects.filter(invoice=invoice).select_related("owner").order_by("-pk"))
    open_amount: Decimal = invoice.open_amount if invoice.open_amount is not None else ZERO
    return {
        "open_amount": open_amount,
        "paid": invoice.total_gross - open_amount,
        "days_late": (today - invoice.due_date).days if invoice.due_date else 0,
        "allocations": list(
            Allocation.objects.filter(invoice=invoice).select_related("payment", "created_by")
        ),
        "disputes": disputes,
        "has_open_dispute": any(d.status == DisputeStatus.OPEN for d in disputes),
        "promises": list(invoice.promises.order_by("-promised_on", "-pk")[:RECENT]),
        "reminders": list(
            DunningItem.objects.filter(invoice=invoice)
            .select_related("message", "step")
            .order_by("-message__created_at", "-pk")[:RECENT]
        ),
        "unmatch_form": ReasonForm(),
        "can_manage_disputes": can(actor, Action.MANAGE_DISPUTES),
        "can_match": can(actor, Action.MATCH_PAYMENTS),
    }
