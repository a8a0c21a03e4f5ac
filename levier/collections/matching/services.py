"""Running the matcher on stored payments, and a person's answer to its proposals.

A run reads everything it needs in a fixed number of queries (the payments, the open
invoices, the customers, the IBANs already seen, the proposals already made), decides in
memory (`engine.propose`), applies the certain proposals in one `apply_matches` call and
stores the others for a person. The payments are locked first (in id order, as
`apply_matches` does), so two runs at once queue instead of proposing the same money twice.

Lock order, everywhere: the payments, then their invoices or proposals. A proposal is only
written by whoever holds its payment's lock, so a person's answer (`accept_proposal`,
`reject_proposal`) locks the payment before the proposal: locking the proposal first would
deadlock against a run holding the payment and making that proposal obsolete.

What a person refused is never done again without one: a rejected proposal is not made again,
and no certain proposal allocates a payment to an invoice a rejected proposal named (an
allocation undone by `unmatch` rejects the proposal it came from): it is proposed at most.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.choices import MatchReason, PaymentStatus, ProposalStatus
from levier.collections.matching.engine import (
    OpenItem,
    OpenItems,
    PaymentFacts,
    Proposal,
    propose,
)
from levier.collections.models import Allocation, MatchProposal, Payment
from levier.collections.payments import Match, Portion, apply_matches
from levier.customers.models import Customer
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.money import ZERO

MATCHABLE = (PaymentStatus.UNMATCHED, PaymentStatus.PARTIAL)
# A payment quoting an invoice settled within this many days is shown as a double payment.
SETTLED_LOOKBACK_DAYS = 400


@dataclass
class MatchReport:
    """What a run did: payments = matched_automatically + proposals + unmatched."""

    payments: int = 0
    matched_automatically: int = 0
    proposals: int = 0
    unmatched: int = 0
    amount_matched: Decimal = ZERO
    # Certain proposals `apply_matches` refused (the data moved meanwhile): kept as proposals.
    refused: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "payments": self.payments,
            "matched_automatically": self.matched_automatically,
            "proposals": self.proposals,
            "unmatched": self.unmatched,
            "amount_matched": str(self.amount_matched),
        }


def _selected(payment_ids: Iterable[int] | None) -> QuerySet[Payment]:
    payments = Payment.objects.filter(status__in=MATCHABLE, currency="EUR")
    if payment_ids is not None:
        payments = payments.filter(pk__in=list(payment_ids))
    return payments


def load_payments(payment_ids: Iterable[int] | None = None) -> list[PaymentFacts]:
    """The EUR payments with money left, with the invoices each is matched with.

    Locks them: call it inside a transaction.
    """
    selected = _selected(payment_ids)
    rows = list(
        selected.select_for_update()
        .order_by("pk")
        .values_list(
            "pk",
            "amount",
            "allocated",
            "reference",
            "payer_name",
            "payer_iban",
            "customer_id",
            "received_on",
            "status",
        )
    )
    already: dict[int, set[int]] = {}
    if any(row[-1] == PaymentStatus.PARTIAL for row in rows):
        for payment_id, invoice_id in Allocation.objects.filter(
            payment__in=selected.filter(status=PaymentStatus.PARTIAL).values("pk")
        ).values_list("payment_id", "invoice_id"):
            already.setdefault(payment_id, set()).add(invoice_id)
    # The columns in PaymentFacts' order, then the status.
    return [PaymentFacts(*row[:-1], already=frozenset(already.get(row[0], ()))) for row in rows]


def load_open_items() -> OpenItems:
    """Every EUR invoice still owing money, every customer, every IBAN already matched.

    An IBAN is known as a customer's when a payment from it is on that customer and settles
    only that customer's invoices: a payment a person put on another customer's invoices
    (a parent company paying for its subsidiary, a guess corrected on a payment entered
    for a customer) says nothing about whose account it is.
    """
    invoices = (
        Invoice.objects.filter(
            status=InvoiceStatus.ISSUED,
            kind=DocumentKind.INVOICE,
            currency="EUR",
            open_amount__gt=0,
        )
        .exclude(number=None)
        .values_list("pk", "number", "customer_id", "open_amount", "due_date")
    )
    customers = Customer.objects.filter(merged_into=None).values_list(
        "pk", "name", "trade_name", "iban"
    )
    elsewhere = Allocation.objects.filter(payment=OuterRef("pk")).exclude(
        invoice__customer_id=OuterRef("customer_id")
    )
    known_ibans = (
        Payment.objects.filter(status__in=(PaymentStatus.MATCHED, PaymentStatus.PARTIAL))
        .exclude(customer=None)
        .exclude(Exists(elsewhere))
        .exclude(payer_iban="")
        .values_list("payer_iban", "customer_id")
        .distinct()
    )
    settled = (
        Invoice.objects.filter(
            status=InvoiceStatus.ISSUED,
            kind=DocumentKind.INVOICE,
            open_amount__lte=0,
            settled_on__gte=timezone.localdate() - dt.timedelta(days=SETTLED_LOOKBACK_DAYS),
        )
        .exclude(number=None)
        .values_list("pk", "number", "customer_id")
    )
    return OpenItems(
        (
            OpenItem(pk, number or "", customer, amount or ZERO, due)
            for pk, number, customer, amount, due in invoices
        ),
        customers,
        [(iban, customer) for iban, customer in known_ibans if customer is not None],
        settled=((pk, number or "", customer) for pk, number, customer in settled),
    )


Signature = tuple[int, int | None, frozenset[tuple[int, Decimal]]]


def _signature(
    payment_id: int, customer_id: int | None, portions: Iterable[tuple[int, Decimal]]
) -> Signature:
    """What a proposal says, whatever its wording: the payer and the amounts per invoice."""
    return payment_id, customer_id, frozenset((i, Decimal(a)) for i, a in portions)


def _stored_portions(allocations: Any) -> list[tuple[int, Decimal]]:
    return [(int(a["invoice"]), Decimal(str(a["amount"]))) for a in allocations or []]


def _proposed(proposal: Proposal) -> Signature:
    return _signature(
        proposal.payment_id,
        proposal.customer_id,
        ((p.invoice_id, p.amount) for p in proposal.portions),
    )


class _Earlier(NamedTuple):
    """The proposals already stored for the run's payments."""

    rejected: set[Signature]
    # signature (with reason and confidence) → the pending proposal's id
    pending: dict[tuple[Signature, str, Decimal], int]
    # payment id → the invoices a rejected proposal allocated it to
    refused: dict[int, set[int]]


