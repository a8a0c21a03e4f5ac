"""Writing the audit trail. Called by every other app's services, never by views."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models

from levier.audit.choices import Verb
from levier.audit.context import current_channel
from levier.audit.models import AuditEvent

if TYPE_CHECKING:
    from levier.accounts.models import User


def _plain(value: Any) -> Any:
    """JSON-safe form of a field value (Decimals as strings, so no float sneaks in)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The audited fields of an instance (concrete fields; FKs as their ids)."""
    names = fields or [
        f.attname
        for f in instance._meta.concrete_fields
        if f.name not in {"id", "created_at", "updated_at"}
    ]
    return {name: _plain(getattr(instance, name)) for name in names}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]}


def record_event(
    *,
    actor: User | None,
    verb: Verb,
    instance: models.Model,
    changes: dict[str, Any] | None = None,
    comment: str = "",
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=actor.username if actor is not None else "system",
        channel=current_channel(),
        verb=verb,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=_plain(changes or {}),
        comment=comment,
    )


def record_events(
    *,
    actor: User | None,
    verb: Verb,
    entries: list[tuple[models.Model, dict[str, Any]]],
    comment: str = "",
) -> None:
    """Many events in one INSERT, for batch operations (a billing run issuing thousands)."""
    label, channel_now = (actor.username if actor is not None else "system"), current_channel()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor,
                actor_label=label,
                channel=channel_now,
                verb=verb,
                object_type=instance._meta.label_lower,
                object_id=str(instance.pk),
                object_repr=str(instance)[:200],
                changes=_plain(changes),
                comment=comment,
            )
            for instance, changes in entries
        ],
        batch_size=500,
    )
