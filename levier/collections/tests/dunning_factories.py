"""Dunning test data: the default scenario and rates, issued invoices due on given dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from levier.accounts.models import User
from levier.billing.models import Invoice
from levier.billing.services import issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.collections.choices import ProposalStatus
from levier.collections.dunning_defaults import seed_default_scenario, seed_interest_rates
from levier.collections.matching import match_payments
from levier.collections.models import (
    Dispute,
    DunningScenario,
    DunningStep,
    LateInterestRate,
    MatchProposal,
    Payment,
    PromiseToPay,
)
from levier.collections.payments import Portion, allocate_payment, record_payment
from levier.customers.models import Customer
from levier.customers.tests.factories import ContactFactory, CustomerFactory
from levier.sales.tests.factories import line

# A Friday; the default scenario's steps fall on J−5, J+3, J+15, J+30 and J+45.
RUN = dt.date(2026, 11, 27)


def days_before(run: dt.date, days: int) -> dt.date:
    return run - dt.timedelta(days=days)


# The tests' rate for 2026 H2 (the seed leaves it to accounting: it is not verified).
TEST_ECB_RATE_2026_H2 = Decimal("2.15")


def default_scenario() -> DunningScenario:
    seed_interest_rates()
    LateInterestRate.objects.get_or_create(
        valid_from=dt.date(2026, 7, 1), defaults={"ecb_rate": TEST_ECB_RATE_2026_H2}
    )
    scenario: DunningScenario = seed_default_scenario()
    return scenario


def step_at(offset: int, scenario: DunningScenario | None = None) -> DunningStep:
    steps = DunningStep.objects.filter(offset_days=offset)
    if scenario is not None:
        steps = steps.filter(scenario=scenario)
    else:
        steps = steps.filter(scenario__is_default=True)
    return steps.get()


def customer(name: str = "", email: str = "compta@client.example", **kw: Any) -> Customer:
    """A customer whose reminders go to one address (its dunning contact)."""
    made: Customer = CustomerFactory(with_contacts=False, **({"name": name} if name else {}), **kw)
    if email:
        ContactFactory(customer=made, last_name="Relances", email=email, is_dunning=True)
    return made


def invoices_due(adv: User, specs: list[tuple[Customer, dt.date, str]], **kw: Any) -> list[Invoice]:
    """Issued invoices of one line of `net` € HT (20 % VAT) due on the given dates.

    Each is issued 30 days before its due date (the factory customers' terms), in date
    order as the numbering requires; returned in the order asked.
    """
    made: dict[int, Invoice] = {}
    for position in sorted(range(len(specs)), key=lambda i: specs[i][1]):
        buyer, due, net = specs[position]
        issue_date = due - dt.timedelta(days=buyer.payment_terms_days)
        draft = draft_invoice(adv, buyer, lines=[line("1", net)], billable_on=issue_date, **kw)
        invoice = issue_invoice(actor=adv, invoice=draft, issue_date=issue_date)
        invoice.refresh_from_db()
        assert invoice.due_date == due, (invoice.due_date, due)
        made[position] = invoice
    return [made[i] for i in range(len(specs))]


def invoice_due(adv: User, buyer: Customer, due: dt.date, net: str = "1000", **kw: Any) -> Invoice:
    return invoices_due(adv, [(buyer, due, net)], **kw)[0]


def pay(
    compta: User, invoice: Invoice, received_on: dt.date, amount: Decimal | None = None
) -> Payment:
    """A transfer received on `received_on` allocated to `invoice` (all of it by default)."""
    money = amount if amount is not None else invoice.open_amount or Decimal("0")
    payment = record_payment(
        actor=compta,
        customer=invoice.customer,
        method="transfer",
        received_on=received_on,
        amount=money,
    )
    allocate_payment(actor=compta, payment=payment, portions=[Portion(invoice.pk, money)])
    invoice.refresh_from_db()
    return payment


def dispute(by: User, invoice: Invoice, opened_on: dt.date = RUN) -> Dispute:
    """An open dispute on the whole invoice."""
    made: Dispute = Dispute.objects.create(
        invoice=invoice,
        reason="price",
        amount=invoice.open_amount,
        owner=by,
        due_on=opened_on,
        opened_on=opened_on,
        opened_by=by,
    )
    return made


def promise(
    by: User, invoices: list[Invoice], promised_on: dt.date, made_on: dt.date = RUN
) -> PromiseToPay:
    """An open promise to pay these invoices (of one customer) by `promised_on`."""
    made: PromiseToPay = PromiseToPay.objects.create(
        customer=invoices[0].customer,
        promised_on=promised_on,
        amount=sum((i.open_amount or Decimal("0") for i in invoices), Decimal("0")),
        created_by=by,
        created_on=made_on,
    )
    made.invoices.set(invoices)
    return made


def payment_to_match(compta: User, invoice: Invoice, received_on: dt.date = RUN) -> MatchProposal:
    """A transfer quoting the invoice's number from an unknown payer, for another amount:
    the matcher only proposes it, a person has to review it (a pending proposal)."""
    record_payment(
        actor=compta,
        customer=None,
        method="transfer",
        received_on=received_on,
        amount=Decimal("300.00"),
        reference=f"{invoice.number}",
        payer_name="Société Martin",
    )
    match_payments(actor=compta)
    proposal: MatchProposal = MatchProposal.objects.get(status=ProposalStatus.PENDING)
    assert [a["invoice"] for a in proposal.allocations] == [invoice.pk]
    return proposal
