"""Recording domain events (see `DomainEvent`): the only code that writes them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from levier.integrations.models import DomainEvent


class EventName:
    PAYMENT_RECEIVED = "payment.received"
    PAYMENT_MATCHED = "payment.matched"
    PAYMENT_UNMATCHED = "payment.unmatched"
    INVOICE_SETTLED = "invoice.settled"
    REMINDER_SENT = "reminder.sent"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_RESOLVED = "dispute.resolved"
    DISPUTE_CLOSED = "dispute.closed"
    PROMISE_RECORDED = "promise.recorded"
    PROMISE_KEPT = "promise.kept"
    PROMISE_BROKEN = "promise.broken"
    PROMISE_CANCELLED = "promise.cancelled"


@dataclass(frozen=True)
class Event:
    name: str
    instance: models.Model
    payload: dict[str, Any]


def _jsonable(payload: dict[str, Any]) -> Any:
    # Decimals as strings with their digits, dates ISO: what a webhook consumer expects.
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def record_domain_events(events: Sequence[Event]) -> None:
    """Store events in one INSERT; call inside the transaction that made the change."""
    DomainEvent.objects.bulk_create(
        [
            DomainEvent(
                name=event.name,
                payload=_jsonable(event.payload),
                object_type=event.instance._meta.label_lower,
                object_id=str(event.instance.pk),
            )
            for event in events
        ]
    )


def record_domain_event(name: str, instance: models.Model, payload: dict[str, Any]) -> None:
    record_domain_events([Event(name, instance, payload)])
