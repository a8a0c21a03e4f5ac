"""The billing run: every invoicing mode, idempotence, crash safety, revisions, grouping."""

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError
from django.utils import timezone

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.billing.choices import InvoiceStatus
from levier.billing.models import BillingRun, Invoice, InvoiceLine
from levier.billing.run import preview, run_billing
from levier.billing.services import discard_draft
from levier.contracts.models import ContractLine, IndexSeries, PriceRevision
from levier.contracts.services import (
    enter_time,
    mark_milestone_reached,
    record_delivery,
    record_index_value,
)
from levier.contracts.tests.factories import contract_line, make_contract
from levier.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
D = Decimal


def keys(invoice: Invoice) -> list[str]:
    return list(invoice.lines.values_list("billing_key", flat=True))


def test_a_monthly_line_in_advance_bills_each_month_on_its_first_day_with_pro_rata(
    adv: User,
) -> None:
    make_contract(
        adv, [contract_line("recurring", "1000", frequency="monthly")], start=dt.date(2026, 1, 15)
    )
    run = run_billing(actor=adv, as_of=dt.date(2026, 3, 1))
    invoice = run.drafts.get()
    nets = list(invoice.lines.values_list("net_amount", flat=True))
    # 17 days of January out of 31: 1000 × 17/31 = 548.387… → unit price 548.3871 → 548.39.
    assert nets == [D("548.39"), D("1000.00"), D("1000.00")]
    assert invoice.total_net == D("2548.39")
    assert invoice.billable_on == dt.date(2026, 1, 15)
    periods = list(invoice.lines.values_list("period_start", "period_end"))
    assert periods[1] == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))


def test_a_quarterly_line_in_arrears_is_billable_on_the_last_day_of_the_quarter(
    adv: User,
) -> None:
    make_contract(
        adv,
        [contract_line("recurring", "3000", frequency="quarterly", in_advance=False)],
        start=dt.date(2026, 1, 1),
    )
    assert preview(dt.date(2026, 3, 30)) == []
    items = preview(dt.date(2026, 3, 31))[0].items
    assert [(i.billable_on, i.net_amount) for i in items] == [(dt.date(2026, 3, 31), D("3000.00"))]


def test_running_twice_bills_nothing_twice(adv: User) -> None:
    make_contract(adv, [contract_line("recurring", "1000", frequency="monthly")])
    first = run_billing(actor=adv, as_of=dt.date(2026, 3, 1))
    second = run_billing(actor=adv, as_of=dt.date(2026, 3, 1))
    assert (first.drafts_count, first.items_count) == (1, 3)
    assert (second.drafts_count, second.items_count) == (0, 0)
    later = run_billing(actor=adv, as_of=dt.date(2026, 4, 1))
    assert keys(later.drafts.get()) == [f"L{ContractLine.objects.get().pk}:P:2026-04-01"]


def test_a_discarded_draft_makes_its_items_billable_again(adv: User) -> None:
    make_contract(adv, [contract_line("on_order", "5000")])
    draft = run_billing(actor=adv, as_of=dt.date(2026, 1, 5)).drafts.get()
    discard_draft(actor=adv, invoice=draft, reason="mauvais taux")
    again = run_billing(actor=adv, as_of=dt.date(2026, 1, 5)).drafts.get()
    assert again.total_net == D("5000.00") and again.pk != draft.pk


def test_the_database_refuses_a_billing_key_twice(adv: User) -> None:
    from django.db import IntegrityError, transaction

    make_contract(adv, [contract_line("on_order", "5000")])
    draft = run_billing(actor=adv, as_of=dt.date(2026, 1, 5)).drafts.get()
    line = draft.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.create(
            invoice=draft,
            description="copie",
            quantity=1,
            unit_price=1,
            vat_rate=20,
            net_amount=1,
            billing_key=line.billing_key,
        )


