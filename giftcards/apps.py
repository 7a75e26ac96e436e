from django.apps import AppConfig


class GiftcardsConfig(AppConfig):
    name = "giftcards"
    verbose_name = "Gift cards"
