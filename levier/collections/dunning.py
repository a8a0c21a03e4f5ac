"""Dunning (relances): which invoice gets which reminder today, and doing it exactly once.

`plan_dunning(run_date)` is the preview: it reads everything it needs in a fixed number of
queries (scenarios, open invoices, reminders already done, disputes, promises, contacts),
decides in memory and writes nothing. `run_dunning` takes the dunning lock, plans inside its
transaction and writes the outcome with bulk inserts: the number of queries grows with the
batches, never with the invoices, so 100,000 open invoices stay a matter of seconds.

The rules, per open issued invoice (open amount > 0):

- its scenario is the customer's own, else its segment's, else the default one;
- the step due is the last one whose date (due date + offset) has come; earlier steps never
  done are skipped silently, so a customer who was not reminded for a month gets the step
  of today, not three letters at once; a step already done (a `DunningItem` exists: the
  unique (invoice, step) constraint) is never done again, which makes a rerun harmless;
- an open dispute stops reminders for that invoice, an open promise to pay holds them until
  its date (the run first reviews the promises whose date has passed: kept or broken), a
  payment received and waiting to be matched to the invoice (a pending match proposal)
  holds it too, a strategic customer gets a task for its account manager instead of a
  message (the task counts as the step done), an invoice paid since its step became due is
  listed as paid, not reminded;
- per customer per run, one message (email or letter) lists every invoice whose step is a
  message, on the channel and with the text of the most advanced of those steps; one task
  lists every invoice whose step is a call or a hand-over. A formal notice (mise en demeure)
  is therefore always sent, never swallowed by a task; it claims the late interest and the
  40 € indemnity of each invoice at that step;
- a customer with no email address gets no email: its invoices are listed as skipped (no
  recipient) and their step stays to do, so the reminder goes once an address is entered.

The sending job checks again, when it produces a reminder, that each invoice is still to
be chased (`recheck_message`): an invoice paid, disputed, promised or with a payment to
match since the run is withdrawn from the message (its step stays to do), the text is
rendered again for the others, and a reminder left with nothing to chase is not sent.

Emails and letters are queued here and produced by `levier.collections.jobs_dunning` after
the commit (PDFs are rendered there, not in the run); phone calls and hand-overs become
`CollectionTask`s for a person.

The reminder texts are French (the customer reads them): Django templates over
`MERGE_FIELDS`, with amounts and dates formatted by Babel's fr_FR rules.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import VariableNode
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import diff, record_event, record_events, snapshot
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.company import company_profile
from levier.billing.models import CompanyProfile, Invoice
from levier.collections.choices import (
    DisputeStatus,
    DunningChannel,
    DunningOutcome,
    MessageStatus,
    PromiseStatus,
    ProposalStatus,
    TaskKind,
)
from levier.collections.followup import review_promises
from levier.collections.interest import INDEMNITY, RateTable, days_late, late_interest
from levier.collections.models import (
    CollectionTask,
    CustomerScenario,
    Dispute,
    DunningItem,
    DunningLock,
    DunningMessage,
    DunningRun,
    DunningScenario,
    DunningStep,
    MatchProposal,
    PromiseToPay,
)
from levier.customers.models import Contact, Customer
from levier.integrations.events import Event, EventName, record_domain_events
from levier.jobs import enqueue
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.identifiers import creditor_reference

log = logging.getLogger(__name__)

__all__ = [
    "MERGE_FIELDS",
    "DunningPlan",
    "PlannedItem",
    "PlannedMessage",
    "SkipReason",
    "Skipped",
    "mark_reminder_printed",
    "plan_dunning",
    "render_step",
    "run_dunning",
    "save_step",
    "validate_template",
]

LOCALE = "fr_FR"
ZERO = Decimal("0.00")
LOCK_NAME = "dunning"
# Steps done by a person (a task), not sent to the customer.
TASK_CHANNELS = (DunningChannel.PHONE, DunningChannel.HANDOVER)
# An invoice settled this many days before the run, with a step due, is listed as paid.
RECENTLY_PAID_DAYS = 7
BATCH = 2000

# What a step's texts may use; descriptions for the editing screen.
MERGE_FIELDS: dict[str, Promise] = {
    "customer_name": gettext_lazy("The customer's legal name"),
    "invoices_table": gettext_lazy(
        "The invoices reminded, as a plain-text table: number, date, due date, amount incl. "
        "VAT, left to pay, days late (and interest and indemnity on a formal notice)"
    ),
    "total_due": gettext_lazy("What is left to pay on these invoices, e.g. 1 234,50 €"),
    "interest": gettext_lazy("Late-payment interest claimed (formal notice only)"),
    "indemnity": gettext_lazy(
        "Fixed recovery indemnities claimed, 40 € per invoice (formal notice only)"
    ),
    "company_name": gettext_lazy("Your company's name, as printed on invoices"),
    "iban": gettext_lazy("Your IBAN, in groups of four characters"),
    "oldest_due_date": gettext_lazy("The oldest due date of these invoices, e.g. 3 mars 2026"),
    "payment_reference": gettext_lazy(
        "The RF creditor reference(s) of these invoices, to quote with the payment"
    ),
}

# Plain text: a customer name with "&" must not become "&amp;". No loader: {% include %}
# and {% extends %} cannot reach the project's templates.
_ENGINE = Engine(autoescape=False)


class SkipReason:
    """Why an invoice with a step due gets no reminder on this run."""

    DISPUTE = "dispute"
    PROMISE = "promise"
    STRATEGIC = "strategic"
    PAID = "paid"
    NO_SCENARIO = "no_scenario"
    MISSING_RATE = "missing_rate"
    BROKEN_TEMPLATE = "broken_template"
    NO_RECIPIENT = "no_recipient"
    PAYMENT_PENDING = "payment_pending"


SKIP_LABELS: dict[str, Promise] = {
    SkipReason.DISPUTE: gettext_lazy(
        "Open dispute on this invoice: no reminder until it is closed"
    ),
    SkipReason.PROMISE: gettext_lazy(
        "Promise to pay not yet due: reminders are held until the promised date"
    ),
    SkipReason.STRATEGIC: gettext_lazy(
        "Strategic account: a task for the account manager instead of a reminder"
    ),
    SkipReason.PAID: gettext_lazy("Paid since the reminder became due: nothing to send"),
    SkipReason.NO_SCENARIO: gettext_lazy(
        "No dunning scenario applies to this customer (no default scenario)"
    ),
    SkipReason.MISSING_RATE: gettext_lazy(
        "Formal notice held: the late-interest rate of a half-year is missing"
    ),
    SkipReason.BROKEN_TEMPLATE: gettext_lazy(
        "The text of the step does not render: correct it in the scenario"
    ),
    SkipReason.NO_RECIPIENT: gettext_lazy(
        "No email address for reminders: add a dunning or accounts-payable contact with an "
        "email, or an invoice email address"
    ),
    SkipReason.PAYMENT_PENDING: gettext_lazy(
        "A payment received is waiting to be matched for this invoice: no reminder until it "
        "is reviewed"
    ),
}


# --- the plan ---------------------------------------------------------------------------------


@dataclass(slots=True)
class PlannedItem:
    """One invoice and the step it is at: a future `DunningItem`."""

    invoice_id: int
    number: str
    issue_date: dt.date | None
    due_date: dt.date
    total_gross: Decimal
    open_amount: Decimal
    step: DunningStep
    days_late: int
    interest: Decimal = ZERO
    indemnity: Decimal = ZERO


@dataclass(slots=True)
class CustomerInfo:
    id: int
    name: str
    segment: str
    is_strategic: bool
    account_manager_id: int | None
    invoice_email: str


@dataclass
class PlannedMessage:
    """What one customer gets on this run: an email or letter, or a task for a person.

    A customer may get both on one run: the message lists the invoices whose step is an
    email or a letter, the task those whose step is a call or a hand-over (a strategic
    customer gets one task for all of them).
    """

    customer: CustomerInfo
    step: DunningStep  # the most advanced step among the items: its channel and texts
    items: list[PlannedItem]
    recipients: list[str] = field(default_factory=list)

    @property
    def task_kind(self) -> str | None:
        """The task a person gets instead of a message (None: a message is sent)."""
        if self.customer.is_strategic:
            return TaskKind.STRATEGIC
        if self.step.channel == DunningChannel.PHONE:
            return TaskKind.CALL
        if self.step.channel == DunningChannel.HANDOVER:
            return TaskKind.HANDOVER
        return None

    @property
    def channel(self) -> str:
        """The channel recorded on the message: what actually happens."""
        kind = self.task_kind
        if kind == TaskKind.CALL:
            return DunningChannel.PHONE
        if kind is not None:
            return DunningChannel.HANDOVER
        return str(self.step.channel)

    @property
    def total_due(self) -> Decimal:
        return sum((item.open_amount for item in self.items), ZERO)

    @property
    def interest(self) -> Decimal:
        return sum((item.interest for item in self.items), ZERO)

    @property
    def indemnity(self) -> Decimal:
        return sum((item.indemnity for item in self.items), ZERO)

    @property
    def days_late(self) -> int:
        return max(item.days_late for item in self.items)

    def as_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer.id,
            "customer": self.customer.name,
            "step": self.step.name,
            "offset_days": self.step.offset_days,
            "channel": self.channel,
            "task": self.task_kind,
            "formal_notice": self.step.is_formal_notice,
            "recipients": self.recipients,
            "total_due": str(self.total_due),
            "interest": str(self.interest),
            "indemnity": str(self.indemnity),
            "invoices": [
                {
                    "id": item.invoice_id,
                    "number": item.number,
                    "due_date": item.due_date.isoformat(),
                    "open_amount": str(item.open_amount),
                    "days_late": item.days_late,
                    "step": item.step.name,
                    "interest": str(item.interest),
                    "indemnity": str(item.indemnity),
                }
                for item in self.items
            ],
        }


@dataclass(frozen=True)
class Skipped:
    """An invoice that had a step due and gets no reminder, with the reason."""

    reason: str
    customer_id: int
    customer_name: str
    invoice_id: int
    number: str
    step: str
    detail: str = ""

    @property
    def label(self) -> str:
        return str(SKIP_LABELS[self.reason])

    def as_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "label": self.label,
            "customer_id": self.customer_id,
            "customer": self.customer_name,
            "invoice_id": self.invoice_id,
            "number": self.number,
            "step": self.step,
            "detail": self.detail,
        }


@dataclass
class DunningPlan:
    run_date: dt.date
    messages: list[PlannedMessage] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # Invoices whose step due today was already done by an earlier run.
    already_done: int = 0

    @property
    def items(self) -> int:
        return sum(len(message.items) for message in self.messages)

    def skip(
        self,
        reason: str,
        customer: CustomerInfo,
        invoice_id: int,
        number: str,
        step: str = "",
        detail: str = "",
    ) -> None:
        self.skipped.append(
            Skipped(reason, customer.id, customer.name, invoice_id, number, step, detail)
        )

    def skipped_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.skipped:
            counts[entry.reason] = counts.get(entry.reason, 0) + 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {
            "run_date": self.run_date.isoformat(),
            "messages": [m.as_json() for m in self.messages if m.task_kind is None],
            "tasks": [m.as_json() for m in self.messages if m.task_kind is not None],
            "items": self.items,
            "already_done": self.already_done,
            "skipped_counts": self.skipped_counts(),
            "skipped": [entry.as_json() for entry in self.skipped],
        }


@dataclass
class _Scenarios:
    steps: dict[int, list[DunningStep]]  # scenario id → steps by offset
    offsets: dict[int, list[int]]
    default_id: int | None
    by_segment: dict[str, int]
    by_customer: dict[int, int]
    step_offset: dict[int, int]  # any step id → its offset

    @classmethod
    def load(cls) -> _Scenarios:
        steps: dict[int, list[DunningStep]] = defaultdict(list)
        for step in DunningStep.objects.order_by("scenario_id", "offset_days"):
            steps[step.scenario_id].append(step)
        default_id, by_segment = None, {}
        for pk, segment, is_default in DunningScenario.objects.values_list(
            "pk", "segment", "is_default"
        ):
            if is_default:
                default_id = pk
            if segment:
                by_segment[segment] = pk
        return cls(
            steps=dict(steps),
            offsets={sid: [s.offset_days for s in rows] for sid, rows in steps.items()},
            default_id=default_id,
            by_segment=by_segment,
            by_customer=dict(CustomerScenario.objects.values_list("customer_id", "scenario_id")),
            step_offset={s.pk: s.offset_days for rows in steps.values() for s in rows},
        )

    def scenario_of(self, customer: CustomerInfo) -> int | None:
        return (
            self.by_customer.get(customer.id)
            or (self.by_segment.get(customer.segment) if customer.segment else None)
            or self.default_id
        )

    def step_due(
        self, scenario_id: int, due_date: dt.date, run_date: dt.date
    ) -> DunningStep | None:
        """The last step whose date (due date + offset) is on or before the run date."""
        offsets = self.offsets.get(scenario_id)
        if not offsets:
            return None
        position = bisect.bisect_right(offsets, (run_date - due_date).days)
        return self.steps[scenario_id][position - 1] if position else None

    def is_done(self, step: DunningStep, done: set[int] | None) -> bool:
        """Done: this step, or a later one of any scenario (reminders never go backwards)."""
        if not done:
            return False
        return step.pk in done or any(
            self.step_offset.get(step_id, step.offset_days) >= step.offset_days for step_id in done
        )


_INVOICE_FIELDS = (
    "pk",
    "customer_id",
    "number",
    "issue_date",
    "due_date",
    "total_gross",
    "open_amount",
    "contract__late_interest_rate",
)


def _issued_invoices() -> Q:
    return Q(status=InvoiceStatus.ISSUED, kind=DocumentKind.INVOICE, due_date__isnull=False)


def plan_dunning(run_date: dt.date) -> DunningPlan:
    """The reminders a run on `run_date` would send, and why the others are skipped.

    A pure read, in about a dozen queries whatever the number of invoices.
    """
    plan = DunningPlan(run_date=run_date)
    scenarios = _Scenarios.load()
    if not scenarios.steps:
        return plan
    earliest = run_date - dt.timedelta(days=min(min(o) for o in scenarios.offsets.values()))
    open_invoices = Invoice.objects.filter(
        _issued_invoices(), open_amount__gt=0, due_date__lte=earliest
    )
    recently_paid = Invoice.objects.filter(
        _issued_invoices(),
        open_amount__lte=0,
        due_date__lte=earliest,
        settled_on__gte=run_date - dt.timedelta(days=RECENTLY_PAID_DAYS),
        settled_on__lte=run_date,
    )
    rows = list(
        open_invoices.order_by("customer_id", "due_date", "pk").values_list(*_INVOICE_FIELDS)
    )
    paid_rows = list(
        recently_paid.values_list("pk", "customer_id", "number", "due_date", "settled_on")
    )
    customers = {
        pk: CustomerInfo(pk, name, segment, strategic, manager, email)
        for pk, name, segment, strategic, manager, email in Customer.objects.filter(
            Q(pk__in=open_invoices.values("customer_id"))
            | Q(pk__in=recently_paid.values("customer_id"))
        ).values_list(
            "pk", "name", "segment", "is_strategic", "account_manager_id", "invoice_email"
        )
    }
    done: dict[int, set[int]] = defaultdict(set)
    for invoice_id, step_id in DunningItem.objects.filter(
        Q(invoice_id__in=open_invoices.values("pk")) | Q(invoice_id__in=recently_paid.values("pk"))
    ).values_list("invoice_id", "step_id"):
        done[invoice_id].add(step_id)
    disputed = set(
        Dispute.objects.filter(status=DisputeStatus.OPEN).values_list("invoice_id", flat=True)
    )
    promised: dict[int, dt.date] = {}
    for invoice_id, promised_on in PromiseToPay.invoices.through.objects.filter(
        promisetopay__status=PromiseStatus.OPEN, promisetopay__promised_on__gte=run_date
    ).values_list("invoice_id", "promisetopay__promised_on"):
        promised[invoice_id] = max(promised_on, promised.get(invoice_id, promised_on))
    awaiting_match = invoices_awaiting_matching()
    rates: RateTable | None = None

    # (customer, task?) → its items: a message for the steps sent, a task for the others.
    groups: dict[tuple[int, bool], list[PlannedItem]] = {}
    for pk, customer_id, number, issue_date, due_date, total, open_amount, rate in rows:
        customer = customers[customer_id]
        scenario_id = scenarios.scenario_of(customer)
        if scenario_id is None:
            plan.skip(SkipReason.NO_SCENARIO, customer, pk, number)
            continue
        step = scenarios.step_due(scenario_id, due_date, run_date)
        if step is None:
            continue
        if scenarios.is_done(step, done.get(pk)):
            plan.already_done += 1
            continue
        if pk in disputed:
            plan.skip(SkipReason.DISPUTE, customer, pk, number, step.name)
            continue
        if pk in promised:
            detail = _("promised on %(date)s") % {"date": f"{promised[pk]:%d/%m/%Y}"}
            plan.skip(SkipReason.PROMISE, customer, pk, number, step.name, detail)
            continue
        if pk in awaiting_match:
            plan.skip(SkipReason.PAYMENT_PENDING, customer, pk, number, step.name)
            continue
        item = PlannedItem(
            invoice_id=pk,
            number=number,
            issue_date=issue_date,
            due_date=due_date,
            total_gross=total,
            open_amount=open_amount,
            step=step,
            days_late=days_late(due_date, run_date),
        )
        if step.is_formal_notice:
            rates = rates or RateTable.load()
            try:
                item.interest = late_interest(open_amount, due_date, run_date, rate, rates=rates)
            except ValidationFailed as exc:
                plan.skip(SkipReason.MISSING_RATE, customer, pk, number, step.name, exc.message)
                continue
            item.indemnity = INDEMNITY
        if customer.is_strategic:
            plan.skip(SkipReason.STRATEGIC, customer, pk, number, step.name)
        is_task = customer.is_strategic or step.channel in TASK_CHANNELS
        groups.setdefault((customer_id, is_task), []).append(item)

    for pk, customer_id, number, due_date, settled_on in paid_rows:
        customer = customers[customer_id]
        scenario_id = scenarios.scenario_of(customer)
        if scenario_id is None or due_date is None or settled_on is None:
            continue
        step = scenarios.step_due(scenario_id, due_date, run_date)
        if step is None or scenarios.is_done(step, done.get(pk)):
            continue
        if settled_on >= due_date + dt.timedelta(days=step.offset_days):
            detail = _("settled on %(date)s") % {"date": f"{settled_on:%d/%m/%Y}"}
            plan.skip(SkipReason.PAID, customer, pk, number or "", step.name, detail)

    recipients = _recipients([cid for cid, is_task in groups if not is_task], customers)
    for (customer_id, is_task), items in groups.items():
        customer = customers[customer_id]
        top = max(items, key=lambda item: item.step.offset_days).step
        to = [] if is_task else recipients.get(customer_id, [])
        if top.channel == DunningChannel.EMAIL and not to and not is_task:
            # Queued, the email would fail and its steps would count as done: the reminder
            # would be lost. Skipped, the steps stay to do until an address is entered.
            for item in items:
                plan.skip(
                    SkipReason.NO_RECIPIENT, customer, item.invoice_id, item.number, item.step.name
                )
            continue
        plan.messages.append(PlannedMessage(customer, top, items, to))
    plan.messages.sort(
        key=lambda m: (m.customer.name.lower(), m.customer.id, m.task_kind is not None)
    )
    plan.skipped.sort(key=lambda s: (s.reason, s.customer_name.lower(), s.number))
    return plan


def invoices_awaiting_matching(invoice_ids: set[int] | None = None) -> set[int]:
    """Invoices a payment received may settle: listed by a match proposal still to review.

    One query over the pending proposals (the review queue, small); `invoice_ids` narrows
    the answer to those invoices.
    """
    found: set[int] = set()
    for allocations in MatchProposal.objects.filter(status=ProposalStatus.PENDING).values_list(
        "allocations", flat=True
    ):
        for allocation in allocations if isinstance(allocations, list) else ():
            invoice_id = allocation.get("invoice") if isinstance(allocation, dict) else None
            if isinstance(invoice_id, int) and (invoice_ids is None or invoice_id in invoice_ids):
                found.add(invoice_id)
    return found


def _recipients(
    customer_ids: list[int], customers: dict[int, CustomerInfo]
) -> dict[int, list[str]]:
    """Dunning contacts, else the invoice mailbox, else the accounts-payable contacts.

    The contact flagged "dunning" is the person the customer asked us to chase; without
    one, the reminder goes where the invoice went.
    """
    if not customer_ids:
        return {}
    dunning: dict[int, list[str]] = defaultdict(list)
    payable: dict[int, list[str]] = defaultdict(list)
    contacts = (
        Contact.objects.filter(Q(is_dunning=True) | Q(is_accounts_payable=True))
        .exclude(email="")
        .order_by("customer_id", "last_name", "first_name", "pk")
    )
    for start in range(0, len(customer_ids), 900):  # under SQLite's 999 parameters
        chunk = customer_ids[start : start + 900]
        for customer_id, email, is_dunning, is_payable in contacts.filter(
            customer_id__in=chunk
        ).values_list("customer_id", "email", "is_dunning", "is_accounts_payable"):
            if is_dunning and email not in dunning[customer_id]:
                dunning[customer_id].append(email)
            if is_payable and email not in payable[customer_id]:
                payable[customer_id].append(email)
    result = {}
    for customer_id in customer_ids:
        email = customers[customer_id].invoice_email
        result[customer_id] = (
            dunning.get(customer_id) or ([email] if email else []) or payable.get(customer_id, [])
        )
    return result


def _customer_info(customer: Customer) -> CustomerInfo:
    return CustomerInfo(
        customer.pk,
        customer.name,
        customer.segment,
        customer.is_strategic,
        customer.account_manager_id,
        customer.invoice_email,
    )


def recipients_of(customer: Customer) -> list[str]:
    """Who gets a reminder for this customer now (the sending job asks again at send time)."""
    return _recipients([customer.pk], {customer.pk: _customer_info(customer)})[customer.pk]


# --- texts ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _money(value: Decimal) -> str:
    from levier.billing.documents import money

    return money(value)


def long_date(day: dt.date) -> str:
    """« 3 mars 2026 »."""
    return str(format_date(day, format="long", locale=LOCALE))


def _grouped_iban(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def seller_name(profile: CompanyProfile) -> str:
    from levier.billing.jobs_sending import _seller_name

    return _seller_name(profile)


def invoices_table(items: list[PlannedItem] | list[DunningItem], *, formal: bool) -> str:
    """The plain-text table of a reminder: columns aligned with spaces, amounts in French."""
    headers = ["Facture", "Date", "Échéance", "Montant TTC", "Reste dû", "Retard"]
    if formal:
        headers += ["Intérêts", "Indemnité"]
    rows = [headers]
    for item in items:
        if isinstance(item, DunningItem):
            invoice = item.invoice
            number, issue_date, due_date = (
                invoice.number or "",
                invoice.issue_date,
                invoice.due_date,
            )
            total = invoice.total_gross
        else:
            number, issue_date, due_date, total = (
                item.number,
                item.issue_date,
                item.due_date,
                item.total_gross,
            )
        row = [
            number,
            f"{issue_date:%d/%m/%Y}" if issue_date else "",
            f"{due_date:%d/%m/%Y}" if due_date else "",
            _money(total),
            _money(item.open_amount),
            f"{item.days_late} j" if item.days_late > 0 else "à échoir",
        ]
        if formal:
            row += [_money(item.interest), _money(item.indemnity)]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = [
        "  ".join(
            cell.ljust(width) if i < 3 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def merge_context(message: PlannedMessage, profile: CompanyProfile) -> dict[str, str]:
    """The merge fields of one customer's reminder, formatted in French."""
    numbers = [item.number for item in message.items]
    return {
        "customer_name": message.customer.name,
        "invoices_table": invoices_table(message.items, formal=message.step.is_formal_notice),
        "total_due": _money(message.total_due),
        "interest": _money(message.interest),
        "indemnity": _money(message.indemnity),
        "company_name": seller_name(profile),
        "iban": _grouped_iban(profile.iban),
        "oldest_due_date": long_date(min(item.due_date for item in message.items)),
        "payment_reference": ", ".join(creditor_reference(n) for n in numbers if n),
    }


