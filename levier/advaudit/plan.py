"""The action plan: the audit's weak points turned into ranked, owned actions.

Rules (docs/audit/questionnaire.md repeats them):

- **Weak points**: a pillar below 60/100 (ad hoc or réactif), a question scored 0 or 1, a
  figure worse than its benchmark's primary reference, a lever worth money.
- **Actions** come from the catalogue `actions.yaml`; an action enters the plan when one of
  its triggers is a weak point.
- **Impact, counted once**: each lever is *captured* by exactly one action of the catalogue
  (checked at load), and only that action is credited with its euros; other actions that help
  list it as a trigger only. An action's impact is its one-off cash plus its yearly P&L: the
  euros of its first year, the only sum of the two kinds that means something.
- **Ranking**: impact ÷ effort, highest first; ties by lower effort, then catalogue order.
- **Groups** (the impact × effort 2×2 of [S42], laid on the 30/60/90-day calendar of [S43]):
  *quick wins* are effort-1 actions of high impact — at least 10 % of the plan's one-off cash,
  or at least 10 % of its yearly P&L (each kind against its own total, so a large one-off DSO
  lever does not hide a yearly saving) — to do first; the other effort-1 actions go to *30 days* (fill-ins),
  effort 2 to *60 days* (major projects, planned in phases), effort 3 to *90 days*. Actions
  without money stay in the plan (the weakness is real) and are ranked after those with money.
  [S44]'s advice to fix dispute intake before collection messaging needs no ordering here:
  Levier's reminders already skip disputed invoices.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from django.utils.translation import gettext as _

from levier.accounts.choices import Role
from levier.advaudit.benchmarks import BENCHMARKS, SOURCES, Comparison, format_euros, format_value
from levier.advaudit.levers import LEVER_KEYS, Lever, LeverKind
from levier.advaudit.questionnaire import (
    Maturity,
    MaturityLevel,
    Questionnaire,
    default_questionnaire,
    read_yaml,
)

__all__ = [
    "ACTIONS_PATH",
    "HIGH_IMPACT_SHARE",
    "ActionDef",
    "ActionPlan",
    "ActionsError",
    "Feature",
    "Horizon",
    "PlannedAction",
    "WeakPoint",
    "build_action_plan",
    "default_actions",
    "load_actions",
    "weak_points",
]

ACTIONS_PATH = Path(__file__).with_name("actions.yaml")
HIGH_IMPACT_SHARE = Decimal("0.10")
WEAK_PILLAR_LEVELS = (MaturityLevel.AD_HOC, MaturityLevel.REACTIVE)
WEAK_QUESTION_SCORE = 1
EFFORTS = (1, 2, 3)
ZERO = Decimal("0.00")

TriggerKind = Literal["pillar", "question", "figure", "lever"]


class ActionsError(ValueError):
    """The actions catalogue is malformed: a bug caught by the tests."""


class Horizon(StrEnum):
    QUICK_WIN = "quick_win"
    DAYS_30 = "30_days"
    DAYS_60 = "60_days"
    DAYS_90 = "90_days"

    @property
    def label_fr(self) -> str:
        return {
            Horizon.QUICK_WIN: "Gains rapides",
            Horizon.DAYS_30: "30 jours",
            Horizon.DAYS_60: "60 jours",
            Horizon.DAYS_90: "90 jours",
        }[self]

    @property
    def label_en(self) -> str:
        return {
            Horizon.QUICK_WIN: "Quick wins",
            Horizon.DAYS_30: "30 days",
            Horizon.DAYS_60: "60 days",
            Horizon.DAYS_90: "90 days",
        }[self]


_HORIZON_BY_EFFORT = {1: Horizon.DAYS_30, 2: Horizon.DAYS_60, 3: Horizon.DAYS_90}


@dataclass(frozen=True)
class Feature:
    name_fr: str
    name_en: str
    where: str  # the screen (French UI names) or command
    doc: str  # path#anchor in the repository


@dataclass(frozen=True)
class ActionDef:
    id: str
    title_fr: str
    title_en: str
    description_fr: str
    description_en: str
    triggers: tuple[str, ...]  # "pillar:roles", "question:…", "figure:dso", "lever:cash_dso"
    captures: tuple[str, ...]  # lever keys credited to this action
    effort: int
    owner: Role
    feature: Feature
    source: str | None

    @property
    def all_triggers(self) -> tuple[str, ...]:
        return self.triggers + tuple(f"lever:{key}" for key in self.captures)


@dataclass(frozen=True)
class WeakPoint:
    kind: TriggerKind
    key: str
    label_fr: str
    label_en: str
    amount: Decimal | None = None  # the lever's euros, for lever weak points

    @property
    def trigger(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class PlannedAction:
    action: ActionDef
    weak_points: tuple[WeakPoint, ...]  # what put it in the plan
    levers: tuple[Lever, ...]  # the levers credited here (with money)
    cash_impact: Decimal  # one-off
    yearly_impact: Decimal  # per year
    horizon: Horizon
    rank: int

    @property
    def impact(self) -> Decimal:
        return self.cash_impact + self.yearly_impact

    @property
    def ratio(self) -> Decimal:
        return self.impact / self.action.effort

    @property
    def owner(self) -> Role:
        return self.action.owner

    @property
    def feature(self) -> Feature:
        return self.action.feature


@dataclass(frozen=True)
class ActionPlan:
    actions: tuple[PlannedAction, ...]  # ranked
    weak_points: tuple[WeakPoint, ...]
    unaddressed: tuple[WeakPoint, ...]  # weak points no action of the catalogue covers
    cash_total: Decimal
    yearly_total: Decimal

    def group(self, horizon: Horizon) -> tuple[PlannedAction, ...]:
        return tuple(item for item in self.actions if item.horizon is horizon)

    @property
    def groups(self) -> dict[Horizon, tuple[PlannedAction, ...]]:
        return {horizon: self.group(horizon) for horizon in Horizon}


# --------------------------------------------------------------------------- the catalogue


class _Checker:
    def __init__(self, path: Path, questionnaire: Questionnaire) -> None:
        self.path = path
        self.questionnaire = questionnaire

    def fail(self, where: str, message: str) -> ActionsError:
        return ActionsError(
            _("%(file)s, %(where)s: %(message)s")
            % {"file": self.path.name, "where": where, "message": message}
        )

    def mapping(self, value: object, where: str, keys: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, _("expected a mapping"))
        unknown = sorted(str(key) for key in set(value) - keys)
        missing = sorted(keys - set(value))
        if unknown:
            raise self.fail(where, _("unknown keys: %(keys)s") % {"keys": ", ".join(unknown)})
        if missing:
            raise self.fail(where, _("missing keys: %(keys)s") % {"keys": ", ".join(missing)})
        return value

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, _("expected a non-empty text"))
        return value.strip()

    def trigger(self, value: object, where: str) -> str:
        text = self.text(value, where)
        kind, _sep, key = text.partition(":")
        valid = {
            "pillar": {pillar.key for pillar in self.questionnaire.pillars},
            "question": {question.id for question in self.questionnaire.questions},
            "figure": set(BENCHMARKS),
            "lever": set(LEVER_KEYS),
        }
        if kind not in valid:
            raise self.fail(where, _("unknown trigger kind in %(value)r") % {"value": text})
        if key not in valid[kind]:
            raise self.fail(where, _("unknown %(kind)s %(key)r") % {"kind": kind, "key": key})
        return text

    def action(self, value: object, index: int) -> ActionDef:
        where = _("action %(number)s") % {"number": index + 1}
        item = self.mapping(
            value,
            where,
            {
                "id",
                "title_fr",
                "title_en",
                "description_fr",
                "description_en",
                "triggers",
                "captures",
                "effort",
                "owner",
                "feature",
                "source",
            },
        )
        action_id = self.text(item["id"], where)
        where = _("action “%(id)s”") % {"id": action_id}
        if not isinstance(item["triggers"], list) or not isinstance(item["captures"], list):
            raise self.fail(where, _("triggers and captures must be lists"))
        captures = tuple(self.text(key, f"{where} captures") for key in item["captures"])
        for key in captures:
            if key not in LEVER_KEYS:
                raise self.fail(where, _("unknown lever %(key)r") % {"key": key})
        triggers = tuple(self.trigger(raw, f"{where} triggers") for raw in item["triggers"])
        if not triggers and not captures:
            raise self.fail(where, _("an action needs at least one trigger"))
        effort = item["effort"]
        if isinstance(effort, bool) or effort not in EFFORTS:
            raise self.fail(where, _("effort must be 1, 2 or 3, not %(value)r") % {"value": effort})
        owner = item["owner"]
        if owner not in Role.values:
            raise self.fail(
                where,
                _("owner %(value)r is not a role (%(roles)s)")
                % {"value": owner, "roles": ", ".join(Role.values)},
            )
        feature = self.mapping(
            item["feature"], f"{where} feature", {"name_fr", "name_en", "where", "doc"}
        )
        source = item["source"]
        if source is not None:
            source = self.text(source, f"{where} source")
            if not any(f"[{source_id}]" in source for source_id in SOURCES):
                raise self.fail(where, _("the source must cite an [Sn] id or be null"))
        return ActionDef(
            id=action_id,
            title_fr=self.text(item["title_fr"], f"{where} title_fr"),
            title_en=self.text(item["title_en"], f"{where} title_en"),
            description_fr=self.text(item["description_fr"], f"{where} description_fr"),
            description_en=self.text(item["description_en"], f"{where} description_en"),
            triggers=triggers,
            captures=captures,
            effort=effort,
            owner=Role(owner),
            feature=Feature(
                name_fr=self.text(feature["name_fr"], f"{where} feature name_fr"),
                name_en=self.text(feature["name_en"], f"{where} feature name_en"),
                where=self.text(feature["where"], f"{where} feature where"),
                doc=self.text(feature["doc"], f"{where} feature doc"),
            ),
            source=source,
        )

    def catalogue(self, data: object) -> tuple[ActionDef, ...]:
        top = self.mapping(data, _("top level"), {"actions"})
        if not isinstance(top["actions"], list) or not top["actions"]:
            raise self.fail("actions", _("expected a non-empty list"))
        actions = tuple(self.action(raw, index) for index, raw in enumerate(top["actions"]))
        ids = [action.id for action in actions]
        for action_id in ids:
            if ids.count(action_id) > 1:
                raise self.fail(_("action “%(id)s”") % {"id": action_id}, _("the id is used twice"))
        for lever in LEVER_KEYS:
            owners = [action.id for action in actions if lever in action.captures]
            if len(owners) != 1:
                raise self.fail(
                    "actions",
                    _("lever %(lever)r must be captured by exactly one action, not %(owners)s")
                    % {"lever": lever, "owners": owners or "none"},
                )
        return actions


def load_actions(
    path: Path | None = None, questionnaire: Questionnaire | None = None
) -> tuple[ActionDef, ...]:
    """Read and check an actions catalogue (the shipped one by default)."""
    path = path or ACTIONS_PATH
    data, _node = read_yaml(path, ActionsError)
    return _Checker(path, questionnaire or default_questionnaire()).catalogue(data)


@functools.cache
def default_actions() -> tuple[ActionDef, ...]:
    return load_actions(ACTIONS_PATH)


# --------------------------------------------------------------------------- the plan


def weak_points(
    maturity: Maturity,
    levers: Iterable[Lever],
    comparisons: Iterable[Comparison | None],
    questionnaire: Questionnaire,
) -> list[WeakPoint]:
    points: list[WeakPoint] = []
    for pillar_score in maturity.pillars:
        if pillar_score.score is None or pillar_score.level not in WEAK_PILLAR_LEVELS:
            continue
        pillar = questionnaire.pillar(pillar_score.pillar)
        assert pillar_score.level is not None
        shown_fr = format_value(pillar_score.score, "number", "fr")
        shown_en = format_value(pillar_score.score, "number", "en")
        points.append(
            WeakPoint(
                "pillar",
                pillar.key,
                f"Pilier « {pillar.title_fr} » : {shown_fr}/100 ({pillar_score.level.label_fr})",
                f"Pillar “{pillar.title_en}”: {shown_en}/100 ({pillar_score.level.label_en})",
            )
        )
    for result in maturity.results:
        if result.score is None or result.score > WEAK_QUESTION_SCORE:
            continue
        question = questionnaire.question(result.question_id)
        meaning = question.scores[result.score]
        points.append(
            WeakPoint(
                "question",
                question.id,
                f"« {question.text_fr} » : {result.score}/4 ({meaning.fr})",
                f"“{question.text_en}”: {result.score}/4 ({meaning.en})",
            )
        )
    seen_figures: set[str] = set()
    for comparison in comparisons:
        if comparison is None or not comparison.worse:
            continue
        benchmark = comparison.benchmark
        if benchmark.key in seen_figures:
            continue  # two DSO variants are one weak point
        seen_figures.add(benchmark.key)
        reference = benchmark.primary_point
        sources = "".join(f"[{source_id}]" for source_id in reference.source_ids)
        year = f", {reference.year}" if reference.year else ""
        points.append(
            WeakPoint(
                "figure",
                benchmark.key,
                f"{benchmark.label_fr} : {format_value(comparison.value, benchmark.unit, 'fr')}, "
                f"référence {format_value(reference.value, benchmark.unit, 'fr')} "
                f"({reference.label_fr}{year}) {sources}",
                f"{benchmark.label_en}: {format_value(comparison.value, benchmark.unit, 'en')}, "
                f"reference {format_value(reference.value, benchmark.unit, 'en')} "
                f"({reference.label_en}{year}) {sources}",
            )
        )
    for lever in levers:
        if not lever.has_money:
            continue
        assert lever.amount is not None
        points.append(
            WeakPoint(
                "lever",
                lever.key,
                f"{lever.title_fr} : {format_euros(lever.amount, 'fr')}",
                f"{lever.title_en}: {format_euros(lever.amount, 'en')}",
                amount=lever.amount,
            )
        )
    return points


def build_action_plan(
    maturity: Maturity,
    levers: Iterable[Lever],
    comparisons: Iterable[Comparison | None] | Mapping[str, Comparison | None],
    *,
    actions: tuple[ActionDef, ...] | None = None,
    questionnaire: Questionnaire | None = None,
) -> ActionPlan:
    """The ranked, grouped plan (rules in the module docstring)."""
    questionnaire = questionnaire or default_questionnaire()
    actions = actions if actions is not None else default_actions()
    lever_list = list(levers)
    if isinstance(comparisons, Mapping):
        comparisons = comparisons.values()
    points = weak_points(maturity, lever_list, comparisons, questionnaire)
    by_trigger = {point.trigger: point for point in points}
    money = {lever.key: lever for lever in lever_list if lever.has_money}

    drafts: list[tuple[int, ActionDef, tuple[WeakPoint, ...], tuple[Lever, ...]]] = []
    covered: set[str] = set()
    for index, action in enumerate(actions):
        hits = tuple(by_trigger[t] for t in action.all_triggers if t in by_trigger)
        if not hits:
            continue
        covered.update(point.trigger for point in hits)
        credited = tuple(money[key] for key in action.captures if key in money)
        drafts.append((index, action, hits, credited))

    def impact_of(credited: tuple[Lever, ...], kind: LeverKind) -> Decimal:
        return sum((lever.amount or ZERO for lever in credited if lever.kind is kind), ZERO)

    totals = {
        kind: sum((impact_of(credited, kind) for *_rest, credited in drafts), ZERO)
        for kind in LeverKind
    }
    planned: list[PlannedAction] = []
    for _index, action, hits, credited in drafts:
        cash = impact_of(credited, LeverKind.ONE_OFF_CASH)
        yearly = impact_of(credited, LeverKind.YEARLY)
        high = any(
            impact_of(credited, kind) > 0
            and impact_of(credited, kind) >= totals[kind] * HIGH_IMPACT_SHARE
            for kind in LeverKind
        )
        horizon = (
            Horizon.QUICK_WIN if high and action.effort == 1 else _HORIZON_BY_EFFORT[action.effort]
        )
        planned.append(
            PlannedAction(
                action=action,
                weak_points=hits,
                levers=credited,
                cash_impact=cash,
                yearly_impact=yearly,
                horizon=horizon,
                rank=0,
            )
        )
    order = {action.id: index for index, action in enumerate(actions)}
    planned.sort(key=lambda item: (-item.ratio, item.action.effort, order[item.action.id]))
    ranked = tuple(
        PlannedAction(
            action=item.action,
            weak_points=item.weak_points,
            levers=item.levers,
            cash_impact=item.cash_impact,
            yearly_impact=item.yearly_impact,
            horizon=item.horizon,
            rank=rank,
        )
        for rank, item in enumerate(planned, start=1)
    )
    return ActionPlan(
        actions=ranked,
        weak_points=tuple(points),
        unaddressed=tuple(point for point in points if point.trigger not in covered),
        cash_total=sum((item.cash_impact for item in ranked), ZERO),
        yearly_total=sum((item.yearly_impact for item in ranked), ZERO),
    )
