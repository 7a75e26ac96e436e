"""Amounts and counts of 2**31 minor units and more travel and are stored exactly on every money path.

On PostgreSQL with server-side binding, Django sent integers in expressions (`F("balance") + amount`) as
psycopg Int4, whose dumper wraps silently: a top-up of 8,589,934,591 took one unit off a card and answered
200. core/db/postgresql/base.py is the fix; these tests run each money path at the edges of 32 and 33 bits and
at the documented maxima, through the HTTP API, and end with the gift card reconciliation reporting no
mismatch. They pass on SQLite too (which never wrapped); on PostgreSQL they are the proof.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F, Value
from django.utils import timezone

from customers.models import Customer, Order
from giftcards import selectors
from giftcards.models import GiftCard
from giftcards.services import MAX_AMOUNT as GIFT_MAX
from promo.models import Campaign, PromotionTier, Voucher
from rules.models import LimitCounter
from tests.conftest import assert_error
from tests.giftcards.factories import gift_card
from tests.promo.factories import CampaignFactory, RuleFactory, VoucherFactory, assign
from tests.promo.promotion_helpers import promotion_campaign, tier

pytestmark = pytest.mark.django_db

EDGES = [2**31 - 1, 2**31, 2**32, 2**33 - 1, GIFT_MAX]
BASE = 10_000


def _card(code: str) -> GiftCard:
    return GiftCard.objects.get(voucher__code=code)


def _reconciled() -> None:
    report = selectors.reconciliation()
    assert report["reconciled"], report


def _gift(code: str, credits: int, order_amount: int, session: dict | None = None) -> dict:
    body = {"redeemables": [{"object": "voucher", "id": code, "gift": {"credits": credits}}],
            "order": {"amount": order_amount}}
    return {**body, "session": session} if session else body


@pytest.mark.parametrize("amount", EDGES)
def test_top_up_and_debit(api, amount):
    gift_card("GC-BIG", BASE)
    up = api.post("/v1/vouchers/GC-BIG/balance", {"amount": amount})
    assert up.status_code == 200, up.content
    assert up.json()["balance"] == BASE + amount
    down = api.post("/v1/vouchers/GC-BIG/balance", {"amount": -amount})
    assert down.status_code == 200, down.content
    assert down.json()["balance"] == BASE
    card = _card("GC-BIG")
    assert (card.balance, card.amount, card.subtracted_amount) == (BASE, BASE + amount, amount)
    _reconciled()


@pytest.mark.parametrize("amount", EDGES)
def test_spend_by_redemption_and_its_rollback(api, amount):
    gift_card("GC-SPEND", GIFT_MAX)
    api.post("/v1/vouchers/GC-SPEND/balance", {"amount": BASE})
    order_amount = amount + 5
    redeemed = api.post("/v1/redemptions", _gift("GC-SPEND", amount, order_amount))
    assert redeemed.status_code == 200, redeemed.content
    body = redeemed.json()
    assert body["order"]["total_applied_discount_amount"] == amount
    assert body["order"]["total_amount"] == 5
    card = _card("GC-SPEND")
    assert (card.balance, card.redeemed_amount) == (GIFT_MAX + BASE - amount, amount)
    order = Order.objects.get(public_id=body["order"]["id"])
    assert order.amount == order_amount
    rolled = api.post(f"/v1/redemptions/{body['parent_redemption']['id']}/rollbacks", {"reason": "test"})
    assert rolled.status_code == 200, rolled.content
    card.refresh_from_db()
    assert (card.balance, card.redeemed_amount) == (GIFT_MAX + BASE, 0)
    _reconciled()


@pytest.mark.parametrize("amount", EDGES)
def test_session_reservation_then_redemption(api, amount):
    gift_card("GC-LOCK", GIFT_MAX)
    lock = {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"}
    validated = api.post("/v1/validations", _gift("GC-LOCK", amount, amount, lock))
    assert validated.status_code == 200 and validated.json()["valid"] is True, validated.content
    key = validated.json()["session"]["key"]
    card = _card("GC-LOCK")
    assert card.locked_amount == amount
    # what is reserved is not spendable by another checkout
    other = api.post("/v1/validations", _gift("GC-LOCK", GIFT_MAX - amount + 1, GIFT_MAX))
    assert other.json()["valid"] is False
    redeemed = api.post("/v1/redemptions", _gift("GC-LOCK", amount, amount, {"type": "LOCK", "key": key}))
    assert redeemed.status_code == 200, redeemed.content
    card.refresh_from_db()
    assert (card.balance, card.locked_amount, card.redeemed_amount) == (GIFT_MAX - amount, 0, amount)
    _reconciled()


@pytest.mark.parametrize("amount", EDGES)
def test_refund_onto_a_card(api, amount):
    gift_card("GC-REFUND", BASE)
    api.post("/v1/orders", {"source_id": "ORD-BIG", "amount": amount + BASE, "status": "PAID"})
    refunded = api.post("/v1/gift-cards/refunds", {"amount": amount, "order": "ORD-BIG", "voucher": "GC-REFUND"})
    assert refunded.status_code == 201, refunded.content
    assert refunded.json()["voucher"]["gift"]["balance"] == BASE + amount
    assert _card("GC-REFUND").balance == BASE + amount
    _reconciled()


@pytest.mark.parametrize("amount", EDGES)
def test_temporary_credit(api, amount):
    gift_card("GC-TEMP", BASE)
    expires = (timezone.now() + timedelta(days=1)).isoformat()
    credited = api.post("/v1/gift-cards/GC-TEMP/temporary-credits", {"amount": amount, "expires_at": expires})
    assert credited.status_code == 201, credited.content
    assert credited.json()["voucher"]["gift"]["balance"] == BASE + amount
    spent = api.post("/v1/redemptions", _gift("GC-TEMP", amount + 1, amount + 1))
    assert spent.status_code == 200, spent.content
    assert _card("GC-TEMP").balance == BASE - 1
    _reconciled()


@pytest.mark.parametrize("amount", EDGES)
def test_voucher_and_campaign_counters_and_budget(api, amount):
    campaign = CampaignFactory(name="Big orders")
    VoucherFactory(code="BIG-ORDER", campaign=campaign, redemption_quantity=2**40,
                   discount={"type": "AMOUNT", "amount_off": amount - 1})
    budget = {"name": "campaign.orders.amount_discounted", "conditions": {"$less_than_or_equal": [2 * amount]}}
    assign(RuleFactory(name="Budget", rules={"1": budget}), campaign)
    order = {"amount": amount, "customer": {"source_id": "big-spender"}}
    for _ in range(2):
        redeemed = api.post("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "BIG-ORDER"}],
                                                "order": order, "customer": {"source_id": "big-spender"}})
        assert redeemed.status_code == 200, redeemed.content
        assert redeemed.json()["order"]["total_applied_discount_amount"] == amount - 1
    counter = LimitCounter.objects.get(used__gt=0)
    assert counter.used == 2 * (amount - 1)
    assert Voucher.objects.get(code="BIG-ORDER").redeemed_quantity == 2
    customer = Customer.objects.get(source_id="big-spender")
    assert (customer.orders_total_amount, customer.orders_total_count) == (2, 2)  # what was paid: 1 each
    summary = api.get(f"/v1/campaigns/{campaign.public_id}").json()
    assert summary["id"] == campaign.public_id


@pytest.mark.parametrize("amount", [2**31 - 1, 2**31 + 100, 2**32, 2**33 - 1, 10**12])
def test_promotion_tier_redemption_and_rollback_give_back_its_use(api, amount):
    campaign = promotion_campaign("Big tiers")
    big = tier(campaign, "1 off big orders", {"type": "AMOUNT", "amount_off": 100}, redemption_quantity=1)
    body = {"redeemables": [{"object": "promotion_tier", "id": big.public_id}], "order": {"amount": amount}}
    redeemed = api.post("/v1/redemptions", body)
    assert redeemed.status_code == 200, redeemed.content
    big.refresh_from_db()
    assert (big.redeemed_quantity, big.orders_amount, big.discounted_amount) == (1, amount - 100, 100)
    assert_error(api.post("/v1/redemptions", body), 400, "quantity_exceeded")
    rolled = api.post(f"/v1/redemptions/{redeemed.json()['parent_redemption']['id']}/rollbacks", {})
    assert rolled.status_code == 200, rolled.content
    big.refresh_from_db()
    assert (big.redeemed_quantity, big.orders_amount, big.discounted_amount) == (0, 0, 0)
    assert api.post("/v1/redemptions", body).status_code == 200


def test_counts_beyond_32_bits_are_stored(api):
    """Redemption counters are 64-bit columns too; an order line's quantity (up to 10**6) times its price
    (up to 10**15) is computed without overflow."""
    VoucherFactory(code="MANY", redemption_quantity=2**40, discount={"type": "AMOUNT", "amount_off": 1})
    Voucher.objects.filter(code="MANY").update(redeemed_quantity=2**33 - 2)
    line = {"source_id": "bulk", "related_object": "product", "quantity": 10**6, "price": 10**9}
    redeemed = api.post("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "MANY"}],
                                            "order": {"items": [line]}})
    assert redeemed.status_code == 200, redeemed.content
    assert Voucher.objects.get(code="MANY").redeemed_quantity == 2**33 - 1
    assert redeemed.json()["order"]["items"][0]["quantity"] == 10**6
    assert redeemed.json()["order"]["amount"] == 10**15


@pytest.mark.parametrize("value", [2**31, 2**32 + 7, 2**33 - 1, 2**62])
def test_integers_in_expressions_are_never_wrapped(value):
    """The root of it: a bare integer in an F() expression, a Value() and a filter reaches the database exact."""
    customer = Customer.objects.create(source_id="wide")
    Customer.objects.filter(pk=customer.pk).update(orders_total_amount=F("orders_total_amount") + value)
    assert Customer.objects.values_list("orders_total_amount", flat=True).get(pk=customer.pk) == value
    assert Customer.objects.filter(orders_total_amount__gte=F("orders_total_amount") - value + value).exists()
    annotated = Customer.objects.annotate(wide=Value(value)).values_list("wide", flat=True).get(pk=customer.pk)
    assert annotated == value
    counter = Campaign.objects.create(name="c")
    assert Campaign.objects.filter(pk=counter.pk).exists()


@pytest.mark.postgres
def test_a_value_beyond_64_bits_is_refused_by_the_database_not_wrapped():
    from django.db import DataError, transaction

    customer = Customer.objects.create(source_id="overflow")
    with pytest.raises(DataError), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(orders_total_amount=F("orders_total_amount") + 2**64 + 5)
    assert Customer.objects.values_list("orders_total_amount", flat=True).get(pk=customer.pk) == 0


@pytest.mark.postgres
def test_the_project_backend_is_used_on_postgresql():
    assert type(connection.ops).__module__ == "core.db.postgresql.base"


def test_money_and_count_columns_are_64_bit():
    """Every integer column that holds money, points or a count is 64-bit (a new one cannot slip in as 32)."""
    from django.apps import apps

    narrow_allowed = {"hierarchy", "position", "attempts", "progress", "response_status", "last_response_status",
                      "min_validity_years", "year"}
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in {"core", "customers", "catalog", "rules", "segments", "promo", "giftcards",
                                         "distribution", "backoffice", "loyalty", "referrals", "giveaways"}:
            continue
        for f in model._meta.concrete_fields:
            kind = f.get_internal_type()
            if kind in {"IntegerField", "PositiveIntegerField", "SmallIntegerField", "PositiveSmallIntegerField"} \
                    and f.name not in narrow_allowed:
                found.append(f"{model._meta.label}.{f.name} ({kind})")
    assert not found, found
    assert PromotionTier._meta.get_field("redeemed_quantity").get_internal_type() == "PositiveBigIntegerField"


@pytest.mark.postgres
def test_a_balance_pushed_past_64_bits_is_a_400_and_changes_nothing(api):
    gift_card("GC-FULL", BASE)
    GiftCard.objects.filter(voucher__code="GC-FULL").update(balance=2**63 - 10**11, amount=2**63 - 10**11)
    refused = api.post("/v1/vouchers/GC-FULL/balance", {"amount": GIFT_MAX})
    assert_error(refused, 400, "value_out_of_range")
    card = _card("GC-FULL")
    assert card.balance == 2**63 - 10**11 and card.transactions.count() == 1
