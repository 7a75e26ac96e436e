from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self):
        # Registers the CSV import handlers (PRODUCTS_IMPORT_CSV, SKUS_IMPORT_CSV) for async actions.
        from catalog import services  # noqa: F401
