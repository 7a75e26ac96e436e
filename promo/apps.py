from django.apps import AppConfig


class PromoConfig(AppConfig):
    name = "promo"
    verbose_name = "Campaigns and redemptions"
