from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "levier.contracts"
    label = "contracts"
    verbose_name = "Contrats"
