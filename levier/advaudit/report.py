"""The audit report: its JSON (every figure), an HTML page (in Levier or standalone) and an A4
PDF, all three from the same JSON.

`report_json(result)` is the one description of an audit: what a stored run keeps, what the
CLI writes with `--out report.json`, and what `render_html` and `render_pdf` print (given an
`AuditResult`, they first turn it into its JSON), so a reopened audit prints exactly what
was computed, and nothing the report shows is missing from the JSON.

Language: the texts are English msgids through gettext, rendered in the active language;
Levier is French first, so the CLI renders in French, like the web UI by default. The audit's
own data (questions, levers, actions, benchmarks) carries French and English texts: the
active language picks one. Numbers follow the language (1 234 567,89 €, 45,2 j, 3,1 %).

PDF: WeasyPrint through `levier.collections.statement.render_pdf` (A4, page numbers, the
shared font configuration and stylesheet, as the weekly KPI report), with the report's own
stylesheet and a cover page without footer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.functional import Promise
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from levier.accounts.permissions import role_label
from levier.advaudit.benchmarks import (
    SOURCES,
    Lang,
    format_days,
    format_euros,
    format_number,
    format_percent,
    format_value,
)
from levier.advaudit.charts import radar_chart
from levier.advaudit.levers import LeverKind, totals
from levier.advaudit.plan import Horizon
from levier.advaudit.questionnaire import MaturityLevel, default_questionnaire
from levier.advaudit.services import AuditResult
from levier.kpis.charts import bar_chart, line_chart

__all__ = ["REPORT_VERSION", "render_html", "render_pdf", "report_context", "report_json"]

REPORT_VERSION: Final = 1
TEMPLATE: Final = "advaudit/report.html"
FRAGMENT: Final = "advaudit/_report.html"
NBSP: Final = "\u00a0"
_SOURCE_ID = re.compile(r"\bS(\d+)\b")

# kpis.md names → label and unit, in the order the KPI table prints them.
FEC_KPI_ROWS: Final[tuple[tuple[str, Promise, str], ...]] = (
    ("receivables_ttc", _("Customer receivables incl. VAT (411)"), "money"),
    ("sales_ttc_365d", _("Sales incl. VAT, last 365 days"), "money"),
    ("sales_ttc_90d", _("Sales incl. VAT, last 90 days"), "money"),
    ("dso_simple_365d", _("DSO, simple method over 365 days"), "days"),
    ("dso_simple_90d", _("DSO, simple method over 90 days"), "days"),
    ("dso_countback", _("DSO, countback method"), "days"),
    ("invoice_count", _("Invoices, last 365 days"), "count"),
    ("credit_note_count", _("Credit notes, last 365 days"), "count"),
    ("credit_note_rate", _("Credit-note rate (by count)"), "ratio"),
    ("credit_note_rate_amount", _("Credit-note rate (by amount)"), "ratio"),
    ("average_days_to_pay", _("Average days to pay, from the invoice date"), "days"),
    ("average_days_to_pay_weighted", _("Average days to pay, weighted by amount"), "days"),
    ("fae", _("Accrued revenue, unbilled (FAE, 4181)"), "money"),
    ("pca", _("Deferred revenue (PCA, 487)"), "money"),
)
LEVIER_KPI_ROWS: Final[tuple[tuple[str, Promise, str], ...]] = (
    ("receivables_ttc", _("Customer receivables incl. VAT"), "money"),
    ("sales_ttc_period", _("Sales incl. VAT, last 365 days"), "money"),
    ("dso_simple", _("DSO, simple method over 365 days"), "days"),
    ("dso_countback", _("DSO, countback method"), "days"),
    ("invoicing_delay_days", _("Average invoicing delay"), "days"),
    ("invoicing_delay_days_weighted", _("Average invoicing delay, weighted by amount"), "days"),
    ("credit_note_rate", _("Credit-note rate (by count)"), "ratio"),
    ("credit_note_rate_amount", _("Credit-note rate (by amount)"), "ratio"),
    ("invoice_error_rate", _("Invoice error rate"), "ratio"),
    ("fae", _("Accrued revenue, unbilled (FAE)"), "money"),
    ("pca", _("Deferred revenue (PCA)"), "money"),
    ("dispute_rate", _("Dispute rate"), "ratio"),
    ("dispute_resolution_days", _("Average days to resolve a dispute"), "days"),
    ("open_disputes_count", _("Open disputes"), "count"),
    ("open_disputes_amount", _("Open disputes, amount"), "money"),
    ("overdue_ratio", _("Overdue share of receivables"), "ratio"),
    ("average_payment_delay_days", _("Average payment delay beyond the due date"), "days"),
    (
        "average_payment_delay_days_weighted",
        _("Average payment delay, weighted by amount"),
        "days",
    ),
    ("cei", _("Collection effectiveness index (CEI)"), "percent"),
    ("order_validation_hours_median", _("Order validation time, median"), "hours"),
    ("order_validation_hours_p90", _("Order validation time, 90th percentile"), "hours"),
)
FIGURE_LABELS: Final[dict[str, Promise]] = {
    key: label for key, label, _unit in FEC_KPI_ROWS + LEVIER_KPI_ROWS
}
AGED_LABELS: Final[dict[str, Promise]] = {
    "not_due": _("Not due"),
    "0_30": _("0–30 days"),
    "1_30": _("1–30 days"),
    "31_60": _("31–60 days"),
    "61_90": _("61–90 days"),
    "over_90": _("Over 90 days"),
}
EFFORT_LABELS: Final[dict[int, Promise]] = {
    1: _("Low (days)"),
    2: _("Medium (weeks)"),
    3: _("High (months)"),
}
VERDICT_LABELS: Final[dict[str, Promise]] = {
    "better": _("better"),
    "equal": _("equal"),
    "worse": _("worse"),
}
SEVERITY_LABELS: Final[dict[str, Promise]] = {
    "error": _("Error"),
    "warning": _("Warning"),
    "info": _("Information"),
}
PARAMETER_ROWS: Final[tuple[tuple[str, Promise, str], ...]] = (
    ("target_dso_days", _("Target DSO"), "days"),
    ("financing_rate", _("Annual financing rate"), "ratio"),
    ("payment_terms_days", _("Payment terms assumed for a FEC (days from the invoice)"), "days"),
    ("rework_hours_per_credit_note", _("Rework hours per credit note"), "hours"),
    ("loaded_hourly_rate", _("Loaded hourly rate"), "money"),
    ("cost_per_credit_note", _("Cost per credit note (overrides hours × rate)"), "money"),
    ("penalty_rate", _("Late-payment penalty rate"), "ratio"),
)


# --------------------------------------------------------------------------- JSON


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _maturity_json(result: AuditResult) -> dict[str, Any]:
    questionnaire = default_questionnaire()
    maturity = result.maturity
    questions = []
    for item in maturity.results:
        question = questionnaire.question(item.question_id)
        meaning = question.scores[item.score] if item.score is not None else None
        data = item.prefilled
        questions.append(
            {
                "id": item.question_id,
                "pillar": item.pillar,
                "text_fr": question.text_fr,
                "text_en": question.text_en,
                "weight": item.weight,
                "score": item.score,
                "origin": item.origin,
                "meaning_fr": meaning.fr if meaning else None,
                "meaning_en": meaning.en if meaning else None,
                "comment": item.comment,
                "prefilled": None
                if data is None
                else {
                    "score": data.score,
                    "figure": data.figure,
                    "value": _number(data.value),
                    "reason_fr": data.reason_fr,
                    "reason_en": data.reason_en,
                },
            }
        )
    return {
        "overall": _number(maturity.overall),
        "level": maturity.level.value if maturity.level else None,
        "answered": maturity.answered,
        "prefilled": maturity.prefilled,
        "unanswered": maturity.unanswered,
        "pillars": [
            {
                "key": pillar.pillar,
                "title_fr": questionnaire.pillar(pillar.pillar).title_fr,
                "title_en": questionnaire.pillar(pillar.pillar).title_en,
                "score": _number(pillar.score),
                "level": pillar.level.value if pillar.level else None,
                "scored": pillar.scored,
                "unanswered": pillar.unanswered,
            }
            for pillar in maturity.pillars
        ],
        "questions": questions,
    }


def _benchmarks_json(result: AuditResult) -> list[dict[str, Any]]:
    rows = []
    for row in result.benchmarks:
        item: dict[str, Any] = {"key": row.key, "value": _number(row.value), "unit": row.unit}
        comparison = row.comparison
        if comparison is not None:
            benchmark = comparison.benchmark
            points = [
                {
                    "key": point.point.key,
                    "label_fr": point.point.label_fr,
                    "label_en": point.point.label_en,
                    "value": _number(point.point.value),
                    "value_text": point.point.value_text,
                    "year": point.point.year,
                    "kind": point.point.kind,
                    "source_ids": list(point.point.source_ids),
                    "gap": _number(point.gap),
                    "verdict": point.verdict.value,
                }
                for point in comparison.points
            ]
            item["benchmark"] = {
                "key": benchmark.key,
                "label_fr": benchmark.label_fr,
                "label_en": benchmark.label_en,
                "unit": benchmark.unit.value,
                "direction": benchmark.direction.value,
                "primary": benchmark.primary,
                "note_fr": benchmark.note_fr,
                "note_en": benchmark.note_en,
                "points": points,
            }
            item["verdict"] = comparison.primary.verdict.value
        else:
            item["benchmark"] = None
            item["verdict"] = None
        reason = row.no_figure
        item["no_figure"] = (
            None
            if reason is None or comparison is not None
            else {
                "reason_fr": reason.reason_fr,
                "reason_en": reason.reason_en,
                "source_ids": list(reason.source_ids),
            }
        )
        rows.append(item)
    return rows


def _levers_json(result: AuditResult) -> list[dict[str, Any]]:
    return [
        {
            "key": lever.key,
            "title_fr": lever.title_fr,
            "title_en": lever.title_en,
            "kind": lever.kind.value,
            "applicable": lever.applicable,
            "amount": _money(lever.amount),
            "formula_fr": lever.formula_fr,
            "formula_generic_fr": lever.formula_generic_fr,
            "inputs": [
                {
                    "name": item.name,
                    "label_fr": item.label_fr,
                    "label_en": item.label_en,
                    "value": str(item.value),
                    "unit": item.unit,
                }
                for item in lever.inputs
            ],
            "source_ids": list(lever.source_ids),
            "reason": lever.reason,
            "note_fr": lever.note_fr,
            "note_en": lever.note_en,
        }
        for lever in result.levers
    ]


def _weak_point_json(point: Any) -> dict[str, Any]:
    return {
        "kind": point.kind,
        "key": point.key,
        "label_fr": point.label_fr,
        "label_en": point.label_en,
        "amount": _money(point.amount),
    }


def _plan_json(result: AuditResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "cash_total": _money(plan.cash_total),
        "yearly_total": _money(plan.yearly_total),
        "actions": [
            {
                "rank": item.rank,
                "id": item.action.id,
                "title_fr": item.action.title_fr,
                "title_en": item.action.title_en,
                "description_fr": item.action.description_fr,
                "description_en": item.action.description_en,
                "horizon": item.horizon.value,
                "owner": item.owner.value,
                "effort": item.action.effort,
                "feature": {
                    "name_fr": item.feature.name_fr,
                    "name_en": item.feature.name_en,
                    "where": item.feature.where,
                    "doc": item.feature.doc,
                },
                "cash_impact": _money(item.cash_impact),
                "yearly_impact": _money(item.yearly_impact),
                "impact": _money(item.impact),
                "levers": [lever.key for lever in item.levers],
                "weak_points": [_weak_point_json(point) for point in item.weak_points],
                "source": item.action.source,
            }
            for item in plan.actions
        ],
        "weak_points": [_weak_point_json(point) for point in plan.weak_points],
        "unaddressed": [_weak_point_json(point) for point in plan.unaddressed],
    }


def report_json(result: AuditResult) -> dict[str, Any]:
    """Every figure of the audit. The figures sit at the top level: `kpis` (kpis.md's names:
    the FEC section for a FEC, "Names in JSON" for Levier), `monthly`, `late_invoices`...;
    then the assessment: `maturity`, `benchmarks`, `levers`, `action_plan`, `quality`.
    Amounts are strings with two decimals, days and rates numbers, undefined is null."""
    lever_totals = totals(list(result.levers))
    return {
        "report": "levier-adv-audit",
        "version": REPORT_VERSION,
        "source": result.source,
        "as_of": result.as_of.isoformat(),
        "generated_at": result.generated_at.isoformat(timespec="seconds"),
        "company": {"name": result.company_name, "siren": result.company_siren},
        "file": result.file.as_json() if result.file else None,
        "parameters": result.parameters.as_json(),
        **result.figures.as_json(),
        "answers": {
            "scores": dict(result.answers),
            "comments": dict(result.answers.comments),
        },
        "maturity": _maturity_json(result),
        "benchmarks": _benchmarks_json(result),
        "levers": _levers_json(result),
        "lever_totals": {
            "one_off_cash": _money(lever_totals[LeverKind.ONE_OFF_CASH]),
            "yearly": _money(lever_totals[LeverKind.YEARLY]),
        },
        "action_plan": _plan_json(result),
        "quality": result.quality.as_json() if result.quality else None,
    }


# --------------------------------------------------------------------------- formatting


def _lang() -> Lang:
    return "en" if (translation.get_language() or "fr").startswith("en") else "fr"


def _pick(item: Mapping[str, Any], name: str, lang: Lang) -> str:
    return str(item.get(f"{name}_{lang}") or item.get(f"{name}_fr") or "")


def _dec(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def fmt(value: object, unit: str, lang: Lang) -> str:
    """A figure of the JSON as the report prints it; "n/a" when undefined."""
    number = _dec(value)
    if number is None:
        return gettext("n/a")
    if unit == "money" or unit == "euros":
        return format_euros(number, lang)
    if unit == "days":
        return format_days(number, lang)
    if unit == "ratio":
        return format_percent(number, lang)
    if unit == "percent":
        text = format_number(number, 1, lang, trim=True)
        return f"{text}{NBSP}%" if lang == "fr" else f"{text}%"
    if unit in ("count", "euro_days"):
        text = format_number(number, 0 if unit == "count" else 2, lang, trim=True)
        return text if unit == "count" else f"{text}{NBSP}€·j"
    if unit == "hours":
        return format_value(number, "hours", lang)
    return format_number(number, 2, lang, trim=True)


def _date(iso: str | None) -> str:
    if not iso:
        return ""
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"


def _sources(ids: list[str] | tuple[str, ...]) -> str:
    return "".join(f"[{source_id}]" for source_id in ids)


# --------------------------------------------------------------------------- context


def _summary(data: Mapping[str, Any], lang: Lang) -> list[str]:
    """The executive summary: 3 to 5 sentences with the key figures and the euros at stake."""
    kpis = data["kpis"]
    company = data["company"]["name"]
    dso_key = "dso_simple_365d" if data["source"] == "fec" else "dso_simple"
    sales_key = "sales_ttc_365d" if data["source"] == "fec" else "sales_ttc_period"
    row = next((item for item in data["benchmarks"] if item["key"] == dso_key), None)
    sentences = []
    base = {
        "date": _date(data["as_of"]),
        "company": company,
        "receivables": fmt(kpis.get("receivables_ttc"), "money", lang),
        "sales": fmt(kpis.get(sales_key), "money", lang),
        "dso": fmt(kpis.get(dso_key), "days", lang),
    }
    if kpis.get(dso_key) is None:
        sentences.append(
            gettext(
                "On %(date)s, %(company)s had %(receivables)s of customer receivables and "
                "%(sales)s of sales incl. VAT over the last 12 months: the DSO cannot be "
                "computed."
            )
            % base
        )
    elif row is not None and row.get("benchmark"):
        benchmark = row["benchmark"]
        primary = next(p for p in benchmark["points"] if p["key"] == benchmark["primary"])
        sentences.append(
            gettext(
                "On %(date)s, %(company)s had %(receivables)s of customer receivables for "
                "%(sales)s of sales incl. VAT over the last 12 months: a DSO of %(dso)s, "
                "against %(reference)s for %(reference_label)s %(sources)s."
            )
            % {
                **base,
                "reference": fmt(primary["value"], "days", lang),
                "reference_label": _pick(primary, "label", lang)
                + (f" ({primary['year']})" if primary.get("year") else ""),
                "sources": _sources(primary["source_ids"]),
            }
        )
    else:
        sentences.append(
            gettext(
                "On %(date)s, %(company)s had %(receivables)s of customer receivables for "
                "%(sales)s of sales incl. VAT over the last 12 months: a DSO of %(dso)s."
            )
            % base
        )
    maturity = data["maturity"]
    if maturity["overall"] is not None:
        scored = [p for p in maturity["pillars"] if p["score"] is not None]
        weakest = sorted(scored, key=lambda p: p["score"])[:2]
        sentences.append(
            gettext(
                "The ADV function scores %(score)s/100 (%(level)s) on the questionnaire "
                "(%(answered)s answers, %(prefilled)s pre-filled from the data, "
                "%(unanswered)s unanswered); its weakest pillars are %(pillars)s."
            )
            % {
                "score": format_number(Decimal(str(maturity["overall"])), 1, lang, trim=True),
                "level": _level_label(maturity["level"], lang),
                "answered": maturity["answered"],
                "prefilled": maturity["prefilled"],
                "unanswered": maturity["unanswered"],
                "pillars": _names([_pick(p, "title", lang) for p in weakest], lang),
            }
        )
    else:
        sentences.append(
            gettext(
                "No question of the questionnaire is scored yet: the maturity score will "
                "come with the answers."
            )
        )
    totals_ = data["lever_totals"]
    sentences.append(
        gettext(
            "The levers quantified amount to %(cash)s of cash to release once and %(yearly)s "
            "a year of costs avoided or income claimed (two kinds of euros, not added up)."
        )
        % {
            "cash": fmt(totals_["one_off_cash"], "money", lang),
            "yearly": fmt(totals_["yearly"], "money", lang),
        }
    )
    actions = data["action_plan"]["actions"]
    if actions:
        first = actions[0]
        quick = sum(1 for item in actions if item["horizon"] == Horizon.QUICK_WIN)
        sentences.append(
            gettext(
                "The action plan holds %(count)s actions, %(quick)s of them quick wins; the "
                "first to launch is “%(first)s” (%(owner)s)."
            )
            % {
                "count": len(actions),
                "quick": quick,
                "first": _pick(first, "title", lang),
                "owner": role_label(first["owner"]),
            }
        )
    quality = data.get("quality")
    if quality:
        totals_q = quality["totals"]
        errors = sum(1 for issue in quality["issues"] if issue["severity"] == "error")
        sentences.append(
            gettext(
                "The FEC holds %(read)s entry lines, %(excluded)s of which could not be used; "
                "%(errors)s kinds of error and %(others)s other findings are listed in the "
                "data-quality appendix."
            )
            % {
                "read": format_number(Decimal(totals_q["records_read"]), 0, lang),
                "excluded": format_number(Decimal(totals_q["records_excluded"]), 0, lang),
                "errors": errors,
                "others": len(quality["issues"]) - errors,
            }
        )
    return sentences


def _names(titles: list[str], lang: Lang) -> str:
    """« A » and « B » (French quotes in French)."""
    quoted = [f"« {title} »" if lang == "fr" else f"“{title}”" for title in titles]
    if len(quoted) == 2:
        return gettext("%(first)s and %(second)s") % {"first": quoted[0], "second": quoted[1]}
    return "".join(quoted)


def _level_label(level: str | None, lang: Lang) -> str:
    if not level:
        return gettext("n/a")
    found = MaturityLevel(level)
    return found.label_en if lang == "en" else found.label_fr


def _month_label(month: str) -> str:
    return f"{month[5:7]}/{month[2:4]}"


def _charts(data: Mapping[str, Any], lang: Lang) -> dict[str, SafeString | str]:
    monthly = data.get("monthly") or []
    sales = bar_chart(
        [(_month_label(m["month"]), _dec(m["sales_ttc"]) or Decimal(0)) for m in monthly],
        label=gettext("Sales incl. VAT per month"),
        unit="€",
        width=680,
        height=190,
    )
    receivables = line_chart(
        [(_month_label(m["month"]), _dec(m["receivables_ttc"])) for m in monthly],
        label=gettext("Customer receivables incl. VAT at each month end"),
        unit="€",
        width=680,
        height=170,
    )
    dso = line_chart(
        [(_month_label(m["month"]), _dec(m["dso_simple_90d"])) for m in monthly],
        label=gettext("DSO over 90 days at each month end (days)"),
        unit=gettext("d"),
        width=680,
        height=170,
    )
    if data["source"] == "fec":
        aged = data["kpis"].get("open_invoices_aged") or {}
        aged_label = gettext("Unsettled invoices by age since the invoice date (incl. VAT)")
    else:
        aged = dict(data["kpis"].get("aged_balance") or {})
        aged.pop("total", None)
        aged_label = gettext("Aged balance by days past the due date (incl. VAT)")
    aged_chart = bar_chart(
        [
            (str(AGED_LABELS.get(key, key)), _dec(value) or Decimal(0))
            for key, value in aged.items()
        ],
        label=aged_label,
        unit="€",
        horizontal=True,
        width=680,
        height=130,
    )
    pillars = data["maturity"]["pillars"]
    radar = radar_chart(
        [(_pick(p, "title", lang), _dec(p["score"])) for p in pillars],
        label=gettext("Maturity by pillar (0–100)"),
    )
    return {
        "sales_chart": sales,
        "receivables_chart": receivables,
        "dso_chart": dso,
        "aged_chart": aged_chart,
        "aged_label": aged_label,
        "radar_chart": radar,
    }


def _benchmark_rows(data: Mapping[str, Any], lang: Lang) -> list[dict[str, Any]]:
    rows = []
    for item in data["benchmarks"]:
        label = str(FIGURE_LABELS.get(item["key"], item["key"]))
        row: dict[str, Any] = {
            "key": item["key"],
            "label": label,
            "value": fmt(item["value"], item["unit"], lang),
        }
        benchmark = item.get("benchmark")
        if benchmark:
            primary = next(p for p in benchmark["points"] if p["key"] == benchmark["primary"])
            unit = "ratio" if benchmark["unit"] == "ratio" else benchmark["unit"]
            row["reference"] = fmt(primary["value"], unit, lang)
            row["reference_label"] = _pick(primary, "label", lang) + (
                f", {primary['year']}" if primary.get("year") else ""
            )
            row["sources"] = _sources(primary["source_ids"])
            row["verdict"] = item["verdict"]
            row["verdict_label"] = str(VERDICT_LABELS.get(item["verdict"] or "", ""))
            others = [p for p in benchmark["points"] if p["key"] != benchmark["primary"]]
            row["others"] = "; ".join(
                f"{_pick(p, 'label', lang)} {fmt(p['value'], unit, lang)} {_sources(p['source_ids'])}"
                for p in others[:4]
            )
            row["note"] = _pick(benchmark, "note", lang)
        else:
            row["reference"] = gettext("no public reference")
            no_figure = item.get("no_figure")
            row["note"] = _pick(no_figure, "reason", lang) if no_figure else ""
            row["sources"] = _sources(no_figure["source_ids"]) if no_figure else ""
        rows.append(row)
    return rows


def _lever_rows(data: Mapping[str, Any], lang: Lang) -> list[dict[str, Any]]:
    rows = []
    for lever in data["levers"]:
        rows.append(
            {
                "key": lever["key"],
                "title": _pick(lever, "title", lang),
                "kind": lever["kind"],
                "applicable": lever["applicable"],
                "amount": fmt(lever["amount"], "money", lang)
                if lever["applicable"]
                else gettext("not applicable"),
                "formula": lever["formula_fr"],
                "formula_generic": lever["formula_generic_fr"],
                "inputs": [
                    f"{_pick(item, 'label', lang)} : {fmt(item['value'], item['unit'], lang)}"
                    if lang == "fr"
                    else f"{_pick(item, 'label', lang)}: {fmt(item['value'], item['unit'], lang)}"
                    for item in lever["inputs"]
                ],
                "sources": _sources(lever["source_ids"]),
                "reason": lever["reason"],
                "note": _pick(lever, "note", lang),
            }
        )
    return rows


def _plan_groups(data: Mapping[str, Any], lang: Lang) -> list[dict[str, Any]]:
    groups = []
    for horizon in Horizon:
        actions = [a for a in data["action_plan"]["actions"] if a["horizon"] == horizon.value]
        groups.append(
            {
                "key": horizon.value,
                "title": horizon.label_en if lang == "en" else horizon.label_fr,
                "actions": [
                    {
                        "rank": action["rank"],
                        "title": _pick(action, "title", lang),
                        "description": _pick(action, "description", lang),
                        "owner": role_label(action["owner"]),
                        "feature": _pick(action["feature"], "name", lang),
                        "where": action["feature"]["where"],
                        "impact": fmt(action["impact"], "money", lang)
                        if _dec(action["impact"])
                        else "—",
                        "cash": fmt(action["cash_impact"], "money", lang),
                        "yearly": fmt(action["yearly_impact"], "money", lang),
                        "effort": str(EFFORT_LABELS.get(action["effort"], action["effort"])),
                        "why": [_pick(point, "label", lang) for point in action["weak_points"]],
                        "source": action.get("source") or "",
                    }
                    for action in actions
                ],
            }
        )
    return groups


def _questions(data: Mapping[str, Any], lang: Lang) -> list[dict[str, Any]]:
    maturity = data["maturity"]
    pillars = []
    for pillar in maturity["pillars"]:
        rows = []
        for question in maturity["questions"]:
            if question["pillar"] != pillar["key"]:
                continue
            prefilled = question.get("prefilled")
            if question["origin"] == "answer":
                origin = gettext("answer")
            elif question["origin"] == "prefill":
                origin = gettext("from the data")
            else:
                origin = gettext("unanswered")
            rows.append(
                {
                    "id": question["id"],
                    "text": _pick(question, "text", lang),
                    "weight": question["weight"],
                    "score": "—" if question["score"] is None else question["score"],
                    "meaning": _pick(question, "meaning", lang),
                    "origin": origin,
                    "prefill_reason": _pick(prefilled, "reason", lang) if prefilled else "",
                    "comment": question.get("comment") or "",
                }
            )
        pillars.append(
            {
                "title": _pick(pillar, "title", lang),
                "score": fmt(pillar["score"], "number", lang),
                "level": _level_label(pillar["level"], lang),
                "scored": pillar["scored"],
                "unanswered": pillar["unanswered"],
                "questions": rows,
            }
        )
    return pillars


def _cited_sources(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every source id the report cites, in number order, with its reference text."""
    text = repr(
        (data["benchmarks"], data["levers"], data["action_plan"]["actions"], data["maturity"])
    )
    found = {f"S{number}" for number in _SOURCE_ID.findall(text)} & set(SOURCES)
    return [(key, SOURCES[key]) for key in sorted(found, key=lambda key: int(key[1:]))]


