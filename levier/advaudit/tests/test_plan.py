"""The action plan: weak points → actions ranked by impact ÷ effort, owned, grouped."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.utils import translation

from levier.accounts.choices import Role
from levier.advaudit.benchmarks import BENCHMARKS, NBSP, compare
from levier.advaudit.levers import (
    LEVER_KEYS,
    AgeBasis,
    LateInvoices,
    LeverInputs,
    OverdueBuckets,
    compute_levers,
    share_claimed_from_score,
)
from levier.advaudit.plan import (
    ACTIONS_PATH,
    ActionPlan,
    ActionsError,
    Horizon,
    build_action_plan,
    default_actions,
    load_actions,
)
from levier.advaudit.questionnaire import Answers, default_questionnaire, prefill, score


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """The checkers' messages are asserted in English (their msgids); the UI shows French."""
    with translation.override("en"):
        yield


ROOT = Path(__file__).resolve().parents[3]
D = Decimal


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


# --------------------------------------------------------------------------- the catalogue


def test_the_catalogue_is_valid_and_every_action_has_an_owner_and_a_feature() -> None:
    actions = load_actions()
    assert len(actions) == 26
    for action in actions:
        assert action.owner in Role
        assert action.effort in (1, 2, 3)
        assert action.feature.name_fr and action.feature.where and action.feature.doc
        assert action.title_fr and action.description_fr and action.description_en


def test_every_feature_points_to_an_existing_documentation_page_and_heading() -> None:
    for action in default_actions():
        path, _sep, anchor = action.feature.doc.partition("#")
        page = ROOT / path
        assert page.exists(), f"{action.id}: {path} does not exist"
        if anchor:
            headings = [
                slug(line.lstrip("#"))
                for line in page.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")
            ]
            assert anchor in headings, f"{action.id}: no heading #{anchor} in {path}"


def test_every_weak_point_the_audit_can_find_has_an_action() -> None:
    triggers = {trigger for action in default_actions() for trigger in action.all_triggers}
    questionnaire = default_questionnaire()
    for pillar in questionnaire.pillars:
        assert f"pillar:{pillar.key}" in triggers
    for question in questionnaire.questions:
        assert f"question:{question.id}" in triggers
    for key in BENCHMARKS:
        assert f"figure:{key}" in triggers
    for key in LEVER_KEYS:
        assert f"lever:{key}" in triggers


def test_each_lever_s_euros_are_credited_to_exactly_one_action() -> None:
    for key in LEVER_KEYS:
        owners = [action.id for action in default_actions() if key in action.captures]
        assert len(owners) == 1, key


def test_every_owner_is_one_of_the_six_levier_roles() -> None:
    owners = {action.owner for action in default_actions()}
    assert owners <= set(Role)
    assert Role.AUDITEUR not in owners  # read-only: never owns an action


@pytest.fixture
def catalogue() -> dict[str, Any]:
    return yaml.safe_load(ACTIONS_PATH.read_text(encoding="utf-8"))


def _load(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "actions.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_actions(path)


def test_a_lever_captured_by_two_actions_is_refused(
    tmp_path: Path, catalogue: dict[str, Any]
) -> None:
    data = copy.deepcopy(catalogue)
    data["actions"][0]["captures"] = ["cash_dso"]
    with pytest.raises(ActionsError, match="'cash_dso' must be captured by exactly one action"):
        _load(tmp_path, data)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("owner", "stagiaire", "is not a role"),
        ("effort", 4, "effort must be 1, 2 or 3"),
        ("triggers", ["question:roles.nope"], "unknown question 'roles.nope'"),
        ("triggers", ["mood:bad"], "unknown trigger kind"),
        ("source", "a blog", "must cite an [Sn] id"),
    ],
)
def test_a_malformed_action_is_refused_naming_it(
    tmp_path: Path, catalogue: dict[str, Any], field: str, value: object, expected: str
) -> None:
    data = copy.deepcopy(catalogue)
    data["actions"][0][field] = value
    with pytest.raises(ActionsError) as error:
        _load(tmp_path, data)
    assert "validation_circuit_rules" in str(error.value)
    assert expected in str(error.value)


# --------------------------------------------------------------------------- a plan by hand


