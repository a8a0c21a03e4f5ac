"""The collector's day: what to do today, the biggest euro-days first.

Items come from four places (tasks due, disputes due, promises expiring or broken,
payments not matched) in four queries; each is scored amount × days late (at least one
day), so a 50,000 € invoice a week late comes before a 500 € one two months late.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Sum
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.collections.choices import DisputeStatus, PaymentStatus, PromiseStatus, TaskStatus
from levier.collections.models import CollectionTask, Dispute, Payment, PromiseToPay

PROMISE_WARNING_DAYS = 2
DISPUTE_WARNING_DAYS = 3
BROKEN_PROMISE_DAYS = 7
MAX_PAYMENTS = 2000


@dataclass(frozen=True)
class WorkItem:
    kind: str  # task, dispute, promise, payment
    object_id: int
    title: str
    customer_id: int | None
    customer_name: str
    amount: Decimal
    days_late: int
    due_on: dt.date

    @property
    def score(self) -> Decimal:
        return abs(self.amount) * max(self.days_late, 1)


def collector_worklist(today: dt.date, user: User | None = None) -> list[WorkItem]:
    """Today's items; with `user`, only the tasks assigned to them and disputes they own."""
    items: list[WorkItem] = []
    tasks = CollectionTask.objects.filter(status=TaskStatus.OPEN, due_on__lte=today)
    disputes = Dispute.objects.filter(
        status=DisputeStatus.OPEN, due_on__lte=today + dt.timedelta(days=DISPUTE_WARNING_DAYS)
    )
    if user is not None:
        tasks = tasks.filter(assignee=user) | tasks.filter(assignee__isnull=True)
        disputes = disputes.filter(owner=user)
    for task in tasks.select_related("customer"):
        items.append(
            WorkItem(
                "task",
                task.pk,
                task.title,
                task.customer_id,
                task.customer.name,
                task.amount,
                task.days_late + (today - task.due_on).days,
                task.due_on,
            )
        )
    for dispute in disputes.select_related("invoice__customer"):
        customer = dispute.invoice.customer
        items.append(
            WorkItem(
                "dispute",
                dispute.pk,
                _("Dispute %(dispute)s on %(number)s: resolution due")
                % {
                    "dispute": dispute,
                    "number": dispute.invoice.number,
                },
                customer.pk,
                customer.name,
                dispute.amount,
                (today - dispute.due_on).days,
                dispute.due_on,
            )
        )
    promises = PromiseToPay.objects.filter(
        status=PromiseStatus.OPEN,
        promised_on__lte=today + dt.timedelta(days=PROMISE_WARNING_DAYS),
    ) | PromiseToPay.objects.filter(
        status=PromiseStatus.BROKEN,
        promised_on__gte=today - dt.timedelta(days=BROKEN_PROMISE_DAYS),
    )
    for promise in promises.select_related("customer"):
        broken = promise.status == PromiseStatus.BROKEN
        title = (
            _("Broken promise to pay of %(date)s: call the customer")
            if broken
            else _("Promise to pay due on %(date)s: check the payment")
        ) % {"date": f"{promise.promised_on:%d/%m/%Y}"}
        items.append(
            WorkItem(
                "promise",
                promise.pk,
                title,
                promise.customer_id,
                promise.customer.name,
                promise.amount,
                (today - promise.promised_on).days,
                promise.promised_on,
            )
        )
    payments = (
        Payment.objects.filter(status__in=[PaymentStatus.UNMATCHED, PaymentStatus.PARTIAL])
        .annotate(left=F("amount") - F("allocated"))
        .select_related("customer")
        .order_by("-left", "received_on")
    )
    # The largest amounts first: a small old payment is worth less than a big recent one.
    for payment in payments[:MAX_PAYMENTS]:
        items.append(
            WorkItem(
                "payment",
                payment.pk,
                _("Payment of %(date)s not matched: %(payer)s")
                % {"date": f"{payment.received_on:%d/%m/%Y}", "payer": payment.payer_name or "?"},
                payment.customer_id,
                payment.customer.name if payment.customer else payment.payer_name,
                payment.left,
                (today - payment.received_on).days,
                payment.received_on,
            )
        )
    items.sort(key=lambda item: (-item.score, item.due_on, item.kind, item.object_id))
    return items


def unmatched_total() -> Decimal:
    total = Payment.objects.filter(
        status__in=[PaymentStatus.UNMATCHED, PaymentStatus.PARTIAL]
    ).aggregate(left=Sum(F("amount") - F("allocated")))["left"]
    return total or Decimal("0.00")
