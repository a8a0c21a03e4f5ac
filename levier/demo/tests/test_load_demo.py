"""`levier load-demo`: a small company through the real services, then `--if-empty`."""

from __future__ import annotations

import datetime as dt
import io
import random
import zoneinfo
from collections import Counter
from typing import Any
from unittest import mock

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.audit.models import AuditEvent
from levier.billing.models import Invoice
from levier.collections.models import Dispute, Payment
from levier.customers.models import Customer
from levier.customers.validation import clean_customer
from levier.demo import company
from levier.demo.company import CustomerGenerator, Scale
from levier.demo.history import waiting_counts
from levier.demo.loader import load_demo
from levier.lib import identifiers
from levier.sales.choices import ApprovalStatus, OrderStatus, QuoteStatus
from levier.sales.models import ApprovalRule, Order, ProcedureSheet, Quote

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_mode(settings: Any) -> None:
    settings.DEMO_MODE = True


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def small_demo() -> str:
    return load("--customers", "12", "--orders", "30", "--no-progress")


def test_one_user_per_role_logs_in_with_demo(small_demo: str) -> None:
    # given a loaded demo / then every demo login exists with password "demo"
    users = {u.username: u for u in User.objects.all()}
    expected = {
        "commercial": Role.COMMERCIAL,
        "commercial2": Role.COMMERCIAL,
        "adv": Role.ADV,
        "adv2": Role.ADV,
        "compta": Role.COMPTABILITE,
        "direction": Role.DIRECTION,
        "admin": Role.ADMINISTRATEUR,
        "auditeur": Role.AUDITEUR,
    }
    assert {name: users[name].role for name in expected} == expected
    assert all(users[name].check_password("demo") for name in expected)
    assert "Logins (password 'demo')" in small_demo


def test_customers_have_valid_identifiers_and_contacts(small_demo: str) -> None:
    customers = list(Customer.objects.prefetch_related("contacts"))
    assert len(customers) == 12
    for customer in customers:
        assert identifiers.clean_siren(customer.siren) == customer.siren
        assert identifiers.clean_siret(customer.siret, customer.siren) == customer.siret
        assert customer.vat_number == identifiers.vat_from_siren(customer.siren)
        identifiers.check_vat_matches_siren(customer.vat_number, customer.siren)
        contacts = list(customer.contacts.all())
        assert any(c.is_purchasing and c.email.endswith(".client.example") for c in contacts)
        assert any(c.is_accounts_payable and c.email for c in contacts)
    # the customers went through the service: each has its creation in the audit trail
    assert AuditEvent.objects.filter(object_type="customers.customer", verb="create").count() == 12


def test_circuit_and_procedure_sheets_are_configured(small_demo: str) -> None:
    assert set(ApprovalRule.objects.values_list("kind", flat=True)) == {
        "amount_over",
        "discount_over",
        "terms_longer",
        "over_credit_limit",
    }
    sheets = {s.role: s for s in ProcedureSheet.objects.all()}
    assert set(sheets) == {"commercial", "adv", "comptabilite", "direction"}
    assert all(len(sheet.items) >= 5 for sheet in sheets.values())


def test_orders_in_every_status_and_waiting_at_every_step(small_demo: str) -> None:
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert set(statuses) == set(OrderStatus.values)
    assert sum(statuses.values()) == 30
    assert set(waiting_counts()) == {"adv", "comptabilite", "direction"}
    quotes = Counter(Quote.objects.values_list("status", flat=True))
    assert set(quotes) == set(QuoteStatus.values)
    assert Order.objects.filter(quote__isnull=False).count() == quotes[QuoteStatus.ACCEPTED]


