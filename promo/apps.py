from django.apps import AppConfig


class PromoConfig(AppConfig):
    name = "promo"
    verbose_name = "Campaigns and redemptions"

    def ready(self):
        from customers.selectors import register_redemption_summary
        from distribution.events import register_event_type
        from promo import (  # noqa: F401  (tasks)
            abuse,
            handlers,
            promotion_handlers,
            registry,
            scoping,
            selectors,
            services,
            tasks,
        )
        from rules.evaluation import on_budget_exhausted

        registry.register_loader("voucher", handlers.load_voucher)
        registry.register_handler(handlers.DiscountVoucherHandler())
        registry.register_loader("promotion_tier", promotion_handlers.load_tier)
        registry.register_loader("promotion_stack", promotion_handlers.load_stack)
        registry.register_handler(promotion_handlers.HANDLER)
        on_budget_exhausted(promotion_handlers.budget_exhausted)
        register_redemption_summary(selectors.customer_redemption_counters)
        on_budget_exhausted(services.budget_exhausted)
        # What API keys and staff limited to categories see of promo's rows and of rows naming them.
        scoping.register()
        register_event_type(abuse.FRAUD_EVENT, "Too many invalid codes from one customer, client IP or API key: "
                                               "their validations and redemptions are refused for a while.")
