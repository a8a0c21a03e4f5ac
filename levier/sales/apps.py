from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "levier.sales"
    label = "sales"
