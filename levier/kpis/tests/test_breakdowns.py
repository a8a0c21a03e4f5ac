"""The dashboard's breakdowns against small books whose answers are worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from levier.accounts.models import User
from levier.accounts.tests.factories import UserFactory
from levier.billing.models import Invoice
from levier.billing.services import create_credit_note, issue_invoice
from levier.billing.tests.factories import complete_company_profile, draft_invoice
from levier.collections.choices import TaskKind, TaskStatus
from levier.collections.disputes import open_dispute
from levier.collections.models import CollectionTask
from levier.collections.payments import Portion, allocate_payment
from levier.collections.tests.factories import issued_invoice, payment
from levier.contracts.tests.factories import contract_line, make_contract
from levier.customers.tests.factories import CustomerFactory
from levier.kpis.activity import invoices_issued
from levier.kpis.breakdowns import (
    disputes_by_reason,
    invoicing_delay_by_mode,
    team_worklists,
    top_overdue_customers,
    with_invoicing_mode,
)
from levier.sales.services import create_quote, submit_order
from levier.sales.tests.factories import line, make_order

D = Decimal
day = dt.date


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


# --------------------------------------------------------------------------- overdue customers


@pytest.fixture
def overdue_books(adv: User, compta: User) -> dict[str, object]:
    """Three customers (30-day terms), invoices issued in date order:

    A: 06-01 1 200 TTC (200 paid 07-15, 1 000 paid 10-10), 08-01 720 TTC unpaid
    B: 07-01 2 400 TTC unpaid, 09-15 1 200 TTC (not due on 09-30)
    C: 08-15 600 TTC paid in full 09-01
    """
    a = CustomerFactory(name="Alpha")
    b = CustomerFactory(name="Bravo")
    c = CustomerFactory(name="Charlie")
    a1 = issued_invoice(adv, a, net="1000", issue_date=day(2026, 6, 1))
    b1 = issued_invoice(adv, b, net="2000", issue_date=day(2026, 7, 1))
    a2 = issued_invoice(adv, a, net="600", issue_date=day(2026, 8, 1))
    c1 = issued_invoice(adv, c, net="500", issue_date=day(2026, 8, 15))
    issued_invoice(adv, b, net="1000", issue_date=day(2026, 9, 15))
    for invoice, amount, received in (
        (a1, "200", day(2026, 7, 15)),
        (c1, "600", day(2026, 9, 1)),
        (a1, "1000", day(2026, 10, 10)),
    ):
        paid = payment(compta, invoice.customer, amount, received_on=received)
        allocate_payment(actor=compta, payment=paid, portions=[Portion(invoice.pk, D(amount))])
    return {"a": a, "b": b, "c": c, "a1": a1, "a2": a2, "b1": b1}


def test_the_top_overdue_customers_at_a_past_date_owe_what_was_overdue_that_day(
    overdue_books: dict[str, object],
) -> None:
    as_of = day(2026, 9, 30)
    rows = top_overdue_customers(as_of)
    b1 = overdue_books["b1"]
    a1 = overdue_books["a1"]
    assert [(r.name, r.overdue, r.invoices) for r in rows] == [
        ("Bravo", D("2400.00"), 1),  # the 09-15 invoice is not due yet
        ("Alpha", D("1720.00"), 2),  # 1 200 − 200 + 720; the October payment came later
    ]
    assert rows[0].oldest_due == b1.due_date
    assert rows[0].days_late == (as_of - b1.due_date).days == 61
    assert rows[1].days_late == (as_of - a1.due_date).days == 91
    assert [r.name for r in top_overdue_customers(as_of, limit=1)] == ["Bravo"]


def test_today_the_top_overdue_customers_count_every_payment_received(
    overdue_books: dict[str, object],
) -> None:
    rows = top_overdue_customers(day(2026, 11, 28))
    # Alpha's first invoice is paid off by 10-10; Bravo's September invoice is now late too.
    assert [(r.name, r.overdue, r.invoices) for r in rows] == [
        ("Bravo", D("3600.00"), 2),
        ("Alpha", D("720.00"), 1),
    ]


def test_an_invoice_due_on_the_day_is_not_yet_overdue(adv: User) -> None:
    invoice = issued_invoice(adv, CustomerFactory(), net="100", issue_date=day(2026, 9, 1))
    assert top_overdue_customers(invoice.due_date) == []
    assert len(top_overdue_customers(invoice.due_date + dt.timedelta(days=1))) == 1


def test_no_overdue_customer_on_empty_books(db: None) -> None:
    assert top_overdue_customers(day(2026, 9, 30)) == []


# --------------------------------------------------------------------------- disputes


def test_disputes_by_reason_count_and_sum_the_disputes_opened_in_the_period(
    adv: User, compta: User
) -> None:
    customer = CustomerFactory()
    invoices = [
        issued_invoice(adv, customer, net=net, issue_date=day(2026, 9, n + 1))
        for n, net in enumerate(["1000", "500", "2000", "300", "100"])
    ]
    due = day(2026, 12, 31)
    for invoice, reason, opened in (
        (invoices[0], "price", day(2026, 10, 2)),  # 1 200 TTC
        (invoices[1], "price", day(2026, 10, 31)),  # 600 TTC, the last day counts
        (invoices[2], "quantity", day(2026, 10, 15)),  # 2 400 TTC
        (invoices[3], "other", day(2026, 10, 1)),  # the day before the period: out
        (invoices[4], "quality", day(2026, 11, 1)),  # after as_of: out
    ):
        open_dispute(
            actor=compta, invoice=invoice, reason=reason, owner=compta, due_on=due, opened_on=opened
        )
    rows = disputes_by_reason(day(2026, 10, 31), 30)
    assert [(r.reason, r.count, r.amount) for r in rows] == [
        ("price", 2, D("1800.00")),
        ("quantity", 1, D("2400.00")),
    ]
    assert str(rows[0].label) == "Prix"
    # Over a year the "other" one counts too; equal counts: the largest amount first.
    assert [(r.reason, r.count) for r in disputes_by_reason(day(2026, 10, 31), 365)] == [
        ("price", 2),
        ("quantity", 1),
        ("other", 1),
    ]


# --------------------------------------------------------------------------- invoicing delay


def _issue(adv: User, *, billable: dt.date, issued: dt.date, **kw: object) -> None:
    customer = kw.pop("customer", None) or CustomerFactory()
    draft = draft_invoice(
        adv, customer, lines=kw.pop("lines", None) or [line("1", "100")], billable_on=billable, **kw
    )
    issue_invoice(actor=adv, invoice=draft, issue_date=issued)


def test_the_invoicing_delay_is_averaged_per_invoicing_mode(adv: User) -> None:
    customer = CustomerFactory()
    on_delivery = make_order(adv, customer, invoicing_mode="on_delivery")
    on_order = make_order(adv, customer)
    contract = make_contract(
        adv,
        [
            contract_line("on_delivery", delivered_on=day(2026, 9, 1)),
            contract_line("time_and_materials"),
        ],
        customer=customer,
        start=day(2026, 9, 1),
    )
    delivery_line, tm_line = contract.lines.order_by("position")
    # Issued in date order (numbering): (billable, issued, how the mode is known)
    _issue(
        adv, customer=customer, billable=day(2026, 9, 1), issued=day(2026, 9, 1), order=on_order
    )  # before the period: out
    _issue(
        adv, customer=customer, billable=day(2026, 9, 5), issued=day(2026, 9, 15), order=on_delivery
    )  # 10 days
    _issue(
        adv,
        customer=customer,
        billable=day(2026, 9, 20),
        issued=day(2026, 9, 24),
        order=on_delivery,
    )  # 4 days
    _issue(
        adv, customer=customer, billable=day(2026, 10, 5), issued=day(2026, 10, 1), order=on_order
    )  # billed before billable: 0 days, not −4
    _issue(
        adv,
        customer=customer,
        billable=day(2026, 9, 28),
        issued=day(2026, 10, 2),
        contract=contract,
        lines=[line("1", "100"), line("1", "50")],
        line_extras=[{"contract_line_id": tm_line.pk}, {"contract_line_id": delivery_line.pk}],
        order=on_order,
    )  # first contract line wins over the order: T&M, 4 days
    _issue(
        adv,
        customer=customer,
        billable=day(2026, 10, 1),
        issued=day(2026, 10, 3),
        contract=contract,
        lines=[line("1", "30"), line("1", "60")],
        line_extras=[{}, {"contract_line_id": delivery_line.pk}],
    )  # a line without contract first: its first contract line's, on delivery, 2 days
    _issue(adv, customer=customer, billable=day(2026, 10, 1), issued=day(2026, 10, 4))  # other, 3
    _issue(adv, customer=customer, billable=day(2026, 10, 1), issued=day(2026, 10, 6))  # other, 5
    rows = invoicing_delay_by_mode(day(2026, 10, 31), 60)  # (09-01, 10-31]
    assert [(r.mode, r.invoices, r.mean_days) for r in rows] == [
        ("on_order", 1, D("0.0")),
        ("on_delivery", 3, D("5.3")),  # (10 + 4 + 2) / 3, from orders and a contract line
        ("time_and_materials", 1, D("4.0")),
        ("other", 2, D("4.0")),
    ]
    assert str(rows[-1].label) == "Autre"
    assert str(rows[1].label) == "À la livraison"


def test_the_dashboard_reads_each_invoice_mode_as_the_drill_down_does(adv: User) -> None:
    """The dashboard groups with joins, the drill-down decides invoice by invoice: drafts,
    credit notes and invoices issued after the date must not change either's answer."""
    customer = CustomerFactory()
    contract = make_contract(
        adv,
        [contract_line("time_and_materials"), contract_line("on_delivery")],
        customer=customer,
        start=day(2026, 9, 1),
    )
    tm_line, delivery_line = contract.lines.order_by("position")
    contract_lines = [line("1", "100"), line("1", "50")]
    extras = [{"contract_line_id": delivery_line.pk}, {"contract_line_id": tm_line.pk}]
    _issue(
        adv,
        customer=customer,
        billable=day(2026, 10, 1),
        issued=day(2026, 10, 8),
        contract=contract,
        lines=contract_lines,
        line_extras=extras,
    )  # on delivery (its first contract line), 7 days
    credited = Invoice.objects.get(kind="invoice", status="issued")
    note = create_credit_note(actor=adv, invoice=credited, reason="price_error")
    issue_invoice(actor=adv, invoice=note, issue_date=day(2026, 10, 9))  # not an invoice
    draft_invoice(adv, customer, contract=contract, lines=contract_lines, line_extras=extras)
    _issue(adv, customer=customer, billable=day(2026, 10, 1), issued=day(2026, 10, 11))  # other
    _issue(
        adv,
        customer=customer,
        billable=day(2026, 11, 1),
        issued=day(2026, 11, 2),
        contract=contract,
        lines=contract_lines[1:],
        line_extras=extras[1:],
    )  # after the date
    as_of = day(2026, 10, 31)

    rows = invoicing_delay_by_mode(as_of, 90)

    assert [(r.mode, r.invoices, r.mean_days) for r in rows] == [
        ("on_delivery", 1, D("7.0")),
        ("other", 1, D("10.0")),
    ]
    per_invoice = with_invoicing_mode(invoices_issued(as_of, 90)).values_list("mode", flat=True)
    assert sorted(r.mode for r in rows) == sorted(per_invoice)


