"""Gift cards made through the real services (a card without its issue row would not reconcile)."""

from giftcards.models import GiftCard
from promo import campaigns as promo_campaigns


def gift_card(code: str = "GIFT-100", amount: int = 10_000, **data) -> GiftCard:
    voucher = promo_campaigns.voucher_create({"type": "GIFT_VOUCHER", "code": code, "gift": {"amount": amount},
                                              **data})
    return GiftCard.objects.select_related("voucher").get(pk=voucher.pk)


def gift_campaign(name: str = "Gift cards", amount: int = 5_000, count: int = 0, **extra):
    return promo_campaigns.campaign_create({
        "name": name, "campaign_type": "GIFT_VOUCHERS", "vouchers_count": count,
        "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": amount},
                    "code_config": {"length": 12, "charset": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", "prefix": "GC-"}},
        **extra})
