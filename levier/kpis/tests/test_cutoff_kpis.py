"""FAE and PCA in the KPIs are the cut-off of `levier.contracts.cutoff`, drilled to contracts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.billing.services import create_draft_invoice, issue_invoice
from levier.billing.tests.factories import complete_company_profile
from levier.contracts.models import Contract
from levier.contracts.services import record_delivery
from levier.contracts.tests.factories import contract_line, make_contract
from levier.contracts.tests.test_cutoff import a_bit_of_everything, annual_maintenance, only_line
from levier.kpis.drilldown import drilldown
from levier.kpis.services import compute_kpis
from levier.sales.tests.factories import line

D = Decimal


@pytest.fixture(autouse=True)
def _company(db: None) -> None:
    complete_company_profile()


def test_pca_of_a_yearly_invoice_spanning_the_closing_date(adv: User) -> None:
    # kpis.md: 12,000 HT for 10/2026–09/2027, closing 31/12/2026: 12,000 × 273 ÷ 365.
    contract, _invoice = annual_maintenance(adv)
    closing = dt.date(2026, 12, 31)
    assert compute_kpis(closing).pca == D("8975.34")
    listed = drilldown("pca", closing, 90, {})
    assert [(row["number"], row["pca"]) for row in listed.rows] == [(contract.number, D("8975.34"))]
    assert listed.total == D("8975.34")
    assert compute_kpis(dt.date(2027, 9, 30)).pca == D("0.00")


def test_the_pca_list_shows_each_contract_invoiced_and_earned_and_the_rest_alone(
    adv: User,
) -> None:
    """The yearly maintenance (12,000 invoiced, 8,975.34 deferred, so 3,024.66 earned) and a
    support year invoiced on no contract (1,200, all deferred at 31/12/2026): that row shows
    its PCA alone, not what every invoice of no contract ever billed."""
    contract, _invoice = annual_maintenance(adv)
    draft = create_draft_invoice(
        actor=adv,
        customer=contract.customer,
        lines=[line("1", "1200", description="Support 2027", unit="flat")],
        billable_on=dt.date(2026, 12, 1),
        line_extras=[{"period_start": dt.date(2027, 1, 1), "period_end": dt.date(2027, 12, 31)}],
    )
    issue_invoice(actor=adv, invoice=draft, issue_date=dt.date(2026, 12, 1))
    listed = drilldown("pca", dt.date(2026, 12, 31), 90, {})
    rows = [(row["number"], row["invoiced"], row["earned"], row["pca"]) for row in listed.rows]
    assert rows == [
        (contract.number, D("12000.00"), D("3024.66"), D("8975.34")),
        ("Documents sans contrat", None, None, D("1200.00")),
    ]
    assert listed.total == D("10175.34")


def test_fae_of_a_service_delivered_and_not_invoiced(adv: User) -> None:
    # kpis.md: 6,000 HT delivered in December, not invoiced at 31/12: FAE = 6,000 HT.
    contract = make_contract(
        adv,
        [contract_line("on_delivery", "6000", description="Audit SI")],
        start=dt.date(2026, 9, 1),
    )
    record_delivery(actor=adv, line=only_line(contract), delivered_on=dt.date(2026, 12, 15))
    closing = dt.date(2026, 12, 31)
    assert compute_kpis(closing).fae == D("6000.00")
    assert [row["number"] for row in drilldown("fae", closing, 90, {}).rows] == [contract.number]
    assert drilldown("fae", closing, 90, {"customer": str(contract.customer_id)}).total == D(
        "6000.00"
    )
    assert compute_kpis(dt.date(2026, 12, 14)).fae == D("0.00")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dates(min_value=dt.date(2025, 12, 1), max_value=dt.date(2028, 1, 31)))
def test_fae_and_pca_are_never_negative_and_match_their_lists(adv: User, day: dt.date) -> None:
    if not Contract.objects.exists():
        a_bit_of_everything(adv)
    figures = compute_kpis(day)
    assert figures.fae >= 0 and figures.pca >= 0
    assert drilldown("fae", day, 90, {}).total == figures.fae
    assert drilldown("pca", day, 90, {}).total == figures.pca
