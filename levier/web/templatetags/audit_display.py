"""Audit trail for people: field labels, choice labels, Oui/Non and dates instead of raw data.

Audit events store what the code saw (`{"address_line1": ["", "3 rue…"]}`, `"on_order"`,
`true`), which is right for the record and wrong for the screen. These filters translate
at display time, in the reader's language:

- a key that is a field of the event's model (`object_type`, e.g. "customers.customer")
  shows the field's verbose_name; other keys ("lines", "circuit", "step"…) a known label
  or the raw key;
- a value shows its choice label, booleans « Oui » / « Non », decimals and dates in the
  local format, None and "" as "—".

Field lookups come from the app registry (in memory) and are cached per (model, key): no
database query per row.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, NamedTuple

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from levier.accounts.choices import Role

register = template.Library()

EMPTY = "—"

# Keys that services record but that are no model field.
_KEY_LABELS: dict[str, Promise] = {
    "lines": _("lines"),
    "circuit": _("validation circuit"),
    "step": _("step"),
    "merged_from": _("merged from"),
    "moved": _("moved records"),
    "to": _("recipients"),
}
# Keys whose values are role codes ("adv", "direction").
_ROLE_KEYS = frozenset({"circuit", "step"})
# Verbs whose `changes` is a snapshot {field: value}, never {field: [before, after]}.
_SNAPSHOT_VERBS = frozenset({"create", "import", "send"})
# Keys whose value is a list even in an update, so never read as [before, after].
_LIST_KEYS = frozenset({"circuit", "to"})

# Comments the services write in English; shown in the reader's language.
_COMMENTS: list[tuple[re.Pattern[str], Promise]] = [
    (re.compile(r"^contact of customer #(?P<id>\d+)$"), _("contact of customer #%(id)s")),
    (
        re.compile(r"^delivery address of customer #(?P<id>\d+)$"),
        _("delivery address of customer #%(id)s"),
    ),
]


class _Field(NamedTuple):
    label: str | Promise
    choices: dict[str, Any]  # stored value -> (lazy) label
    kind: str  # "bool", "decimal", "date", "datetime" or ""


@lru_cache(maxsize=2048)
def _field(object_type: str, name: str) -> _Field:
    if name in _ROLE_KEYS:
        return _Field(_KEY_LABELS.get(name, name), dict(Role.choices), "")
    try:
        model = apps.get_model(object_type)
        field = model._meta.get_field(name)
    except (LookupError, ValueError, FieldDoesNotExist):
        field = None
    if not isinstance(field, models.Field) or not field.concrete:
        # Not a column of the model: a service key ("step") or a reverse relation ("lines").
        return _Field(_KEY_LABELS.get(name, name), {}, "")
    label = field.verbose_name or name
    choices = {str(value): text for value, text in (field.flatchoices or [])}
    kind = ""
    if isinstance(field, models.BooleanField):
        kind = "bool"
    elif isinstance(field, models.DecimalField):
        kind = "decimal"
    elif isinstance(field, models.DateTimeField):
        kind = "datetime"
    elif isinstance(field, models.DateField):
        kind = "date"
    return _Field(label, choices, kind)


def _scalar(value: Any, info: _Field) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if info.choices and str(value) in info.choices:
        return str(info.choices[str(value)])
    try:
        if info.kind == "decimal":
            return formats.number_format(Decimal(str(value)), use_l10n=True)
        if info.kind == "date":
            return formats.date_format(dt.date.fromisoformat(str(value)), "SHORT_DATE_FORMAT")
        if info.kind == "datetime":
            moment = dt.datetime.fromisoformat(str(value))
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            return formats.date_format(moment, "SHORT_DATETIME_FORMAT")
    except (InvalidOperation, ValueError):
        pass
    if isinstance(value, dict):
        return ", ".join(
            gettext("%(key)s: %(value)s") % {"key": k, "value": _scalar(v, _Field(k, {}, ""))}
            for k, v in value.items()
        )
    if isinstance(value, list):
        return pgettext("list separator", "; ").join(_scalar(v, info) for v in value) or EMPTY
    return str(value)


class Change(NamedTuple):
    name: str  # the stored key, e.g. "address_line1"
    label: str  # what the reader sees, e.g. « adresse de facturation »
    kind: str  # "diff", "lines" (before/after lists of lines), "list" or "value"
    before: str
    after: str
    value: str
    items_before: list[str]
    items_after: list[str]


@register.filter
def field_label(name: str, object_type: str) -> str:
    """`{{ name|field_label:ev.object_type }}`: the verbose name of a field, or the raw key."""
    return str(_field(object_type, name).label)


@register.filter
def audit_value(value: Any, arg: str = "") -> str:
    """`{{ value|audit_value:"customers.customer:payment_terms_basis" }}`: one readable value."""
    object_type, _sep, name = arg.partition(":")
    info = _field(object_type, name) if name else _Field("", {}, "")
    return _scalar(value, info)


@register.filter
def audit_changes(event: Any) -> list[Change]:
    """The event's `changes`, one readable row per key, in the stored order."""
    rows: list[Change] = []
    changes = event.changes or {}
    if not isinstance(changes, dict):
        return rows
    for name, value in changes.items():
        info = _field(event.object_type, name)
        label = str(info.label)
        is_pair = (
            event.verb not in _SNAPSHOT_VERBS
            and name not in _LIST_KEYS
            and isinstance(value, list)
            and len(value) == 2
        )
        if is_pair and name == "lines":
            before, after = (v if isinstance(v, list) else [v] for v in value)
            rows.append(
                Change(
                    name,
                    label,
                    "lines",
                    "",
                    "",
                    "",
                    [str(v) for v in before],
                    [str(v) for v in after],
                )
            )
        elif is_pair:
            rows.append(
                Change(
                    name,
                    label,
                    "diff",
                    _scalar(value[0], info),
                    _scalar(value[1], info),
                    "",
                    [],
                    [],
                )
            )
        elif isinstance(value, list) and name == "lines":
            rows.append(Change(name, label, "list", "", "", "", [str(v) for v in value], []))
        else:
            rows.append(Change(name, label, "value", "", "", _scalar(value, info), [], []))
    return rows


@register.filter
def audit_comment(comment: str) -> str:
    """A comment written by the services in English, in the reader's language."""
    for pattern, message in _COMMENTS:
        match = pattern.match(comment or "")
        if match:
            return str(message) % match.groupdict()
    return comment
