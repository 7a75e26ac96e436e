from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from core.api import schema  # noqa: F401  (registers OpenAPI auth extensions)
