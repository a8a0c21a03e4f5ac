"""The dashboard's breakdowns: who owes the most, why customers dispute, how late each
invoicing mode is billed, and what waits for each member of the team.

Each breakdown is one or a few GROUP BY queries: the number of queries does not grow with
the number of documents (only `team_worklists` runs one query per approving role, three at
most). Each returns small typed rows the dashboard prints and charts as they are.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, NullIf, RowNumber
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.billing.choices import InvoiceStatus
from levier.billing.models import Invoice, InvoiceLine
from levier.catalog.choices import InvoicingMode
from levier.collections.aging import open_items, open_parts
from levier.collections.choices import DisputeReason, DisputeStatus, TaskStatus
from levier.collections.models import CollectionTask, Dispute
from levier.kpis.activity import invoices_issued, window, with_invoicing_delay
from levier.kpis.sql import one_decimal
from levier.sales.choices import OrderStatus, QuoteStatus
from levier.sales.models import Order, Quote
from levier.sales.selectors import orders_awaiting

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
OTHER = "other"
# Each invoicing mode by its name, and "other" (no order nor contract says it).
MODE_LABELS: dict[str, str | Promise] = {**dict(InvoicingMode.choices), OTHER: _("Other")}
_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=2)

__all__ = [
    "Breakdowns",
    "DelayByMode",
    "DisputeReasonRow",
    "OverdueCustomer",
    "TeamMember",
    "dashboard_breakdowns",
    "disputes_by_reason",
    "invoicing_delay_by_mode",
    "team_worklists",
    "top_overdue_customers",
]


# --------------------------------------------------------------------------- overdue customers


@dataclass(frozen=True)
class OverdueCustomer:
    customer_id: int
    name: str
    overdue: Decimal  # TTC open at as_of on invoices due before as_of
    invoices: int
    oldest_due: dt.date
    days_late: int  # of the oldest overdue invoice, at as_of


def top_overdue_customers(as_of: dt.date, limit: int = 10) -> list[OverdueCustomer]:
    """The customers owing the most overdue at `as_of`, largest first.

    Overdue = open at `as_of` (what was left that day) on an invoice due before `as_of` (due
    on `as_of` is not late yet, as in the aged balance). A customer whose overdue invoices
    net to zero or less (an overpayment to pay back) is left out. The amounts are summed per
    customer for the whole ledger from `open_parts` (a GROUP BY per part, no subquery per
    invoice); the count of invoices and the oldest due date are then read for the ten
    customers kept only, invoice by invoice (`open_items`).
    """
    overdue: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for part in open_parts(None, as_of):
        rows = (
            part.filter(due__lt=as_of)
            .order_by()
            .values_list("debtor")
            .annotate(total=Sum("signed", output_field=_AMOUNT))
        )
        for debtor, total in rows:
            overdue[debtor] += Decimal(total)
    top = sorted(
        ((amount, debtor) for debtor, amount in overdue.items() if amount > 0),
        key=lambda pair: (-pair[0], pair[1]),
    )[:limit]
    kept = [debtor for _amount, debtor in top]
    details = {
        row["customer_id"]: row
        for row in open_items(None, as_of)
        .filter(customer_id__in=kept, due_date__lt=as_of)
        .order_by()
        .values("customer_id", "customer__name")
        .annotate(count=Count("pk"), oldest=Min("due_date"))
    }
    return [
        OverdueCustomer(
            customer_id=debtor,
            name=details[debtor]["customer__name"],
            overdue=amount.quantize(CENT),
            invoices=details[debtor]["count"],
            oldest_due=details[debtor]["oldest"],
            days_late=(as_of - details[debtor]["oldest"]).days,
        )
        for amount, debtor in top
        if debtor in details
    ]


# --------------------------------------------------------------------------- disputes


@dataclass(frozen=True)
class DisputeReasonRow:
    reason: str
    label: str | Promise
    count: int
    amount: Decimal  # TTC disputed


def disputes_by_reason(as_of: dt.date, period_days: int) -> list[DisputeReasonRow]:
    """Disputes opened in (as_of − period, as_of] per reason: count and amount disputed,
    the most frequent first (then the largest amount), one GROUP BY."""
    after = as_of - dt.timedelta(days=period_days)
    rows = (
        Dispute.objects.filter(opened_on__gt=after, opened_on__lte=as_of)
        .order_by()
        .values("reason")
        .annotate(count=Count("pk"), amount=Coalesce(Sum("amount"), Value(ZERO)))
        .order_by("-count", "-amount", "reason")
    )
    labels = dict(DisputeReason.choices)
    return [
        DisputeReasonRow(
            reason=row["reason"],
            label=labels.get(row["reason"], row["reason"]),
            count=row["count"],
            amount=Decimal(row["amount"]).quantize(CENT),
        )
        for row in rows
    ]


# --------------------------------------------------------------------------- invoicing delay


@dataclass(frozen=True)
class DelayByMode:
    mode: str  # an InvoicingMode value, or "other"
    label: str | Promise
    invoices: int
    mean_days: Decimal | None  # one decimal


def with_invoicing_mode(invoices: QuerySet[Invoice]) -> QuerySet[Any]:
    """Annotate `mode`: how each invoice was billed (see `invoicing_delay_by_mode`)."""
    first_contract_mode = (
        InvoiceLine.objects.filter(invoice=OuterRef("pk"), contract_line__isnull=False)
        .order_by("position", "pk")
        .values("contract_line__mode")[:1]
    )
    return invoices.annotate(
        mode=Coalesce(
            Subquery(first_contract_mode, output_field=CharField()),
            NullIf("order__invoicing_mode", Value("")),
            Value(OTHER),
            output_field=CharField(),
        )
    )


def invoicing_delay_by_mode(as_of: dt.date, period_days: int) -> list[DelayByMode]:
    """Mean invoicing delay, max(0, issue date − billable date) in days, over the invoices
    issued in (as_of − period, as_of], per invoicing mode (one GROUP BY), in the order of
    `InvoicingMode`, "other" last.

    How an invoice's mode is known: an invoice billed from a contract takes the mode of its
    first line that bills a contract line (`InvoiceLine.contract_line.mode`, lowest position:
    a contract invoice mixing modes counts once, under its first line's); otherwise the mode
    of the order it bills (`Order.invoicing_mode`); an invoice with neither (typed by hand)
    is "other". The contract line comes first because it is the line's own rule, where an
    order's mode is a default for the whole order.

    The rule is `with_invoicing_mode`'s (the drill-down's), read here with joins: the
    lines billing a contract line issued in the period are ranked per document once
    (`contract_lines_issued`), where a subquery per invoice probed the lines 70,000 times
    a quarter at 1,000,000 invoices (bench/kpis.py's database, a quarter to 2026-11-29:
    0.45 s alone → 0.12 s).
    """
    after, until = window(as_of, period_days)
    delays: QuerySet[Any] = with_invoicing_delay(invoices_issued(as_of, period_days))
    invoices_sql, invoices_params = (
        delays.order_by().values("pk", "order_id", "delay_days").query.sql_with_params()
    )
    # Lines carry their document's issue date (`InvoiceLine.issued_on`): those of the
    # period's invoices are among the lines issued in the period.
    firsts_sql, firsts_params = (
        InvoiceLine.objects.filter(
            contract_line__isnull=False, issued_on__gt=after, issued_on__lte=until
        )
        .order_by()
        .annotate(
            line_rank=Window(
                RowNumber(), partition_by=F("invoice_id"), order_by=[F("position"), F("pk")]
            )
        )
        .values("invoice_id", "contract_line__mode", "line_rank")
        .query.sql_with_params()
    )
    statement = _DELAY_BY_MODE_SQL.format(
        invoices=invoices_sql, firsts=firsts_sql, orders=Order._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*invoices_params, *firsts_params, OTHER])
        rows = cursor.fetchall()
    order = [*InvoicingMode.values, OTHER]
    result = [
        DelayByMode(
            mode=mode,
            label=MODE_LABELS.get(mode, mode),
            invoices=count,
            mean_days=one_decimal(mean),
        )
        for mode, count, mean in rows
    ]
    result.sort(key=lambda row: order.index(row.mode) if row.mode in order else len(order))
    return result


# Columns by position: the ORM names them after the fields (pk as "id", the mode as "mode").
_DELAY_BY_MODE_SQL = """
WITH period (id, order_id, delay_days) AS ({invoices}),
firsts (invoice_id, mode, line_rank) AS ({firsts})
SELECT COALESCE(firsts.mode, NULLIF(orders.invoicing_mode, ''), %s) AS mode,
       COUNT(*), AVG(period.delay_days)
