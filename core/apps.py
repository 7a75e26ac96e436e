from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from core.api import schema, scope  # noqa: F401  (OpenAPI auth extensions; the views' scope check)