def _sample_context() -> dict[str, str]:
    return {name: f"[{name}]" for name in MERGE_FIELDS}


def _field_label(name: str) -> str:
    return str(getattr(DunningStep._meta.get_field(name), "verbose_name", name))


def validate_template(text: str, field_name: str = "body") -> Template:
    """Compile and try a step's text; refuse it (naming the field) when it does not render.

    Refused: a syntax error (an unclosed {% if %}, an unknown tag or filter), an error while
    rendering, and a merge field that does not exist (Django would print it as nothing,
    which the customer would read as a hole in the sentence).
    """
    label = _field_label(field_name)

    def refused(reason: str) -> ValidationFailed:
        message = _("%(field)s: the text does not render: %(reason)s") % {
            "field": label[:1].upper() + label[1:],
            "reason": reason,
        }
        return ValidationFailed(message, errors={field_name: [message]}, code="bad_template")

    try:
        template = _ENGINE.from_string(text)
        template.render(Context(_sample_context()))
    except TemplateSyntaxError as exc:
        raise refused(str(exc)) from None
    except Exception as exc:  # a filter raising on the sample values, a recursion…
        raise refused(f"{exc.__class__.__name__}: {exc}") from None
    unknown = sorted(
        {
            name
            for node in template.nodelist.get_nodes_by_type(VariableNode)
            if isinstance(node, VariableNode)
            and isinstance(name := getattr(node.filter_expression.var, "var", None), str)
            and name.split(".")[0] not in MERGE_FIELDS
        }
    )
    if unknown:
        raise refused(
            _("unknown merge field %(names)s (available: %(available)s)")
            % {
                "names": ", ".join("{{ " + name + " }}" for name in unknown),
                "available": ", ".join(MERGE_FIELDS),
            }
        )
    return template