def _earlier(selected: QuerySet[Payment]) -> _Earlier:
    earlier = _Earlier(set(), {}, {})
    for (
        pk,
        payment_id,
        customer_id,
        allocations,
        status,
        reason,
        confidence,
    ) in MatchProposal.objects.filter(
        payment__in=selected.values("pk"),
        status__in=(ProposalStatus.REJECTED, ProposalStatus.PENDING),
    ).values_list(
        "pk", "payment_id", "customer_id", "allocations", "status", "reason", "confidence"
    ):
        signature = _signature(payment_id, customer_id, _stored_portions(allocations))
        if status == ProposalStatus.REJECTED:
            earlier.rejected.add(signature)
            earlier.refused.setdefault(payment_id, set()).update(i for i, _a in signature[2])
        else:
            earlier.pending[(signature, reason, confidence)] = pk
    return earlier


def _stored(proposal: Proposal, numbers: dict[int, str], **extra: Any) -> MatchProposal:
    return MatchProposal(
        payment_id=proposal.payment_id,
        customer_id=proposal.customer_id,
        reason=proposal.reason,
        confidence=proposal.confidence,
        explanation=proposal.explanation[:500],
        allocations=[
            {"invoice": p.invoice_id, "number": numbers[p.invoice_id], "amount": str(p.amount)}
            for p in proposal.portions
        ],
        **extra,
    )


@transaction.atomic
def match_payments(*, actor: User, payment_ids: Sequence[int] | None = None) -> MatchReport:
    """Match the EUR payments not fully matched (all of them, or those given).

    Certain proposals are applied (automatic allocations, and an accepted proposal keeping
    the explanation); the others replace the payment's pending proposal, unless a person
    already rejected exactly that one. A proposal identical to the pending one keeps it.
    A proposal allocating a payment to an invoice a person refused for it is never certain.
    """
    require(actor, Action.MATCH_PAYMENTS)
    payments = load_payments(payment_ids)
    report = MatchReport(payments=len(payments))
    if not payments:
        return report
    index = load_open_items()
    earlier = _earlier(_selected(payment_ids))
    payments = [
        replace(p, refused=frozenset(earlier.refused[p.payment_id]))
        if p.payment_id in earlier.refused
        else p
        for p in payments
    ]
    proposals = [p for p in propose(payments, index) if _proposed(p) not in earlier.rejected]
    numbers = {
        x.invoice_id: index.items[x.invoice_id].number for p in proposals for x in p.portions
    }
    certain = {p.payment_id: p for p in proposals if p.certain}
    outcome = apply_matches(
        actor=actor,
        matches=[
            Match(
                p.payment_id,
                p.portions,
                reason=p.reason,
                confidence=p.confidence,
                automatic=True,
                customer_id=p.customer_id,
                explanation=p.explanation,
            )
            for p in certain.values()
        ],
    )
    applied = {m.payment_id for m in outcome.applied}
    report.refused = [f"{f.match.payment_id}: {f.error.message}" for f in outcome.failures]
    report.matched_automatically = len(applied)
    report.amount_matched = sum((certain[i].amount for i in applied), ZERO)
    now = timezone.now()
    rows = [
        _stored(
            certain[i], numbers, status=ProposalStatus.ACCEPTED, decided_by=actor, decided_at=now
        )
        for i in sorted(applied)
    ]
    kept: set[int] = set()
    for p in proposals:
        if p.payment_id in applied:
            continue
        report.proposals += 1
        same = earlier.pending.get((_proposed(p), p.reason, p.confidence))
        if same is None:
            rows.append(_stored(p, numbers))
        else:
            kept.add(same)
    stale = [pk for pk in earlier.pending.values() if pk not in kept]
    if stale:
        MatchProposal.objects.filter(pk__in=stale, status=ProposalStatus.PENDING).update(
            status=ProposalStatus.OBSOLETE
        )
    MatchProposal.objects.bulk_create(rows, batch_size=1000)
    report.unmatched = report.payments - report.matched_automatically - report.proposals
    return report


