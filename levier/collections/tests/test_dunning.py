"""Dunning: which reminder each invoice gets, once, grouped per customer, and how it is sent.

The default scenario is the seeded French one (J−5 courtesy email, J+3 and J+15 reminders,
J+30 formal notice by email with the letter attached, J+45 hand-over to a person). Emails go
through a real SMTP server in the test that says so, Django's locmem outbox elsewhere.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from collections.abc import Callable
from decimal import Decimal
from email.message import EmailMessage
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pypdf import PdfReader

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.models import AuditEvent
from levier.billing.models import Invoice
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import (
    DunningChannel,
    DunningOutcome,
    MessageStatus,
    PromiseStatus,
    ProposalStatus,
    TaskKind,
)
from levier.collections.dunning import (
    MERGE_FIELDS,
    SkipReason,
    mark_reminder_printed,
    plan_dunning,
    run_dunning,
    save_step,
    validate_template,
)
from levier.collections.dunning_defaults import seed_default_scenario
from levier.collections.interest import late_interest
from levier.collections.jobs_dunning import (
    daily_dunning_run,
    pending_messages,
    send_dunning_message,
)
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
    LateInterestRate,
    MatchProposal,
    PromiseToPay,
)
from levier.collections.tests.dunning_factories import (
    RUN,
    customer,
    days_before,
    default_scenario,
    dispute,
    invoice_due,
    invoices_due,
    pay,
    payment_to_match,
    promise,
    step_at,
)
from levier.contracts.models import Contract
from levier.contracts.tests.factories import contract_line, make_contract
from levier.customers.models import Contact
from levier.integrations.models import DomainEvent
from levier.jobs import dispatch
from levier.lib.errors import NotAllowed, ValidationFailed
from levier.lib.testing.smtp import SmtpServer, free_port
from levier.lib.testing.smtp import smtp_server as smtp_server

pytestmark = pytest.mark.django_db

NNBSP, NBSP = "\u202f", "\u00a0"
TTC = f"1{NNBSP}200,00{NBSP}€"  # one line of 1,000 € HT at 20 %


@pytest.fixture(autouse=True)
def _setup(settings: Any) -> None:
    complete_company_profile()
    settings.LEVIER_AUTO_SEND_INVOICES = False  # invoices are not emailed in these tests
    settings.DEFAULT_FROM_EMAIL = "relances@levier.example"


@pytest.fixture
def scenario() -> DunningScenario:
    return default_scenario()


def at(day: dt.date, hour: int = 7) -> Any:
    """The clock on `day` (today, for the run and for the checks made when a reminder goes)."""
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
    return mock.patch("django.utils.timezone.now", return_value=moment)


def run(compta: User, day: dt.date = RUN) -> DunningRun:
    """The run of `day`, on that day (a run may not be dated in the future)."""
    with at(day):
        return run_dunning(actor=compta, run_date=day)


def send(message: DunningMessage, day: dt.date = RUN) -> DunningMessage:
    """The message's job on `day`, run in this process (what the on-commit dispatch does)."""
    with at(day, 9):
        dispatch(send_dunning_message, message_id=message.pk)
    message.refresh_from_db()
    return message


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# --- which step -------------------------------------------------------------------------------


def test_the_first_reminder_goes_three_days_after_the_due_date(
    adv: User, scenario: DunningScenario
) -> None:
    invoice_due(adv, customer(), days_before(RUN, 3))

    the_day_before = plan_dunning(RUN - dt.timedelta(days=1))
    [message] = plan_dunning(RUN).messages

    assert [m.step.name for m in the_day_before.messages] == ["Rappel avant échéance"]
    assert message.step.name == "Première relance" and message.step.offset_days == 3
    assert message.channel == DunningChannel.EMAIL and message.task_kind is None


def test_the_courtesy_email_goes_five_days_before_the_due_date(
    adv: User, scenario: DunningScenario
) -> None:
    invoice_due(adv, customer(), RUN + dt.timedelta(days=5))
    invoice_due(adv, customer(), RUN + dt.timedelta(days=6))

    [message] = plan_dunning(RUN).messages

    assert message.step.offset_days == -5
    assert message.items[0].days_late == 0