def test_a_crash_in_the_middle_leaves_whole_chunks_and_a_rerun_completes(
    adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        make_contract(adv, [contract_line("on_order", "100")])
    from levier.billing import run as run_module

    monkeypatch.setattr(run_module, "CHUNK", 2)  # contracts [1, 2] then [3]
    real = run_module.create_drafts
    calls = {"n": 0}

    def crash_on_second(**kwargs: Any) -> list[Invoice]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(**kwargs)

    with (
        mock.patch.object(run_module, "create_drafts", crash_on_second),
        pytest.raises(RuntimeError),
    ):
        run_billing(actor=adv, as_of=dt.date(2026, 1, 5))
    assert Invoice.objects.count() == 2
    assert BillingRun.objects.get().status == BillingRun.Status.FAILED
    rerun = run_billing(actor=adv, as_of=dt.date(2026, 1, 5))
    assert rerun.drafts_count == 1
    assert InvoiceLine.objects.exclude(billing_key="").count() == 3


def test_a_group_already_billed_by_another_run_is_skipped_and_the_rest_billed(
    adv: User,
) -> None:
    from levier.billing import run as run_module

    first = make_contract(adv, [contract_line("on_order", "100")])
    make_contract(adv, [contract_line("on_order", "200")])
    stale = run_module.billable(
        run_module.billable_contracts(dt.date(2026, 1, 5)), dt.date(2026, 1, 5)
    )
    run_billing(
        actor=adv,
        as_of=dt.date(2026, 1, 5),
        contracts=run_module.Contract.objects.filter(pk=first.pk),
    )
    # A run that computed before the other one committed tries to bill both.
    groups = run_module._groups(stale)
    with pytest.raises(IntegrityError):
        run_module._bill_groups(adv, groups)
    done = run_module._bill_groups(adv, [g for g in groups if g.contract != first])
    assert [invoice.total_net for _g, invoice in done] == [D("200.00")]


def test_delivery_milestones_and_time_become_billable_when_recorded(adv: User) -> None:
    contract = make_contract(
        adv,
        [
            contract_line("on_delivery", "2000", description="Audit"),
            contract_line(
                "milestones",
                "10000",
                description="Projet",
                milestones=[
                    {"label": "Signature", "percent": "30", "trigger": "signature"},
                    {"label": "Recette", "percent": "70", "trigger": "acceptance"},
                ],
            ),
            contract_line("time_and_materials", "650", description="Régie"),
        ],
    )
    delivery, project, régie = contract.lines.all()
    day = dt.date(2026, 2, 10)
    assert preview(day) == []
    record_delivery(actor=adv, line=delivery, delivered_on=dt.date(2026, 2, 3), reference="PV 12")
    mark_milestone_reached(
        actor=adv, milestone=project.milestones.first(), reached_on=dt.date(2026, 1, 20)
    )
    enter_time(actor=adv, line=régie, month=dt.date(2026, 1, 1), quantity=D("12.5"))
    enter_time(actor=adv, line=régie, month=dt.date(2026, 2, 1), quantity=D("4"))  # not ended
    items = preview(day)[0].items
    assert sorted((i.description, i.net_amount) for i in items) == [
        ("Audit", D("2000.00")),
        ("Projet – Signature", D("3000.00")),
        ("Régie – janvier 2026", D("8125.00")),
    ]


def test_one_invoice_per_customer_when_the_customer_asks_for_it(adv: User) -> None:
    customer = CustomerFactory()
    for _ in range(2):
        make_contract(
            adv, [contract_line("on_order", "100")], customer=customer, invoice_grouping="customer"
        )
    make_contract(adv, [contract_line("on_order", "100")], customer=customer)
    run = run_billing(actor=adv, as_of=dt.date(2026, 1, 5))
    assert run.drafts_count == 2
    grouped = run.drafts.get(contract__isnull=True)
    assert grouped.lines.count() == 2 and grouped.lines.first().description.startswith("CT-")


def _syntec() -> IndexSeries:
    return IndexSeries.objects.get(code="syntec_revise")


def test_the_yearly_revision_applies_the_index_formula_from_the_anniversary(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("recurring", "1000", frequency="monthly")],
        start=dt.date(2026, 1, 1),
        index_series=_syntec(),
    )
    # Signed 1 Jan 2026, lag 2 months: S0 = Nov 2025; on 1 Jan 2027 S1 = Nov 2026.
    assert contract.base_index_month == dt.date(2025, 11, 1)
    record_index_value(actor=adv, series=_syntec(), month=dt.date(2025, 11, 1), value=D("280"))
    record_index_value(actor=adv, series=_syntec(), month=dt.date(2026, 11, 1), value=D("288.4"))
    run_billing(actor=adv, as_of=dt.date(2026, 12, 1))
    run = run_billing(actor=adv, as_of=dt.date(2027, 1, 1))
    assert run.revisions_count == 1
    assert run.drafts.get().lines.get().unit_price == D("1030.0000")  # 1000 × 288.4 / 280
    revision = PriceRevision.objects.get()
    assert revision.formula == "P1 = 1\u202f000,00 × 288,4 / 280 = 1\u202f030,00"
    contract.refresh_from_db()
    assert contract.base_index_month == dt.date(2026, 11, 1)
    assert contract.lines.get().unit_price == D("1030.0000")


