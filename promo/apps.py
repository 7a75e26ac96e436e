from django.apps import AppConfig


class PromoConfig(AppConfig):
    name = "promo"
    verbose_name = "Campaigns and redemptions"

    def ready(self):
        from promo import handlers, registry

        registry.register_loader("voucher", handlers.load_voucher)
        registry.register_handler(handlers.DiscountVoucherHandler())