class _Templates:
    """Each step's subject and body compiled once per run (a run renders thousands)."""

    def __init__(self) -> None:
        self._compiled: dict[int, tuple[Template, Template] | None] = {}

    def get(self, step: DunningStep) -> tuple[Template, Template] | None:
        if step.pk not in self._compiled:
            try:
                self._compiled[step.pk] = (
                    _ENGINE.from_string(step.subject),
                    _ENGINE.from_string(step.body),
                )
            except TemplateSyntaxError:
                log.exception("dunning step %s (%s): its text does not compile", step.pk, step)
                self._compiled[step.pk] = None
        return self._compiled[step.pk]


def render_step(message: PlannedMessage, profile: CompanyProfile | None = None) -> tuple[str, str]:
    """The subject and body the customer of `message` would receive (the preview's text)."""
    templates = _Templates().get(message.step)
    if templates is None:
        validate_template(message.step.subject, "subject")
        validate_template(message.step.body, "body")
        raise ValueError(f"step {message.step.pk}: its text does not compile")
    context = Context(merge_context(message, profile or company_profile()))
    return templates[0].render(context).strip(), templates[1].render(context).strip()


def _check_step(step: DunningStep) -> None:
    if step.channel not in DunningChannel.values:
        message = _("Unknown channel %(channel)s.") % {"channel": step.channel}
        raise ValidationFailed(message, errors={"channel": [message]}, code="channel")
    if step.is_formal_notice and step.channel not in (DunningChannel.EMAIL, DunningChannel.LETTER):
        message = _("A formal notice is sent by email or letter, not by a task.")
        raise ValidationFailed(message, errors={"is_formal_notice": [message]}, code="channel")
    validate_template(step.subject, "subject")
    validate_template(step.body, "body")


