"""The audit's web forms: start an audit (a FEC or Levier's data, the parameters), and the
questionnaire (42 questions by pillar, each a 0–4 radio with the meaning of each score).

Parameters stay text here: `AuditParameters` parses them and names what it refuses, as the
customer form leaves amounts to its service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from levier.advaudit.levers import (
    DEFAULT_FINANCING_RATE,
    DEFAULT_HOURLY_RATE,
    DEFAULT_PENALTY_RATE,
    DEFAULT_REWORK_HOURS,
    DEFAULT_TARGET_DSO_DAYS,
)
from levier.advaudit.questionnaire import Question, Questionnaire, default_questionnaire
from levier.advaudit.services import DEFAULT_PAYMENT_TERMS_DAYS, AuditError, AuditParameters

DEFAULT_MAX_UPLOAD_BYTES = 500 * 1024 * 1024
MAX_ANSWERS_BYTES = 1024 * 1024
MAX_COMMENT_CHARS = 2000


def max_upload_bytes() -> int:
    """The largest FEC accepted (setting LEVIER_AUDIT_MAX_UPLOAD_BYTES, 500 MB by default)."""
    return int(getattr(settings, "LEVIER_AUDIT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


# Form field → AuditParameters field.
PARAMETER_FIELDS = {
    "company_name": "company_name",
    "target_dso_days": "target_dso_days",
    "financing_rate": "financing_rate",
    "payment_terms_days": "payment_terms_days",
    "rework_hours_per_credit_note": "rework_hours_per_credit_note",
    "loaded_hourly_rate": "loaded_hourly_rate",
    "cost_per_credit_note": "cost_per_credit_note",
    "penalty_rate": "penalty_rate",
}


class AuditStartForm(forms.Form):
    source = forms.ChoiceField(
        label=gettext_lazy("What to audit"),
        choices=[
            ("fec", gettext_lazy("A FEC file (accounting entries of a fiscal year)")),
            ("levier", gettext_lazy("Levier's data, at a date")),
        ],
        initial="fec",
        widget=forms.RadioSelect,
    )
    fec = forms.FileField(
        label=gettext_lazy("FEC file"),
        required=False,
        help_text=gettext_lazy(
            "Tab- or |-separated text file, as the accounting software exports it."
        ),
    )
    answers = forms.FileField(
        label=gettext_lazy("Questionnaire answers (YAML, optional)"),
        required=False,
        help_text=gettext_lazy("You can also answer the questionnaire on screen after the audit."),
    )
    as_of = forms.DateField(
        label=gettext_lazy("Figures at"),
        required=False,
        widget=DateInput(),
        help_text=gettext_lazy("FEC: its last entry date when empty. Levier: today when empty."),
    )
    company_name = forms.CharField(
        label=gettext_lazy("Company name (cover)"), max_length=200, required=False
    )
    target_dso_days = forms.CharField(
        label=gettext_lazy("Target DSO (days)"), initial=str(DEFAULT_TARGET_DSO_DAYS), max_length=20
    )
    financing_rate = forms.CharField(
        label=gettext_lazy("Annual financing rate (0.05 = 5 %)"),
        initial=str(DEFAULT_FINANCING_RATE),
        max_length=20,
    )
    payment_terms_days = forms.CharField(
        label=gettext_lazy("Payment terms assumed for a FEC (days)"),
        initial=str(DEFAULT_PAYMENT_TERMS_DAYS),
        max_length=20,
    )
    rework_hours_per_credit_note = forms.CharField(
        label=gettext_lazy("Rework hours per credit note"),
        initial=str(DEFAULT_REWORK_HOURS),
        max_length=20,
    )
    loaded_hourly_rate = forms.CharField(
        label=gettext_lazy("Loaded hourly rate (€)"),
        initial=str(DEFAULT_HOURLY_RATE),
        max_length=20,
    )
    cost_per_credit_note = forms.CharField(
        label=gettext_lazy("Cost per credit note (€, optional: replaces hours × rate)"),
        required=False,
        max_length=20,
    )
    penalty_rate = forms.CharField(
        label=gettext_lazy("Late-payment penalty rate (0.1215 = 12.15 %)"),
        initial=str(DEFAULT_PENALTY_RATE),
        max_length=20,
    )

    def clean_answers(self) -> Any:
        upload = self.cleaned_data.get("answers")
        if upload is not None and upload.size > MAX_ANSWERS_BYTES:
            raise ValidationError(
                _("%(file)s: an answers file is at most %(limit)s kB")
                % {"file": upload.name, "limit": MAX_ANSWERS_BYTES // 1024}
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("source") == "fec" and not data.get("fec") and "fec" not in self.errors:
            self.add_error("fec", _("Choose the FEC file to audit."))
        values: dict[str, Any] = {}
        for name, parameter in PARAMETER_FIELDS.items():
            raw = data.get(name)
            if raw in (None, "") and name != "company_name":
                if name == "cost_per_credit_note":
                    continue
                raw = self.fields[name].initial
            values[parameter] = raw
        terms = str(values.get("payment_terms_days") or "").strip()
        if not terms.isdigit():
            self.add_error(
                "payment_terms_days",
                _("A whole number of days, not “%(value)s”.") % {"value": terms},
            )
            return data
        values["payment_terms_days"] = int(terms)
        try:
            data["parameters"] = AuditParameters(**values)
        except AuditError as exc:
            field, _sep, _rest = str(exc).partition(":")
            self.add_error(field if field in self.fields else None, str(exc))
        return data


def _text(question: Question) -> str:
    return question.text_en if (get_language() or "fr").startswith("en") else question.text_fr


class QuestionnaireForm(forms.Form):
    """One radio group per question (no answer, 0…4) and a comment; prefilled scores are
    shown by the template beside the question, an answer overrides them."""

    def __init__(
        self,
        *args: Any,
        initial_answers: Mapping[str, Any] | None = None,
        questionnaire: Questionnaire | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.questionnaire = questionnaire or default_questionnaire()
        stored = initial_answers or {}
        scores = stored.get("scores") or {}
        comments = stored.get("comments") or {}
        english = (get_language() or "fr").startswith("en")
        for question in self.questionnaire.questions:
            choices = [("", _("No answer"))] + [
                (str(value), f"{value} – {meaning.en if english else meaning.fr}")
                for value, meaning in enumerate(question.scores)
            ]
            score = scores.get(question.id)
            self.fields[f"q_{question.id}"] = forms.ChoiceField(
                label=_text(question),
                choices=choices,
                required=False,
                widget=forms.RadioSelect,
                initial="" if score is None else str(score),
            )
            self.fields[f"c_{question.id}"] = forms.CharField(
                label=_("Comment"),
                required=False,
                max_length=MAX_COMMENT_CHARS,
                initial=comments.get(question.id, ""),
            )

    def answers(self) -> tuple[dict[str, int | None], dict[str, str]]:
        """The scores given (None: no answer) and the comments, by question id."""
        scores: dict[str, int | None] = {}
        comments: dict[str, str] = {}
        for question in self.questionnaire.questions:
            raw = self.cleaned_data.get(f"q_{question.id}") or ""
            scores[question.id] = int(raw) if raw else None
            comment = (self.cleaned_data.get(f"c_{question.id}") or "").strip()
            if comment:
                comments[question.id] = comment
        return scores, comments

    def pillars(self) -> list[dict[str, Any]]:
        """The bound fields grouped by pillar, for the template."""
        english = (get_language() or "fr").startswith("en")
        groups = []
        for pillar in self.questionnaire.pillars:
            groups.append(
                {
                    "key": pillar.key,
                    "title": pillar.title_en if english else pillar.title_fr,
                    "questions": [
                        {
                            "id": question.id,
                            "weight": question.weight,
                            "score": self[f"q_{question.id}"],
                            "comment": self[f"c_{question.id}"],
                        }
                        for question in self.questionnaire.questions_of(pillar.key)
                    ],
                }
            )
        return groups
