from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and orders"

    def ready(self):
        from customers import services  # noqa: F401  (registers async action handlers)