def save_step(*, actor: User, step: DunningStep, **fields: Any) -> DunningStep:
    """Create or change a scenario's step; its texts must render (else ValidationFailed)."""
    require(actor, Action.MANAGE_DUNNING)
    editable = {"name", "offset_days", "channel", "subject", "body", "is_formal_notice"}
    unknown = set(fields) - editable - {"scenario"}
    if unknown:
        raise ValueError(f"save_step: not editable: {', '.join(sorted(unknown))}")
    before = snapshot(step) if step.pk else {}
    # A refused change leaves the caller's object as it was (a form shows it again).
    previous = {name: getattr(step, name) for name in fields if name != "scenario"}
    for name, value in fields.items():
        setattr(step, name, value)
    try:
        _check_step(step)
        creating = step.pk is None
        with transaction.atomic():
            step.save()
            record_event(
                actor=actor,
                verb=Verb.CREATE if creating else Verb.UPDATE,
                instance=step,
                changes=snapshot(step) if creating else diff(before, snapshot(step)),
            )
    except IntegrityError:
        for name, value in previous.items():
            setattr(step, name, value)
        message = _("This scenario already has a step at %(offset)+d days.") % {
            "offset": fields.get("offset_days", step.offset_days)
        }
        raise ValidationFailed(message, errors={"offset_days": [message]}, code="offset") from None
    except ValidationFailed:
        for name, value in previous.items():
            setattr(step, name, value)
        raise
    return step


