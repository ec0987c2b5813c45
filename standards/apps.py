from django.apps import AppConfig


class StandardsConfig(AppConfig):
    name = "standards"
    verbose_name = "Standards catalogue"