def _locked_pending(proposal: MatchProposal) -> MatchProposal:
    """The proposal, locked, if it is still pending; its payment is locked first.

    The payment before the proposal, the order `match_payments` and `apply_matches` lock
    in: a run holding the payment waits for this answer (and then finds the payment
    matched, or the proposal decided) instead of deadlocking with it. The status is read
    once both are locked, so a run that replaced the proposal meanwhile is seen.
    """
    list(Payment.objects.select_for_update().filter(pk=proposal.payment_id).values_list("pk"))
    row = MatchProposal.objects.select_for_update().filter(pk=proposal.pk).first()
    if row is None or row.status != ProposalStatus.PENDING:
        raise NotAllowed(
            _("this proposal was already decided or replaced by a newer one"),
            code="proposal_decided",
        )
    return row


def _decided(row: MatchProposal, proposal: MatchProposal, actor: User, status: str) -> None:
    row.status, row.decided_by, row.decided_at = status, actor, timezone.now()
    row.save(update_fields=["status", "decided_by", "decided_at"])
    proposal.status, proposal.decided_by_id, proposal.decided_at = (
        row.status,
        actor.pk,
        row.decided_at,
    )


@transaction.atomic
def accept_proposal(
    *, actor: User, proposal: MatchProposal, portions: Sequence[Portion] | None = None
) -> list[Allocation]:
    """Confirm a proposal as it is, or with the portions a person changed or split.

    A changed proposal is recorded as matched by hand: the matcher's reason no longer
    explains those amounts, nor its guess of the payer: a payment without a customer takes
    the customer of the invoices the person chose.
    """
    require(actor, Action.MATCH_PAYMENTS)
    row = _locked_pending(proposal)
    proposed = _stored_portions(row.allocations)
    chosen = (
        list(portions)
        if portions is not None
        else [Portion(invoice, amount) for invoice, amount in proposed]
    )
    if not chosen:
        raise ValidationFailed(
            _("this proposal names the payer only: say which invoices the payment settles"),
            errors={"portions": [_("no invoice to allocate the payment to")]},
            code="empty",
        )
    changed = sorted((p.invoice_id, p.amount) for p in chosen) != sorted(proposed)
    outcome = apply_matches(
        actor=actor,
        matches=[
            Match(
                row.payment_id,
                chosen,
                reason=MatchReason.MANUAL if changed else MatchReason(row.reason),
                confidence=Decimal("1.00"),
                customer_id=None if changed else row.customer_id,
                explanation=row.explanation,
            )
        ],
    )
    if outcome.failures:
        raise outcome.failures[0].error
    # apply_matches made every pending proposal of the payment obsolete, this one included.
    _decided(row, proposal, actor, ProposalStatus.ACCEPTED)
    record_event(
        actor=actor,
        verb=Verb.APPROVE,
        instance=row,
        changes={
            "status": [ProposalStatus.PENDING, ProposalStatus.ACCEPTED],
            "payment": row.payment_id,
            "changed": changed,
            "allocations": [{"invoice": p.invoice_id, "amount": str(p.amount)} for p in chosen],
        },
    )
    return outcome.allocations


@transaction.atomic
def reject_proposal(*, actor: User, proposal: MatchProposal, reason: str) -> MatchProposal:
    """Say the proposal is wrong; the matcher will not make it again for this payment, nor
    allocate the payment by itself to any invoice it named (it may still propose one)."""
    require(actor, Action.MATCH_PAYMENTS)
    if not reason.strip():
        raise ValidationFailed(
            _("say why the proposal is wrong"),
            errors={"reason": [_("say why the proposal is wrong")]},
            code="reason_required",
        )
    row = _locked_pending(proposal)
    _decided(row, proposal, actor, ProposalStatus.REJECTED)
    record_event(
        actor=actor,
        verb=Verb.REJECT,
        instance=row,
        changes={
            "status": [ProposalStatus.PENDING, ProposalStatus.REJECTED],
            "payment": row.payment_id,
            "allocations": row.allocations,
        },
        comment=reason.strip()[:1000],
    )
    return row
