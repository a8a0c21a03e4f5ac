"""FAE and PCA at a closing date: the worked examples of kpis.md and the rules around them.

Every expected amount is worked out by hand in the test, from the contract and the dates.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice, InvoiceLine
from levier.billing.run import run_billing
from levier.billing.services import create_credit_note, create_draft_invoice, issue_invoice
from levier.contracts import cutoff as cutoff_module
from levier.contracts.cutoff import ContractCutoff, Cutoff, JournalLine, compute_cutoff
from levier.contracts.models import Contract, ContractLine
from levier.contracts.services import enter_time, mark_milestone_reached, record_delivery
from levier.contracts.tests.factories import contract_line, make_contract
from levier.lib.periods import Frequency
from levier.sales.tests.factories import line

pytestmark = pytest.mark.django_db
D = Decimal


def row(cutoff: Cutoff, contract: Contract) -> ContractCutoff:
    (found,) = [r for r in cutoff.contracts if r.contract_id == contract.pk]
    return found


def only_line(contract: Contract) -> ContractLine:
    return contract.lines.get()


def annual_maintenance(adv: User) -> tuple[Contract, Invoice]:
    """kpis.md: 12,000 HT annual maintenance invoiced on 01/10/2026 for 10/2026–09/2027.

    Billing periods are calendar-aligned (a yearly line bills January–December), so the
    invoice for 01/10–30/09 is typed by hand on the contract's line, with its period.
    """
    contract = make_contract(
        adv,
        [contract_line("recurring", "12000", frequency="yearly", unit="year")],
        start=dt.date(2026, 10, 1),
        end_date=dt.date(2027, 9, 30),
    )
    maintenance = only_line(contract)
    draft = create_draft_invoice(
        actor=adv,
        customer=contract.customer,
        lines=[line("1", "12000", description="Maintenance annuelle", unit="year")],
        billable_on=dt.date(2026, 10, 1),
        contract=contract,
        line_extras=[
            {
                "contract_line_id": maintenance.pk,
                "billing_key": f"L{maintenance.pk}:P:2026-10-01",
                "period_start": dt.date(2026, 10, 1),
                "period_end": dt.date(2027, 9, 30),
            }
        ],
    )
    return contract, issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 10, 1))


# ---------------------------------------------------------------------------------------
# PCA


def test_annual_maintenance_invoiced_in_october_defers_273_of_365_days_at_year_end(
    adv: User,
) -> None:
    contract, _ = annual_maintenance(adv)
    cutoff = compute_cutoff(dt.date(2026, 12, 31))
    # 01/01/2027–30/09/2027 = 31+28+31+30+31+30+31+31+30 = 273 days of 365:
    # 12,000 × 273 ÷ 365 = 8,975.342… → 8,975.34 (9,000 by months: Levier counts days).
    assert cutoff.pca == D("8975.34")
    figures = row(cutoff, contract)
    assert figures.invoiced == D("12000.00")
    assert figures.pca == D("8975.34")
    # 92 days of October–December earned: 12,000 − 8,975.34.
    assert figures.earned == D("3024.66")
    # The whole period is invoiced: nothing to accrue, even for 2027's calendar period.
    assert figures.fae == D("0.00")
    assert cutoff.entries == (
        JournalLine("706", cutoff.entries[0].label, D("8975.34"), D("0")),
        JournalLine("487", cutoff.entries[0].label, D("0"), D("8975.34")),
    )
    assert "31/12/2026" in cutoff.entries[0].label
    assert "01/01/2027" in cutoff.entries[0].label  # reversed the next day


def test_deferred_revenue_runs_down_to_nothing_by_the_end_of_the_period(adv: User) -> None:
    contract, _ = annual_maintenance(adv)
    # The day before the invoice nothing is invoiced, and October is not started: nothing.
    assert compute_cutoff(dt.date(2026, 9, 30)).contracts == ()
    # On the invoice date 1 day is earned: 12,000 × 364 ÷ 365 = 11,967.123… deferred.
    assert compute_cutoff(dt.date(2026, 10, 1)).pca == D("11967.12")
    # 31/03/2027: April–September is 30+31+30+31+31+30 = 183 days: 6,016.438… → 6,016.44.
    assert compute_cutoff(dt.date(2027, 3, 31)).pca == D("6016.44")
    final = compute_cutoff(dt.date(2027, 9, 30))
    assert final.pca == D("0.00") and final.fae == D("0.00")
    assert row(final, contract).earned == D("12000.00")


def test_a_full_credit_note_cancels_the_deferred_revenue_with_the_invoice(adv: User) -> None:
    _contract, invoice = annual_maintenance(adv)
    note = create_credit_note(actor=adv, invoice=invoice, reason="duplicate")
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 11, 15))
    before = compute_cutoff(dt.date(2026, 11, 14))
    assert before.pca > 0
    cutoff = compute_cutoff(dt.date(2026, 12, 31))
    # The copied line has no period of its own: it takes the invoice line's 01/10–30/09, so
    # invoiced, deferred and earned all come back to zero and the contract has no row left.
    assert cutoff.pca == D("0.00")
    assert cutoff.contracts == ()
    assert cutoff.entries == ()


def test_a_partial_credit_note_takes_back_its_share_of_the_deferred_revenue(adv: User) -> None:
    contract, invoice = annual_maintenance(adv)
    gesture = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason="commercial_gesture",
        lines=[line("1", "1200", description="Geste commercial", unit="flat")],
    )
    issue_invoice(actor=adv, invoice=gesture, issue_date=dt.date(2026, 12, 1))
    figures = row(compute_cutoff(dt.date(2026, 12, 31)), contract)
    # 1,200 of 12,000 is a tenth of the invoice: a tenth of its 8,975.34 deferred at 31/12,
    # 1,200 × 8,975.34 ÷ 12,000 = 897.534 → 897.53, leaves 8,077.81.
    assert figures.pca == D("8077.81")
    assert figures.invoiced == D("10800.00")
    # 10,800 − 8,077.81: the earned 3,024.66 less the gesture's earned tenth, 302.47.
    assert figures.earned == D("2722.19")


def test_a_credit_note_line_with_its_own_period_reduces_pca_pro_rata(adv: User) -> None:
    contract, invoice = annual_maintenance(adv)
    note = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason="price_error",
        lines=[line("1", "3650", description="Remise maintenance 2027", unit="flat")],
    )
    # The ADV sets the credited service period on the draft, before issuing it.
    note.lines.update(period_start=dt.date(2027, 1, 1), period_end=dt.date(2027, 12, 31))
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 12, 15))
    figures = row(compute_cutoff(dt.date(2026, 12, 31)), contract)
    # The credit note's whole period is after 31/12/2026: all 3,650 is deferred and taken
    # back from 8,975.34.
    assert figures.pca == D("5325.34")
    # In mid-2027, 30/06: the invoice defers 92 days (July–September) of 365 =
    # 3,024.657… → 3,024.66; the credit note 184 days (July–December) of 365 = 1,840.00.
    assert row(compute_cutoff(dt.date(2027, 6, 30)), contract).pca == D("1184.66")


# ---------------------------------------------------------------------------------------
# FAE


def test_a_service_delivered_in_december_and_not_invoiced_is_accrued_with_its_vat(
    adv: User,
) -> None:
    contract = make_contract(
        adv,
        [contract_line("on_delivery", "6000", description="Audit SI")],
        start=dt.date(2026, 9, 1),
    )
    record_delivery(actor=adv, line=only_line(contract), delivered_on=dt.date(2026, 12, 15))
    cutoff = compute_cutoff(dt.date(2026, 12, 31))
    assert (cutoff.fae, cutoff.fae_vat, cutoff.pca) == (D("6000.00"), D("1200.00"), D("0.00"))
    label = cutoff.entries[0].label
    assert cutoff.entries == (
        JournalLine("4181", label, D("7200.00"), D("0")),
        JournalLine("706", label, D("0"), D("6000.00")),
        JournalLine("44587", label, D("0"), D("1200.00")),
    )
    assert "01/01/2027" in label
    assert row(cutoff, contract).earned == D("6000.00")
    # Before the delivery nothing is earned.
    assert compute_cutoff(dt.date(2026, 12, 14)).fae == D("0")


def test_an_invoice_issued_after_the_closing_date_does_not_clear_the_accrual(adv: User) -> None:
    contract = make_contract(adv, [contract_line("on_delivery", "6000")], start=dt.date(2026, 9, 1))
    record_delivery(actor=adv, line=only_line(contract), delivered_on=dt.date(2026, 12, 15))
    run_billing(actor=adv, as_of=dt.date(2027, 1, 5), issue=True, issue_date=dt.date(2027, 1, 5))
    assert compute_cutoff(dt.date(2026, 12, 31)).fae == D("6000.00")
    after = compute_cutoff(dt.date(2027, 1, 5))
    assert after.fae == D("0") and row(after, contract).invoiced == D("6000.00")
    assert row(after, contract).earned == D("6000.00")


def test_recurring_in_arrears_accrues_the_elapsed_days_of_the_current_month(adv: User) -> None:
    contract = make_contract(
        adv, [contract_line("recurring", "1000", frequency="monthly", in_advance=False)]
    )
    run_billing(
        actor=adv, as_of=dt.date(2026, 2, 28), issue=True, issue_date=dt.date(2026, 2, 28)
    )  # January and February
    cutoff = compute_cutoff(dt.date(2026, 3, 15))
    figures = row(cutoff, contract)
    # March 1–15 of 31 days: 1,000 × 15 ÷ 31 = 483.870… → 483.87; VAT 96.774 → 96.77.
    assert figures.fae == D("483.87")
    assert figures.fae_vat == D("96.77")
    assert figures.invoiced == D("2000.00")
    assert figures.earned == D("2483.87")
    assert cutoff.entries[0] == JournalLine("4181", cutoff.entries[0].label, D("580.64"), D("0"))


def test_recurring_in_advance_not_yet_invoiced_accrues_only_its_elapsed_part(adv: User) -> None:
    contract = make_contract(
        adv,
        [contract_line("recurring", "3000", frequency="quarterly", in_advance=True)],
        start=dt.date(2026, 2, 1),
    )
    # First period 01/02–31/03 (partial, 59 of 90 days of Q1): 3,000 × 59 ÷ 90 = 1,966.67.
    # At 10/02, 10 of its 59 days: 1,966.67 × 10 ÷ 59 = 333.333… → 333.33.
    assert row(compute_cutoff(dt.date(2026, 2, 10)), contract).fae == D("333.33")


def test_days_invoiced_by_hand_beyond_the_schedule_are_not_accrued_again(adv: User) -> None:
    contract, _invoice = annual_maintenance(adv)
    # The schedule's second period, 01/01–30/09/2027, has no invoice of its own key, but
    # the invoice typed by hand for 01/10/2026–30/09/2027 covers each of its days.
    assert row(compute_cutoff(dt.date(2027, 3, 31)), contract).fae == D("0")


def test_the_periods_invoiced_by_hand_read_in_batches_give_the_same_cutoff(
    adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_bit_of_everything(adv)
    run_billing(actor=adv, as_of=dt.date(2026, 9, 30), issue=True, issue_date=dt.date(2026, 10, 2))
    day = dt.date(2027, 3, 31)  # the maintenance's period covered by hand, others unbilled
    in_one_query = compute_cutoff(day)
    monkeypatch.setattr(cutoff_module, "_BATCH", 1)  # a line per query
    assert compute_cutoff(day) == in_one_query
    assert in_one_query.fae > 0


def test_a_draft_is_not_invoiced(adv: User) -> None:
    contract = make_contract(
        adv, [contract_line("recurring", "1000", frequency="monthly", in_advance=False)]
    )
    run = run_billing(actor=adv, as_of=dt.date(2026, 1, 31))  # a draft for January
    draft = run.drafts.get()
    # 10/02: January, drafted only, plus 10 of 28 days of February (357.142… → 357.14).
    assert row(compute_cutoff(dt.date(2026, 2, 10)), contract).fae == D("1357.14")
    issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 2, 5))
    # Once issued on 05/02, January counts as invoiced from that day on, not before.
    assert row(compute_cutoff(dt.date(2026, 2, 10)), contract).fae == D("357.14")
    # 04/02: January still to invoice + 4/28 of February = 142.857… → 142.86.
    assert row(compute_cutoff(dt.date(2026, 2, 4)), contract).fae == D("1142.86")


def test_a_milestone_reached_but_not_invoiced_is_accrued(adv: User) -> None:
    contract = make_contract(
        adv,
        [
            contract_line(
                "milestones",
                "10000",
                milestones=[
                    {"label": "Lancement", "percent": "30", "trigger": "signature"},
                    {"label": "Recette", "percent": "70", "trigger": "acceptance"},
                ],
            )
        ],
    )
    kickoff, acceptance = only_line(contract).milestones.order_by("position")
    mark_milestone_reached(actor=adv, milestone=kickoff, reached_on=dt.date(2026, 3, 10))
    assert compute_cutoff(dt.date(2026, 3, 9)).contracts == ()
    figures = row(compute_cutoff(dt.date(2026, 3, 31)), contract)
    assert (figures.fae, figures.fae_vat) == (D("3000.00"), D("600.00"))
    run_billing(actor=adv, as_of=dt.date(2026, 3, 31), issue=True, issue_date=dt.date(2026, 3, 31))
    figures = row(compute_cutoff(dt.date(2026, 3, 31)), contract)
    assert (figures.fae, figures.invoiced, figures.earned) == (D("0"), D("3000.00"), D("3000.00"))
    # The acceptance, reached in June and not invoiced, is the only accrual at 30/06.
    mark_milestone_reached(actor=adv, milestone=acceptance, reached_on=dt.date(2026, 6, 20))
    assert row(compute_cutoff(dt.date(2026, 6, 30)), contract).fae == D("7000.00")


def test_time_and_materials_delivered_but_not_invoiced_is_accrued(adv: User) -> None:
    contract = make_contract(adv, [contract_line("time_and_materials", "800")])
    tm = only_line(contract)
    enter_time(actor=adv, line=tm, month=dt.date(2026, 4, 1), quantity=D("12.5"))
    # 12.5 days × 800 = 10,000 HT, VAT 2,000.
    figures = row(compute_cutoff(dt.date(2026, 4, 30)), contract)
    assert (figures.fae, figures.fae_vat) == (D("10000.00"), D("2000.00"))
    assert compute_cutoff(dt.date(2026, 3, 31)).contracts == ()
    run_billing(actor=adv, as_of=dt.date(2026, 4, 30), issue=True, issue_date=dt.date(2026, 4, 30))
    figures = row(compute_cutoff(dt.date(2026, 4, 30)), contract)
    assert (figures.fae, figures.pca, figures.earned) == (D("0"), D("0"), D("10000.00"))


def test_vat_on_accruals_is_rounded_per_contract_and_rate(adv: User) -> None:
    contract = make_contract(
        adv,
        [
            contract_line("on_order", "0.03", description="A"),
            contract_line("on_order", "0.03", description="B"),
            contract_line("on_order", "100", description="Livres", vat_rate="5.5"),
        ],
    )
    figures = row(compute_cutoff(dt.date(2026, 1, 1)), contract)
    # 20 %: (0.03 + 0.03) × 20 % = 0.012 → 0.01 (rounding each line would give 0.00 + 0.00);
    # 5.5 %: 100 × 5.5 % = 5.50.
    assert figures.fae == D("100.06")
    assert figures.fae_vat == D("5.51")


# ---------------------------------------------------------------------------------------
# Whole books


def a_bit_of_everything(adv: User) -> list[Contract]:
    contract, invoice = annual_maintenance(adv)
    gesture = create_credit_note(
        actor=adv,
        invoice=invoice,
        reason="commercial_gesture",
        lines=[line("1", "500", description="Geste", unit="flat")],
    )
    issue_invoice(actor=adv, invoice=gesture, issue_date=dt.date(2026, 11, 2))
    arrears = make_contract(
        adv, [contract_line("recurring", "1000", frequency="monthly", in_advance=False)]
    )
    advance = make_contract(
        adv,
        [
            contract_line("recurring", "2400", frequency="quarterly"),
            contract_line("on_order", "1500", description="Mise en service"),
        ],
        start=dt.date(2026, 2, 15),
        end_date=dt.date(2027, 5, 31),
    )
    tm_contract = make_contract(adv, [contract_line("time_and_materials", "650")])
    tm = only_line(tm_contract)
    for month in (3, 4, 5, 9):
        enter_time(actor=adv, line=tm, month=dt.date(2026, month, 1), quantity=D(month))
    staged = make_contract(
        adv,
        [
            contract_line(
                "milestones",
                "9000",
                milestones=[
                    {"label": "Cadrage", "percent": "40", "trigger": "signature"},
                    {"label": "Livraison", "percent": "60", "trigger": "delivery"},
                ],
            ),
            contract_line("on_delivery", "2500", description="Formation"),
        ],
    )
    first, second = staged.lines.get(mode="milestones").milestones.order_by("position")
    mark_milestone_reached(actor=adv, milestone=first, reached_on=dt.date(2026, 2, 1))
    mark_milestone_reached(actor=adv, milestone=second, reached_on=dt.date(2026, 8, 20))
    record_delivery(
        actor=adv, line=staged.lines.get(mode="on_delivery"), delivered_on=dt.date(2026, 6, 3)
    )
    run_billing(actor=adv, as_of=dt.date(2026, 4, 30), issue=True, issue_date=dt.date(2026, 4, 30))
    run_billing(actor=adv, as_of=dt.date(2026, 7, 31))  # drafts only
    return [contract, arrears, advance, tm_contract, staged]


def test_a_constant_number_of_queries_whatever_the_number_of_contracts(
    adv: User, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    a_bit_of_everything(adv)
    with django_assert_max_num_queries(10) as few:
        compute_cutoff(dt.date(2026, 12, 31))
    for _ in range(3):
        a_bit_of_everything(adv)
    with django_assert_max_num_queries(len(few.captured_queries)):
        cutoff = compute_cutoff(dt.date(2026, 12, 31))
    assert len(cutoff.contracts) == 20


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dates(min_value=dt.date(2025, 12, 1), max_value=dt.date(2028, 1, 31)))
def test_no_figure_is_ever_negative_and_the_entries_balance(adv: User, day: dt.date) -> None:
    # The data is built once per test run (hypothesis reuses the fixture's database).
    if not Contract.objects.exists():
        a_bit_of_everything(adv)
    cutoff = compute_cutoff(day)
    for figures in cutoff.contracts:
        for amount in (figures.invoiced, figures.earned, figures.fae, figures.fae_vat):
            assert amount >= 0, (day, figures)
        assert figures.pca >= 0, (day, figures)
        assert figures.pca <= figures.invoiced, (day, figures)
    assert cutoff.fae == sum((r.fae for r in cutoff.contracts), D(0))
    assert cutoff.pca == sum((r.pca for r in cutoff.contracts), D(0))
    assert sum(e.debit for e in cutoff.entries) == sum(e.credit for e in cutoff.entries)


def test_json_gives_amounts_as_strings_with_two_decimals(adv: User) -> None:
    contract, _ = annual_maintenance(adv)
    data = compute_cutoff(dt.date(2026, 12, 31)).as_json()
    assert data["as_of"] == "2026-12-31"
    assert (data["fae"], data["fae_vat"], data["pca"]) == ("0.00", "0.00", "8975.34")
    assert data["contracts"] == [
        {
            "contract_id": contract.pk,
            "contract_number": contract.number,
            "customer_name": contract.customer.name,
            "invoiced": "12000.00",
            "earned": "3024.66",
            "fae": "0.00",
            "fae_vat": "0.00",
            "pca": "8975.34",
        }
    ]
    assert [(e["account"], e["debit"], e["credit"]) for e in data["entries"]] == [
        ("706", "8975.34", "0.00"),
        ("487", "0.00", "8975.34"),
    ]


def test_documents_without_a_contract_have_their_own_row(adv: User) -> None:
    draft = create_draft_invoice(
        actor=adv,
        customer=make_contract(adv, [contract_line("on_delivery")]).customer,
        lines=[line("1", "1200", description="Support 2027", unit="flat")],
        billable_on=dt.date(2026, 12, 1),
        line_extras=[{"period_start": dt.date(2027, 1, 1), "period_end": dt.date(2027, 12, 31)}],
    )
    issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 12, 1))
    cutoff = compute_cutoff(dt.date(2026, 12, 31))
    (loose,) = cutoff.contracts
    assert loose.contract_id is None and loose.contract_number == ""
    assert (loose.invoiced, loose.pca, loose.earned) == (D("1200.00"), D("1200.00"), D("0.00"))
    assert cutoff.pca == D("1200.00")


def test_each_line_is_invoiced_under_the_contract_it_bills_then_its_documents(
    adv: User,
) -> None:
    """At 31/12/2026, HT: contract A's invoice bills 1 000 of A's line and 200 typed by hand
    (A: 1 200); a credit note of 100 keeps A's contract (A: 1 100); another of 50 lost its
    own contract and counts under the invoice it credits (A: 1 050). B's customer gets an
    invoice with no contract of its own: 500 billing B's line (B: 500) and 300 typed by hand
    (no contract: 300)."""
    a = make_contract(adv, [contract_line("on_delivery")])
    b = make_contract(adv, [contract_line("on_delivery")])
    day = dt.date(2026, 12, 1)

    def issued(customer, amounts, extras, contract=None):  # type: ignore[no-untyped-def]
        draft = create_draft_invoice(
            actor=adv,
            customer=customer,
            lines=[line("1", amount, unit="flat") for amount in amounts],
            billable_on=day,
            contract=contract,
            line_extras=extras,
        )
        return issue_invoice(actor=adv, invoice=draft, issue_date=day)

    invoice = issued(a.customer, ["1000", "200"], [{"contract_line_id": only_line(a).pk}, {}], a)
    issued(b.customer, ["500", "300"], [{"contract_line_id": only_line(b).pk}, {}])
    for amount, keeps_contract in (("100", True), ("50", False)):
        note = create_credit_note(
            actor=adv,
            invoice=invoice,
            reason="commercial_gesture",
            lines=[line("1", amount, unit="flat", description="Geste commercial")],
        )
        if not keeps_contract:  # a draft, still free to change
            Invoice.objects.filter(pk=note.pk).update(contract=None)
            note.refresh_from_db()
        issue_invoice(actor=adv, invoice=note, issue_date=day)

    whole = compute_cutoff(dt.date(2026, 12, 31))
    invoiced = {r.contract_id: r.invoiced for r in whole.contracts}
    assert invoiced == {a.pk: D("1050.00"), b.pk: D("500.00"), None: D("300.00")}
    # A list of contracts leaves the lines of no contract unread: its row is gone.
    contracts_only = compute_cutoff(dt.date(2026, 12, 31), invoiced_without_contract=False)
    assert {r.contract_id: r.invoiced for r in contracts_only.contracts} == {
        a.pk: D("1050.00"),
        b.pk: D("500.00"),
    }


@settings(max_examples=400, deadline=None)
@given(
    start=st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2030, 12, 31)),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=2000)),
    seen=st.integers(min_value=-40, max_value=2500),
    frequency=st.sampled_from(list(Frequency)),
)
def test_the_period_starts_walked_are_those_of_the_billing_schedule(
    start: dt.date, length: int | None, seen: int, frequency: Frequency
) -> None:
    """The cut-off walks the starts of a line's periods without building them: the same
    dates as `periods` (calendar-aligned, partial first period), up to d."""
    from levier.contracts.cutoff import _period_start_isos
    from levier.lib.periods import periods

    end = None if length is None else start + dt.timedelta(days=length)
    as_of = start + dt.timedelta(days=seen)
    expected = []
    for period in periods(start, end, frequency, 1, anchor_month=1):
        if period.start > as_of:
            break
        expected.append(period.start.isoformat())
    assert list(_period_start_isos(start, end, frequency, as_of)) == expected


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dates(min_value=dt.date(2025, 12, 1), max_value=dt.date(2027, 6, 30)))
@example(dt.date(2026, 10, 2))  # the day of an issue: its invoices are invoiced that day
@example(dt.date(2026, 11, 20))
def test_the_invoiced_keys_read_on_the_lines_are_those_of_the_invoices_issued_by_the_date(
    adv: User, day: dt.date
) -> None:
    # Once per test run: a bit of everything, some of it billed (issued on several dates),
    # and a draft left from a later run (its keys are not invoiced).
    if not Contract.objects.exists():
        a_bit_of_everything(adv)
        run_billing(
            actor=adv, as_of=dt.date(2026, 9, 30), issue=True, issue_date=dt.date(2026, 10, 2)
        )
        run_billing(
            actor=adv, as_of=dt.date(2026, 11, 30), issue=True, issue_date=dt.date(2026, 11, 20)
        )
        assert run_billing(actor=adv, as_of=dt.date(2027, 3, 31)).drafts.exists()
    # What "invoiced at d" means, read the long way: through the invoices themselves.
    by_the_invoices = InvoiceLine.objects.filter(
        contract_line__isnull=False,
        invoice__status=InvoiceStatus.ISSUED,
        invoice__kind=DocumentKind.INVOICE,
        invoice__issue_date__lte=day,
    ).exclude(billing_key="")
    invoiced = cutoff_module._invoiced_items(day)
    read = invoiced.keys | {
        f"L{line_id}:P:{start}"
        for line_id, starts in invoiced.period_starts.items()
        for start in starts
    }
    assert read == set(by_the_invoices.values_list("billing_key", flat=True)), day
    assert not any(":P:" in key for key in invoiced.keys), day  # each period under its line
    line_ids = list(ContractLine.objects.values_list("pk", flat=True))
    invoiced.read_covered(dict.fromkeys(line_ids, "2000-01-01"))
    for line_id in line_ids:
        periods_issued = by_the_invoices.filter(
            contract_line_id=line_id, period_start__isnull=False, period_end__isnull=False
        ).values_list("period_start", "period_end")
        assert invoiced.covered_by(line_id) == cutoff_module._merged(periods_issued), day


def test_a_key_naming_another_line_counts_for_the_line_it_names() -> None:
    """The keys are read grouped by the contract line their invoice line bills; a key is
    what says which period of which line is invoiced, wherever it sits."""
    from levier.contracts.cutoff import _RECORD, _Invoiced

    invoiced = _Invoiced(dt.date(2026, 11, 30))
    invoiced.add_line_keys(7, _RECORD.join(["L7:P:2026-01-01", "L7:P:2026-02-01"]))
    invoiced.add_line_keys(8, _RECORD.join(["L8:P:2026-01-01", "L9:P:2026-03-01", "M4"]))
    invoiced.add_line_keys(10, "L10:once")
    assert invoiced.period_starts == {
        7: {"2026-01-01", "2026-02-01"},
        8: {"2026-01-01"},
        9: {"2026-03-01"},
    }
    assert invoiced.keys == {"M4", "L10:once"}


_ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite prorates in Python (`_deferred` itself): nothing to compare it with",
)


@_ON_POSTGRESQL
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cents=st.integers(min_value=-(10**13), max_value=10**13),
    start=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31)),
    length=st.integers(min_value=0, max_value=731),
    seen=st.integers(min_value=-10, max_value=740),
)
@example(cents=1, start=dt.date(2026, 1, 1), length=1, seen=0)  # 0.005 → 0.01
@example(cents=-1, start=dt.date(2026, 1, 1), length=1, seen=0)  # −0.005 → −0.01
@example(cents=5, start=dt.date(2026, 1, 1), length=3, seen=1)  # 0.05 × 2 ÷ 4 = 0.025
@example(cents=99_999_999_999_99, start=dt.date(2026, 1, 1), length=365, seen=100)
def test_postgresql_prorates_each_line_to_the_cent_as_python_does(
    db: None, cents: int, start: dt.date, length: int, seen: int
) -> None:
    """The database's pro rata of a line's deferred part is `_deferred`'s, tie breaks and
    huge amounts included."""
    net = Decimal(cents).scaleb(-2)
    end = start + dt.timedelta(days=length)
    as_of = start + dt.timedelta(days=seen)
    if end <= as_of:  # the query reads only the lines ending after d
        return
    row = "SELECT %s::bigint, %s::text, %s::numeric, %s::date, %s::date"
    summed = cutoff_module._summed_by_postgresql(row, [7, "invoice", net, start, end], as_of)
    assert summed == [(7, "invoice", cutoff_module._deferred(net, start, end, as_of))]


@_ON_POSTGRESQL
def test_postgresql_sums_the_deferred_parts_per_contract_and_kind_of_document(
    adv: User,
) -> None:
    _contract, invoice = annual_maintenance(adv)
    note = create_credit_note(actor=adv, invoice=invoice, reason="price_error")
    issue_invoice(actor=adv, invoice=note, issue_date=dt.date(2026, 11, 2))
    as_of = dt.date(2026, 12, 31)
    lines = (
        InvoiceLine.objects.filter(period_start__isnull=False, period_end__gt=as_of)
        .order_by()
        .annotate(cid=cutoff_module.LINE_CONTRACT)
        .values_list("cid", "invoice__kind", "net_amount", "period_start", "period_end")
    )
    expected = sorted(
        (cid, kind, cutoff_module._deferred(net, start, end, as_of))
        for cid, kind, net, start, end in lines
    )
    assert sorted(cutoff_module._deferred_sums(lines, as_of)) == expected
    # 12,000 × 273 ÷ 365, on the invoice and on its full credit note.
    assert [total for _cid, _kind, total in expected] == [Decimal("8975.34")] * 2
