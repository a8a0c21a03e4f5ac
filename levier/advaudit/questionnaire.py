"""The audit questionnaire: the questions, the answers, the figures that pre-fill them and the
maturity score.

Pure logic over `questionnaire.yaml`: no database, so the same code scores an answers file on
the command line, the web form and the tests.

Scoring, in one place so the doc (docs/audit/questionnaire.md) and the code cannot disagree:

- each question is answered 0..4; a given answer wins over a score pre-filled from the data;
  a question with neither is *unanswered*: left out of the denominator, and counted;
- a pillar's score is ``100 × Σ(weight × score) ÷ Σ(weight × 4)`` over its scored questions,
  rounded half up to one decimal; the overall score is the same sum over every scored question
  of the questionnaire, so a pillar weighs in the overall by the weights of its questions (the
  weights already say what matters; a second layer of pillar weights would only hide that);
- the maturity level follows the score, on the four levels of the HighRadius collections
  maturity model ([S3]: ad hoc → reactive → preventive → proactive) renamed for an ADV team.
  The limits fall where the typical answer changes: below 40 most answers are 0–1 (nothing
  written, done by habit), 40–59 around 2 (written but partly applied), 60–79 around 3
  (applied), 80 and above mostly 4 (applied, measured, tool-enforced).

Texts shown to the user come from the YAML in French and English (`*_fr`, `*_en`); error
messages are English msgids through gettext, like the rest of Levier.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from levier.advaudit.benchmarks import (
    SOURCES,
    Lang,
    format_value,
    lookup_figure,
    to_figure,
)

__all__ = [
    "DEFAULT_PATH",
    "MATURITY_LEVELS",
    "Answers",
    "AnswersError",
    "Maturity",
    "MaturityLevel",
    "Pillar",
    "PillarScore",
    "PrefillBand",
    "PrefillRule",
    "Prefilled",
    "Question",
    "QuestionResult",
    "Questionnaire",
    "QuestionnaireError",
    "ScoreMeaning",
    "default_questionnaire",
    "load_answers",
    "load_questionnaire",
    "maturity_level",
    "prefill",
    "render_answers_example",
    "render_markdown",
    "score",
]

DEFAULT_PATH = Path(__file__).with_name("questionnaire.yaml")
SCORES = (0, 1, 2, 3, 4)
MAX_SCORE = 4
WEIGHTS = (1, 2, 3)
UNITS = ("days", "ratio", "hours")
PILLAR_KEYS = ("roles", "processes", "tools", "kpis", "skills", "automation", "einvoicing")
_ID = re.compile(r"^([a-z]+)\.[a-z0-9_]+$")
_SOURCE_ID = re.compile(r"\[S(\d+)\]")
_ONE_DECIMAL = Decimal("0.1")
_HUNDRED = Decimal(100)


class QuestionnaireError(ValueError):
    """The questionnaire file is malformed: a bug in the shipped YAML, caught by the tests."""


class AnswersError(ValueError):
    """An answers file (or form) names an unknown question or gives an impossible score.

    `problems` lists every problem, each naming the file, the line when known and the
    question, so one run shows them all.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


# --------------------------------------------------------------------------- the questionnaire


@dataclass(frozen=True)
class ScoreMeaning:
    fr: str
    en: str


@dataclass(frozen=True)
class PrefillBand:
    limit: Decimal | None  # the band holds values ≤ limit; None = every value above the last
    score: int


@dataclass(frozen=True)
class PrefillRule:
    figure: str  # a figure name of kpis.md ("credit_note_rate"), dotted for nested ones
    label_fr: str
    label_en: str
    unit: str
    bands: tuple[PrefillBand, ...]
    why: str

    def band_for(self, value: Decimal) -> tuple[int, PrefillBand]:
        for index, band in enumerate(self.bands):
            if band.limit is None or value <= band.limit:
                return index, band
        raise AssertionError("the last band is unbounded")  # checked at load


@dataclass(frozen=True)
class Question:
    id: str
    pillar: str
    text_fr: str
    text_en: str
    scores: tuple[ScoreMeaning, ...]  # index = score
    weight: int
    weight_why: str
    source: str
    prefill: tuple[PrefillRule, ...] = ()

    @property
    def source_ids(self) -> tuple[str, ...]:
        return tuple(f"S{number}" for number in _SOURCE_ID.findall(self.source))


