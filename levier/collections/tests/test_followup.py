"""Promises to pay, call notes, tasks and the collector's worklist."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from levier.accounts.models import User
from levier.billing.tests.factories import complete_company_profile
from levier.collections.choices import PromiseStatus, TaskStatus
from levier.collections.disputes import open_dispute
from levier.collections.followup import (
    add_note,
    cancel_promise,
    complete_task,
    record_promise,
    review_promises,
)
from levier.collections.models import CollectionNote, CollectionTask
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import issued_invoice, payment
from levier.collections.worklist import collector_worklist
from levier.customers.tests.factories import CustomerFactory
from levier.lib.errors import NotAllowed, ValidationFailed

D = Decimal
TODAY = dt.date(2026, 11, 27)


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def test_a_promise_covers_the_open_total_by_default(adv: User, compta: User) -> None:
    customer = CustomerFactory()
    invoices = [issued_invoice(adv, customer, net="1000"), issued_invoice(adv, customer, net="500")]
    promise = record_promise(
        actor=compta,
        customer=customer,
        invoices=invoices,
        promised_on=TODAY + dt.timedelta(days=10),
        today=TODAY,
    )
    assert promise.amount == D("1800.00") and promise.status == PromiseStatus.OPEN


def test_a_promise_for_another_customers_invoice_is_refused(adv: User, compta: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        record_promise(
            actor=compta,
            customer=CustomerFactory(),
            invoices=[issued_invoice(adv)],
            promised_on=TODAY,
            today=TODAY,
        )
    assert "invoices" in refused.value.errors


def test_a_promise_in_the_past_or_too_far_is_refused(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv)
    for day in (TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=181)):
        with pytest.raises(ValidationFailed) as refused:
            record_promise(
                actor=compta,
                customer=invoice.customer,
                invoices=[invoice],
                promised_on=day,
                today=TODAY,
            )
        assert "promised_on" in refused.value.errors


def test_a_promise_is_kept_when_paid_and_broken_otherwise(adv: User, compta: User) -> None:
    paid_invoice, unpaid_invoice = issued_invoice(adv), issued_invoice(adv)
    kept = record_promise(
        actor=compta,
        customer=paid_invoice.customer,
        invoices=[paid_invoice],
        promised_on=TODAY,
        today=TODAY,
    )
    broken = record_promise(
        actor=compta,
        customer=unpaid_invoice.customer,
        invoices=[unpaid_invoice],
        promised_on=TODAY,
        today=TODAY,
    )
    money = payment(compta, paid_invoice.customer, "1200.00")
    allocate_payment(actor=compta, payment=money, portions=[Portion(paid_invoice.pk, D("1200"))])
    assert review_promises(as_of=TODAY) == {"kept": 0, "broken": 0}  # not yet past
    assert review_promises(as_of=TODAY + dt.timedelta(days=1)) == {"kept": 1, "broken": 1}
    kept.refresh_from_db()
    broken.refresh_from_db()
    assert (kept.status, broken.status) == (PromiseStatus.KEPT, PromiseStatus.BROKEN)
    from levier.integrations.models import DomainEvent

    names = set(DomainEvent.objects.values_list("name", flat=True))
    assert {"promise.recorded", "promise.kept", "promise.broken"} <= names
    with pytest.raises(Exception, match="cannot go from"):
        cancel_promise(actor=compta, promise=broken, reason="trop tard")


def test_a_call_note_is_kept_on_the_customer(adv: User, compta: User) -> None:
    invoice = issued_invoice(adv)
    note = add_note(
        actor=compta,
        customer=invoice.customer,
        kind="call",
        text="Mme Durand : paiement en cours de validation",
        invoice=invoice,
    )
    assert list(invoice.customer.collection_notes.all()) == [note]
    with pytest.raises(ValidationFailed):
        add_note(actor=compta, customer=invoice.customer, kind="call", text=" ")


def test_completing_a_task_records_its_note_and_cannot_be_done_twice(
    adv: User, compta: User
) -> None:
    customer = CustomerFactory()
    task = CollectionTask.objects.create(
        customer=customer, kind="call", title="Appeler le client", due_on=TODAY
    )
    done = complete_task(actor=compta, task=task, note="promesse pour vendredi")
    assert done.status == TaskStatus.DONE and done.done_by == compta
    assert CollectionNote.objects.get().text == "Appeler le client — promesse pour vendredi"
    with pytest.raises(NotAllowed):
        complete_task(actor=compta, task=task)


def test_the_worklist_puts_the_biggest_euro_days_first(adv: User, compta: User) -> None:
    small_old = CustomerFactory(name="Petit Ancien")
    big_recent = CustomerFactory(name="Gros Récent")
    CollectionTask.objects.create(
        customer=small_old,
        kind="call",
        title="appel petit",
        due_on=TODAY,
        amount=D("500"),
        days_late=60,
    )
    CollectionTask.objects.create(
        customer=big_recent,
        kind="call",
        title="appel gros",
        due_on=TODAY,
        amount=D("50000"),
        days_late=7,
    )
    CollectionTask.objects.create(
        customer=big_recent, kind="call", title="plus tard", due_on=TODAY + dt.timedelta(days=3)
    )
    invoice = issued_invoice(adv)
    open_dispute(
        actor=adv,
        invoice=invoice,
        reason="quality",
        owner=compta,
        due_on=TODAY + dt.timedelta(days=1),
        opened_on=TODAY - dt.timedelta(days=20),
    )
    payment(compta, None, "99.00", received_on=TODAY - dt.timedelta(days=3))
    items = collector_worklist(TODAY)
    assert [i.title for i in items][:2] == ["appel gros", "appel petit"]
    assert {i.kind for i in items} == {"task", "dispute", "payment"}
    assert "plus tard" not in [i.title for i in items]
    mine = collector_worklist(TODAY, user=compta)
    assert {i.kind for i in mine} >= {"dispute", "payment"}


def test_a_sales_rep_closes_only_the_task_assigned_to_them(
    compta: User, commercial: User, commercial2: User
) -> None:
    from levier.accounts.permissions import PermissionDenied

    customer = CustomerFactory()
    handover = CollectionTask.objects.create(
        customer=customer, kind="handover", title="Dossier à reprendre", due_on=TODAY
    )
    strategic = CollectionTask.objects.create(
        customer=customer,
        kind="strategic",
        title="Relance par le commercial",
        due_on=TODAY,
        assignee=commercial,
    )
    with pytest.raises(PermissionDenied):
        complete_task(actor=commercial, task=handover, note="pas à moi", cancel=True)
    with pytest.raises(PermissionDenied):
        complete_task(actor=commercial2, task=strategic, note="appelé")
    assert complete_task(actor=commercial, task=strategic, note="appelé").status == "done"


def test_reviewing_many_promises_costs_a_constant_number_of_queries(
    adv: User, compta: User, django_assert_max_num_queries: Any
) -> None:
    for _n in range(12):
        invoice = issued_invoice(adv)
        record_promise(
            actor=compta,
            customer=invoice.customer,
            invoices=[invoice],
            promised_on=TODAY,
            today=TODAY,
        )
    with django_assert_max_num_queries(10):
        counts = review_promises(as_of=TODAY + dt.timedelta(days=1))
    assert counts == {"kept": 0, "broken": 12}