def test_no_invoicing_delay_row_without_invoices(db: None) -> None:
    assert invoicing_delay_by_mode(day(2026, 10, 31), 90) == []


# --------------------------------------------------------------------------- team


def test_each_member_of_the_team_sees_what_waits_for_them(
    commercial: User, adv: User, adv2: User, compta: User, direction: User, auditeur: User
) -> None:
    customer = CustomerFactory()
    # Commercial: two drafts, one order submitted (now ADV's to check), one sent quote.
    make_order(commercial, customer)
    make_order(commercial, customer)
    submitted = make_order(commercial, customer)
    submit_order(actor=commercial, order=submitted)
    create_quote(actor=commercial, customer=customer, lines=[line()])
    # ADV: one invoice draft to issue (a shared queue), one draft order of their own.
    draft_invoice(adv, customer)
    make_order(adv, customer)
    # Accounting: two open tasks, one done; a dispute owned by accounting.
    for status in (TaskStatus.OPEN, TaskStatus.OPEN, TaskStatus.DONE):
        CollectionTask.objects.create(
            customer=customer,
            kind=TaskKind.CALL,
            title="Appeler",
            due_on=day(2026, 11, 20),
            assignee=compta,
            status=status,
        )
    CollectionTask.objects.create(
        customer=customer, kind=TaskKind.CALL, title="Sans personne", due_on=day(2026, 11, 20)
    )
    invoice = issued_invoice(adv, customer, net="100", issue_date=day(2026, 10, 1))
    open_dispute(
        actor=compta,
        invoice=invoice,
        reason="price",
        owner=compta,
        due_on=day(2026, 12, 31),
        opened_on=day(2026, 10, 20),
    )
    UserFactory(username="ancien.adv", role="adv", is_active=False)

    members = {m.name: m for m in team_worklists()}
    assert set(members) == {str(u) for u in (commercial, adv, adv2, compta, direction)}
    assert members[str(commercial)].counts == {
        "approvals": 0,
        "orders": 2,
        "quotes": 1,
        "drafts_to_issue": 0,
        "tasks": 0,
        "disputes": 0,
    }
    assert members[str(adv)].counts == {
        "approvals": 1,
        "orders": 1,
        "quotes": 0,
        "drafts_to_issue": 1,
        "tasks": 0,
        "disputes": 0,
    }
    assert members[str(adv2)].counts["approvals"] == 1  # the role's queue, shown on each
    assert members[str(adv2)].counts["drafts_to_issue"] == 1
    assert members[str(adv2)].total == 2
    assert members[str(compta)].counts == {
        "approvals": 0,
        "orders": 0,
        "quotes": 0,
        "drafts_to_issue": 0,
        "tasks": 2,
        "disputes": 1,
    }
    assert members[str(direction)].total == 0
    # Sorted by role (the order of Role), then name.
    assert [m.role for m in team_worklists()] == [
        "commercial",
        "adv",
        "adv",
        "comptabilite",
        "direction",
    ]
