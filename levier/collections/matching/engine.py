"""The matching rules, as a pure function of the payments and the open items.

No query here: `match_payments` loads everything once, `propose` decides in memory, which is
what lets a run over 20,000 payments take seconds and lets the rules be tested (and fuzzed)
without a database. Money is in cents (int) inside, Decimal at the edges.

Order of the rules, most certain first:

1. the payer quoted invoices (an RF creditor reference or the invoice number);
2. the payer is known (the payment's customer, an IBAN, a name) and the amount says which of
   its open invoices: one with exactly that amount, a unique combination, the oldest one;
3. otherwise nothing, except a payer-only proposal so the screen shows who paid.

Whatever the rule, a proposal allocating a payment to an invoice a person refused for it (a
rejected proposal, an allocation undone) is never certain: a person confirms it.

All payments quoting a reference are settled before any payment is guessed from the payer,
so a guess never takes an invoice another payment names. Every proposal consumes what it
allocates from the run's copy of the open amounts: two payments never share the same euro.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils.translation import gettext as _

from levier.collections.choices import MatchReason
from levier.collections.matching.payers import (
    Evidence,
    Payer,
    PayerIndex,
    coincidences,
    unique_subset,
)
from levier.collections.matching.references import Quote, ReferenceIndex
from levier.collections.payments import CERTAIN, Portion

# Confidences (two places, as stored). CERTAIN (0.95) and above are applied without a person.
QUOTED_EXACT = Decimal("0.99")
QUOTED_PARTIAL = Decimal("0.96")
QUOTED_OVER = Decimal("0.90")
QUOTED_SPREAD = Decimal("0.90")  # several quoted, paid less, no exact combination
QUOTED_OTHER_PAYER = Decimal("0.80")  # the IBAN (or the payment) says another customer
QUOTED_UNCORROBORATED = Decimal("0.90")  # a bare number, another amount, an unknown payer
QUOTED_SETTLED = Decimal("0.50")  # quoted, but already settled (a payment twice?)
PAYER_AMOUNT = {True: Decimal("0.95"), False: Decimal("0.85")}  # strong payer evidence or not
PAYER_SUM = {True: Decimal("0.95"), False: Decimal("0.80")}
PAYER_SAME_AMOUNT = Decimal("0.70")
PAYER_PARTIAL = Decimal("0.60")
PAYER_OVER = Decimal("0.70")
PAYER_ONLY = Decimal("0.50")
REFUSED_BEFORE = Decimal("0.80")  # a person refused this payment for one of the invoices
# A bare number (no RF check digits) with an amount that differs from the invoice's is only
# certain if the payer is that customer: a mistyped number names some other open invoice.
CORROBORATING_NAME = 90.0
# Combinations are looked for among the payer's oldest open invoices only.
SUBSET_WINDOW = 25
SUBSET_SIZE = 6
# A unique combination is only certain if another one making the amount by chance is this
# unlikely (`payers.coincidences`); otherwise a person confirms it.
SUBSET_CHANCE = 0.001
SUBSET_UNSURE = Decimal("0.80")


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def euros(amount: int) -> Decimal:
    return Decimal(amount).scaleb(-2)


def _money(amount: int) -> str:
    return f"{euros(amount):.2f}"


@dataclass(frozen=True)
class OpenItem:
    invoice_id: int
    number: str
    customer_id: int
    open_amount: Decimal
    due_date: dt.date | None


@dataclass(frozen=True)
class PaymentFacts:
    """What the rules need of a payment; `already` are the invoices it is matched with,
    `refused` those a person refused for it (never allocated to without a person)."""

    payment_id: int
    amount: Decimal
    allocated: Decimal = Decimal("0.00")
    reference: str = ""
    payer_name: str = ""
    payer_iban: str = ""
    customer_id: int | None = None
    received_on: dt.date | None = None
    currency: str = "EUR"
    already: frozenset[int] = frozenset()
    refused: frozenset[int] = frozenset()

    @property
    def unallocated(self) -> Decimal:
        return self.amount - self.allocated


@dataclass(frozen=True)
class Proposal:
    payment_id: int
    customer_id: int | None
    reason: MatchReason
    confidence: Decimal
    explanation: str
    portions: tuple[Portion, ...] = ()

    @property
    def certain(self) -> bool:
        return bool(self.portions) and self.confidence >= CERTAIN

    @property
    def amount(self) -> Decimal:
        return sum((p.amount for p in self.portions), Decimal("0.00"))


class OpenItems:
    """The open invoices and the customers, indexed for the rules (built once per run)."""

    def __init__(
        self,
        items: Iterable[OpenItem],
        customers: Iterable[tuple[int, str, str, str]] = (),
        known_ibans: Iterable[tuple[str, int]] = (),
        settled: Iterable[tuple[int, str, int]] = (),
    ) -> None:
        """`customers`: (id, name, trade name, IBAN); `known_ibans`: (IBAN, customer id);
        `settled`: (id, number, customer id) of invoices paid lately, to catch a second
        payment of the same invoice before a guess gives it to another one."""
        self.items = {item.invoice_id: item for item in items}
        self.settled = {invoice_id: (number, customer) for invoice_id, number, customer in settled}
        self.settled_references = ReferenceIndex(
            (invoice_id, number) for invoice_id, (number, _c) in self.settled.items()
        )
        self.cents = {i: cents(item.open_amount) for i, item in self.items.items()}
        self.references = ReferenceIndex(
            (item.invoice_id, item.number) for item in self.items.values()
        )
        self.payers = PayerIndex(customers, known_ibans)
        by_customer: dict[int, list[OpenItem]] = {}
        for item in self.items.values():
            by_customer.setdefault(item.customer_id, []).append(item)
        far = dt.date.max
        self.by_customer = {
            customer: [
                i.invoice_id for i in sorted(its, key=lambda i: (i.due_date or far, i.invoice_id))
            ]
            for customer, its in by_customer.items()
        }


@dataclass
class _Run:
    """One call of `propose`: what its proposals have taken, which IBANs it learnt."""

    index: OpenItems
    payers: PayerIndex
    consumed: dict[int, int] = field(default_factory=dict)
    # How many times something of a customer's was taken: a guess made for a payer whose
    # count has not moved since would come out the same.
    changes: dict[int, int] = field(default_factory=dict)

    def left(self, invoice_id: int) -> int:
        return self.index.cents[invoice_id] - self.consumed.get(invoice_id, 0)

    def keep(self, payment: PaymentFacts, proposal: Proposal, found: dict[int, Proposal]) -> None:
        """The payment's proposal: what it allocates is no longer open for the others."""
        found[payment.payment_id] = proposal
        for portion in proposal.portions:
            invoice_id = portion.invoice_id
            self.consumed[invoice_id] = self.consumed.get(invoice_id, 0) + cents(portion.amount)
            customer_id = self.index.items[invoice_id].customer_id
            self.changes[customer_id] = self.changes.get(customer_id, 0) + 1
        if proposal.certain and proposal.customer_id is not None:
            self.payers.learn(payment.payer_iban, proposal.customer_id, if_unknown=True)

    def state(self, customer_id: int | None) -> tuple[int, int]:
        """What a guess about this payer depends on: the IBANs known, what it still owes."""
        return self.payers.learnt, self.changes.get(customer_id or 0, 0)


