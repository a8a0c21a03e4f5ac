from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "levier.audit"
    label = "audit"
    verbose_name = "Piste d'audit"
