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
rewrites history. Document numbers are then rewritten too (`renumber_by_year`), so an order
dated March 2025 is `CMD-2025-…`.
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


@transaction.atomic
def renumber_by_year() -> None:
    """Give backdated demo orders and quotes the numbers their dates call for.

    The services number a document with the year it is created in (`CMD-<year>-000001`),
    and the demo creates its whole history today. Once the dates are rewritten, documents
    are renumbered in date order within each year, the counters are set to match, and the
    number is rewritten where it is quoted: the audit trail's object label, the confirmation
    email's subject and the comment of the audit event that logged its sending. Two passes
    (a temporary number first) keep the unique constraint on `number` satisfied throughout.
    """
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat
    from django.utils import timezone

    from levier.sales.models import DocumentCounter, Order, Quote

    for model, prefix in ((Order, "CMD"), (Quote, "DEV")):
        rows = list(
            model.objects.order_by("created_at", "pk").values_list("pk", "number", "created_at")
        )
        if not rows:
            continue
        per_year: dict[int, int] = defaultdict(int)
        renamed: dict[int, tuple[str, str]] = {}
        for pk, old, created in rows:
            year = timezone.localtime(created).year
            per_year[year] += 1
            renamed[pk] = (old, f"{prefix}-{year}-{per_year[year]:06d}")
        model.objects.update(number=Concat(Value("TMP-"), Cast("pk", CharField())))
        documents: list[Any] = [model(pk=pk, number=new) for pk, (_old, new) in renamed.items()]
        model.objects.bulk_update(documents, ["number"], batch_size=500)
        DocumentCounter.objects.filter(key__startswith=f"{prefix}-").delete()
        DocumentCounter.objects.bulk_create(
            DocumentCounter(key=f"{prefix}-{year}", last_value=count)
            for year, count in per_year.items()
        )
        label = model._meta.label_lower
        events = list(
            AuditEvent.objects.filter(object_type=label).only("pk", "object_id", "comment")
        )
        for event in events:
            old, new = renamed[int(event.object_id)]
            event.object_repr = new
            event.comment = event.comment.replace(old, new)
        AuditEvent.objects.bulk_update(events, ["object_repr", "comment"], batch_size=500)
        if model is Order:
            emails = list(OrderEmail.objects.only("pk", "order_id", "subject"))
            for email in emails:
                old, new = renamed[email.order_id]
                email.subject = email.subject.replace(old, new)
            OrderEmail.objects.bulk_update(emails, ["subject"], batch_size=500)
