"""Demo gift cards for `manage.py seed_demo` (run by core.demo after promo.demo): a GIFT_VOUCHERS campaign of 50
cards of 50.00 generated like any campaign's codes, some partly spent through real redemptions
(promo.services.redeem, so each spend is a ledger row with its redemption and order), one topped up and one
refunded onto through giftcards.services. Ledgers are immutable: a reset soft-deletes the campaign and keeps them.
"""

from __future__ import annotations

from django.db import transaction

from giftcards import refunds, selectors, services
from giftcards.models import GiftCard, GiftCardTransaction
from promo import campaigns as campaign_services
from promo import codes
from promo import demo as promo_demo
from promo.models import Campaign

NAME = "Gift cards 50.00"
CARDS = 50
FACE_VALUE = 5000
SPENT = 15  # cards partly spent
ACTOR = services.Actor.of(job="seed_demo")


def _campaign():
    return Campaign.objects.filter(name=NAME, metadata__demo=True, deleted_at__isnull=True).first()


def present() -> bool:
    return _campaign() is not None


def counts() -> dict:
    campaign = _campaign()
    cards = GiftCard.objects.filter(voucher__campaign=campaign) if campaign else GiftCard.objects.none()
    return {"gift_cards": cards.count(),
            "gift_card_transactions": GiftCardTransaction.objects.filter(card__in=cards).count()}


def delete() -> dict:
    before = counts()
    campaign = _campaign()
    if campaign is not None:
        campaign_services.campaign_delete(campaign, force=True)
    return before


def seed(ctx) -> dict:
    campaign = campaign_services.campaign_create({
        "name": NAME, "campaign_type": "GIFT_VOUCHERS", "type": "STATIC", "vouchers_count": CARDS,
        "metadata": {"demo": True}, "description": "Gift cards sold in the shops, 50.00 each.",
        "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": FACE_VALUE, "effect": "APPLY_TO_ORDER"},
                    "code_config": {"length": 12, "charset": codes.UNAMBIGUOUS, "prefix": "GC-"}},
    })
    promo_demo.generate_codes(campaign)
    cards = list(GiftCard.objects.filter(voucher__campaign=campaign).select_related("voucher")
                 .order_by("voucher__code"))
    with transaction.atomic():  # one commit for the whole history (see promo.demo.redeem_some)
        _use_cards(ctx, cards)
    ctx.made["gift_cards"] = campaign
    return counts()


def _use_cards(ctx, cards: list[GiftCard]) -> None:
    rng = ctx.rng
    spent = []
    for number, card in enumerate(cards[:SPENT], start=1):
        items = promo_demo.cart(ctx, lines=(1, 2))
        total = sum(item["price"] * item["quantity"] for item in items)
        credits = min(total, rng.choice((1000, 1500, 2000, 2500, 3500)))
        redeemable = {"object": "voucher", "id": card.voucher.code, "gift": {"credits": credits}}
        order_id = f"demo-gc-{number:04d}"
        if promo_demo.attempt(ctx, [redeemable], items, rng.choice(ctx.customers), order_id):
            spent.append((card, order_id))
    if len(cards) > SPENT:  # asks for more than the card holds: refused (gift_amount_exceeded), recorded
        over = {"object": "voucher", "id": cards[SPENT].voucher.code, "gift": {"credits": FACE_VALUE + 1000}}
        promo_demo.attempt(ctx, [over], promo_demo.cart(ctx, lines=(3, 5)), rng.choice(ctx.customers),
                           "demo-gc-over")
    if len(cards) > SPENT + 1:
        services.adjust_balance(cards[SPENT + 1].voucher.code, 2500, actor=ACTOR,
                                reason="Top-up bought in the Berlin shop", source_id="demo-topup-1")
    if spent:
        card, order_id = spent[0]
        refunds.refund_to_card(amount=min(1299, selectors.refundable(selectors.find_order(order_id)).left),
                               order=order_id, code=card.voucher.code, actor=ACTOR,
                               reason="Returned item refunded to the gift card")
