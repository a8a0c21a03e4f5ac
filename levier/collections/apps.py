from django.apps import AppConfig


class CollectionsConfig(AppConfig):
    name = "levier.collections"
    label = "collections"
    verbose_name = "Encaissements"
