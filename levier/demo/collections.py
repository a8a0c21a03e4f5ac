"""The demo's 24 months of collections: payments, statements, matching, disputes, reminders.

Each customer has a payment habit (early, on time, late, very late). Week by week, in date
order and with the clock set to that day (demo data only, as in levier.demo.billing):
- the transfers of the week arrive in a camt.053 statement written by the demo bank
  (levier.collections.statements.writer) and imported through the real import, which
  matches what it is sure of; the accountant then confirms or corrects the proposals
  (except those of the last weeks, left for the reconciliation screen);
- cheques are entered by hand and matched;
- some invoices are disputed, then resolved (rejected, or by a credit note issued during
  the billing history) or still open; promises to pay are recorded after a call;
- the dunning run of each Monday sends its reminders (history: recorded as sent that day,
  never emailed), and the collection tasks it creates are done a few days later.
A few payments are partial or overpaid (the overpayment stays as customer credit).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.test.utils import override_settings
from django.utils import timezone
from schwifty import IBAN

from levier.accounts.models import User
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.choices import (
    DisputeStatus,
    DunningChannel,
    MessageStatus,
    PaymentMethod,
    ProposalStatus,
    TaskStatus,
)
from levier.collections.disputes import open_dispute, resolve_dispute
from levier.collections.dunning import run_dunning
from levier.collections.followup import complete_task, record_promise, review_promises
from levier.collections.models import CollectionTask, Dispute, MatchProposal, Payment
from levier.collections.payments import Match, Portion, apply_matches, record_payment
from levier.collections.services import import_statement_file
from levier.collections.statements.model import Statement, StatementLine
from levier.collections.statements.writer import camt053
from levier.customers.models import Customer
from levier.demo.billing import clock
from levier.demo.company import Cast, Progress
from levier.demo.timeline import Timeline
from levier.lib.identifiers import creditor_reference

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
COMPANY_IBAN = "FR7630004000031234567890143"
# Days after the due date a customer of each habit pays (low, high), and how common it is.
HABITS = {
    "early": ((-12, -1), 20),
    "on_time": ((-2, 6), 40),
    "late": ((8, 35), 28),
    "very_late": ((35, 110), 12),
}
# How long before the end of the history the accountant has not looked at proposals yet.
FRESH_DAYS = 21
HABITS_SEED = 1976
DISPUTE_REASONS = ["quality", "price", "quantity", "not_delivered", "missing_po", "other"]
# The story of the dashboard: payment delays improving over the last year, and a dispute
# spike (wrong prices) on the invoices issued between 8 and 6 months ago.
IMPROVEMENT_DAYS = 365
LATENESS_BEFORE, LATENESS_TODAY = 1.8, 0.2
SPIKE_FROM_DAYS, SPIKE_TO_DAYS = 240, 180
SPIKE_RATE = 0.16
SPIKE_REASONS = ["price", "price", "price", "quantity", "quality"]


@dataclass
class Plan:
    """When and how one invoice gets paid."""

    invoice_id: int
    customer_id: int
    day: dt.date
    method: str  # transfer / cheque
    quote: str  # rf / number / none
    share: Decimal = Decimal("1")  # < 1: a first partial payment, the rest three weeks later
    extra: Decimal = ZERO  # > 0: overpaid by this much


@dataclass
class Week:
    plans: list[Plan] = field(default_factory=list)


def _french_iban(rng: random.Random) -> str:
    bank = rng.choice(["30004", "30003", "10278", "20041", "18206", "30066"])
    branch = f"{rng.randint(0, 99999):05d}"
    account = f"{rng.randint(0, 10**11 - 1):011d}"
    return str(IBAN.generate("FR", bank_code=bank + branch, account_code=account))


class CollectionsHistory:
    def __init__(self, cast: Cast, rng: random.Random, timeline: Timeline) -> None:
        self.cast, self.rng, self.timeline = cast, rng, timeline
        self.compta = cast.users["compta"]
        self.adv = cast.users["adv"]
        self.today = timezone.localdate()
        customers = list(Customer.objects.order_by("pk").values_list("pk", "name"))
        names = [name for name, weight in HABITS.items() for _ in range(weight[1])]
        # Habits come from their own generator: drawn from the shared one they would change
        # with the day and hour the demo is loaded, and so would the DSO story.
        habits = random.Random(HABITS_SEED)
        self.habit = {pk: habits.choice(names) for pk, _ in customers}
        self.names = dict(customers)
        self.ibans = {pk: _french_iban(rng) for pk, _ in customers}
        self.plans: dict[dt.date, list[Plan]] = defaultdict(list)
        self.pay_day: dict[int, dt.date] = {}
        self.disputed: set[int] = set()
        self.dispute_plans: dict[dt.date, list[tuple[int, dt.date, dt.date, str, User]]] = (
            defaultdict(list)
        )
        self.resolutions: dict[dt.date, list[tuple[Dispute, User]]] = defaultdict(list)
        self.statement_no = 0

    def _at(self, day: dt.date, hour: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, self.rng.randint(0, 59))))

    # -- planning ---------------------------------------------------------------------
    def plan(self) -> None:
        invoices = Invoice.objects.filter(
            kind=DocumentKind.INVOICE, status=InvoiceStatus.ISSUED
        ).values_list("pk", "customer_id", "due_date", "issue_date")
        for pk, customer_id, due, issued in invoices:
            assert due is not None and issued is not None
            low, high = HABITS[self.habit[customer_id]][0]
            late = self.rng.randint(low, high)
            if late > 0:
                late = round(late * self._lateness(due))
            day: dt.date = max(issued + dt.timedelta(days=2), due + dt.timedelta(days=late))
            if pk in self.disputed:
                day += dt.timedelta(days=30)
            roll = self.rng.random()
            method = PaymentMethod.CHEQUE if roll < 0.08 else PaymentMethod.TRANSFER
            quote = self.rng.choices(["rf", "number", "none"], weights=[45, 25, 30])[0]
            plan = Plan(pk, customer_id, day, method, quote)
            chance = self.rng.random()
            if chance < 0.03:
                plan.share = Decimal("0.5")
            elif chance < 0.04:
                plan.extra = Decimal(self.rng.choice([10, 50, 100, 250]))
            self.plans[day].append(plan)
            self.pay_day[pk] = day

    def _lateness(self, due: dt.date) -> float:
        """The demo's DSO story: late payers were much later before the company structured
        its collections (reminders, statements, promises) a year ago; since then their delays
        shrink steadily, to a fifth of their habit today. The ramp is steep enough for the
        trend to show through the monthly saw-tooth of the DSO whatever day the demo is
        loaded (its tests compare a quarter of snapshots at each end of the year)."""
        days_ago = (self.today - due).days
        if days_ago >= IMPROVEMENT_DAYS:
            return LATENESS_BEFORE
        share = max(days_ago, 0) / IMPROVEMENT_DAYS
        return LATENESS_TODAY + (LATENESS_BEFORE - LATENESS_TODAY) * share

    def _in_spike(self, issued: dt.date) -> bool:
        """Invoices of the two months after the yearly price revision were often wrong (an
        old price list in the billing run): the dispute spike the dashboard shows."""
        return SPIKE_FROM_DAYS >= (self.today - issued).days > SPIKE_TO_DAYS

    # -- disputes ---------------------------------------------------------------------
    def plan_disputes(self) -> None:
        """About 2.5 % more invoices disputed, beyond those the billing history settled by
        credit note: most rejected after a check, the recent ones still open."""
        invoices = (
            Invoice.objects.filter(kind=DocumentKind.INVOICE, status=InvoiceStatus.ISSUED)
            .exclude(disputes__isnull=False)
            .order_by("issue_date", "pk")
            .values_list("pk", "issue_date")
        )
        owners = [self.compta, self.adv, self.cast.users.get("adv2", self.adv)]
        for pk, issued in invoices:
            if issued is None:
                continue
            spike = self._in_spike(issued)
            if self.rng.random() >= (SPIKE_RATE if spike else 0.025):
                continue
            opened = issued + dt.timedelta(days=self.rng.randint(5, 25))
            if opened > self.today:
                continue
            resolved = opened + dt.timedelta(days=self.rng.randint(4, 40))
            self.disputed.add(pk)
            self.dispute_plans[opened].append(
                (
                    pk,
                    opened,
                    resolved,
                    self.rng.choice(SPIKE_REASONS if spike else DISPUTE_REASONS),
                    self.rng.choice(owners),
                )
            )

    def _disputes(self, days: list[dt.date]) -> None:
        for day in days:
            for pk, opened, resolved, reason, owner in self.dispute_plans.pop(day, []):
                moment = self._at(opened, 15)
                with self.timeline.at(moment), clock(moment):
                    dispute = open_dispute(
                        actor=self.adv,
                        invoice=Invoice.objects.get(pk=pk),
                        reason=reason,
                        owner=owner,
                        due_on=opened + dt.timedelta(days=15),
                        notes="Le client conteste la facture par courriel.",
                        opened_on=opened,
                    )
                if resolved < self.today - dt.timedelta(days=7):
                    self.resolutions[resolved].append((dispute, owner))
            for dispute, owner in self.resolutions.pop(day, []):
                moment = self._at(day, 16)
                with self.timeline.at(moment), clock(moment):
                    resolve_dispute(
                        actor=owner,
                        dispute=dispute,
                        resolution="rejected",
                        note="Vérifié : prestation conforme au bon de commande, facture maintenue.",
                        resolved_on=day,
                    )

    # -- the weeks --------------------------------------------------------------------
    def run(self, progress: Progress) -> None:
        first = Invoice.objects.filter(status=InvoiceStatus.ISSUED).order_by("issue_date").first()
        if first is None or first.issue_date is None:
            return
        monday = first.issue_date - dt.timedelta(days=first.issue_date.weekday())
        weeks = []
        while monday <= self.today:
            weeks.append(monday)
            monday += dt.timedelta(days=7)
        for monday in progress(iter(weeks), len(weeks), "encaissements"):
            self._week(monday)

    def _week(self, monday: dt.date) -> None:
        days = [monday + dt.timedelta(days=n) for n in range(7)]
        self._reminders(monday)  # Monday morning: what was known on Sunday evening
        self._disputes([day for day in days if day <= self.today])
        plans = [plan for day in days if day <= self.today for plan in self.plans.pop(day, [])]
        friday = min(monday + dt.timedelta(days=4), self.today)
        open_now = dict(
            Invoice.objects.filter(pk__in=[p.invoice_id for p in plans]).values_list(
                "pk", "open_amount"
            )
        )
        transfers: list[tuple[Plan, Decimal]] = []
        for plan in plans:
            left = open_now.get(plan.invoice_id) or ZERO
            if left <= ZERO:
                continue
            amount = (left * plan.share).quantize(CENT) + plan.extra
            if plan.share < 1:
                rest = Plan(
                    plan.invoice_id,
                    plan.customer_id,
                    plan.day + dt.timedelta(days=21),
                    plan.method,
                    plan.quote,
                )
                self.plans[rest.day].append(rest)
            if plan.method == PaymentMethod.CHEQUE:
                self._cheque(plan, amount, friday)
            else:
                transfers.append((plan, amount))
        if transfers:
            self._statement(transfers, monday, friday)

    def _cheque(self, plan: Plan, amount: Decimal, day: dt.date) -> None:
        with self.timeline.at(self._at(day, 11)), clock(self._at(day, 11)):
            payment = record_payment(
                actor=self.compta,
                customer=Customer.objects.get(pk=plan.customer_id),
                method=PaymentMethod.CHEQUE,
                received_on=day,
                amount=amount,
                reference=f"Chèque n° {self.rng.randint(1000000, 9999999)}",
            )
            left = Invoice.objects.get(pk=plan.invoice_id).open_amount or ZERO
            apply_matches(
                actor=self.compta,
                matches=[Match(payment.pk, [Portion(plan.invoice_id, min(amount, left))])],
            )

    def _statement(
        self, transfers: list[tuple[Plan, Decimal]], monday: dt.date, friday: dt.date
    ) -> None:
        numbers = dict(
            Invoice.objects.filter(pk__in=[p.invoice_id for p, _ in transfers]).values_list(
                "pk", "number"
            )
        )
        lines = []
        truth: dict[str, list[tuple[int, Decimal]]] = {}
        for n, (plan, amount) in enumerate(transfers):
            number = numbers[plan.invoice_id] or ""
            name = self.names[plan.customer_id].upper()
            remittance, reference = "", ""
            if plan.quote == "rf":
                reference = creditor_reference(number)
            elif plan.quote == "number":
                remittance = f"Règlement facture {number}"
            else:
                remittance = f"VIR {name[:30]}"
            booked = min(plan.day, friday) if plan.day >= monday else friday
            bank_ref = f"DEMO{monday:%Y%m%d}{n:04d}"
            lines.append(
                StatementLine(
                    booking_date=booked,
                    value_date=booked,
                    amount=amount,
                    currency="EUR",
                    label=f"VIR SEPA {name[:40]}",
                    remittance=remittance,
                    reference=reference,
                    counterparty_name=name,
                    counterparty_iban=self.ibans[plan.customer_id],
                    bank_reference=bank_ref,
                    end_to_end_id=f"E2E{bank_ref}",
                )
            )
            truth[bank_ref] = [(plan.invoice_id, amount)]
        lines.sort(key=lambda line: line.booking_date)
        self.statement_no += 1
        statement = Statement(
            COMPANY_IBAN, "EUR", f"RELEVE-{friday:%Y%m%d}", None, None, None, None, tuple(lines)
        )
        data = camt053(
            [statement], f"DEMO-{self.statement_no:05d}", f"{friday.isoformat()}T18:00:00"
        )
        moment = self._at(friday, 18)
        with self.timeline.at(moment), clock(moment):
            import_statement_file(
                actor=self.compta, data=data, filename=f"releve-{friday:%Y%m%d}.xml"
            )
        if friday < self.today - dt.timedelta(days=FRESH_DAYS):
            self._reconcile(truth, friday)

    def _reconcile(self, truth: dict[str, list[tuple[int, Decimal]]], day: dt.date) -> None:
        """The accountant settles what the matcher left: the true invoices, by hand."""
        payments = Payment.objects.filter(
            bank_transaction__bank_reference__in=list(truth), allocated=0
        ).values_list("pk", "bank_transaction__bank_reference", "amount")
        matches = []
        opens = dict(
            Invoice.objects.filter(
                pk__in=[i for rows in truth.values() for i, _ in rows]
            ).values_list("pk", "open_amount")
        )
        for pk, ref, amount in payments:
            portions = []
            for invoice_id, _ in truth[ref]:
                share = min(amount, opens.get(invoice_id) or ZERO)
                if share > ZERO:
                    portions.append(Portion(invoice_id, share))
                    opens[invoice_id] = (opens.get(invoice_id) or ZERO) - share
            if portions:
                matches.append(Match(pk, portions))
        moment = self._at(day + dt.timedelta(days=3), 10)
        with self.timeline.at(moment), clock(moment):
            MatchProposal.objects.filter(
                payment_id__in=[m.payment_id for m in matches], status=ProposalStatus.PENDING
            ).update(status=ProposalStatus.OBSOLETE)
            apply_matches(actor=self.compta, matches=matches)

    def _reminders(self, monday: dt.date) -> None:
        """Promises reviewed, the Monday dunning run, and last week's tasks done."""
        moment = self._at(monday, 7)
        with self.timeline.at(moment), clock(moment):
            review_promises(as_of=monday, actor=self.compta)
        self._dunning(monday)
        if monday >= self.today - dt.timedelta(days=10):
            return
        tasks = CollectionTask.objects.filter(
            status=TaskStatus.OPEN, due_on__lte=monday - dt.timedelta(days=3)
        ).prefetch_related("invoices")
        for task in tasks:
            day = monday + dt.timedelta(days=self.rng.randint(0, 2))
            moment = self._at(day, 14)
            with self.timeline.at(moment), clock(moment):
                invoices = [i for i in task.invoices.all() if (i.open_amount or ZERO) > ZERO]
                # Most customers promise the day they will really pay; some promise too soon.
                planned = max(self.pay_day.get(i.pk, day) for i in invoices) if invoices else day
                promised = max(day, planned + dt.timedelta(days=self.rng.randint(-1, 2)))
                if self.rng.random() < 0.25 or promised > day + dt.timedelta(days=60):
                    promised = day + dt.timedelta(days=self.rng.randint(5, 20))
                note = "Joint la comptabilité fournisseurs : paiement en cours."
                if (
                    invoices
                    and self.rng.random() < 0.5
                    and not Dispute.objects.filter(
                        invoice__in=invoices, status=DisputeStatus.OPEN
                    ).exists()
                ):
                    record_promise(
                        actor=self.compta,
                        customer=task.customer,
                        invoices=invoices,
                        promised_on=promised,
                        note=f"Promesse de règlement au {promised:%d/%m/%Y}.",
                        today=day,
                    )
                    note = f"Promesse de paiement pour le {promised:%d/%m/%Y}."
                complete_task(actor=self.compta, task=task, note=note)

    def _dunning(self, monday: dt.date) -> None:
        """The Monday run; its reminders are recorded as delivered that morning (the demo
        never emails its past). Today's run is left to the user (preview, then run)."""
        from levier.collections.dunning import record_reminder_sent

        if monday >= self.today:
            return
        moment = self._at(monday, 8)
        with self.timeline.at(moment), clock(moment):
            run = run_dunning(actor=self.compta, run_date=monday)
            for message in run.dunning_messages.filter(status=MessageStatus.QUEUED).select_related(
                "step"
            ):
                letter = message.channel == DunningChannel.LETTER
                message.status = MessageStatus.PRINTED if letter else MessageStatus.SENT
                message.sent_at = moment
                message.attempts = 1
                message.save(update_fields=["status", "sent_at", "attempts"])
                record_reminder_sent(message)


def create_collections_history(
    cast: Cast, rng: random.Random, timeline: Timeline, progress: Progress
) -> dict[str, int]:
    history = CollectionsHistory(cast, rng, timeline)
    history.plan_disputes()
    history.plan()
    with override_settings(LEVIER_AUTO_SEND_REMINDERS=False):
        history.run(progress)
    return {
        "payments": Payment.objects.count(),
        "disputes": Dispute.objects.count(),
        "open_disputes": Dispute.objects.filter(status=DisputeStatus.OPEN).count(),
        "pending_proposals": MatchProposal.objects.filter(status=ProposalStatus.PENDING).count(),
        "unmatched": Payment.objects.filter(~Q(status="matched")).count(),
    }
