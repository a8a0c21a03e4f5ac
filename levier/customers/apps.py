from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "levier.customers"
    label = "customers"
