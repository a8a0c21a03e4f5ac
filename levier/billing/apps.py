from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "levier.billing"
    label = "billing"
    verbose_name = "Facturation"