# --- the run ----------------------------------------------------------------------------------


def _take_lock() -> None:
    """One run at a time: PostgreSQL refuses a second at once; SQLite makes it wait.

    On SQLite the transaction already holds the database's write lock (BEGIN IMMEDIATE):
    a second run waits for the first to commit, then plans and finds everything done.
    """
    if connection.vendor == "sqlite":
        DunningLock.objects.filter(name=LOCK_NAME).update(name=LOCK_NAME)
        return
    try:
        DunningLock.objects.select_for_update(nowait=True).get(name=LOCK_NAME)
    except DatabaseError:
        raise NotAllowed(
            _("A dunning run is already in progress: wait for it to finish."),
            code="dunning_running",
        ) from None


def run_dunning(*, actor: User, run_date: dt.date) -> DunningRun:
    """Send the reminders due on `run_date`: messages queued, tasks created, all at once.

    The promises to pay whose date is before `run_date` are reviewed first (kept or
    broken, `levier.collections.followup.review_promises`), in the same transaction.

    One transaction: either the whole run is recorded (messages, items, tasks, audit) and
    its emails and letters are produced after the commit, or nothing is. A second run the
    same day finds every step done and sends nothing; a concurrent one is refused
    (PostgreSQL) or waits (SQLite). A run that fails is recorded as failed and re-raised.
    """
    require(actor, Action.RUN_DUNNING)
    if run_date > timezone.localdate():
        message = _("Reminders are sent on or after their day: %(date)s is in the future.") % {
            "date": f"{run_date:%d/%m/%Y}"
        }
        raise ValidationFailed(message, errors={"run_date": [message]}, code="future_run")
    DunningLock.objects.get_or_create(name=LOCK_NAME)
    try:
        with transaction.atomic():
            _take_lock()
            run = DunningRun.objects.create(run_date=run_date, started_by=actor)
            # Promises whose date has passed become kept or broken before anything is held
            # on them: a broken promise no longer holds its invoices' reminders.
            review_promises(as_of=run_date, actor=actor)
            plan = plan_dunning(run_date)
            _record(run, plan, actor)
    except NotAllowed:
        raise
    except Exception:
        log.exception("dunning run of %s failed", run_date)
        try:
            DunningRun.objects.create(
                run_date=run_date,
                started_by=actor,
                status=DunningRun.Status.FAILED,
                finished_at=timezone.now(),
            )
        except DatabaseError:
            log.exception("the failed dunning run could not be recorded")
        raise
    return run


