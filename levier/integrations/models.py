"""Domain events: what happened, with its payload, ready to be published (webhooks…).

Written in the same transaction as the change they describe, so an event exists if and only
if the change committed (an outbox). `published_at` stays empty until the integration layer
delivers it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class DomainEvent(models.Model):
    name = models.CharField(max_length=60, db_index=True)  # "payment.received"…
    payload = models.JSONField()
    # The main object, for "events of this invoice" lookups.
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(published_at__isnull=True), name="events_to_publish"
            ),
            models.Index(fields=["object_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"
