"""FAE and PCA in the KPIs are the cut-off of `levier.contracts.cutoff`, drilled to contracts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.accounts.models import User
from levier.billing.tests.factories import complete_company_profile
from levier.contracts.models import Contract
from levier.contracts.services import record_delivery
from levier.contracts.tests.factories import contract_line, make_contract
from levier.contracts.tests.test_cutoff import a_bit_of_everything, annual_maintenance, only_line
from levier.kpis.drilldown import drilldown
from levier.kpis.services import compute_kpis

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
