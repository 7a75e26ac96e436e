"""Segments over gift cards held: the fields the giftcards app registers with the segments app."""

import pytest

from tests.giftcards.factories import gift_card
from tests.segments.conftest import customer
from tests.segments.test_filters import both_ways

pytestmark = pytest.mark.django_db


def test_customers_holding_gift_cards_and_their_balance():
    rich, modest, none = customer("rich"), customer("modest"), customer("none")
    gift_card("GC-R1", 30_000, holder_id=rich.public_id)
    gift_card("GC-R2", 25_000, holder_id=rich.public_id)
    gift_card("GC-M1", 5_000, holder_id=modest.public_id)
    gift_card("GC-NOBODY", 99_000)

    assert both_ways({"junction": "and", "gift_cards.count": {"conditions": {"$more_than_equal": [1]}}}) \
        == {"rich", "modest"}
    assert both_ways({"junction": "and", "gift_cards.count": {"conditions": {"$more_than_equal": [2]}}}) == {"rich"}
    assert both_ways({"junction": "and", "gift_cards.balance": {"conditions": {"$more_than": [50_000]}}}) \
        == {"rich"}
    assert both_ways({"junction": "and", "gift_cards.count": {"conditions": {"$is": [0]}}}) == {"none"}
    assert none.pk
