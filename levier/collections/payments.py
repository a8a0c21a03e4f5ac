"""Payments in and their matching to invoices (lettrage): the only code writing allocations.

`apply_matches` is the one place an allocation is made, by hand or by the matcher: it locks
the payments, then the invoices (both in id order, so two callers never deadlock), refuses
what would allocate more than a payment holds or an invoice still owes, and updates the
payments, the invoices' open amounts, the audit trail and the domain events in the same
transaction. `unmatch` undoes one allocation, with its reason kept in the audit trail.

A payment's customer is whoever a person chose when entering it; otherwise it is set by its
first allocation, from the invoices allocated, and follows them when one is undone: it is
never left naming a customer none of its allocations belong to, unless a person chose it (a
parent company paying its subsidiary's invoices).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.models import AuditEvent
from levier.audit.services import record_event, record_events
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice
from levier.collections.balances import refresh_open_amounts
from levier.collections.choices import MatchReason, PaymentMethod, PaymentStatus, ProposalStatus
from levier.collections.models import Allocation, BankTransaction, MatchProposal, Payment
from levier.customers.models import Customer
from levier.integrations.events import Event, EventName, record_domain_events
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.money import ZERO

CENT = Decimal("0.01")
CERTAIN = Decimal("0.95")  # the matcher applies a proposal by itself from this confidence


@dataclass(frozen=True)
class Portion:
    invoice_id: int
    amount: Decimal


@dataclass
class Match:
    """Allocate parts of one payment to invoices, and say why and how sure one is."""

    payment_id: int
    portions: Sequence[Portion]
    reason: MatchReason = MatchReason.MANUAL
    confidence: Decimal = Decimal("1.00")
    automatic: bool = False
    # The payer, when the match identified it: set on a payment that has none, if one of the
    # invoices is that customer's (else the payment takes the first invoice's customer).
    customer_id: int | None = None
    explanation: str = ""


@dataclass
class MatchFailure:
    match: Match
    error: ValidationFailed


@dataclass
class MatchOutcome:
    applied: list[Match] = field(default_factory=list)
    failures: list[MatchFailure] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)


def payment_status(amount: Decimal, allocated: Decimal) -> PaymentStatus:
    if allocated <= ZERO:
        return PaymentStatus.UNMATCHED
    return PaymentStatus.MATCHED if allocated >= amount else PaymentStatus.PARTIAL


def _refused(message: str, code: str, field_name: str = "__all__") -> ValidationFailed:
    return ValidationFailed(message, errors={field_name: [message]}, code=code)


@transaction.atomic
def record_payment(
    *,
    actor: User,
    customer: Customer | None,
    method: PaymentMethod | str,
    received_on: dt.date,
    amount: Decimal,
    reference: str = "",
    payer_name: str = "",
    payer_iban: str = "",
    portions: Sequence[Portion] = (),
) -> Payment:
    """A cheque, card payment or transfer entered by hand (statements create their own),
    allocated at once to the `portions` given: both, or nothing when one is refused."""
    require(actor, Action.RECORD_PAYMENT)
    if method not in PaymentMethod.values:
        raise _refused(_("unknown payment method"), "method", "method")
    if not amount.is_finite() or amount <= ZERO or amount >= Decimal("1000000000000"):
        raise _refused(_("the amount must be positive"), "amount", "amount")
    if amount != amount.quantize(CENT):
        raise _refused(_("an amount has at most two decimals"), "amount", "amount")
    payment = Payment.objects.create(
        customer=customer,
        method=method,
        received_on=received_on,
        amount=amount,
        reference=reference[:500],
        payer_name=(payer_name or (customer.name if customer else ""))[:200],
        payer_iban=payer_iban[:34],
        created_by=actor,
    )
    record_event(
        actor=actor,
        verb=Verb.CREATE,
        instance=payment,
        changes={
            "amount": str(amount),
            "method": str(method),
            "received_on": str(received_on),
            # Whether a person chose the customer (`unmatch` then never takes it off).
            "customer": customer.pk if customer else None,
        },
    )
    record_domain_events([Event(EventName.PAYMENT_RECEIVED, payment, received_payload(payment))])
    if portions:
        allocate_payment(actor=actor, payment=payment, portions=portions)
    return payment


def received_payload(payment: Payment) -> dict[str, object]:
    return {
        "payment_id": payment.pk,
        "customer_id": payment.customer_id,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "received_on": payment.received_on.isoformat(),
        "method": payment.method,
        "reference": payment.reference,
    }


def create_payments_for_transactions(
    *, actor: User, lines: Sequence[BankTransaction]
) -> list[Payment]:
    """One payment per credit line of a statement (money received); debits are not payments.

    Called by the statement import inside its transaction; the bank line is unique on the
    payment, so a line can never become two payments.
    """
    payments = [
        Payment(
            method=PaymentMethod.TRANSFER,
            received_on=line.booking_date,
            amount=line.amount.quantize(CENT),
            currency=line.currency,
            payer_name=line.counterparty_name[:200],
            payer_iban=line.counterparty_iban[:34],
            reference=" ".join(
                dict.fromkeys(
                    part for part in (line.reference, line.remittance, line.label) if part
                )
            )[:500],
            bank_transaction=line,
            created_by=actor,
        )
        for line in lines
        if line.amount.quantize(CENT) > ZERO
    ]
    created = Payment.objects.bulk_create(payments, batch_size=1000)
    record_domain_events(
        [
            Event(EventName.PAYMENT_RECEIVED, payment, received_payload(payment))
            for payment in created
        ]
    )
    return created


def _check(
    match: Match,
    payment: Payment,
    invoices: dict[int, Invoice],
    allocated_now: dict[int, Decimal],
    existing: set[tuple[int, int]],
) -> ValidationFailed | None:
    if not match.portions:
        return _refused(_("no invoice to allocate the payment to"), "empty")
    seen: set[int] = set()
    total = ZERO
    for portion in match.portions:
        invoice = invoices.get(portion.invoice_id)
        if invoice is None or invoice.status != InvoiceStatus.ISSUED:
            return _refused(
                _("invoice %(id)s is not an issued invoice") % {"id": portion.invoice_id}, "invoice"
            )
        if invoice.kind != DocumentKind.INVOICE:
            return _refused(
                _("%(number)s is a credit note: payments settle invoices")
                % {"number": invoice.number},
                "credit_note",
            )
        if portion.invoice_id in seen or (payment.pk, invoice.pk) in existing:
            return _refused(
                _("the payment is already matched with %(number)s: change that allocation instead")
                % {"number": invoice.number},
                "matched_twice",
            )
        seen.add(portion.invoice_id)
        if portion.amount <= ZERO or portion.amount != portion.amount.quantize(CENT):
            return _refused(_("an allocated amount is positive, at the cent"), "amount", "amount")
        still_open = (invoice.open_amount or ZERO) - allocated_now.get(invoice.pk, ZERO)
        if portion.amount > still_open:
            return _refused(
                _("%(amount)s € is more than the %(open)s € still open on %(number)s")
                % {"amount": portion.amount, "open": still_open, "number": invoice.number},
                "above_open_amount",
                "amount",
            )
        if invoice.currency != payment.currency:
            return _refused(
                _("the payment and %(number)s are in different currencies")
                % {"number": invoice.number},
                "currency",
            )
        total += portion.amount
    if total > payment.unallocated:
        return _refused(
            _("%(total)s € is more than the %(left)s € left on the payment")
            % {"total": total, "left": payment.unallocated},
            "above_payment",
            "amount",
        )
    return None


@transaction.atomic
def apply_matches(*, actor: User, matches: Sequence[Match]) -> MatchOutcome:
    """Allocate payments to invoices, in bulk; a refused match is reported, the others apply."""
    require(actor, Action.MATCH_PAYMENTS)
    outcome = MatchOutcome()
    if not matches:
        return outcome
    payment_ids = sorted({m.payment_id for m in matches})
    invoice_ids = sorted({p.invoice_id for m in matches for p in m.portions})
    payments = {
        p.pk: p
        for p in Payment.objects.select_for_update().filter(pk__in=payment_ids).order_by("pk")
    }
    invoices = {
        i.pk: i
        for i in Invoice.objects.select_for_update().filter(pk__in=invoice_ids).order_by("pk")
    }
    existing = set(
        Allocation.objects.filter(
            payment_id__in=payment_ids, invoice_id__in=invoice_ids
        ).values_list("payment_id", "invoice_id")
    )
    allocated_now: dict[int, Decimal] = {}
    new: list[Allocation] = []
    touched_payments: dict[int, Payment] = {}
    for match in matches:
        payment = payments.get(match.payment_id)
        if payment is None:
            outcome.failures.append(MatchFailure(match, _refused(_("unknown payment"), "payment")))
            continue
        refused = _check(match, payment, invoices, allocated_now, existing)
        if refused is not None:
            outcome.failures.append(MatchFailure(match, refused))
            continue
        for portion in match.portions:
            allocated_now[portion.invoice_id] = (
                allocated_now.get(portion.invoice_id, ZERO) + portion.amount
            )
            existing.add((payment.pk, portion.invoice_id))
            new.append(
                Allocation(
                    payment=payment,
                    invoice_id=portion.invoice_id,
                    amount=portion.amount,
                    reason=match.reason,
                    confidence=match.confidence,
                    automatic=match.automatic,
                    created_by=actor,
                )
            )
        payment.allocated += sum((p.amount for p in match.portions), ZERO)
        payment.status = payment_status(payment.amount, payment.allocated)
        if payment.customer_id is None:
            payment.customer_id = _customer_of(match, invoices)
        touched_payments[payment.pk] = payment
        outcome.applied.append(match)
    if not new:
        return outcome
    outcome.allocations = Allocation.objects.bulk_create(new, batch_size=1000)
    _store_payments(list(touched_payments.values()))
    refresh_open_amounts(allocated_now)
    MatchProposal.objects.filter(
        payment_id__in=list(touched_payments), status=ProposalStatus.PENDING
    ).update(status=ProposalStatus.OBSOLETE)
    _record_matched(actor, outcome, invoices)
    return outcome


def _customer_of(match: Match, invoices: dict[int, Invoice]) -> int:
    """The customer a payment without one takes from a match: one of the invoices' own.

    The payer the match names if it owns one of them (a matcher's proposal accepted as it
    was), else the first invoice's customer: a person who allocates the payment to another
    customer's invoices than the matcher guessed says who paid.
    """
    owners = [invoices[p.invoice_id].customer_id for p in match.portions]
    if match.customer_id is not None and match.customer_id in owners:
        return match.customer_id
    return owners[0]


def _store_payments(payments: Sequence[Payment]) -> None:
    """Write `allocated`, `status` and `customer`: one `UPDATE … FROM (VALUES …)` per 500.

    Django's bulk_update builds a CASE with a WHEN per row, seconds of Python for the
    10,000 payments a matching run applies, which PostgreSQL then evaluates for every row;
    both SQLite (≥ 3.33) and PostgreSQL join a VALUES list in linear time instead.
    """
    table = connection.ops.quote_name(Payment._meta.db_table)
    if connection.vendor == "postgresql":
        assign = (
            "allocated = CAST(v.allocated AS numeric), status = v.status, "
            "customer_id = CAST(v.customer_id AS bigint)"
        )
        source = "(VALUES {rows}) AS v(id, allocated, status, customer_id)"
        key = "CAST(v.id AS bigint)"
    else:
        assign = "allocated = v.allocated, status = v.status, customer_id = v.customer_id"
        source = (
            "(SELECT column1 AS id, column2 AS allocated, column3 AS status, "
            "column4 AS customer_id FROM (VALUES {rows})) AS v"
        )
        key = "v.id"
    for start in range(0, len(payments), 500):
        chunk = payments[start : start + 500]
        rows = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
        params = [
            value
            for payment in chunk
            for value in (payment.pk, str(payment.allocated), payment.status, payment.customer_id)
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assign} FROM {source.format(rows=rows)} "
                f"WHERE {table}.id = {key}",
                params,
            )


def _record_matched(actor: User, outcome: MatchOutcome, invoices: dict[int, Invoice]) -> None:
    record_events(
        actor=actor,
        verb=Verb.CREATE,
        entries=[
            (
                allocation,
                {
                    "invoice": invoices[allocation.invoice_id].number,
                    "amount": str(allocation.amount),
                    "reason": allocation.reason,
                    "confidence": str(allocation.confidence),
                    "automatic": allocation.automatic,
                },
            )
            for allocation in outcome.allocations
        ],
    )
    settled = Invoice.objects.filter(
        pk__in=[a.invoice_id for a in outcome.allocations], open_amount__lte=0
    )
    events = [
        Event(
            EventName.PAYMENT_MATCHED,
            allocation,
            {
                "payment_id": allocation.payment_id,
                "invoice_id": allocation.invoice_id,
                "invoice_number": invoices[allocation.invoice_id].number,
                "amount": str(allocation.amount),
                "reason": allocation.reason,
                "confidence": str(allocation.confidence),
                "automatic": allocation.automatic,
            },
        )
        for allocation in outcome.allocations
    ]
    events += [
        Event(
            EventName.INVOICE_SETTLED,
            invoice,
            {"invoice_id": invoice.pk, "number": invoice.number, "settled_on": invoice.settled_on},
        )
        for invoice in settled.only("pk", "number", "settled_on")
    ]
    record_domain_events(events)


def allocate_payment(
    *,
    actor: User,
    payment: Payment,
    portions: Sequence[Portion],
    reason: MatchReason = MatchReason.MANUAL,
    confidence: Decimal = Decimal("1.00"),
) -> list[Allocation]:
    """Match one payment by hand (one or several invoices: a split); raises what refused it."""
    outcome = apply_matches(
        actor=actor,
        matches=[Match(payment.pk, portions, reason=reason, confidence=confidence)],
    )
    if outcome.failures:
        raise outcome.failures[0].error
    payment.refresh_from_db()
    return outcome.allocations


@transaction.atomic
def unmatch(*, actor: User, allocation: Allocation, reason: str) -> None:
    """Undo an allocation: the invoice is open again, the money back on the payment.

    A person said this payment does not settle that invoice: the matcher will no longer
    allocate one to the other by itself (`_refused_from_now_on`), and the payment loses the
    customer that allocation gave it.
    """
    require(actor, Action.MATCH_PAYMENTS)
    if not reason.strip():
        raise _refused(_("say why the allocation is undone"), "reason_required", "reason")
    payment = Payment.objects.select_for_update().get(pk=allocation.payment_id)
    Invoice.objects.select_for_update().filter(pk=allocation.invoice_id).first()
    row = Allocation.objects.filter(pk=allocation.pk).select_related("invoice").first()
    if row is None:
        raise NotAllowed(_("this allocation was already undone"), code="already_unmatched")
    record_event(
        actor=actor,
        verb=Verb.DELETE,
        instance=row,
        changes={"invoice": row.invoice.number, "amount": str(row.amount), "payment": payment.pk},
        comment=reason.strip()[:1000],
    )
    record_domain_events(
        [
            Event(
                EventName.PAYMENT_UNMATCHED,
                row,
                {
                    "payment_id": payment.pk,
                    "invoice_id": row.invoice_id,
                    "invoice_number": row.invoice.number,
                    "amount": str(row.amount),
                    "reason": reason.strip(),
                },
            )
        ]
    )
    row.delete()
    _refused_from_now_on(actor, payment, row, reason.strip())
    payment.allocated -= row.amount
    payment.status = payment_status(payment.amount, payment.allocated)
    if not _customer_chosen(payment):
        owners = list(
            Allocation.objects.filter(payment=payment)
            .order_by("pk")
            .values_list("invoice__customer_id", flat=True)
        )
        if payment.customer_id not in owners:
            payment.customer_id = owners[0] if owners else None
    payment.save(update_fields=["allocated", "status", "customer"])
    refresh_open_amounts([row.invoice_id])


def _refused_from_now_on(actor: User, payment: Payment, row: Allocation, reason: str) -> None:
    """Record that the matcher must not allocate this payment to this invoice by itself.

    The matcher reads it from the payment's rejected proposals (`matching.services`): the
    accepted proposal the allocation came from is rejected, with the reason; an allocation
    made by hand gets a rejected proposal of its own, shown with the payment's proposals.
    """
    now = timezone.now()
    covering = [
        proposal
        for proposal in MatchProposal.objects.filter(
            payment=payment, status__in=(ProposalStatus.ACCEPTED, ProposalStatus.REJECTED)
        ).order_by("pk")
        if any(str(item.get("invoice")) == str(row.invoice_id) for item in proposal.allocations)
    ]
    rejected: list[tuple[MatchProposal, dict[str, object]]] = []
    for proposal in covering:
        if proposal.status == ProposalStatus.ACCEPTED:
            proposal.status, proposal.decided_by, proposal.decided_at = (
                ProposalStatus.REJECTED,
                actor,
                now,
            )
            proposal.save(update_fields=["status", "decided_by", "decided_at"])
            change: dict[str, object] = {
                "status": [ProposalStatus.ACCEPTED, ProposalStatus.REJECTED]
            }
            rejected.append((proposal, change))
    if not covering:
        number = row.invoice.number or ""
        proposal = MatchProposal.objects.create(
            payment=payment,
            customer_id=row.invoice.customer_id,
            reason=row.reason,
            confidence=row.confidence,
            explanation=(_("Allocation undone: %(reason)s") % {"reason": reason})[:500],
            allocations=[{"invoice": row.invoice_id, "number": number, "amount": str(row.amount)}],
            status=ProposalStatus.REJECTED,
            decided_by=actor,
            decided_at=now,
        )
        rejected.append((proposal, {"status": ProposalStatus.REJECTED}))
    record_events(
        actor=actor,
        verb=Verb.REJECT,
        entries=[
            (
                proposal,
                change | {"payment": payment.pk, "allocations": proposal.allocations},
            )
            for proposal, change in rejected
        ],
        comment=reason[:1000],
    )


def _customer_chosen(payment: Payment) -> bool:
    """Whether a person chose the payment's customer when entering it (kept whatever it pays).

    A bank line names no customer: its payment's comes from an allocation. A payment entered
    by hand says in its creation event whether it was entered with one (entries older than
    that record keep theirs).
    """
    if payment.customer_id is None or payment.bank_transaction_id is not None:
        return False
    created = (
        AuditEvent.objects.filter(
            object_type=Payment._meta.label_lower, object_id=str(payment.pk), verb=Verb.CREATE
        )
        .values_list("changes", flat=True)
        .first()
    )
    return not isinstance(created, dict) or created.get("customer", True) is not None


def open_invoices(customer: Customer) -> QuerySet[Invoice]:
    """What the customer still owes, oldest due first (the partial index `open_items`)."""
    return (
        Invoice.objects.filter(
            customer=customer, status=InvoiceStatus.ISSUED, kind=DocumentKind.INVOICE
        )
        .exclude(open_amount=0)
        .order_by("due_date", "pk")
    )


def customer_credit(customer: Customer) -> Decimal:
    """Money received from the customer and not allocated (overpayments, unmatched)."""
    from django.db.models import F, Sum

    total = Payment.objects.filter(customer=customer).aggregate(
        left=Sum(F("amount") - F("allocated"))
    )["left"]
    return total or ZERO