def _task_title(message: PlannedMessage, subject: str) -> str:
    if message.task_kind == TaskKind.STRATEGIC:
        return _(
            "Strategic account %(customer)s: remind in person (%(count)d invoice(s), %(amount)s)"
        ) % {
            "customer": message.customer.name,
            "count": len(message.items),
            "amount": _money(message.total_due),
        }
    return (
        subject
        or str(TaskKind(message.task_kind or TaskKind.HANDOVER).label)
        + f" – {message.customer.name}"
    )


def _record(run: DunningRun, plan: DunningPlan, actor: User) -> None:
    now = timezone.now()
    profile = company_profile()
    templates = _Templates()
    skipped = plan.skipped_counts()
    rows: list[tuple[PlannedMessage, DunningMessage]] = []
    for planned in plan.messages:
        compiled = templates.get(planned.step)
        if compiled is None:
            skipped[SkipReason.BROKEN_TEMPLATE] = skipped.get(SkipReason.BROKEN_TEMPLATE, 0) + len(
                planned.items
            )
            continue
        context = Context(merge_context(planned, profile))
        subject = compiled[0].render(context).strip()
        body = compiled[1].render(context).strip()
        is_task = planned.task_kind is not None
        if is_task:
            subject = _task_title(planned, subject)
        rows.append(
            (
                planned,
                DunningMessage(
                    run=run,
                    customer_id=planned.customer.id,
                    step=planned.step,
                    channel=planned.channel,
                    recipients=", ".join(planned.recipients)[:500],
                    subject=subject[:300],
                    body=body,
                    total_due=planned.total_due,
                    interest=planned.interest,
                    indemnity=planned.indemnity,
                    # A task is handed to a person now; emails and letters wait for the job.
                    status=MessageStatus.TASK if is_task else MessageStatus.QUEUED,
                    sent_at=now if is_task else None,
                ),
            )
        )
    DunningMessage.objects.bulk_create([m for _p, m in rows], batch_size=BATCH)
    items = [
        DunningItem(
            message=message,
            invoice_id=item.invoice_id,
            step=item.step,
            outcome=DunningOutcome.TASK if planned.task_kind else DunningOutcome.SENT,
            open_amount=item.open_amount,
            days_late=item.days_late,
            interest=item.interest,
            indemnity=item.indemnity,
        )
        for planned, message in rows
        for item in planned.items
    ]
    DunningItem.objects.bulk_create(items, batch_size=BATCH)
    tasks = [
        (
            planned,
            CollectionTask(
                customer_id=planned.customer.id,
                kind=planned.task_kind,
                title=message.subject[:300],
                due_on=run.run_date,
                amount=planned.total_due,
                days_late=planned.days_late,
                assignee_id=(
                    planned.customer.account_manager_id
                    if planned.task_kind == TaskKind.STRATEGIC
                    else None
                ),
                dunning_message=message,
            ),
        )
        for planned, message in rows
        if planned.task_kind is not None
    ]
    CollectionTask.objects.bulk_create([t for _p, t in tasks], batch_size=BATCH)
    through = CollectionTask.invoices.through
    through.objects.bulk_create(
        [
            through(collectiontask_id=task.pk, invoice_id=item.invoice_id)
            for planned, task in tasks
            for item in planned.items
        ],
        batch_size=BATCH,
    )
    record_events(
        actor=actor,
        verb=Verb.CREATE,
        entries=[
            (
                message,
                {
                    "run": run.pk,
                    "customer": planned.customer.id,
                    "step": planned.step.name,
                    "channel": message.channel,
                    "invoices": [item.number for item in planned.items],
                    "total_due": message.total_due,
                    "interest": message.interest,
                    "indemnity": message.indemnity,
                },
            )
            for planned, message in rows
        ],
        comment=f"Relance du {run.run_date:%d/%m/%Y}",
    )
    run.messages = sum(1 for planned, _m in rows if planned.task_kind is None)
    run.tasks = len(tasks)
    run.items = len(items)
    run.skipped = skipped
    run.status = DunningRun.Status.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["messages", "tasks", "items", "skipped", "status", "finished_at"])
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=run,
        changes={
            "run_date": run.run_date,
            "messages": run.messages,
            "tasks": run.tasks,
            "items": run.items,
            "skipped": skipped,
        },
    )
    from levier.collections.jobs_dunning import send_dunning_message

    if not settings.LEVIER_AUTO_SEND_REMINDERS:
        return
    for planned, message in rows:
        if planned.task_kind is None:
            enqueue(send_dunning_message, message_id=message.pk)