def propose(payments: Sequence[PaymentFacts], open_items: OpenItems) -> list[Proposal]:
    """The best proposal for each EUR payment with money left, in the order given.

    A payment gets no proposal when nothing identifies what it pays nor who paid it.
    Payments quoting a reference come first, all of them: a guess from the payer never
    takes an invoice a payment names. Then the guesses, in two passes: first only those
    that are certain, each judged against what the others took so far; then proposals for
    the rest. Otherwise a mere proposal taking invoice A would leave B looking like "the
    only open invoice of that amount", and B would be matched on the strength of a guess.
    """
    run = _Run(open_items, open_items.payers.fork())
    todo = [p for p in payments if p.currency == "EUR" and p.unallocated > 0]
    chronological = sorted(todo, key=lambda p: (p.received_on or dt.date.min, p.payment_id))
    found: dict[int, Proposal] = {}
    guesses: list[PaymentFacts] = []
    for payment in chronological:
        quotes = open_items.references.find(payment.reference) if payment.reference else []
        paid = (
            open_items.settled_references.find(payment.reference)
            if payment.reference and not quotes
            else []
        )
        if paid and all(q.invoice_id in payment.already for q in paid):
            # It settled what it quoted; what is left is the customer's credit.
            found[payment.payment_id] = _NOTHING
        elif paid:
            found[payment.payment_id] = _already_paid(open_items, payment, paid)
        elif not quotes:
            guesses.append(payment)
        elif all(q.invoice_id in payment.already for q in quotes):
            # What is left after paying what it quoted is the customer's credit: a person
            # decides what it pays, not a guess from the amount.
            found[payment.payment_id] = _NOTHING
        else:
            run.keep(payment, _heeding(payment, _by_reference(run, payment, quotes)), found)
    first: dict[int, tuple[tuple[int, int], Proposal | None]] = {}
    for payment in guesses:
        payer, proposal = _guess(run, payment)
        if proposal is not None and proposal.certain:
            run.keep(payment, proposal, found)
        else:
            first[payment.payment_id] = (run.state(payer), proposal)
    for payment in guesses:
        if payment.payment_id in found:
            continue
        state, proposal = first[payment.payment_id]
        if state != run.state(proposal.customer_id if proposal else payment.customer_id):
            proposal = _guess(run, payment)[1]
        if proposal is None:
            continue
        if proposal.certain:
            # Certain only because proposals made to other payments took the invoices that
            # made it ambiguous in the first pass.
            proposal = replace(
                proposal,
                confidence=PAYER_SAME_AMOUNT,
                explanation=proposal.explanation
                + _("; other invoices it could pay are proposed for other payments"),
            )
        run.keep(payment, proposal, found)
    return [found[p.payment_id] for p in todo if found.get(p.payment_id, _NOTHING) is not _NOTHING]