def test_a_missing_index_blocks_the_revision_and_what_follows_with_a_clear_message(
    adv: User,
) -> None:
    make_contract(
        adv,
        [
            contract_line("recurring", "1000", frequency="monthly"),
            contract_line("on_order", "500", description="Mise en place", revisable=False),
        ],
        start=dt.date(2026, 1, 1),
        index_series=_syntec(),
    )
    record_index_value(actor=adv, series=_syntec(), month=dt.date(2025, 11, 1), value=D("280"))
    run = run_billing(actor=adv, as_of=dt.date(2027, 2, 1))
    assert len(run.blocked) == 1
    assert "Syntec révisé de novembre 2026" in run.blocked[0]
    assert run.blocked[0].startswith("CT-2026-000001")
    billed = InvoiceLine.objects.exclude(billing_key="")
    # Twelve months of 2026 and the set-up fee; nothing of 2027 at the old price.
    assert billed.count() == 13
    assert not billed.filter(period_start__gte=dt.date(2027, 1, 1)).exists()
    record_index_value(actor=adv, series=_syntec(), month=dt.date(2026, 11, 1), value=D("294"))
    unblocked = run_billing(actor=adv, as_of=dt.date(2027, 2, 1))
    assert unblocked.blocked == []
    prices = set(unblocked.drafts.get().lines.values_list("unit_price", flat=True))
    assert prices == {D("1050.0000")}


def test_issue_numbers_every_draft_of_the_run(adv: User) -> None:
    for _ in range(3):
        make_contract(adv, [contract_line("on_order", "100")])
    run = run_billing(actor=adv, as_of=dt.date(2026, 1, 5), issue=True)
    assert run.issued_count == 3
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == ["F2026-000001", "F2026-000002", "F2026-000003"]
    # Issued today, not on the billing date: numbers must follow the issue dates.
    assert set(Invoice.objects.values_list("issue_date", flat=True)) == {timezone.localdate()}


def test_a_customer_missing_a_mention_stays_a_draft_and_is_reported(adv: User) -> None:
    legacy = CustomerFactory()
    type(legacy).objects.filter(pk=legacy.pk).update(siren="", siret="")  # imported long ago
    legacy.refresh_from_db()
    make_contract(adv, [contract_line("on_order", "100")], customer=legacy)
    make_contract(adv, [contract_line("on_order", "100")])
    run = run_billing(
        actor=adv, as_of=dt.date(2026, 1, 5), issue=True, issue_date=dt.date(2026, 1, 5)
    )
    assert run.issued_count == 1
    assert len(run.errors) == 1 and "SIREN" in run.errors[0]
    assert Invoice.objects.filter(status=InvoiceStatus.DRAFT).count() == 1


def test_only_adv_runs_billing(commercial: User) -> None:
    with pytest.raises(PermissionDenied):
        run_billing(actor=commercial, as_of=dt.date(2026, 1, 5))


def test_the_computation_costs_a_constant_number_of_queries(
    adv: User, django_assert_max_num_queries: object
) -> None:
    for _ in range(20):
        make_contract(
            adv,
            [
                contract_line("recurring", "1000", frequency="monthly"),
                contract_line("time_and_materials", "650"),
            ],
        )
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        assert len(preview(dt.date(2026, 6, 1))) == 20


