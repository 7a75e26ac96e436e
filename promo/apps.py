from django.apps import AppConfig


class PromoConfig(AppConfig):
    name = "promo"
    verbose_name = "Campaigns and redemptions"

    def ready(self):
        from customers.selectors import register_redemption_summary
        from promo import handlers, registry, selectors, services, tasks  # noqa: F401  (tasks: async handlers)
        from rules.evaluation import on_budget_exhausted

        registry.register_loader("voucher", handlers.load_voucher)
        registry.register_handler(handlers.DiscountVoucherHandler())
        register_redemption_summary(selectors.customer_redemption_counters)
        on_budget_exhausted(services.budget_exhausted)
