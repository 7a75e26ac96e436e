from django.db import migrations, models

# Every counted order updates its customer's aggregates. PostgreSQL writes such an update in place,
# without touching the table's indexes (a HOT update), when no indexed column changes and the page has
# room: last_order_date loses its index, and new pages of the table keep 15 % free.


def fillfactor(percent):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            table = schema_editor.quote_name(apps.get_model("customers", "Customer")._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {int(percent)})")

    return apply


class Migration(migrations.Migration):

    dependencies = [
        ("customers", "0004_consents"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="last_order_date",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fillfactor(85), fillfactor(100)),
    ]