def _guess(run: _Run, payment: PaymentFacts) -> tuple[int | None, Proposal | None]:
    """The payer (its customer id) and what its open invoices say the payment is for."""
    payer = run.payers.identify(
        customer_id=payment.customer_id, iban=payment.payer_iban, name=payment.payer_name
    )
    if payer is None:
        return None, None
    proposal = _by_payer(run, payment, payer)
    return payer.customer_id, None if proposal is None else _heeding(payment, proposal)


def _heeding(payment: PaymentFacts, proposal: Proposal) -> Proposal:
    """The proposal, never certain if a person refused the payment for one of its invoices.

    Applied before the run keeps it: made uncertain, it teaches the run no IBAN, and a guess
    waits for the second pass like any other that is not certain.
    """
    if not proposal.certain or not any(p.invoice_id in payment.refused for p in proposal.portions):
        return proposal
    return replace(
        proposal,
        confidence=REFUSED_BEFORE,
        explanation=proposal.explanation
        + _("; a person already refused this payment for one of these invoices: to confirm"),
    )


_NOTHING = Proposal(0, None, MatchReason.MANUAL, Decimal("0.00"), "")


def _already_paid(open_items: OpenItems, payment: PaymentFacts, quotes: list[Quote]) -> Proposal:
    """The payment names invoices already settled: most often the same invoice paid twice.

    No guess from the amount (it would settle another invoice on the strength of a
    coincidence): a person decides between a refund, a credit, or the right invoice.
    """
    numbers = [open_items.settled[q.invoice_id][0] for q in quotes]
    customer = open_items.settled[quotes[0].invoice_id][1]
    return Proposal(
        payment.payment_id,
        customer,
        MatchReason.ALREADY_PAID,
        Decimal("0.50"),
        _("quotes %(numbers)s, already settled: a double payment? Refund it or keep it as credit")
        % {"numbers": ", ".join(numbers)},
    )


