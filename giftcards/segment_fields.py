"""Segment filter fields over gift cards (registered from GiftcardsConfig.ready()): how many cards a
customer holds and their outstanding balance. Gift card movements do not refresh segments as they
happen; segments that use these fields are recomputed on the segments schedule."""

from django.db.models import Count, Sum

from segments.filters import register_aggregate_field


def _held(aggregate):
    def source(suffix: str):
        from giftcards.models import GiftCard

        return GiftCard.objects.filter(voucher__active=True), "voucher__holder", None, aggregate
    return source


def register() -> None:
    register_aggregate_field("gift_cards.count", _held(Count("pk")), depends_on="gift_cards", live=False,
                             description="number of active gift cards the customer holds")
    register_aggregate_field("gift_cards.balance", _held(Sum("balance")), depends_on="gift_cards", live=False,
                             description="outstanding balance of the active gift cards the customer holds")
