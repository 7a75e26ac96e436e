from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self):
        post_migrate.connect(_sync_roles_after_migrate, dispatch_uid="backoffice.sync_roles")


def _sync_roles_after_migrate(sender, app_config=None, using="default", **kwargs):
    """After the last app's post_migrate (Django has created every model's permissions by then), give new
    permissions to the roles. Additive: an administrator's changes to a role stay. Also runs after a test
    database flush, which empties the groups."""
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is not with_models[-1] or using != "default":  # Django signals only apps with models
        return
    from backoffice.roles import sync_roles

    sync_roles()
