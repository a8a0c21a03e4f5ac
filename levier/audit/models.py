from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.audit.choices import Channel, Verb


class AppendOnlyError(Exception):
    """Audit events are never changed nor deleted."""


class AuditEvent(models.Model):
    """One append-only line of the audit trail (netbox's ObjectChange, zulip's RealmAuditLog).

    Written only by `levier.audit.services.record_event`, inside the business transaction, so
    an operation and its trail commit or roll back together.
    """

    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    # The username at the time, kept even if the user is renamed later.
    actor_label = models.CharField(max_length=150)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    verb = models.CharField(max_length=20, choices=Verb.choices)
    object_type = models.CharField(max_length=50)  # "customers.customer", "sales.order"
    object_id = models.CharField(max_length=40)
    object_repr = models.CharField(max_length=200)
    # {"field": [before, after]} for updates; {"field": value} snapshot for creations.
    changes: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.verb} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events cannot be modified")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit events cannot be deleted")
