from django.apps import AppConfig


class AdvAuditConfig(AppConfig):
    name = "levier.advaudit"
    label = "advaudit"
    verbose_name = "Audit ADV"