FROM period
LEFT JOIN firsts ON firsts.invoice_id = period.id AND firsts.line_rank = 1
LEFT JOIN {orders} orders ON orders.id = period.order_id
GROUP BY 1
"""


# --------------------------------------------------------------------------- team


# What can wait for a person, in the order the dashboard shows the columns.
WORK_KINDS: tuple[tuple[str, Promise], ...] = (
    ("approvals", _("Orders to approve")),
    ("orders", _("Draft or rejected orders")),
    ("quotes", _("Open quotes")),
    ("drafts_to_issue", _("Invoice drafts to issue")),
    ("tasks", _("Collection tasks")),
    ("disputes", _("Open disputes")),
)
APPROVING_ROLES = (Role.ADV, Role.COMPTABILITE, Role.DIRECTION)


@dataclass(frozen=True)
class TeamMember:
    user_id: int
    name: str
    role: str
    role_label: str | Promise
    counts: dict[str, int] = field(default_factory=dict)  # WORK_KINDS key → count

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _count_by(queryset: object, user_field: str) -> dict[int, int]:
    rows = (
        queryset.order_by()  # type: ignore[attr-defined]
        .values(user_field)
        .annotate(n=Count("pk"))
        .values_list(user_field, "n")
    )
    return {user_id: n for user_id, n in rows if user_id is not None}


def team_worklists() -> list[TeamMember]:
    """Per active user, how many things wait for them now (only those that can):

    - approvals: submitted orders whose current step is their role's (`orders_awaiting`):
      a queue a role shares, so every ADV, accounting or management user shows their role's
      count;
    - orders: the drafts and rejected orders they wrote; quotes: their draft or sent quotes;
    - drafts_to_issue: invoice drafts waiting to be issued, ADV's shared queue (every ADV user
      shows it);
    - tasks: open collection tasks assigned to them; disputes: open disputes they own.

    One GROUP BY per kind (and one count per approving role), sorted by role then name.
    Unassigned collection tasks are on no one's row (the collector's worklist shows them).
    """
    awaiting = {role.value: orders_awaiting(role).count() for role in APPROVING_ROLES}
    drafts_to_issue = Invoice.objects.filter(status=InvoiceStatus.DRAFT).count()
    orders = _count_by(
        Order.objects.filter(status__in=[OrderStatus.DRAFT, OrderStatus.REJECTED]),
        "created_by",
    )
    quotes = _count_by(
        Quote.objects.filter(status__in=[QuoteStatus.DRAFT, QuoteStatus.SENT]), "created_by"
    )
    tasks = _count_by(CollectionTask.objects.filter(status=TaskStatus.OPEN), "assignee")
    disputes = _count_by(Dispute.objects.filter(status=DisputeStatus.OPEN), "owner")
    role_labels = dict(Role.choices)
    role_order = [role.value for role in Role]
    members: list[TeamMember] = []
    users = User.objects.filter(is_active=True).filter(~Q(role=Role.AUDITEUR))
    for user in users.only("pk", "username", "first_name", "last_name", "role"):
        counts = {
            "approvals": awaiting.get(user.role, 0),
            "orders": orders.get(user.pk, 0),
            "quotes": quotes.get(user.pk, 0),
            "drafts_to_issue": drafts_to_issue if user.role == Role.ADV else 0,
            "tasks": tasks.get(user.pk, 0),
            "disputes": disputes.get(user.pk, 0),
        }
        members.append(
            TeamMember(
                user_id=user.pk,
                name=str(user),
                role=user.role,
                role_label=role_labels.get(user.role, user.role),
                counts=counts,
            )
        )
    members.sort(
        key=lambda m: (
            role_order.index(m.role) if m.role in role_order else len(role_order),
            m.name.lower(),
            m.user_id,
        )
    )
    return members


# --------------------------------------------------------------------------- all of them


@dataclass(frozen=True)
class Breakdowns:
    """What the dashboard shows besides `compute_kpis`'s figures."""

    delays: list[DelayByMode]
    overdue: list[OverdueCustomer]
    reasons: list[DisputeReasonRow]
    team: list[TeamMember]


def dashboard_breakdowns(as_of: dt.date, period_days: int) -> Breakdowns:
    """Every breakdown of the dashboard at d, one after the other: the dashboard reads them
    on a second connection while `compute_kpis` reads on its own (`dashboard_figures`)."""
    return Breakdowns(
        delays=invoicing_delay_by_mode(as_of, period_days),
        overdue=top_overdue_customers(as_of),
        reasons=disputes_by_reason(as_of, period_days),
        team=team_worklists(),
    )