# --- after the run ----------------------------------------------------------------------------


# Why an invoice is withdrawn from a reminder before it goes (French: the run's page and the
# audit trail show it next to the reminder's text).
_WITHDRAWN_WHY = {
    SkipReason.PAID: "réglée",
    SkipReason.DISPUTE: "en litige",
    SkipReason.PROMISE: "sous promesse de paiement",
    SkipReason.PAYMENT_PENDING: "paiement reçu à lettrer",
}
NOTHING_LEFT_REASON = (
    "Plus rien à relancer : factures réglées, en litige, sous promesse de paiement ou avec "
    "un paiement reçu à lettrer depuis la relance"
)


@dataclass
class Recheck:
    """What is left of a reminder when it is about to go: the invoices withdrawn, and why."""

    remaining: int
    withdrawn: list[tuple[str, str]] = field(default_factory=list)  # (number, reason)
    rewritten: bool = False  # subject, body and amounts rendered again

    @property
    def nothing_left(self) -> bool:
        return self.remaining == 0

    def summary(self) -> str:
        """« F-2026-00012 réglée, F-2026-00015 en litige »."""
        return ", ".join(f"{number} {_WITHDRAWN_WHY[reason]}" for number, reason in self.withdrawn)

    def error(self) -> str:
        """The reason stored on a reminder not sent because nothing is left to chase."""
        if not self.withdrawn:
            return f"{NOTHING_LEFT_REASON}."
        return f"{NOTHING_LEFT_REASON} ({self.summary()})."