def scenario() -> ActionPlan:
    """A company with a slow DSO, many credit notes, unbilled revenue, overdue amounts, that
    claims penalties about 3 times in 4, has no connected tools and mixes duties.

    Levers (worked out in test_levers):
      cash_dso                      224,120.55  one-off   (4,812,000 ÷ 365 × (62 − 45))
      financing_cost                 26,894.47  yearly    (× 12 %)
      credit_note_rework              6,840.00  yearly    (38 × 4 h × 45 €)
      late_invoicing                 85,000.00  one-off   (FAE balance)
      overdue_at_risk                 9,850.00  one-off   (due-date buckets)
      late_interest_unclaimed           199.73  yearly    (2,400,000 × 12.15 % ÷ 365 × 25 %)
      recovery_indemnities_unclaimed  1,200.00  yearly    (120 × 40 € × 25 %)
    """
    figures = {"dso_simple_365d": "62", "credit_note_rate": "0.031"}
    answers = Answers(
        {
            "processes.late_penalties_claimed": 3,
            "tools.quote_to_cash_connected": 0,
            "roles.segregation_of_duties": 1,
        }
    )
    maturity = score(answers, prefill(figures))
    inputs = LeverInputs(
        sales_ttc_365d=D("4812000"),
        dso=D("62"),
        target_dso_days=D("45"),
        credit_note_count=38,
        fae_balance=D("85000"),
        overdue=OverdueBuckets(AgeBasis.DUE_DATE, D("12000"), D("8000"), D("5000"), D("20000")),
        late_invoices=LateInvoices(120, D("300000"), D("2400000")),
        penalty_rate=D("0.1215"),
        penalties_share_claimed=share_claimed_from_score(
            answers["processes.late_penalties_claimed"]
        ),
    )
    comparisons = [compare(key, value) for key, value in figures.items()]
    return build_action_plan(maturity, compute_levers(inputs), comparisons)


def test_actions_are_ranked_by_impact_divided_by_effort() -> None:
    plan = scenario()
    ranked = [(item.rank, item.action.id, item.impact, item.ratio) for item in plan.actions]
    assert ranked[:5] == [
        # 224,120.55 + 26,894.47 = 251,015.02, effort 1
        (1, "pre_due_dunning", D("251015.02"), D("251015.02")),
        # 85,000.00 ÷ 2 = 42,500
        (2, "invoice_at_completion", D("85000.00"), D("42500.00")),
        # 6,840.00 ÷ 1
        (3, "credit_note_causes", D("6840.00"), D("6840.00")),
        # 9,850.00 ÷ 2 = 4,925
        (4, "collector_day", D("9850.00"), D("4925.00")),
        # 199.73 + 1,200.00 = 1,399.73 ÷ 1
        (5, "claim_penalties", D("1399.73"), D("1399.73")),
    ]
    # then the actions without euros: effort 1, 2, 3, each in catalogue order
    assert [item.action.id for item in plan.actions[5:]] == [
        "validation_circuit_rules",  # pillar roles 25/100
        "complete_orders",  # pillar processes 46.9/100
        "track_unbilled",  # helps with late_invoicing
        "weekly_kpi_review",  # helps with cash_dso
        "targets_in_objectives",  # DSO worse than 43 days
        "audit_trail_roles",  # segregation of duties 1/4
        "single_customer_master",  # pillar tools 0/100
        "dispute_log",  # helps with credit_note_rework
        "sales_in_collection",  # helps with overdue_at_risk
        "connect_quote_to_cash",  # quote-to-cash connected 0/4
    ]


def test_each_euro_is_counted_once_in_the_plan() -> None:
    plan = scenario()
    # one-off: 224,120.55 + 85,000 + 9,850 = 318,970.55
    assert plan.cash_total == D("318970.55")
    # yearly: 26,894.47 + 6,840 + 199.73 + 1,200 = 35,134.20
    assert plan.yearly_total == D("35134.20")
    credited = [lever.key for item in plan.actions for lever in item.levers]
    assert sorted(credited) == sorted(LEVER_KEYS)
    track = next(item for item in plan.actions if item.action.id == "track_unbilled")
    assert track.levers == () and track.impact == 0  # helps, but the euros are counted once


def test_actions_are_grouped_as_quick_wins_then_30_60_90_days() -> None:
    groups = {h: [item.action.id for item in items] for h, items in scenario().groups.items()}
    # quick wins: effort 1 and ≥ 10 % of a kind's total:
    #   pre_due_dunning: cash 224,120.55 ≥ 31,897.06 (10 % of 318,970.55)
    #   credit_note_causes: yearly 6,840.00 ≥ 3,513.42 (10 % of 35,134.20)
    # claim_penalties: yearly 1,399.73 < 3,513.42 → a fill-in, 30 days
    assert groups[Horizon.QUICK_WIN] == ["pre_due_dunning", "credit_note_causes"]
    assert groups[Horizon.DAYS_30] == [
        "claim_penalties",
        "validation_circuit_rules",
        "complete_orders",
        "track_unbilled",
        "weekly_kpi_review",
        "targets_in_objectives",
        "audit_trail_roles",
    ]
    # effort 2, whatever the impact (85,000 € of invoicing at completion is a major project)
    assert groups[Horizon.DAYS_60] == [
        "invoice_at_completion",
        "collector_day",
        "single_customer_master",
        "dispute_log",
        "sales_in_collection",
    ]
    assert groups[Horizon.DAYS_90] == ["connect_quote_to_cash"]


