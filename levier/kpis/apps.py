from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "levier.kpis"
    label = "kpis"
    verbose_name = "Indicateurs"
