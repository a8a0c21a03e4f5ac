"""Backdating the demo history: the services run today, the timestamps then say when.

The demo is written through the real services, which stamp everything with the current time
(`auto_now_add`, `timezone.now()`). To spread the history over 24 months, every service call
is wrapped in `timeline.at(moment)`: that records which audit events the call wrote (by id
range) and the moment it is meant to have happened. Once everything is written,
`Timeline.apply()` rewrites the timestamps with `QuerySet.update()` / `bulk_update()`, which
bypass `save()`, `auto_now` and the audit trail's append-only guard on purpose:

- `AuditEvent.created_at` of the events each call wrote;
- `created_at` / `updated_at` of orders, quotes, customers and products, and the orders'
  `submitted_at` / `validated_at`, the quotes' `valid_until`;
- `ApprovalStep.decided_at` and the confirmation-email log (`OrderEmail.created_at`/`sent_at`).

This is only acceptable for demo data that nobody has seen yet; no production code path
rewrites history. What is *not* rewritten: document numbers keep the year of the load
(`CMD-<this year>-…`), because `next_number` takes today's year and the number is also
quoted in the audit trail and the email log.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models, transaction

from levier.audit.models import AuditEvent
from levier.sales.models import OrderEmail


def _last_event_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


class Timeline:
    def __init__(self) -> None:
        self._last_event = _last_event_id()
        self._events: list[tuple[int, int, dt.datetime]] = []
        self._fields: dict[type[models.Model], dict[int, dict[str, Any]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self._emails: dict[int, dt.datetime] = {}

    @contextmanager
    def at(self, moment: dt.datetime) -> Iterator[None]:
        """Everything the block writes to the audit trail happened at `moment`."""
        yield
        last = _last_event_id()
        if last > self._last_event:
            self._events.append((self._last_event, last, moment))
            self._last_event = last

    def stamp(self, instance: models.Model, **values: Any) -> None:
        """Set these fields of `instance` when `apply()` runs (later calls win)."""
        assert instance.pk is not None
        self._fields[type(instance)][instance.pk].update(values)

    def email_sent(self, order_id: int, moment: dt.datetime) -> None:
        self._emails[order_id] = moment

    @transaction.atomic
    def apply(self) -> None:
        for low, high, moment in self._events:
            AuditEvent.objects.filter(pk__gt=low, pk__lte=high).update(created_at=moment)
        for model, rows in self._fields.items():
            by_fields: dict[tuple[str, ...], list[models.Model]] = defaultdict(list)
            for pk, values in rows.items():
                by_fields[tuple(sorted(values))].append(model(pk=pk, **values))
            for names, objects in by_fields.items():
                model._default_manager.bulk_update(objects, list(names), batch_size=500)
        emails = list(
            OrderEmail.objects.filter(order_id__in=list(self._emails)).only(
                "pk", "order_id", "sent_at"
            )
        )
        for email in emails:
            moment = self._emails[email.order_id]
            email.created_at = moment
            if email.sent_at is not None:
                email.sent_at = moment
        OrderEmail.objects.bulk_update(emails, ["created_at", "sent_at"], batch_size=500)
        self._events.clear()
        self._fields.clear()
        self._emails.clear()