def test_the_command_reports_json_and_refuses_a_bad_date(adv: User) -> None:
    make_contract(adv, [contract_line("on_order", "100")])
    out = io.StringIO()
    call_command(
        "billing_run", "--date", "2026-01-05", "--issue", "--json", "--user", adv.username,
        stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    assert (report["drafts"], report["issued"], report["blocked"]) == (1, 1, [])
    with pytest.raises(CommandError, match="--date"):
        call_command("billing_run", "--date", "05/01/2026")


def test_a_product_no_longer_sold_is_still_billed_under_its_contract(adv: User) -> None:
    from levier.catalog.tests.factories import ProductFactory

    product = ProductFactory(unit_price=D("300"))
    make_contract(adv, [contract_line("on_order", "300", product_id=product.pk)])
    type(product).objects.filter(pk=product.pk).update(is_active=False)
    run = run_billing(actor=adv, as_of=dt.date(2026, 1, 5))
    assert (run.drafts_count, run.errors) == (1, [])


def test_a_late_time_entry_keeps_the_price_before_the_revision(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("time_and_materials", "500")],
        start=dt.date(2025, 3, 1),
        index_series=_syntec(),
    )
    line = contract.lines.get()
    record_index_value(actor=adv, series=_syntec(), month=dt.date(2025, 1, 1), value=D("280"))
    record_index_value(actor=adv, series=_syntec(), month=dt.date(2026, 1, 1), value=D("294"))
    enter_time(actor=adv, line=line, month=dt.date(2026, 3, 1), quantity=D("1"))
    run_billing(actor=adv, as_of=dt.date(2026, 4, 1))  # applies the 1 March 2026 revision
    assert ContractLine.objects.get(pk=line.pk).unit_price == D("525.0000")
    enter_time(actor=adv, line=line, month=dt.date(2026, 2, 1), quantity=D("2"))  # typed late
    late = run_billing(actor=adv, as_of=dt.date(2026, 4, 2)).drafts.get().lines.get()
    assert (late.unit_price, late.net_amount) == (D("500.0000"), D("1000.00"))


def test_a_period_holding_a_blocked_anniversary_is_not_billed_at_the_old_price(
    adv: User,
) -> None:
    make_contract(
        adv,
        [contract_line("recurring", "1000", frequency="monthly", in_advance=False)],
        start=dt.date(2025, 3, 15),
        index_series=_syntec(),
    )
    run = run_billing(actor=adv, as_of=dt.date(2026, 3, 31))
    assert len(run.blocked) == 1
    billed = InvoiceLine.objects.exclude(billing_key="")
    assert billed.order_by("-period_end").first().period_end == dt.date(2026, 2, 28)


def test_the_due_date_follows_the_terms_printed_on_the_invoice(adv: User) -> None:
    from levier.billing.services import issue_invoice
    from levier.billing.tests.factories import draft_invoice

    customer = CustomerFactory(payment_terms_days=30, payment_terms_basis="net")
    draft = draft_invoice(adv, customer=customer)
    type(customer).objects.filter(pk=customer.pk).update(payment_terms_days=60)
    invoice = issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 11, 2))
    assert (invoice.payment_terms_days, invoice.due_date) == (30, dt.date(2026, 12, 2))


def test_an_issue_date_before_the_last_one_is_refused(adv: User) -> None:
    from levier.billing.services import issue_invoice
    from levier.billing.tests.factories import draft_invoice
    from levier.lib.errors import ValidationFailed

    issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=dt.date(2026, 11, 20))
    with pytest.raises(ValidationFailed, match="20/11/2026"):
        issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=dt.date(2026, 11, 19))


def test_one_invoice_per_customer_even_across_chunks(
    adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levier.billing import run as run_module

    monkeypatch.setattr(run_module, "CHUNK", 1)
    customer = CustomerFactory()
    for _ in range(3):
        make_contract(
            adv, [contract_line("on_order", "100")], customer=customer, invoice_grouping="customer"
        )
    make_contract(adv, [contract_line("on_order", "100")])
    run = run_billing(actor=adv, as_of=dt.date(2026, 1, 5))
    assert run.drafts_count == 2
    assert run.drafts.get(customer=customer).lines.count() == 3


def test_a_grouped_invoice_keeps_the_shared_po_and_counts_under_each_contract(
    adv: User,
) -> None:
    from levier.contracts.cutoff import compute_cutoff

    customer = CustomerFactory()
    first, second = (
        make_contract(
            adv,
            [contract_line("on_order", price)],
            customer=customer,
            invoice_grouping="customer",
            po_number="BC-77",
        )
        for price in ("100", "250")
    )
    run = run_billing(
        actor=adv, as_of=dt.date(2026, 1, 5), issue=True, issue_date=dt.date(2026, 1, 5)
    )
    assert run.drafts.get().po_number == "BC-77"
    invoiced = {
        row.contract_id: row.invoiced for row in compute_cutoff(dt.date(2026, 1, 31)).contracts
    }
    assert invoiced == {first.pk: D("100.00"), second.pk: D("250.00")}