def test_approval_steps_match_the_order_status(small_demo: str) -> None:
    for order in Order.objects.prefetch_related("approval_steps"):
        steps = [s for s in order.approval_steps.all() if s.round == order.submission_round]
        states = [s.status for s in steps]
        if order.submission_round == 0:
            assert order.status in (OrderStatus.DRAFT, OrderStatus.CANCELLED) and not steps
        elif order.status == OrderStatus.VALIDATED:
            assert states and all(s == ApprovalStatus.APPROVED for s in states), order
            assert order.validated_at is not None
        elif order.status == OrderStatus.SUBMITTED:
            assert ApprovalStatus.PENDING in states and ApprovalStatus.REJECTED not in states
        elif order.status == OrderStatus.REJECTED:
            assert states.count(ApprovalStatus.REJECTED) == 1 and order.rejection_reason
        assert ApprovalStatus.PENDING not in states or order.status == OrderStatus.SUBMITTED
        for step in steps:
            decided = step.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED)
            assert (step.decided_by_id is not None) == decided
            assert step.decided_by_id != order.created_by_id


def test_history_is_backdated_over_months(small_demo: str) -> None:
    now = timezone.now()
    created = sorted(Order.objects.values_list("created_at", flat=True))
    assert created[-1] < now
    assert (now - created[0]).days > 90
    assert not AuditEvent.objects.filter(created_at__gt=now).exists()
    for order in Order.objects.exclude(submitted_at=None):
        assert order.created_at <= order.submitted_at
        assert order.validated_at is None or order.submitted_at <= order.validated_at


def test_if_empty_changes_nothing(small_demo: str) -> None:
    # given a loaded demo
    before = (User.objects.count(), Customer.objects.count(), AuditEvent.objects.count())
    # when it is loaded again with --if-empty
    output = load("--if-empty", "--customers", "5", "--orders", "5")
    # then nothing changed
    assert output.strip() == "demo already loaded"
    assert (User.objects.count(), Customer.objects.count(), AuditEvent.objects.count()) == before


def test_without_if_empty_a_loaded_database_is_refused(small_demo: str) -> None:
    with pytest.raises(CommandError, match="already has 8 users"):
        load("--customers", "5", "--orders", "5")


def test_bulk_customers_are_validated_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a bulk threshold below the size asked for
    monkeypatch.setattr(company, "BULK_CUSTOMERS", 5)
    # when loading
    load_demo(Scale(customers=20, orders=12, seed=7))
    # then the bulk-inserted customers pass the same validation as the service
    customers = list(Customer.objects.all())
    assert len(customers) == 20
    for customer in customers:
        fields = {f.attname: getattr(customer, f.attname) for f in Customer._meta.concrete_fields}
        clean_customer(fields)  # raises ValidationFailed if anything is off
    assert Order.objects.count() == 12


def test_generator_is_deterministic() -> None:
    first = [CustomerGenerator(random.Random(2026)).customer() for _ in range(1)]
    again = [CustomerGenerator(random.Random(2026)).customer() for _ in range(1)]
    assert first == again
    batch = CustomerGenerator(random.Random(2026))
    names = [batch.customer()["name"] for _ in range(500)]
    assert len(set(names)) == 500


def test_default_demo_counts() -> None:
    # The full default demo, once: its size is what the README promises.
    summary = load_demo()
    assert summary.customers == 150 and summary.products == 30
    assert sum(summary.orders.values()) == 600
    # Credit notes are about 3 % of invoices (the KPIs' credit-note rate must look real).
    assert summary.contracts > 300 and summary.invoices > 1500
    assert 0.015 < summary.credit_notes / summary.invoices < 0.05
    assert all(summary.orders[status] > 0 for status in OrderStatus.values)
    assert summary.orders[OrderStatus.VALIDATED] > 300
    assert set(summary.waiting) == {"adv", "comptabilite", "direction"}
    # The dashboard's story: a year of Monday snapshots, a DSO that improves over the year
    # and a dispute spike on the invoices of the spring. The DSO saw-tooths within each month
    # (recurring invoices on the 1st), so a quarter of weeks is compared at each end.
    from statistics import mean, median

    from levier.kpis.models import KpiSnapshot

    assert summary.kpi_snapshots == 52
    weeks = [s.figures for s in KpiSnapshot.objects.order_by("week_start")]
    dso = [w["dso_simple"] for w in weeks]
    assert mean(dso[:13]) > mean(dso[-13:]) + 5, dso
    disputes = [w["dispute_rate"] for w in weeks]
    assert max(disputes) > 2 * median(disputes), disputes


