from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "levier.catalog"
    label = "catalog"