def _fill(run: _Run, invoice_ids: list[int], amount: int) -> list[Portion]:
    """Up to `amount` on the invoices in that order, each up to what it still owes."""
    portions = []
    for invoice_id in invoice_ids:
        if amount <= 0:
            break
        part = min(amount, run.left(invoice_id))
        portions.append(Portion(invoice_id, euros(part)))
        amount -= part
    return portions


def _by_reference(run: _Run, payment: PaymentFacts, quotes: list[Quote]) -> Proposal:
    items = run.index.items
    reason = (
        MatchReason.CREDITOR_REFERENCE
        if any(q.creditor_reference for q in quotes)
        else MatchReason.INVOICE_NUMBER
    )
    # The RF as glued back (its canonical form), the number as the invoice prints it.
    quoted = ", ".join(
        q.text if q.creditor_reference else items[q.invoice_id].number for q in quotes
    )
    owner = items[quotes[0].invoice_id].customer_id
    payable = [
        q.invoice_id
        for q in quotes
        if q.invoice_id not in payment.already and run.left(q.invoice_id) > 0
    ]
    if not payable:
        return Proposal(
            payment.payment_id,
            owner,
            reason,
            QUOTED_SETTLED,
            _("%(quoted)s quoted, but already settled by another payment: to check by hand")
            % {"quoted": quoted},
        )
    payable.sort(key=lambda i: (items[i].due_date or dt.date.max, i))
    amount = cents(payment.unallocated)
    total = sum(run.left(i) for i in payable)
    subject = (
        _("Creditor reference %(quoted)s quoted")
        if reason == MatchReason.CREDITOR_REFERENCE
        else _("Invoice number %(quoted)s quoted")
    ) % {"quoted": quoted}
    if amount == total:
        portions = _fill(run, payable, amount)
        confidence = QUOTED_EXACT
        detail = _("amount equal to the open amount")
    elif amount > total:
        portions = _fill(run, payable, total)
        confidence = QUOTED_OVER
        detail = _("amount above the open amount: %(credit)s € kept as customer credit") % {
            "credit": _money(amount - total)
        }
    elif len(payable) == 1:
        portions = _fill(run, payable, amount)
        confidence = QUOTED_PARTIAL
        detail = _("amount below the open amount: partial payment, %(left)s € still open") % {
            "left": _money(total - amount)
        }
    else:
        amounts = [run.left(i) for i in payable]
        subset = unique_subset(amounts, amount)
        if subset is not None and coincidences(amounts, amount) < SUBSET_CHANCE:
            chosen = [payable[i] for i in subset]
            portions = _fill(run, chosen, amount)
            confidence = QUOTED_PARTIAL
            detail = _("amount equal to %(count)s of the invoices quoted") % {"count": len(chosen)}
        else:
            portions = _fill(run, payable, amount)
            confidence = QUOTED_SPREAD
            detail = _("amount below the open amount: the oldest invoices first")
    explanation = f"{subject}, {detail}"
    customers = {items[p.invoice_id].customer_id for p in portions}
    if (
        reason == MatchReason.INVOICE_NUMBER
        and amount != total
        and confidence >= CERTAIN
        and not _is_one_of(run.payers, payment, customers)
    ):
        confidence = QUOTED_UNCORROBORATED
        explanation += _("; the payer is not recognised as that customer: to confirm")
    payer = run.payers.identify(customer_id=payment.customer_id, iban=payment.payer_iban, name="")
    if payer is not None and customers - {payer.customer_id}:
        confidence = min(confidence, QUOTED_OTHER_PAYER)
        explanation += _("; the payer is known as another customer: to confirm")
    return Proposal(
        payment.payment_id,
        items[portions[0].invoice_id].customer_id if portions else owner,
        reason,
        confidence,
        explanation,
        tuple(portions),
    )


