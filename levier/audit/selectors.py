from django.db import models
from django.db.models import QuerySet

from levier.audit.models import AuditEvent


def events_for(instance: models.Model) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        object_type=instance._meta.label_lower, object_id=str(instance.pk)
    ).select_related("actor")
