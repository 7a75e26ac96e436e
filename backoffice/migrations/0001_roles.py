"""The back-office roles as groups with their permission sets (backoffice.roles). Models of apps migrated
later get their permissions into the roles by `manage.py sync_roles`, which also runs after every migrate."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from backoffice.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0003_apikey_categories_audit"),
        ("promo", "0004_campaign_approval_and_access"),
        ("rules", "__first__"),
        ("customers", "__first__"),
        ("catalog", "__first__"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