def _is_one_of(payers: PayerIndex, payment: PaymentFacts, customers: set[int]) -> bool:
    """Whether the payment's customer, IBAN or name says the payer is one of `customers`."""
    if payment.customer_id is not None:
        return payment.customer_id in customers
    if payers.owners(payment.payer_iban) & customers:
        return True
    return any(payers.similarity(c, payment.payer_name) >= CORROBORATING_NAME for c in customers)


def _who(payer: Payer) -> str:
    if payer.evidence == Evidence.IBAN:
        return _("Payer identified by its IBAN")
    if payer.evidence == Evidence.CUSTOMER:
        return _("Payer recorded on the payment")
    return _("Payer identified by its name (%(score)s %% similar)") % {
        "score": f"{payer.score:.0f}"
    }


def _by_payer(run: _Run, payment: PaymentFacts, payer: Payer) -> Proposal | None:
    who = _who(payer)
    strong = payer.strong
    amount = cents(payment.unallocated)
    lefts = {
        i: left
        for i in run.index.by_customer.get(payer.customer_id, [])
        if i not in payment.already and (left := run.left(i)) > 0
    }
    open_ids = list(lefts)

    def proposal(
        reason: MatchReason, confidence: Decimal, detail: str, portions: list[Portion]
    ) -> Proposal:
        return Proposal(
            payment.payment_id,
            payer.customer_id,
            reason,
            confidence,
            f"{who}, {detail}",
            tuple(portions),
        )

    exact = [i for i in open_ids if lefts[i] == amount]
    if len(exact) == 1:
        return proposal(
            MatchReason.PAYER_EXACT_AMOUNT,
            PAYER_AMOUNT[strong],
            _("one open invoice of exactly this amount"),
            _fill(run, exact, amount),
        )
    if exact:
        return proposal(
            MatchReason.PAYER_EXACT_AMOUNT,
            PAYER_SAME_AMOUNT,
            _("%(count)s open invoices of this amount: the oldest due") % {"count": len(exact)},
            _fill(run, exact[:1], amount),
        )
    window = open_ids[:SUBSET_WINDOW]
    amounts = [lefts[i] for i in window]
    subset = unique_subset(amounts, amount, max_size=SUBSET_SIZE)
    if subset is not None:
        confidence = PAYER_SUM[strong]
        detail = _("the amount is the sum of %(count)s open invoices") % {"count": len(subset)}
        if coincidences(amounts, amount, max_size=SUBSET_SIZE) >= SUBSET_CHANCE:
            confidence = min(confidence, SUBSET_UNSURE)
            detail += _(", among so many that it may be a coincidence")
        return proposal(
            MatchReason.PAYER_SEVERAL_INVOICES,
            confidence,
            detail,
            _fill(run, [window[i] for i in subset], amount),
        )
    total = sum(lefts.values())
    if open_ids and amount < lefts[open_ids[0]]:
        return proposal(
            MatchReason.PAYER_PARTIAL,
            PAYER_PARTIAL,
            _("amount below the oldest open invoice: partial payment"),
            _fill(run, open_ids[:1], amount),
        )
    if open_ids and amount > total:
        return proposal(
            MatchReason.PAYER_OVERPAYMENT,
            PAYER_OVER,
            _("amount above all that is open: %(credit)s € kept as customer credit")
            % {"credit": _money(amount - total)},
            _fill(run, open_ids, total),
        )
    if payment.customer_id is not None:
        return None  # the payer is already on the payment: a proposal would add nothing
    detail = (
        _("no combination of its open invoices makes this amount: to match by hand")
        if open_ids
        else _("no open invoice: the payment stays as customer credit")
    )
    return proposal(MatchReason.PAYER_ONLY, PAYER_ONLY, detail, [])