def test_load_demo_refuses_outside_demo_mode(settings: Any) -> None:
    from django.core.management.base import CommandError

    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="LEVIER_DEMO"):
        load("--customers", "2", "--orders", "0", "--no-progress")
    assert not User.objects.exists()


def test_demo_documents_are_numbered_by_the_year_of_their_date(small_demo: str) -> None:
    for order in Order.objects.all():
        assert order.number.startswith(f"CMD-{timezone.localtime(order.created_at).year}-")
    numbers = sorted(Order.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))
    # the trail quotes the new numbers, and the next order continues the current year's series
    order = Order.objects.order_by("-created_at").first()
    assert order is not None
    from levier.audit.models import AuditEvent

    assert set(
        AuditEvent.objects.filter(object_type="sales.order", object_id=str(order.pk)).values_list(
            "object_repr", flat=True
        )
    ) == {order.number}
    from levier.sales.services import next_number

    year = timezone.localdate().year
    last = Order.objects.filter(number__startswith=f"CMD-{year}-").order_by("-number").first()
    expected = int(last.number[-6:]) + 1 if last else 1
    assert next_number("CMD", year) == f"CMD-{year}-{expected:06d}"


def test_validated_orders_become_contracts_billed_every_week(small_demo: str) -> None:
    from levier.billing import chain
    from levier.billing.models import Invoice
    from levier.billing.selectors import issued_in_chain_order
    from levier.contracts.models import Contract

    validated = Order.objects.filter(status=OrderStatus.VALIDATED).count()
    assert Contract.objects.count() == validated > 0
    issued = Invoice.objects.filter(status="issued", kind="invoice")
    assert issued.count() >= validated // 2
    # Numbers follow the dates: sorted by number is sorted by issue date, year by year.
    rows = list(issued.order_by("number").values_list("number", "issue_date"))
    assert [d for _n, d in rows] == sorted(d for _n, d in rows)
    assert all(n.startswith(f"F{d.year}-") for n, d in rows)
    checked, breaks = chain.verify(issued_in_chain_order())
    assert checked >= len(rows) and breaks == []


def test_every_demo_dispute_contests_what_the_invoice_owed(small_demo: str) -> None:
    """A claim settled by a credit note was opened before it: on the amount still owed then
    (the whole invoice, unpaid so soon), not on what the credit note left."""
    settled = Dispute.objects.filter(credit_note__isnull=False)
    assert settled.exists()
    assert list(Dispute.objects.filter(amount__lte=0).values_list("reason", "amount")) == []
    for dispute in settled.select_related("invoice"):
        assert dispute.amount == dispute.invoice.total_gross


def _loaded_at(moment: dt.datetime) -> dict[str, Any]:
    """What a small demo loaded at `moment` holds, rolled back after."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        savepoint = transaction.savepoint()
        # PostgreSQL does not roll its sequences back: each load starts from the same ids,
        # as on a new database (the demo draws from sets of ids, whose order follows them).
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
                cursor.execute(statement)
        load("--customers", "12", "--orders", "30", "--no-progress")
        held = {
            "orders": Counter(Order.objects.values_list("status", flat=True)),
            "documents": Counter(Invoice.objects.values_list("kind", "status")),
            "billed": Invoice.objects.aggregate(total=Sum("total_gross"))["total"],
            "payments": Payment.objects.count(),
            "disputes": Counter(Dispute.objects.values_list("reason", "status")),
        }
        transaction.savepoint_rollback(savepoint)
    return held


def test_the_demo_holds_the_same_books_whatever_the_hour_it_is_loaded() -> None:
    """Its history is dated back from today, not from the load's own minute: orders dated
    "N days ago, at this time" fell before or after a Monday's billing run by the hour."""
    day = dt.date(2026, 11, 25)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    morning = _loaded_at(dt.datetime.combine(day, dt.time(9, 5), tzinfo=paris))
    evening = _loaded_at(dt.datetime.combine(day, dt.time(18, 40), tzinfo=paris))
    assert morning["documents"] and morning == evening
