from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "levier.demo"
    verbose_name = "Demo data"