def recheck_message(
    row: DunningMessage, *, actor: User | None = None, today: dt.date | None = None
) -> Recheck:
    """Before a reminder goes, withdraw the invoices no longer to chase; rewrite the rest.

    The run froze the text; the email may go later (a retry, automatic sending off) and a
    letter is printed days later. An invoice paid (or no longer issued), under an open
    dispute, under an open promise to pay not yet due, or with a payment received waiting
    to be matched, is withdrawn: its `DunningItem` is deleted, so its step stays to do and
    a later run reminds it once the hold is lifted. The others keep their step, and their
    open amount is brought up to date (a part paid since); the subject, body and totals are
    rendered again for them with the text of the most advanced of their steps. Whether
    anything is left is the caller's decision to make (`Recheck.nothing_left`).

    Called with the row locked (the sending job's claim, a letter marked printed); four or
    five queries, and a few writes when something changed. Audited when it did.
    """
    today = today or timezone.localdate()
    items = list(
        row.items.select_related("invoice", "step").order_by("invoice__due_date", "invoice_id")
    )
    ids = {item.invoice_id for item in items}
    disputed = set(
        Dispute.objects.filter(status=DisputeStatus.OPEN, invoice_id__in=ids).values_list(
            "invoice_id", flat=True
        )
    )
    promised = set(
        PromiseToPay.invoices.through.objects.filter(
            invoice_id__in=ids,
            promisetopay__status=PromiseStatus.OPEN,
            promisetopay__promised_on__gte=today,
        ).values_list("invoice_id", flat=True)
    )
    awaiting_match = invoices_awaiting_matching(ids)
    kept: list[DunningItem] = []
    withdrawn: list[DunningItem] = []
    result = Recheck(remaining=0)
    for item in items:
        invoice = item.invoice
        open_amount = invoice.open_amount or ZERO
        reason = (
            SkipReason.PAID
            if invoice.status != InvoiceStatus.ISSUED or open_amount <= ZERO
            else SkipReason.DISPUTE
            if item.invoice_id in disputed
            else SkipReason.PROMISE
            if item.invoice_id in promised
            else SkipReason.PAYMENT_PENDING
            if item.invoice_id in awaiting_match
            else None
        )
        if reason is not None:
            withdrawn.append(item)
            result.withdrawn.append((invoice.number or "", reason))
            continue
        if item.open_amount != open_amount:
            item.open_amount = open_amount
            result.rewritten = True
        kept.append(item)
    result.remaining = len(kept)
    if withdrawn:
        DunningItem.objects.filter(pk__in=[item.pk for item in withdrawn]).delete()
        result.rewritten = bool(kept)
    if result.rewritten:
        DunningItem.objects.bulk_update(kept, ["open_amount"])
        planned = PlannedMessage(
            _customer_info(row.customer),
            max((item.step for item in kept), key=lambda step: step.offset_days),
            [
                PlannedItem(
                    invoice_id=item.invoice_id,
                    number=item.invoice.number or "",
                    issue_date=item.invoice.issue_date,
                    due_date=item.invoice.due_date or row.run.run_date,
                    total_gross=item.invoice.total_gross,
                    open_amount=item.open_amount,
                    step=item.step,
                    days_late=item.days_late,
                    interest=item.interest,
                    indemnity=item.indemnity,
                )
                for item in kept
            ],
        )
        subject, body = render_step(planned)
        row.step = planned.step
        row.subject, row.body = subject[:300], body
        row.total_due = planned.total_due
        row.interest, row.indemnity = planned.interest, planned.indemnity
        row.save(update_fields=["step", "subject", "body", "total_due", "interest", "indemnity"])
    if withdrawn or result.rewritten:
        record_event(
            actor=actor,
            verb=Verb.UPDATE,
            instance=row,
            changes={
                "withdrawn": [number for number, _reason in result.withdrawn],
                "invoices": [item.invoice.number for item in kept],
                "total_due": row.total_due if kept else ZERO,
            },
            comment=(
                f"Avant l'envoi : {result.summary()}"
                if withdrawn
                else "Avant l'envoi : montants restant dus mis à jour"
            ),
        )
    return result


def reminder_payload(message: DunningMessage) -> dict[str, Any]:
    """What `reminder.sent` tells subscribers: who, which step, which invoices, how much."""
    return {
        "message_id": message.pk,
        "run_id": message.run_id,
        "customer_id": message.customer_id,
        "step": message.step.name,
        "offset_days": message.step.offset_days,
        "formal_notice": message.step.is_formal_notice,
        "channel": message.channel,
        "recipients": message.recipients,
        "total_due": str(message.total_due),
        "interest": str(message.interest),
        "indemnity": str(message.indemnity),
        "invoices": [
            {
                "invoice_id": item.invoice_id,
                "number": item.invoice.number,
                "open_amount": str(item.open_amount),
                "days_late": item.days_late,
            }
            for item in message.items.select_related("invoice").order_by("invoice__due_date", "pk")
        ],
    }


def record_reminder_sent(message: DunningMessage) -> None:
    record_domain_events([Event(EventName.REMINDER_SENT, message, reminder_payload(message))])


def mark_reminder_printed(*, actor: User, message: DunningMessage) -> DunningMessage:
    """A person printed and posted a reminder letter: it leaves the "to print" worklist.

    The letter's invoices are checked again first (`recheck_message`). Nothing left to
    chase: the letter is set aside ("failed", with the reason) and the person is told not
    to post it. Some invoices withdrawn (or paid in part): the letter is rewritten, stays to
    print, and the person is told to print it again. Either way no `reminder.sent`, and
    NotAllowed is raised after the change is saved.
    """
    require(actor, Action.RUN_DUNNING)
    refusal: NotAllowed | None = None
    with transaction.atomic():
        row = (
            DunningMessage.objects.select_for_update(of=("self",))
            .select_related("step", "customer", "run")
            .get(pk=message.pk)
        )
        if row.status != MessageStatus.TO_PRINT:
            raise NotAllowed(
                _("This reminder is not waiting to be printed (status: %(status)s).")
                % {"status": row.get_status_display()}
            )
        checked = recheck_message(row, actor=actor)
        if checked.nothing_left:
            row.status, row.error = MessageStatus.CANCELLED, checked.error()
            row.save(update_fields=["status", "error"])
            refusal = NotAllowed(
                _(
                    "Do not post this letter: its invoices were paid, disputed, promised or "
                    "have a payment to match since the run (%(invoices)s)."
                )
                % {"invoices": ", ".join(number for number, _why in checked.withdrawn)},
                code="nothing_to_remind",
            )
        elif checked.rewritten:
            refusal = NotAllowed(
                _(
                    "Since the run, invoices of this letter were paid, disputed, promised or "
                    "have a payment to match: the letter was rewritten, print it again before "
                    "posting it."
                ),
                code="letter_rewritten",
            )
        else:
            row.status = MessageStatus.PRINTED
            row.sent_at = timezone.now()
            row.save(update_fields=["status", "sent_at"])
            record_event(
                actor=actor,
                verb=Verb.SEND,
                instance=row,
                changes={"channel": row.channel, "status": [MessageStatus.TO_PRINT, row.status]},
                comment="Lettre de relance imprimée et postée",
            )
            record_reminder_sent(row)
    if refusal is not None:
        raise refusal
    return row