def test_steps_missed_are_skipped_and_only_the_latest_is_sent(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice = invoice_due(adv, customer(), days_before(RUN, 20))

    done = run(compta)

    [item] = DunningItem.objects.filter(invoice=invoice)
    assert item.step.name == "Deuxième relance" and item.days_late == 20
    assert (done.messages, done.items) == (1, 1)


def test_the_next_run_sends_the_next_step_once_its_day_comes(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice = invoice_due(adv, customer(), days_before(RUN, 3))
    run(compta)

    assert run(compta, RUN + dt.timedelta(days=11)).items == 0  # J+14: nothing new
    assert run(compta, RUN + dt.timedelta(days=12)).items == 1  # J+15: second reminder

    steps = DunningItem.objects.filter(invoice=invoice).order_by("step__offset_days")
    assert [i.step.offset_days for i in steps] == [3, 15]


def test_a_second_run_the_same_day_sends_nothing(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice_due(adv, customer(), days_before(RUN, 3))
    first = run(compta)

    second = run(compta)

    assert (first.messages, first.items) == (1, 1)
    assert (second.messages, second.tasks, second.items) == (0, 0, 0)
    assert second.status == DunningRun.Status.DONE
    assert DunningMessage.objects.count() == 1
    assert plan_dunning(RUN).already_done == 1


# --- skipped, and why -------------------------------------------------------------------------


def test_an_open_dispute_stops_reminders_for_that_invoice_only(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    disputed, other = invoices_due(
        adv, [(buyer, days_before(RUN, 10), "1000"), (buyer, days_before(RUN, 5), "2000")]
    )
    Dispute.objects.create(
        invoice=disputed,
        reason="price",
        amount=disputed.open_amount,
        owner=compta,
        due_on=RUN,
        opened_on=RUN,
        opened_by=compta,
    )

    plan = plan_dunning(RUN)
    done = run(compta)

    [message] = plan.messages
    assert [item.number for item in message.items] == [other.number]
    [skipped] = plan.skipped
    assert (skipped.reason, skipped.number) == (SkipReason.DISPUTE, disputed.number)
    assert skipped.label and skipped.step == "Première relance"
    assert done.skipped == {SkipReason.DISPUTE: 1}
    assert not DunningItem.objects.filter(invoice=disputed).exists()


def test_a_resolved_dispute_lets_reminders_resume(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice = invoice_due(adv, customer(), days_before(RUN, 10))
    Dispute.objects.create(
        invoice=invoice,
        reason="price",
        amount=invoice.open_amount,
        owner=compta,
        due_on=RUN,
        opened_on=RUN,
        opened_by=compta,
        status="resolved",
    )

    assert run(compta).items == 1


def test_a_promise_to_pay_holds_reminders_until_its_date(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    invoice = invoice_due(adv, buyer, days_before(RUN, 3))
    promise = PromiseToPay.objects.create(
        customer=buyer,
        promised_on=RUN + dt.timedelta(days=4),
        amount=invoice.open_amount,
        created_by=compta,
        created_on=RUN,
    )
    promise.invoices.add(invoice)

    held = plan_dunning(RUN)
    on_the_day = plan_dunning(RUN + dt.timedelta(days=4))
    the_day_after = plan_dunning(RUN + dt.timedelta(days=5))

    assert held.messages == [] and [s.reason for s in held.skipped] == [SkipReason.PROMISE]
    assert "01/12/2026" in held.skipped[0].detail
    assert on_the_day.messages == []
    assert [m.items[0].number for m in the_day_after.messages] == [invoice.number]


def test_a_paid_invoice_is_skipped_and_said_so(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    paid_late, paid_early = invoices_due(
        adv, [(buyer, days_before(RUN, 5), "1000"), (buyer, days_before(RUN, 4), "500")]
    )
    pay(compta, paid_late, received_on=RUN - dt.timedelta(days=1))  # after J+3 came
    pay(compta, paid_early, received_on=days_before(RUN, 4))  # on its due date

    plan = plan_dunning(RUN)
    done = run(compta)

    assert plan.messages == []
    [skipped] = plan.skipped
    assert (skipped.reason, skipped.number) == (SkipReason.PAID, paid_late.number)
    assert "26/11/2026" in skipped.detail  # the day it was settled
    assert done.skipped == {SkipReason.PAID: 1} and done.items == 0


def test_a_strategic_account_gets_a_task_not_an_email(
    adv: User, compta: User, commercial: User, scenario: DunningScenario
) -> None:
    buyer = customer("Grand Compte SA", is_strategic=True, account_manager=commercial)
    invoice = invoice_due(adv, buyer, days_before(RUN, 16))

    done = run(compta)
    again = run(compta, RUN + dt.timedelta(days=1))

    [task] = CollectionTask.objects.all()
    assert (task.kind, task.assignee, task.customer) == (TaskKind.STRATEGIC, commercial, buyer)
    assert list(task.invoices.all()) == [invoice]
    assert task.amount == Decimal("1200.00") and task.days_late == 16
    assert "Grand Compte SA" in task.title
    message = task.dunning_message
    assert message is not None and message.channel == DunningChannel.HANDOVER
    assert message.status == MessageStatus.TASK  # handed to a person: nothing to send
    [item] = DunningItem.objects.all()
    assert item.outcome == DunningOutcome.TASK and item.step.offset_days == 15
    assert (done.messages, done.tasks, done.skipped) == (0, 1, {SkipReason.STRATEGIC: 1})
    assert (again.tasks, again.items) == (0, 0)  # the task counts as the step done
    assert mail.outbox == []


def test_without_a_default_scenario_nothing_is_sent_and_it_is_said(adv: User, compta: User) -> None:
    invoice_due(adv, customer(), days_before(RUN, 3))
    DunningScenario.objects.filter(is_default=True).update(is_default=False)
    other = DunningScenario.objects.create(name="Grands comptes", segment="grands-comptes")
    DunningStep.objects.create(scenario=other, name="Relance", offset_days=3, channel="email")

    plan = plan_dunning(RUN)

    assert plan.messages == []
    assert [s.reason for s in plan.skipped] == [SkipReason.NO_SCENARIO]


def test_a_missing_interest_rate_holds_the_formal_notice_and_names_the_half_year(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice_due(adv, customer(), days_before(RUN, 31))
    LateInterestRate.objects.filter(valid_from=dt.date(2026, 7, 1)).delete()

    plan = plan_dunning(RUN)

    [skipped] = plan.skipped
    assert skipped.reason == SkipReason.MISSING_RATE and "2026" in skipped.detail
    assert "01/07/2026" in skipped.detail
    assert plan.messages == []


def test_a_customer_without_an_address_is_skipped_and_said_so(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer("Sans Adresse SARL", email="")
    invoice = invoice_due(adv, buyer, days_before(RUN, 3))

    plan = plan_dunning(RUN)
    done = run(compta)

    assert plan.messages == []
    [skipped] = plan.skipped
    assert (skipped.reason, skipped.number) == (SkipReason.NO_RECIPIENT, invoice.number)
    assert "adresse e-mail" in skipped.label and skipped.step == "Première relance"
    assert done.skipped == {SkipReason.NO_RECIPIENT: 1} and done.items == 0
    assert not DunningItem.objects.exists()  # the step is still to do
    Contact.objects.create(
        customer=buyer, last_name="Compta", email="compta@sans-adresse.example", is_dunning=True
    )
    later = run(compta, RUN + dt.timedelta(days=1))
    assert (later.messages, later.items) == (1, 1)
    assert DunningMessage.objects.get().recipients == "compta@sans-adresse.example"


def test_a_letter_needs_no_email_address(
    adv: User, compta: User, admin_user: User, scenario: DunningScenario
) -> None:
    save_step(actor=admin_user, step=step_at(3), channel=DunningChannel.LETTER)
    invoice_due(adv, customer(email=""), days_before(RUN, 3))

    [message] = plan_dunning(RUN).messages

    assert message.channel == DunningChannel.LETTER


def test_an_invoice_with_a_payment_waiting_for_matching_is_not_reminded(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    waiting, other = invoices_due(
        adv, [(buyer, days_before(RUN, 10), "1000"), (buyer, days_before(RUN, 5), "1000")]
    )
    proposal = payment_to_match(compta, waiting, received_on=RUN - dt.timedelta(days=1))

    plan = plan_dunning(RUN)
    done = run(compta)

    [message] = plan.messages
    assert [item.number for item in message.items] == [other.number]
    [skipped] = plan.skipped
    assert (skipped.reason, skipped.number) == (SkipReason.PAYMENT_PENDING, waiting.number)
    assert "être lettré" in skipped.label
    assert done.skipped == {SkipReason.PAYMENT_PENDING: 1}
    assert not DunningItem.objects.filter(invoice=waiting).exists()
    MatchProposal.objects.filter(pk=proposal.pk).update(status=ProposalStatus.REJECTED)
    [later] = plan_dunning(RUN + dt.timedelta(days=1)).messages  # not that money: reminded
    assert [item.number for item in later.items] == [waiting.number]


def test_a_run_reviews_the_promises_past_their_date(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    broken_one, kept_one = invoices_due(
        adv, [(buyer, days_before(RUN, 4), "1000"), (buyer, days_before(RUN, 5), "1000")]
    )
    broken = promise(
        compta, [broken_one], RUN - dt.timedelta(days=1), made_on=RUN - dt.timedelta(days=3)
    )
    kept = promise(
        compta, [kept_one], RUN - dt.timedelta(days=1), made_on=RUN - dt.timedelta(days=3)
    )
    pay(compta, kept_one, received_on=RUN - dt.timedelta(days=1))
    on_its_day = promise(compta, [broken_one], RUN)

    done = run(compta)

    statuses = dict(PromiseToPay.objects.values_list("pk", "status"))
    assert statuses == {
        broken.pk: PromiseStatus.BROKEN,
        kept.pk: PromiseStatus.KEPT,
        on_its_day.pk: PromiseStatus.OPEN,  # due today: still holds
    }
    assert AuditEvent.objects.filter(
        object_type="collections.promisetopay", object_id=str(broken.pk), actor=compta
    ).exists()
    assert done.skipped.get(SkipReason.PROMISE) == 1


def test_a_broken_promise_no_longer_holds_the_reminders(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice = invoice_due(adv, customer(), days_before(RUN, 4))
    promise(compta, [invoice], RUN - dt.timedelta(days=1), made_on=RUN - dt.timedelta(days=3))

    done = run(compta)

    assert PromiseToPay.objects.get().status == PromiseStatus.BROKEN
    assert (done.messages, done.items) == (1, 1)


# --- one message per customer -----------------------------------------------------------------


def test_a_customer_gets_one_message_for_all_its_due_invoices(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer, other = customer("Durand SA"), customer("Martin SARL")
    soon, first, second, others = invoices_due(
        adv,
        [
            (buyer, RUN + dt.timedelta(days=5), "1000"),
            (buyer, days_before(RUN, 4), "1000"),
            (buyer, days_before(RUN, 16), "1000"),
            (other, days_before(RUN, 3), "1000"),
        ],
    )

    done = run(compta)

    assert (done.messages, done.items) == (2, 4)
    message = DunningMessage.objects.get(customer=buyer)
    assert message.step.name == "Deuxième relance"  # the most advanced step's text
    assert message.total_due == Decimal("3600.00")
    steps = {i.invoice_id: i.step.offset_days for i in message.items.all()}
    assert steps == {soon.pk: -5, first.pk: 3, second.pk: 15}
    for invoice in (soon, first, second):
        assert invoice.number in message.body
    assert others.number not in message.body
    assert message.recipients == "compta@client.example"
    assert message.status == MessageStatus.QUEUED


def test_a_hand_over_does_not_swallow_another_invoices_formal_notice(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer("Durand SA")
    handed_over, noticed = invoices_due(
        adv, [(buyer, days_before(RUN, 46), "1000"), (buyer, days_before(RUN, 31), "1000")]
    )

    plan = plan_dunning(RUN)
    done = run(compta)

    [notice, hand_over] = plan.messages  # the message first, then the task
    assert notice.task_kind is None and notice.channel == DunningChannel.EMAIL
    assert notice.step.is_formal_notice and [i.number for i in notice.items] == [noticed.number]
    assert notice.indemnity == Decimal("40.00") and notice.interest > 0
    assert hand_over.task_kind == TaskKind.HANDOVER
    assert [i.number for i in hand_over.items] == [handed_over.number]
    assert (done.messages, done.tasks, done.items) == (1, 1, 2)
    items = {i.invoice_id: i for i in DunningItem.objects.select_related("message")}
    assert items[noticed.pk].outcome == DunningOutcome.SENT
    assert items[noticed.pk].message.status == MessageStatus.QUEUED
    assert items[handed_over.pk].outcome == DunningOutcome.TASK
    [task] = CollectionTask.objects.all()
    assert list(task.invoices.all()) == [handed_over]


def test_a_strategic_account_gets_one_task_for_all_its_invoices(
    adv: User, compta: User, commercial: User, scenario: DunningScenario
) -> None:
    buyer = customer("Grand Compte SA", is_strategic=True, account_manager=commercial)
    invoices_due(
        adv, [(buyer, days_before(RUN, 46), "1000"), (buyer, days_before(RUN, 31), "1000")]
    )

    done = run(compta)

    assert (done.messages, done.tasks, done.items) == (0, 1, 2)
    [task] = CollectionTask.objects.all()
    assert task.kind == TaskKind.STRATEGIC and task.invoices.count() == 2


def test_the_text_uses_the_merge_fields_in_french(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice = invoice_due(adv, customer("Industries Durand SA"), days_before(RUN, 3))

    run(compta)

    message = DunningMessage.objects.get()
    assert message.subject == "Relance : factures échues – Levier Conseil"
    for expected in [
        "échues depuis le 24 novembre 2026",
        f"Montant restant dû : {TTC}",
        "IBAN FR76 3000 6000 0112 3456 7890 189",
        "référence de paiement RF",
        invoice.number,
        "24/11/2026",
        "3 j",
        "Le service comptabilité clients\nLevier Conseil",
    ]:
        assert expected in message.body, expected
    header, rule, row = message.body.split("\n\n")[2].splitlines()
    assert header.split() == [
        "Facture",
        "Date",
        "Échéance",
        "Montant",
        "TTC",
        "Reste",
        "dû",
        "Retard",
    ]
    assert set(rule) == {"-", " "} and row.startswith(invoice.number)


def test_the_formal_notice_claims_interest_and_40_euros_per_invoice(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    thirty, forty = invoices_due(
        adv, [(buyer, days_before(RUN, 30), "1000"), (buyer, days_before(RUN, 40), "1000")]
    )

    run(compta)

    message = DunningMessage.objects.get()
    assert message.step.is_formal_notice and message.channel == DunningChannel.EMAIL
    items = {i.invoice_id: i for i in message.items.all()}
    # 1,200 € × (2.15 + 10) % × days / 365, rounded once
    assert items[thirty.pk].interest == Decimal("11.98")
    assert items[forty.pk].interest == Decimal("15.98")
    assert items[thirty.pk].interest == late_interest(Decimal("1200.00"), thirty.due_date, RUN)
    assert {i.indemnity for i in items.values()} == {Decimal("40.00")}
    assert (message.interest, message.indemnity) == (Decimal("27.96"), Decimal("80.00"))
    assert f"Pénalités de retard (article L441-10 du Code de commerce) : 27,96{NBSP}€" in (
        message.body
    )
    assert f"40 € par facture, article D441-5 du Code de commerce) : 80,00{NBSP}€" in message.body


def test_only_the_invoices_at_the_formal_notice_step_carry_interest(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    notice, reminder = invoices_due(
        adv, [(buyer, days_before(RUN, 35), "1000"), (buyer, days_before(RUN, 3), "1000")]
    )

    run(compta)

    items = {i.invoice_id: i for i in DunningItem.objects.all()}
    assert items[notice.pk].indemnity == Decimal("40.00") and items[notice.pk].interest > 0
    assert (items[reminder.pk].interest, items[reminder.pk].indemnity) == (0, 0)


def test_the_contract_rate_is_used_for_the_formal_notice(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    contract = make_contract(adv, [contract_line("on_order")], buyer)
    Contract.objects.filter(pk=contract.pk).update(late_interest_rate=Decimal("15.00"))
    invoice_due(adv, buyer, days_before(RUN, 30), contract=contract)

    run(compta)

    [item] = DunningItem.objects.all()
    assert item.interest == Decimal("14.79")  # 1,200 × 15 % × 30 / 365


def test_the_hand_over_step_creates_a_task_for_a_person(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer("Durand SA")
    invoice_due(adv, buyer, days_before(RUN, 50))

    done = run(compta)

    [task] = CollectionTask.objects.all()
    assert task.kind == TaskKind.HANDOVER and task.assignee is None
    assert task.title == "Dossier à reprendre : Durand SA"  # the step's subject
    assert (done.messages, done.tasks) == (0, 1)
    assert DunningMessage.objects.get().channel == DunningChannel.HANDOVER


def test_a_call_step_creates_a_call_task(
    adv: User, compta: User, admin_user: User, scenario: DunningScenario
) -> None:
    save_step(
        actor=admin_user,
        step=DunningStep(scenario=scenario),
        name="Appel",
        offset_days=20,
        channel=DunningChannel.PHONE,
        subject="Appeler {{ customer_name }}",
        body="{{ invoices_table }}",
    )
    invoice_due(adv, customer("Durand SA"), days_before(RUN, 21))

    run(compta)

    [task] = CollectionTask.objects.all()
    assert (task.kind, task.title) == (TaskKind.CALL, "Appeler Durand SA")


def test_the_customers_own_scenario_comes_before_its_segments_and_the_default(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    gentle = DunningScenario.objects.create(name="Doux", segment="public")
    DunningStep.objects.create(
        scenario=gentle, name="Relance douce", offset_days=10, channel="email", body="x"
    )
    own = DunningScenario.objects.create(name="Sur mesure")
    DunningStep.objects.create(
        scenario=own, name="Relance sur mesure", offset_days=1, channel="email", body="x"
    )
    public, chosen, plain = customer(segment="public"), customer(segment="public"), customer()
    CustomerScenario.objects.create(customer=chosen, scenario=own)
    invoices_due(
        adv,
        [
            (public, days_before(RUN, 12), "1000"),
            (chosen, days_before(RUN, 12), "1000"),
            (plain, days_before(RUN, 12), "1000"),
        ],
    )

    steps = {m.customer.id: m.step.name for m in plan_dunning(RUN).messages}

    assert steps == {
        public.pk: "Relance douce",
        chosen.pk: "Relance sur mesure",
        plain.pk: "Première relance",
    }


# --- texts ------------------------------------------------------------------------------------


def test_a_broken_template_is_refused_with_the_field_named(
    admin_user: User, scenario: DunningScenario
) -> None:
    step = step_at(3)
    label = str(DunningStep._meta.get_field("body").verbose_name)

    with pytest.raises(ValidationFailed) as broken:
        save_step(actor=admin_user, step=step, body="Bonjour {% if total_due %}, merci")
    with pytest.raises(ValidationFailed) as unknown:
        save_step(actor=admin_user, step=step, subject="Relance {{ montant }}")

    assert list(broken.value.errors) == ["body"]
    assert broken.value.message.lower().startswith(label.lower())
    assert "endif" in broken.value.message
    assert list(unknown.value.errors) == ["subject"] and "{{ montant }}" in unknown.value.message
    assert step.body.startswith("Bonjour,") and "montant" not in step.subject  # as it was
    step.refresh_from_db()
    assert step.body.startswith("Bonjour,") and "montant" not in step.subject


def test_a_valid_text_is_saved_and_audited(admin_user: User, scenario: DunningScenario) -> None:
    step = step_at(3)

    save_step(actor=admin_user, step=step, subject="Facture(s) impayée(s) – {{ customer_name }}")

    step.refresh_from_db()
    assert step.subject == "Facture(s) impayée(s) – {{ customer_name }}"
    event = AuditEvent.objects.get(object_type="collections.dunningstep", object_id=str(step.pk))
    assert event.actor == admin_user and "subject" in event.changes


def test_two_steps_of_a_scenario_cannot_share_a_day(
    admin_user: User, scenario: DunningScenario
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        save_step(
            actor=admin_user,
            step=DunningStep(scenario=scenario),
            name="Doublon",
            offset_days=15,
            channel="email",
        )
    assert list(refused.value.errors) == ["offset_days"]


def test_only_comptabilite_and_administrateur_edit_the_texts(
    adv: User, scenario: DunningScenario
) -> None:
    with pytest.raises(PermissionDenied):
        save_step(actor=adv, step=step_at(3), subject="x")


def test_every_merge_field_is_described_and_accepted() -> None:
    text = " ".join("{{ %s }}" % name for name in MERGE_FIELDS)  # noqa: UP031
    validate_template(text)
    assert all(str(description) for description in MERGE_FIELDS.values())
    assert set(MERGE_FIELDS) >= {"customer_name", "invoices_table", "total_due", "iban"}


def test_the_default_scenario_texts_render() -> None:
    scenario = seed_default_scenario()
    assert seed_default_scenario() == scenario  # seeding again creates nothing
    for step in scenario.steps.all():
        validate_template(step.subject, "subject")
        validate_template(step.body, "body")
    assert [s.offset_days for s in scenario.steps.order_by("offset_days")] == [-5, 3, 15, 30, 45]


# --- sending ----------------------------------------------------------------------------------


def test_the_reminder_email_arrives_over_smtp_with_the_statement_attached(
    smtp_server: SmtpServer,
    adv: User,
    compta: User,
    scenario: DunningScenario,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    buyer = customer("Industries Durand SA", email="relances@durand.example")
    invoice = invoice_due(adv, buyer, days_before(RUN, 3))

    with django_capture_on_commit_callbacks(execute=True):
        run(compta)
        assert smtp_server.received == []  # sent after the commit, by the job

    [received] = smtp_server.received
    assert received.rcpt_tos == ["relances@durand.example"]
    message: EmailMessage = received.message
    assert message["From"] == "relances@levier.example"
    assert message["Reply-To"] == "adv@levier.example"
    assert message["Subject"] == "Relance : factures échues – Levier Conseil"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and invoice.number in body.get_content()  # type: ignore[attr-defined]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"releve-de-compte-{buyer.pk}-2026-11-27.pdf"
    assert attachment.get_content_type() == "application/pdf"
    statement = text_of(attachment.get_content())
    assert "RELEVÉ DE COMPTE" in statement and invoice.number in statement
    row = DunningMessage.objects.get()
    assert (row.status, row.attempts, row.error) == (MessageStatus.SENT, 1, "")
    assert row.message_id == message["Message-ID"] and row.sent_at is not None
    event = DomainEvent.objects.get(name="reminder.sent")
    assert event.payload["customer_id"] == buyer.pk
    assert event.payload["invoices"][0]["number"] == invoice.number


def test_the_formal_notice_email_carries_the_letter_and_the_statement(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer("Industries Durand SA")
    invoice = invoice_due(adv, buyer, days_before(RUN, 30))
    run(compta)

    send(DunningMessage.objects.get())

    [email] = mail.outbox
    names = [name for name, _content, _type in email.attachments]  # type: ignore[misc]
    assert names == [
        f"mise-en-demeure-{buyer.pk}-2026-11-27.pdf",
        f"releve-de-compte-{buyer.pk}-2026-11-27.pdf",
    ]
    letter = text_of(email.attachments[0][1])  # type: ignore[index]
    assert "Lettre recommandée avec accusé de réception" in letter
    assert "Mise en demeure" in letter and invoice.number in letter
    assert "Paris, le 27 novembre 2026" in letter
    assert "11,98" in letter and "40,00" in letter


def test_a_letter_reminder_is_left_to_print_then_marked_printed(
    adv: User, compta: User, admin_user: User, scenario: DunningScenario
) -> None:
    save_step(actor=admin_user, step=step_at(3), channel=DunningChannel.LETTER)
    invoice_due(adv, customer(), days_before(RUN, 3))
    run(compta)

    message = send(DunningMessage.objects.get())

    assert message.status == MessageStatus.TO_PRINT and mail.outbox == []
    assert not DomainEvent.objects.filter(name="reminder.sent").exists()
    printed = mark_reminder_printed(actor=compta, message=message)
    assert printed.status == MessageStatus.PRINTED
    assert DomainEvent.objects.filter(name="reminder.sent").count() == 1
    with pytest.raises(NotAllowed):
        mark_reminder_printed(actor=compta, message=message)


def test_a_failed_reminder_is_sent_again_by_the_sweeper(
    smtp_server: SmtpServer,
    adv: User,
    compta: User,
    scenario: DunningScenario,
    settings: Any,
) -> None:
    invoice_due(adv, customer(), days_before(RUN, 3))
    run(compta)
    real_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()

    message = send(DunningMessage.objects.get())

    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert "ConnectionRefusedError" in message.error
    settings.EMAIL_PORT = real_port
    out = StringIO()
    call_command("send_reminders", "--older-than-minutes", "0", stdout=out)
    assert "failed (attempt 1) -> sent" in out.getvalue()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert len(smtp_server.messages) == 1
    send(message)  # a sent reminder is never sent again
    assert len(smtp_server.messages) == 1


def test_an_address_removed_since_the_run_fails_with_a_french_reason(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    invoice_due(adv, buyer, days_before(RUN, 3))
    run(compta)
    Contact.objects.filter(customer=buyer).delete()

    message = send(DunningMessage.objects.get())

    assert message.status == MessageStatus.FAILED
    assert message.error.startswith("Aucun destinataire")


# --- checked again when it goes -----------------------------------------------------------------


def test_a_reminder_is_not_sent_for_an_invoice_paid_since_the_run(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice = invoice_due(adv, customer(), days_before(RUN, 3))
    run(compta)
    pay(compta, invoice, received_on=RUN)  # the customer paid that morning

    message = send(DunningMessage.objects.get())

    assert message.status == MessageStatus.CANCELLED and mail.outbox == []
    assert message.error.startswith("Plus rien à relancer")
    assert f"{invoice.number} réglée" in message.error
    assert not DomainEvent.objects.filter(name="reminder.sent").exists()
    assert not DunningItem.objects.filter(invoice=invoice).exists()  # the step was not done
    assert not pending_messages(dt.timedelta(0)).exists()  # nothing for the sweeper to retry
    assert [s.reason for s in plan_dunning(RUN).skipped] == [SkipReason.PAID]
    event = AuditEvent.objects.filter(
        object_type="collections.dunningmessage", object_id=str(message.pk)
    ).latest("pk")
    assert event.changes["withdrawn"] == [invoice.number]


def test_a_reminder_goes_without_the_invoices_disputed_or_promised_since_the_run(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    buyer = customer()
    disputed, promised, part_paid, waiting = invoices_due(
        adv,
        [
            (buyer, days_before(RUN, 31), "1000"),
            (buyer, days_before(RUN, 30), "1000"),
            (buyer, days_before(RUN, 16), "1000"),
            (buyer, days_before(RUN, 4), "1000"),
        ],
    )
    run(compta)
    before = DunningMessage.objects.get()
    assert before.step.is_formal_notice and before.total_due == Decimal("4800.00")
    dispute(compta, disputed)
    promise(compta, [promised], promised_on=RUN + dt.timedelta(days=10))
    pay(compta, part_paid, received_on=RUN, amount=Decimal("200.00"))
    payment_to_match(compta, waiting)

    message = send(before)

    assert message.status == MessageStatus.SENT
    [email] = mail.outbox
    assert part_paid.number in email.body
    for withdrawn in (disputed, promised, waiting):
        assert withdrawn.number not in email.body
    # Rewritten with the text of the step left: the second reminder, not the formal notice.
    assert message.step.offset_days == 15 and not message.step.is_formal_notice
    assert message.body == email.body.strip() and f"1{NNBSP}000,00" in message.body
    assert (message.total_due, message.interest, message.indemnity) == (Decimal("1000.00"), 0, 0)
    assert [names for names, _c, _t in email.attachments] == [  # type: ignore[misc]
        f"releve-de-compte-{buyer.pk}-2026-11-27.pdf"  # no formal notice letter any more
    ]
    [item] = message.items.all()
    assert (item.invoice_id, item.open_amount) == (part_paid.pk, Decimal("1000.00"))
    event = DomainEvent.objects.get(name="reminder.sent")
    assert [i["number"] for i in event.payload["invoices"]] == [part_paid.number]
    # The withdrawn invoices' steps are still to do: the formal notice goes once the
    # dispute is closed.
    Dispute.objects.filter(invoice=disputed).update(status="closed")
    [again] = plan_dunning(RUN + dt.timedelta(days=1)).messages
    assert [i.number for i in again.items] == [disputed.number] and again.step.is_formal_notice


def test_a_letter_for_invoices_paid_since_the_run_is_not_posted(
    adv: User, compta: User, admin_user: User, scenario: DunningScenario
) -> None:
    save_step(actor=admin_user, step=step_at(3), channel=DunningChannel.LETTER)
    invoice = invoice_due(adv, customer(), days_before(RUN, 3))
    run(compta)
    message = send(DunningMessage.objects.get())
    assert message.status == MessageStatus.TO_PRINT
    pay(compta, invoice, received_on=RUN + dt.timedelta(days=1))

    with at(RUN + dt.timedelta(days=1)), pytest.raises(NotAllowed) as refused:
        mark_reminder_printed(actor=compta, message=message)

    assert refused.value.code == "nothing_to_remind" and invoice.number in refused.value.message
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED and message.error.startswith("Plus rien")
    assert not DomainEvent.objects.filter(name="reminder.sent").exists()


def test_a_letter_is_rewritten_without_an_invoice_disputed_since_then_printed(
    adv: User, compta: User, admin_user: User, scenario: DunningScenario
) -> None:
    save_step(actor=admin_user, step=step_at(3), channel=DunningChannel.LETTER)
    buyer = customer()
    disputed, due = invoices_due(
        adv, [(buyer, days_before(RUN, 4), "1000"), (buyer, days_before(RUN, 3), "500")]
    )
    run(compta)
    message = send(DunningMessage.objects.get())
    assert message.status == MessageStatus.TO_PRINT and message.total_due == Decimal("1800.00")
    dispute(compta, disputed)

    with pytest.raises(NotAllowed) as refused:
        mark_reminder_printed(actor=compta, message=message)

    assert refused.value.code == "letter_rewritten"
    message.refresh_from_db()
    assert message.status == MessageStatus.TO_PRINT and message.total_due == Decimal("600.00")
    assert disputed.number not in message.body and due.number in message.body
    printed = mark_reminder_printed(actor=compta, message=message)  # printed again
    assert printed.status == MessageStatus.PRINTED
    event = DomainEvent.objects.get(name="reminder.sent")
    assert [i["number"] for i in event.payload["invoices"]] == [due.number]


# --- runs -------------------------------------------------------------------------------------


def test_a_commercial_cannot_run_the_reminders(commercial: User, scenario: DunningScenario) -> None:
    with pytest.raises(PermissionDenied):
        run_dunning(actor=commercial, run_date=RUN)


def test_a_run_is_audited_per_message(adv: User, compta: User, scenario: DunningScenario) -> None:
    invoice = invoice_due(adv, customer(), days_before(RUN, 3))

    done = run(compta)

    message = DunningMessage.objects.get()
    event = AuditEvent.objects.get(
        object_type="collections.dunningmessage", object_id=str(message.pk)
    )
    assert event.actor == compta and event.changes["invoices"] == [invoice.number]
    assert AuditEvent.objects.filter(
        object_type="collections.dunningrun", object_id=str(done.pk)
    ).exists()


def test_the_run_needs_a_bounded_number_of_queries(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    def queries_for(count: int, day: dt.date) -> int:
        buyers = [customer() for _ in range(count)]
        invoices_due(
            adv,
            [(b, day - dt.timedelta(days=3), "1000") for b in buyers]
            + [(b, day - dt.timedelta(days=31), "1000") for b in buyers],
        )
        with CaptureQueriesContext(connection) as queries:
            done = run(compta, day)
        assert done.messages == count and done.items == 2 * count
        return len(queries)

    DunningLock.objects.get_or_create(name="dunning")  # the first run ever creates it
    few = queries_for(2, RUN - dt.timedelta(days=60))
    for invoice in Invoice.objects.all():  # out of the second run: it must see only its own
        Dispute.objects.create(
            invoice=invoice,
            reason="other",
            amount=invoice.open_amount,
            owner=compta,
            due_on=RUN,
            opened_on=RUN,
            opened_by=compta,
        )
    many = queries_for(12, RUN)

    assert few == many


def test_the_dry_run_prints_the_plan_and_writes_nothing(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice = invoice_due(adv, customer("Durand SA"), days_before(RUN, 3))

    out = StringIO()
    call_command("dunning_run", "--date", "2026-11-27", "--dry-run", stdout=out)
    as_json = StringIO()
    call_command("dunning_run", "--date", "2026-11-27", "--dry-run", "--json", stdout=as_json)

    assert "Durand SA: Première relance [email], 1 invoice(s)" in out.getvalue()
    report = json.loads(as_json.getvalue())
    assert report["dry_run"] is True
    assert report["messages"][0]["invoices"][0]["number"] == invoice.number
    assert DunningRun.objects.count() == 0 and DunningMessage.objects.count() == 0


def test_the_command_runs_and_reports_in_json(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice_due(adv, customer(), days_before(RUN, 3))

    out = StringIO()
    call_command("dunning_run", "--date", "2026-11-27", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert (report["messages"], report["items"], report["status"]) == (1, 1, "done")


def test_the_daily_job_runs_as_the_first_accountant(
    adv: User, compta: User, scenario: DunningScenario
) -> None:
    invoice_due(adv, customer(), days_before(RUN, 3))

    run_id = daily_dunning_run(run_date="2026-11-27")

    assert DunningRun.objects.get(pk=run_id).started_by == compta


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_run_is_refused_on_postgresql(compta: User) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the second run waits instead")
    complete_company_profile()
    DunningLock.objects.get_or_create(name="dunning")
    locked, release = threading.Event(), threading.Event()

    def other_run() -> None:
        try:
            with transaction.atomic():
                DunningLock.objects.select_for_update().get(name="dunning")
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_run)
    thread.start()
    try:
        assert locked.wait(10)
        with pytest.raises(NotAllowed) as refused:
            run_dunning(actor=compta, run_date=RUN)
        assert refused.value.code == "dunning_running"
    finally:
        release.set()
        thread.join()
    assert not DunningRun.objects.exists()


def test_a_run_dated_in_the_future_is_refused(compta: User) -> None:
    from levier.lib.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        run_dunning(actor=compta, run_date=timezone.localdate() + dt.timedelta(days=1))
    assert refused.value.code == "future_run"