def test_every_planned_action_has_its_owner_and_the_levier_feature_that_implements_it() -> None:
    plan = scenario()
    first = plan.actions[0]
    assert first.owner is Role.COMPTABILITE
    assert first.feature.doc == "docs/operations/collections.md#reminders-relances"
    assert "levier dunning-run" in first.feature.where
    owners = {item.action.id: item.owner for item in plan.actions}
    assert owners["invoice_at_completion"] is Role.ADV
    assert owners["weekly_kpi_review"] is Role.DIRECTION
    assert owners["validation_circuit_rules"] is Role.ADMINISTRATEUR


def test_the_weak_points_say_what_was_found() -> None:
    plan = scenario()
    labels = {point.trigger: point.label_fr.replace(NBSP, " ") for point in plan.weak_points}
    assert labels["pillar:tools"] == (
        "Pilier « Outils connectés et référentiel client unique » : 0/100 (ad hoc)"
    )
    # processes: late penalties 3 × 2 + invoice quality 3 × 3 (data) + collection 0 × 3 (data)
    # = 15 of 32 → 46.875 → 46.9
    assert labels["pillar:processes"].endswith(": 46,9/100 (réactif)")
    assert labels["figure:dso"].startswith(
        "DSO (délai moyen de paiement clients) : 62 j, référence 43 j"
    )
    assert labels["figure:dso"].endswith("[S10][S11][S15]")
    assert labels["lever:cash_dso"].endswith(": 224 120,55 €")
    assert labels["question:processes.collection_effective"].endswith(
        ": 0/4 (DSO au-delà de 60 jours)"
    )
    assert plan.unaddressed == ()
    pre_due = plan.actions[0]
    assert {point.trigger for point in pre_due.weak_points} == {
        "question:processes.collection_effective",
        "figure:dso",
        "lever:cash_dso",
        "lever:financing_cost",
    }


def test_strengths_put_nothing_in_the_plan() -> None:
    figures = {"dso_simple_365d": "30", "credit_note_rate": "0.01"}
    answers = Answers({question.id: 4 for question in default_questionnaire().questions})
    inputs = LeverInputs(sales_ttc_365d=D("1000000"), dso=D("30"), credit_note_count=0)
    plan = build_action_plan(
        score(answers, prefill(figures)),
        compute_levers(inputs),
        {key: compare(key, value) for key, value in figures.items()},
    )
    assert plan.actions == ()
    assert plan.weak_points == ()
    assert plan.cash_total == D("0") and plan.yearly_total == D("0")


def test_a_pillar_at_60_is_not_weak_but_a_question_at_1_is() -> None:
    # tools: single master (weight 3) at 2, data checked (weight 2) at 3:
    # 100 × (6 + 6) ÷ (12 + 8) = 60.0 exactly, "maîtrisé"
    answers = Answers(
        {
            "tools.single_customer_master": 2,
            "tools.customer_data_validated": 3,
            "kpis.cash_forecast": 1,
        }
    )
    maturity = score(answers, {})
    assert maturity.pillar("tools").score == D("60.0")
    plan = build_action_plan(maturity, [], [])
    triggers = {point.trigger for point in plan.weak_points}
    assert "pillar:tools" not in triggers
    assert "question:kpis.cash_forecast" in triggers
    # kpis: 1 × weight 1 → 25.0, ad hoc
    assert "pillar:kpis" in triggers
    assert [item.action.id for item in plan.actions] == ["weekly_kpi_review"]
    assert plan.actions[0].horizon is Horizon.DAYS_30


def test_two_dso_figures_worse_than_the_benchmark_are_one_weak_point() -> None:
    comparisons = [
        compare("dso_simple_365d", 62),
        compare("dso_countback", 58),
        compare("invoice_error_rate", 0.2),
    ]
    plan = build_action_plan(score(Answers({}), {}), [], comparisons)
    assert [point.trigger for point in plan.weak_points] == ["figure:dso"]
    assert [item.action.id for item in plan.actions] == ["pre_due_dunning", "targets_in_objectives"]