def report_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template prints, formatted in the active language, from the JSON."""
    lang = _lang()
    kpis = data["kpis"]
    rows = FEC_KPI_ROWS if data["source"] == "fec" else LEVIER_KPI_ROWS
    parameters = data.get("parameters") or {}
    file = data.get("file")
    quality = data.get("quality")
    concentration = data.get("customer_concentration") or {}
    maturity = data["maturity"]
    return {
        "lang": lang,
        "data": data,
        "source": data["source"],
        "company": data["company"]["name"],
        "siren": data["company"].get("siren") or "",
        "as_of": _date(data["as_of"]),
        "generated_on": _date(str(data.get("generated_at") or "")[:10]),
        "file": file,
        "file_size": fmt(
            Decimal(file["size_bytes"]) / Decimal(1024 * 1024) if file else None, "number", lang
        ),
        "summary": _summary(data, lang),
        "key_figures": [
            {"label": str(label), "value": fmt(kpis.get(key), unit, lang)}
            for key, label, unit in rows
            if key in ("receivables_ttc", "sales_ttc_365d", "sales_ttc_period")
            or key in ("dso_simple_365d", "dso_simple")
        ],
        "maturity_score": fmt(maturity["overall"], "number", lang),
        "maturity_level": _level_label(maturity["level"], lang),
        "maturity": maturity,
        "pillar_rows": [
            {
                "title": _pick(p, "title", lang),
                "score": fmt(p["score"], "number", lang),
                "level": _level_label(p["level"], lang),
                "scored": p["scored"],
                "unanswered": p["unanswered"],
            }
            for p in maturity["pillars"]
        ],
        "cash_total": fmt(data["lever_totals"]["one_off_cash"], "money", lang),
        "yearly_total": fmt(data["lever_totals"]["yearly"], "money", lang),
        "kpi_rows": [
            {"key": key, "label": str(label), "value": fmt(kpis.get(key), unit, lang)}
            for key, label, unit in rows
            if key in kpis
        ],
        **_charts(data, lang),
        "benchmark_rows": _benchmark_rows(data, lang),
        "lever_rows": _lever_rows(data, lang),
        "plan_groups": _plan_groups(data, lang),
        "unaddressed": [_pick(p, "label", lang) for p in data["action_plan"]["unaddressed"]],
        "late_payers": [
            {
                "name": payer["name"] or payer["customer"],
                "amount": fmt(payer["amount"], "money", lang),
                "count": payer["count"],
                "oldest": _date(payer["oldest"]),
            }
            for payer in data.get("late_payers") or []
        ],
        "late_payers_basis": data.get("late_payers_basis") or "",
        "late_invoices": {
            "count": (data.get("late_invoices") or {}).get("count"),
            "amount": fmt((data.get("late_invoices") or {}).get("amount_ttc"), "money", lang),
        },
        "top_customers": [
            {
                "name": row["name"] or row["customer"],
                "balance": fmt(row["balance"], "money", lang),
                "share": fmt(row["share"], "ratio", lang),
            }
            for row in data.get("top_customers_receivables") or []
        ],
        "concentration": [
            {
                "label": label,
                "receivables": fmt(
                    (concentration.get("receivables_share") or {}).get(key), "ratio", lang
                ),
                "sales": fmt((concentration.get("sales_365d_share") or {}).get(key), "ratio", lang),
            }
            for key, label in (
                ("top_1", gettext("Largest customer")),
                ("top_5", gettext("5 largest customers")),
                ("top_10", gettext("10 largest customers")),
            )
        ],
        "customers_with_balance": concentration.get("customers_with_balance"),
        "customers_with_sales": concentration.get("customers_with_sales_365d"),
        "questions": _questions(data, lang),
        "quality": quality,
        "quality_totals": None
        if not quality
        else {
            key: fmt(value, "money" if key.startswith("total_") else "count", lang)
            for key, value in quality["totals"].items()
        },
        "quality_issues": [
            {
                "severity": issue["severity"],
                "severity_label": str(SEVERITY_LABELS.get(issue["severity"], issue["severity"])),
                "message": issue["message"],
                "count": fmt(issue["count"], "count", lang),
                "lines": ", ".join(str(line) for line in issue["sample_lines"]),
                "details": issue["details"][:5],
            }
            for issue in (quality or {}).get("issues", [])
        ],
        "parameter_rows": [
            {"label": str(label), "value": fmt(parameters.get(key), unit, lang)}
            for key, label, unit in PARAMETER_ROWS
            if parameters.get(key) is not None
        ],
        "sources": _cited_sources(data),
    }


def _data(result: AuditResult | Mapping[str, Any]) -> Mapping[str, Any]:
    return report_json(result) if isinstance(result, AuditResult) else result


def render_html(
    result: AuditResult | Mapping[str, Any], *, standalone: bool, language: str | None = None
) -> str:
    """The report as HTML: a whole self-contained document (inline CSS and SVG, no external
    asset) when `standalone`, else a fragment for a Levier page. `language`: forced (the CLI
    passes "fr"); by default the active one."""
    with translation.override(language or translation.get_language() or "fr"):
        context = report_context(_data(result))
        context.update(standalone=standalone, pdf=False)
        return render_to_string(TEMPLATE if standalone else FRAGMENT, context)


def render_pdf(result: AuditResult | Mapping[str, Any], *, language: str | None = None) -> bytes:
    """The report as an A4 PDF (cover, summary, radar, charts, tables, appendices)."""
    from levier.collections.statement import render_pdf as weasyprint_pdf

    with translation.override(language or translation.get_language() or "fr"):
        context = report_context(_data(result))
        context.update(standalone=True, pdf=True)
        return weasyprint_pdf(TEMPLATE, context)