@dataclass(frozen=True)
class Pillar:
    key: str
    title_fr: str
    title_en: str


@dataclass(frozen=True)
class Questionnaire:
    version: int
    weights: Mapping[int, ScoreMeaning]
    pillars: tuple[Pillar, ...]
    questions: tuple[Question, ...]
    path: Path = field(default=DEFAULT_PATH, compare=False)

    def question(self, question_id: str) -> Question:
        return self._by_id[question_id]

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._by_id

    def pillar(self, key: str) -> Pillar:
        return next(pillar for pillar in self.pillars if pillar.key == key)

    def questions_of(self, pillar: str) -> tuple[Question, ...]:
        return tuple(question for question in self.questions if question.pillar == pillar)

    @functools.cached_property
    def _by_id(self) -> dict[str, Question]:
        return {question.id: question for question in self.questions}


class _StrictLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a questionnaire or answers file with
    a key twice is refused instead, naming the line."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path, error: type[Exception]) -> tuple[object, yaml.Node | None]:
    """The document and its node tree (for line numbers); errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = _("%(file)s: cannot be read (%(error)s)") % {"file": path, "error": exc}
        raise _error(error, message) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no arbitrary objects
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            message = _("%(file)s, line %(line)s: not valid YAML (%(problem)s)") % {
                "file": path,
                "line": mark.line + 1,
                "problem": problem,
            }
        else:
            message = _("%(file)s: not valid YAML (%(problem)s)") % {
                "file": path,
                "problem": problem,
            }
        raise _error(error, message) from None
    return data, node


def _error(kind: type[Exception], message: str) -> Exception:
    return AnswersError([message]) if kind is AnswersError else kind(message)


class _Checker:
    """Reads the questionnaire's plain YAML data into dataclasses, refusing anything else."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> QuestionnaireError:
        return QuestionnaireError(
            _("%(file)s, %(where)s: %(message)s")
            % {"file": self.path.name, "where": where, "message": message}
        )

    def mapping(
        self,
        value: object,
        where: str,
        required: set[str],
        optional: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, _("expected a mapping"))
        keys = set(value)
        unknown = sorted(str(key) for key in keys - required - optional)
        if unknown:
            raise self.fail(where, _("unknown keys: %(keys)s") % {"keys": ", ".join(unknown)})
        missing = sorted(required - keys)
        if missing:
            raise self.fail(where, _("missing keys: %(keys)s") % {"keys": ", ".join(missing)})
        return value

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, _("expected a non-empty text"))
        return value.strip()

    def integer(self, value: object, where: str, allowed: tuple[int, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            raise self.fail(
                where,
                _("expected one of %(allowed)s, got %(value)r")
                % {"allowed": ", ".join(map(str, allowed)), "value": value},
            )
        return value

    def meanings(self, value: object, where: str, keys: tuple[int, ...]) -> dict[int, ScoreMeaning]:
        if not isinstance(value, dict) or set(value) != set(keys):
            raise self.fail(
                where,
                _("expected exactly the keys %(keys)s") % {"keys": ", ".join(map(str, keys))},
            )
        result = {}
        for key in keys:
            item = self.mapping(value[key], f"{where} {key}", {"fr", "en"})
            result[key] = ScoreMeaning(
                fr=self.text(item["fr"], f"{where} {key} fr"),
                en=self.text(item["en"], f"{where} {key} en"),
            )
        return result

    def source(self, value: object, where: str) -> str:
        text = self.text(value, where)
        for number in _SOURCE_ID.findall(text):
            if f"S{number}" not in SOURCES:
                raise self.fail(where, _("unknown source [S%(number)s]") % {"number": number})
        return text

    def prefill_rule(self, value: object, where: str) -> PrefillRule:
        item = self.mapping(
            value, where, {"figure", "label_fr", "label_en", "unit", "bands", "why"}
        )
        unit = self.text(item["unit"], f"{where} unit")
        if unit not in UNITS:
            raise self.fail(where, _("unknown unit %(unit)r") % {"unit": unit})
        raw_bands = item["bands"]
        if not isinstance(raw_bands, list) or len(raw_bands) < 2:
            raise self.fail(where, _("expected a list of at least two bands"))
        bands: list[PrefillBand] = []
        for index, raw in enumerate(raw_bands):
            last = index == len(raw_bands) - 1
            band_where = f"{where} band {index + 1}"
            band = self.mapping(raw, band_where, {"score"} if last else {"score", "max"})
            limit = None
            if not last:
                limit = self.number(band["max"], band_where)
                if bands and bands[-1].limit is not None and limit <= bands[-1].limit:
                    raise self.fail(band_where, _("limits must increase"))
            band_score = self.integer(band["score"], band_where, SCORES)
            if bands and band_score >= bands[-1].score:
                raise self.fail(band_where, _("scores must decrease as the figure worsens"))
            bands.append(PrefillBand(limit=limit, score=band_score))
        return PrefillRule(
            figure=self.text(item["figure"], f"{where} figure"),
            label_fr=self.text(item["label_fr"], f"{where} label_fr"),
            label_en=self.text(item["label_en"], f"{where} label_en"),
            unit=unit,
            bands=tuple(bands),
            why=self.text(item["why"], f"{where} why"),
        )

    def number(self, value: object, where: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, _("expected a number, got %(value)r") % {"value": value})
        return Decimal(str(value))  # the YAML's own digits: 0.02 stays 0.02

    def question(self, value: object, index: int, pillars: set[str]) -> Question:
        where = _("question %(number)s") % {"number": index + 1}
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            where = _("question “%(id)s”") % {"id": value["id"]}
        item = self.mapping(
            value,
            where,
            {"id", "pillar", "text_fr", "text_en", "scores", "weight", "weight_why", "source"},
            frozenset({"prefill"}),
        )
        question_id = self.text(item["id"], where)
        where = _("question “%(id)s”") % {"id": question_id}
        match = _ID.match(question_id)
        pillar = self.text(item["pillar"], f"{where} pillar")
        if match is None or match.group(1) != pillar:
            raise self.fail(where, _("the id must be “<pillar>.<snake_case>” of its pillar"))
        if pillar not in pillars:
            raise self.fail(where, _("unknown pillar %(pillar)r") % {"pillar": pillar})
        meanings = self.meanings(item["scores"], f"{where} scores", SCORES)
        rules = item.get("prefill") or []
        if not isinstance(rules, list):
            raise self.fail(where, _("prefill must be a list of rules"))
        return Question(
            id=question_id,
            pillar=pillar,
            text_fr=self.text(item["text_fr"], f"{where} text_fr"),
            text_en=self.text(item["text_en"], f"{where} text_en"),
            scores=tuple(meanings[key] for key in SCORES),
            weight=self.integer(item["weight"], f"{where} weight", WEIGHTS),
            weight_why=self.text(item["weight_why"], f"{where} weight_why"),
            source=self.source(item["source"], f"{where} source"),
            prefill=tuple(
                self.prefill_rule(rule, f"{where} prefill {number + 1}")
                for number, rule in enumerate(rules)
            ),
        )

    def questionnaire(self, data: object) -> Questionnaire:
        top = self.mapping(data, _("top level"), {"version", "weights", "pillars", "questions"})
        version = self.integer(top["version"], "version", (1,))
        weights = self.meanings(top["weights"], "weights", WEIGHTS)
        if not isinstance(top["pillars"], list):
            raise self.fail("pillars", _("expected a list"))
        pillars = tuple(
            Pillar(
                key=self.text(item["key"], f"pillar {index + 1}"),
                title_fr=self.text(item["title_fr"], f"pillar {index + 1} title_fr"),
                title_en=self.text(item["title_en"], f"pillar {index + 1} title_en"),
            )
            for index, raw in enumerate(top["pillars"])
            for item in [self.mapping(raw, f"pillar {index + 1}", {"key", "title_fr", "title_en"})]
        )
        if tuple(pillar.key for pillar in pillars) != PILLAR_KEYS:
            raise self.fail(
                "pillars",
                _("expected the seven pillars %(keys)s in this order")
                % {"keys": ", ".join(PILLAR_KEYS)},
            )
        if not isinstance(top["questions"], list):
            raise self.fail("questions", _("expected a list"))
        questions = tuple(
            self.question(raw, index, set(PILLAR_KEYS))
            for index, raw in enumerate(top["questions"])
        )
        seen: set[str] = set()
        for question in questions:
            if question.id in seen:
                raise self.fail(
                    _("question “%(id)s”") % {"id": question.id}, _("the id is used twice")
                )
            seen.add(question.id)
        for pillar in pillars:
            if not any(question.pillar == pillar.key for question in questions):
                raise self.fail(
                    "questions", _("pillar %(pillar)r has no question") % {"pillar": pillar.key}
                )
        return Questionnaire(
            version=version,
            weights=weights,
            pillars=pillars,
            questions=questions,
            path=self.path,
        )


def load_questionnaire(path: Path | None = None) -> Questionnaire:
    """Read and check a questionnaire file (the shipped one by default)."""
    path = path or DEFAULT_PATH
    data, _node = read_yaml(path, QuestionnaireError)
    return _Checker(path).questionnaire(data)


@functools.cache
def default_questionnaire() -> Questionnaire:
    return load_questionnaire(DEFAULT_PATH)


# --------------------------------------------------------------------------- answers


class Answers(Mapping[str, int | None]):
    """Question id → score 0..4, or None for a question the user chose to leave unanswered.

    Only the questions the user mentioned are keys; `comments` keeps what they wrote beside
    a score. Built only through `Answers.build` or `load_answers`, which check every id and
    score against the questionnaire.
    """

    def __init__(
        self,
        scores: Mapping[str, int | None],
        *,
        comments: Mapping[str, str] | None = None,
        origin: str = "",
    ) -> None:
        self._scores = dict(scores)
        self.comments: Mapping[str, str] = dict(comments or {})
        self.origin = origin

    @classmethod
    def build(
        cls,
        scores: Mapping[str, object],
        *,
        questionnaire: Questionnaire | None = None,
        comments: Mapping[str, str] | None = None,
        origin: str = "",
    ) -> Answers:
        """Check raw scores (from a web form, say) and build the answers, or raise
        AnswersError listing every unknown question and impossible score."""
        questionnaire = questionnaire or default_questionnaire()
        problems: list[str] = []
        checked: dict[str, int | None] = {}
        for question_id, raw in scores.items():
            problem = _score_problem(question_id, raw, questionnaire)
            if problem:
                problems.append(_locate(origin, None, problem))
            else:
                checked[question_id] = raw  # type: ignore[assignment]  # checked just above
        if problems:
            raise AnswersError(problems)
        return cls(checked, comments=comments, origin=origin)

    def __getitem__(self, question_id: str) -> int | None:
        return self._scores[question_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._scores)

    def __len__(self) -> int:
        return len(self._scores)

    def __repr__(self) -> str:
        return f"Answers({self._scores!r}, origin={self.origin!r})"


def _score_problem(question_id: object, raw: object, questionnaire: Questionnaire) -> str:
    if not isinstance(question_id, str) or question_id not in questionnaire:
        return _("unknown question “%(question)s”") % {"question": question_id}
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, int):
        return _(
            "question “%(question)s”: the score must be an integer from 0 to 4, not %(value)r"
        ) % {
            "question": question_id,
            "value": raw,
        }
    if raw not in SCORES:
        return _("question “%(question)s”: the score %(value)s is outside 0–4") % {
            "question": question_id,
            "value": raw,
        }
    return ""


def _locate(origin: str, line: int | None, problem: str) -> str:
    if origin and line is not None:
        return _("%(file)s, line %(line)s: %(problem)s") % {
            "file": origin,
            "line": line,
            "problem": problem,
        }
    if origin:
        return _("%(file)s: %(problem)s") % {"file": origin, "problem": problem}
    return problem


def load_answers(path: Path, questionnaire: Questionnaire | None = None) -> Answers:
    """Read an answers file: ``question_id: score`` or ``question_id: {score: n, comment: …}``.

    A score may be null (unanswered: a pre-filled score, if any, applies). Every problem is
    reported at once, each naming the file, the line and the question.
    """
    questionnaire = questionnaire or default_questionnaire()
    data, node = read_yaml(path, AnswersError)
    origin = str(path)
    if data is None:
        return Answers({}, origin=origin)
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise AnswersError(
            [_locate(origin, None, _("expected a mapping “question_id: score” at the top level"))]
        )
    lines = {
        key_node.value: key_node.start_mark.line + 1
        for key_node, _value in node.value
        if isinstance(key_node, yaml.ScalarNode)
    }
    problems: list[str] = []
    scores: dict[str, int | None] = {}
    comments: dict[str, str] = {}
    for question_id, raw in data.items():
        line = lines.get(str(question_id))
        value: object = raw
        if isinstance(raw, dict):
            unknown = sorted(str(key) for key in set(raw) - {"score", "comment"})
            if unknown:
                problems.append(
                    _locate(
                        origin,
                        line,
                        _(
                            "question “%(question)s”: unknown keys %(keys)s (expected score, comment)"
                        )
                        % {"question": question_id, "keys": ", ".join(unknown)},
                    )
                )
                continue
            value = raw.get("score")
            comment = raw.get("comment")
            if comment is not None and not isinstance(comment, str):
                problems.append(
                    _locate(
                        origin,
                        line,
                        _("question “%(question)s”: the comment must be a text")
                        % {"question": question_id},
                    )
                )
                continue
            if comment:
                comments[str(question_id)] = comment.strip()
        problem = _score_problem(question_id, value, questionnaire)
        if problem:
            problems.append(_locate(origin, line, problem))
        else:
            scores[question_id] = value  # type: ignore[assignment]  # checked just above
    if problems:
        raise AnswersError(problems)
    return Answers(scores, comments=comments, origin=origin)


# --------------------------------------------------------------------------- prefill


@dataclass(frozen=True)
class Prefilled:
    """A score the data gives, with the reason the report prints beside it."""

    question_id: str
    score: int
    figure: str
    value: Decimal
    reason_fr: str  # "taux d'avoirs 3,1 % > 2 % et ≤ 4 %"
    reason_en: str

    @property
    def reason(self) -> str:
        return self.reason_en if (get_language() or "fr").startswith("en") else self.reason_fr


def _reason(rule: PrefillRule, index: int, value: Decimal, lang: Lang) -> str:
    label = rule.label_fr if lang == "fr" else rule.label_en
    shown = format_value(value, rule.unit, lang)
    band = rule.bands[index]
    previous = rule.bands[index - 1].limit if index else None
    parts = [f"{label} {shown}"]
    if previous is not None:
        parts.append(f"> {format_value(previous, rule.unit, lang)}")
    if band.limit is not None:
        if previous is not None:
            parts.append("et" if lang == "fr" else "and")
        parts.append(f"≤ {format_value(band.limit, rule.unit, lang)}")
    return " ".join(parts)


def prefill(
    figures: Mapping[str, object], questionnaire: Questionnaire | None = None
) -> dict[str, Prefilled]:
    """The scores the figures give, for the questions the data truly answers.

    For each question with prefill rules, the first rule whose figure is defined decides
    (a FEC's figure before Levier's own, as listed in the YAML). A figure that is not a
    number raises FigureError naming it.
    """
    questionnaire = questionnaire or default_questionnaire()
    result: dict[str, Prefilled] = {}
    for question in questionnaire.questions:
        for rule in question.prefill:
            value = to_figure(lookup_figure(figures, rule.figure), rule.figure)
            if value is None:
                continue
            index, band = rule.band_for(value)
            result[question.id] = Prefilled(
                question_id=question.id,
                score=band.score,
                figure=rule.figure,
                value=value,
                reason_fr=_reason(rule, index, value, "fr"),
                reason_en=_reason(rule, index, value, "en"),
            )
            break
    return result


# --------------------------------------------------------------------------- maturity


class MaturityLevel(StrEnum):
    AD_HOC = "ad_hoc"
    REACTIVE = "reactive"
    CONTROLLED = "controlled"
    OPTIMISED = "optimised"

    @property
    def minimum(self) -> Decimal:
        return _LEVEL_MINIMUMS[self]

    @property
    def label_fr(self) -> str:
        return _LEVEL_LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _LEVEL_LABELS[self][1]


_LEVEL_MINIMUMS = {
    MaturityLevel.AD_HOC: Decimal(0),
    MaturityLevel.REACTIVE: Decimal(40),
    MaturityLevel.CONTROLLED: Decimal(60),
    MaturityLevel.OPTIMISED: Decimal(80),
}
_LEVEL_LABELS = {
    MaturityLevel.AD_HOC: ("ad hoc", "ad hoc"),
    MaturityLevel.REACTIVE: ("réactif", "reactive"),
    MaturityLevel.CONTROLLED: ("maîtrisé", "controlled"),
    MaturityLevel.OPTIMISED: ("optimisé", "optimised"),
}
MATURITY_LEVELS = tuple(MaturityLevel)


def maturity_level(score_100: Decimal) -> MaturityLevel:
    """The level of a 0–100 score (the rounded score shown, so what is read is what counts)."""
    level = MaturityLevel.AD_HOC
    for candidate in MATURITY_LEVELS:
        if score_100 >= candidate.minimum:
            level = candidate
    return level


@dataclass(frozen=True)
class QuestionResult:
    question_id: str
    pillar: str
    weight: int
    score: int | None
    origin: Literal["answer", "prefill"] | None
    prefilled: Prefilled | None  # kept even when an answer overrides it, for the report
    comment: str = ""


@dataclass(frozen=True)
class PillarScore:
    pillar: str
    score: Decimal | None  # 0–100, one decimal; None when no question of it is scored
    level: MaturityLevel | None
    scored: int
    unanswered: int
    weighted_points: int  # Σ weight × score
    weighted_maximum: int  # Σ weight × 4 over the scored questions


@dataclass(frozen=True)
class Maturity:
    pillars: tuple[PillarScore, ...]
    overall: Decimal | None
    level: MaturityLevel | None
    results: tuple[QuestionResult, ...]
    answered: int  # scored from an answer
    prefilled: int  # scored from the data
    unanswered: int

    def pillar(self, key: str) -> PillarScore:
        return next(item for item in self.pillars if item.pillar == key)

    def result(self, question_id: str) -> QuestionResult:
        return next(item for item in self.results if item.question_id == question_id)


def _percent(points: int, maximum: int) -> Decimal | None:
    if not maximum:
        return None
    return (Decimal(points) * _HUNDRED / Decimal(maximum)).quantize(
        _ONE_DECIMAL, rounding=ROUND_HALF_UP
    )


def score(
    answers: Mapping[str, int | None],
    prefilled: Mapping[str, Prefilled],
    questionnaire: Questionnaire | None = None,
) -> Maturity:
    """Per-pillar and overall maturity (rules in the module docstring)."""
    questionnaire = questionnaire or default_questionnaire()
    comments = getattr(answers, "comments", {})
    results: list[QuestionResult] = []
    for question in questionnaire.questions:
        given = answers.get(question.id)
        data = prefilled.get(question.id)
        origin: Literal["answer", "prefill"] | None
        if given is not None:
            value, origin = given, "answer"
        elif data is not None:
            value, origin = data.score, "prefill"
        else:
            value, origin = None, None
        results.append(
            QuestionResult(
                question_id=question.id,
                pillar=question.pillar,
                weight=question.weight,
                score=value,
                origin=origin,
                prefilled=data,
                comment=comments.get(question.id, ""),
            )
        )
    pillars = []
    for pillar in questionnaire.pillars:
        mine = [result for result in results if result.pillar == pillar.key]
        pillars.append(_pillar_score(pillar.key, mine))
    overall = _pillar_score("", results)
    if overall.scored < MIN_SCORED_SHARE * len(results):
        overall = replace(overall, score=None, level=None)
    return Maturity(
        pillars=tuple(pillars),
        overall=overall.score,
        level=overall.level,
        results=tuple(results),
        answered=sum(1 for result in results if result.origin == "answer"),
        prefilled=sum(1 for result in results if result.origin == "prefill"),
        unanswered=sum(1 for result in results if result.origin is None),
    )


# The overall score needs at least half of the questions scored: two questions pre-filled
# from a FEC out of 42 must not read as an "optimised" company. A pillar keeps its score
# however few of its questions are scored (the report shows how many): a 0 on one question
# is a weak point worth an action.
MIN_SCORED_SHARE = Decimal("0.5")


def _pillar_score(key: str, results: list[QuestionResult]) -> PillarScore:
    scored = [result for result in results if result.score is not None]
    points = sum(result.weight * (result.score or 0) for result in scored)
    maximum = sum(result.weight * MAX_SCORE for result in scored)
    value = _percent(points, maximum)
    return PillarScore(
        pillar=key,
        score=value,
        level=None if value is None else maturity_level(value),
        scored=len(scored),
        unanswered=len(results) - len(scored),
        weighted_points=points,
        weighted_maximum=maximum,
    )


# --------------------------------------------------------------------------- documents


def _band_text(rule: PrefillRule) -> str:
    parts = []
    previous: Decimal | None = None
    for band in rule.bands:
        if band.limit is not None:
            parts.append(f"≤ {format_value(band.limit, rule.unit, 'en')} → {band.score}")
        else:
            assert previous is not None  # the loader refuses a lone unbounded band
            parts.append(f"> {format_value(previous, rule.unit, 'en')} → {band.score}")
        previous = band.limit
    return "; ".join(parts)


def render_markdown(questionnaire: Questionnaire | None = None) -> str:
    """The questionnaire part of docs/audit/questionnaire.md (a test keeps them equal)."""
    questionnaire = questionnaire or default_questionnaire()
    out: list[str] = []
    out.append(
        f"{len(questionnaire.questions)} questions over {len(questionnaire.pillars)} pillars, "
        "each answered 0–4. Weights: "
        + "; ".join(
            f"**{weight}** = {meaning.en.rstrip('.')}"
            for weight, meaning in questionnaire.weights.items()
        )
    )
    out.append("")
    out.append("| Pillar | Questions | Total weight |")
    out.append("|---|---|---|")
    for pillar in questionnaire.pillars:
        mine = questionnaire.questions_of(pillar.key)
        out.append(
            f"| {pillar.title_en} (*{pillar.title_fr}*, `{pillar.key}`) | {len(mine)} "
            f"| {sum(question.weight for question in mine)} |"
        )
    for pillar in questionnaire.pillars:
        out.append("")
        out.append(f"### {pillar.title_en} — *{pillar.title_fr}*")
        for question in questionnaire.questions_of(pillar.key):
            out.append("")
            out.append(f"#### `{question.id}`")
            out.append("")
            out.append(f"*{question.text_fr}* — {question.text_en}")
            out.append("")
            out.append(f"- Weight **{question.weight}**: {question.weight_why}")
            out.append(f"- Source: {question.source}")
            for rule in question.prefill:
                out.append(
                    f"- Pre-filled from `{rule.figure}` ({rule.label_en}): {_band_text(rule)}. "
                    f"{rule.why}"
                )
            out.append("")
            out.append("| Score | Meaning | *Sens* |")
            out.append("|---|---|---|")
            for value, meaning in enumerate(question.scores):
                out.append(f"| {value} | {meaning.en} | *{meaning.fr}* |")
    return "\n".join(out) + "\n"


def render_answers_example(
    answers: Mapping[str, int | None],
    comments: Mapping[str, str] | None = None,
    questionnaire: Questionnaire | None = None,
) -> str:
    """An answers file listing every question, each under a comment with its French text.

    docs/audit/answers-example.yaml is this function's output for its own scores (a test
    re-renders it), so the example always lists the questions as they are.
    """
    questionnaire = questionnaire or default_questionnaire()
    comments = comments or {}
    out = [
        "# Réponses au questionnaire de l'audit ADV (exemple).",
        "# Chaque réponse est une note de 0 à 4 (le sens de chaque note est dans",
        "# docs/audit/questionnaire.md), ou null : sans réponse, la note tirée des données",
        '# s\'applique quand il y en a une. Forme longue : {score: 2, comment: "..."}.',
    ]
    for pillar in questionnaire.pillars:
        out.append("")
        out.append(f"# --- {pillar.title_fr}")
        for question in questionnaire.questions_of(pillar.key):
            value = answers.get(question.id)
            shown = "null" if value is None else str(value)
            out.append(f"# {question.text_fr}")
            comment = comments.get(question.id)
            if comment:
                quoted = comment.replace("\\", "\\\\").replace('"', '\\"')
                out.append(f'{question.id}: {{score: {shown}, comment: "{quoted}"}}')
            else:
                out.append(f"{question.id}: {shown}")
    return "\n".join(out) + "\n"
