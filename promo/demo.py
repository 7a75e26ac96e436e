"""Demo campaigns for `manage.py seed_demo` (run by core.demo after the demo customers and catalog), made through
the same services as the API and the back office, so codes, rules, counters and audit rows are real:

- "Welcome 10%": 1,000 unique single-use codes (the normal async code generation), orders of 50.00 or more,
  once per customer;
- BLACKFRIDAY: a standalone public code, 20% off, once per customer, with a discount budget;
- "Sorry coupons": 10.00 off, marked for customer service's sorry coupons (a few issued already);
- "Everyday promotions": happy hour 15% (weekdays 17:00-19:00, project time zone), spend 200.00 save 20.00,
  free shipping over 100.00, and a stack of the last two;
- a few hundred redemptions of them by the demo customers (promo.services.redeem, with carts of the demo
  products), some refused with their reasons, one rolled back.

Demo campaigns carry `metadata.demo = true`; their validation rules are named "Demo: ...".
"""

from __future__ import annotations

from django.db import transaction

from core.errors import ApiError
from promo import campaigns as campaign_services
from promo import codes, services, sorry
from promo.discounts import FREE_SHIPPING_PRODUCT
from promo.models import Campaign, PromotionTier, Redemption, Voucher
from promo.promotions import stack_create
from rules import services as rule_services
from rules.models import ValidationRule

DEMO = {"demo": True}
RULE_PREFIX = "Demo: "
WELCOME = "Welcome 10%"
SORRY = "Sorry coupons"
PROMOTIONS = "Everyday promotions"
BLACKFRIDAY = "BLACKFRIDAY"
WELCOME_CODES = 1000
SHIPPING_PRICE = 1500

RULES = {
    "min_50": {"name": "order.amount", "conditions": {"$more_than_or_equal": [5000]},
               "error": "Spend at least 50.00 to use this code"},
    "once": {"name": "redemption.count.per_customer", "conditions": {"$less_than_or_equal": [1]},
             "error": "This offer can be used once per customer"},
    "budget": {"name": "campaign.orders.amount_discounted", "conditions": {"$less_than_or_equal": [500000]},
               "error": "The Black Friday budget is used up"},
    "min_200": {"name": "order.amount", "conditions": {"$more_than_or_equal": [20000]},
                "error": "Spend 200.00 to save 20.00"},
    "min_100": {"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]},
                "error": "Free shipping on orders over 100.00"},
}
RULE_NAMES = {"min_50": "Orders of 50.00 or more", "once": "Once per customer",
              "budget": "Black Friday budget 5,000.00", "min_200": "Orders of 200.00 or more",
              "min_100": "Orders of 100.00 or more"}

# What the demo shoppers try, with weights: (redeemables, lines in the cart).
SCENARIOS = {
    "welcome": 30, "welcome_again": 4, "blackfriday": 18, "blackfriday_again": 4, "spend_200": 14,
    "free_shipping": 12, "stack": 8, "welcome_and_shipping": 6, "unknown_code": 3,
}


def _demo_campaigns():
    return Campaign.objects.filter(metadata__demo=True, deleted_at__isnull=True)


def present() -> bool:
    return _demo_campaigns().exists() or Voucher.objects.filter(code=BLACKFRIDAY, metadata__demo=True).exists()


def _demo_redemptions():
    return Redemption.objects.filter(parent__isnull=True, customer__source_id__startswith="demo-")


def counts() -> dict:
    campaigns = _demo_campaigns()
    redemptions = _demo_redemptions()
    return {
        "campaigns": campaigns.count(),
        "vouchers": Voucher.objects.filter(campaign__in=campaigns).count()
        + Voucher.objects.filter(code=BLACKFRIDAY, metadata__demo=True).count(),
        "promotion_tiers": PromotionTier.objects.filter(campaign__in=campaigns).count(),
        "redemptions": redemptions.filter(result=Redemption.Result.SUCCESS).count(),
        "failed_redemptions": redemptions.filter(result=Redemption.Result.FAILURE).count(),
        "rolled_back": redemptions.filter(status=Redemption.Status.ROLLED_BACK).count(),
    }


def delete() -> dict:
    """Soft-delete the demo campaigns (names freed, history kept), delete BLACKFRIDAY and the demo rules."""
    before = counts()
    for campaign in _demo_campaigns():
        campaign_services.campaign_delete(campaign, force=True)
    voucher = Voucher.objects.filter(code=BLACKFRIDAY, metadata__demo=True).first()
    if voucher is not None:
        campaign_services.voucher_delete(voucher)
    for rule in ValidationRule.objects.filter(name__startswith=RULE_PREFIX):
        rule_services.rule_delete(rule)
    return before


# ---------------------------------------------------------------- creation

def _rules() -> dict[str, str]:
    ids = {}
    for key, spec in RULES.items():
        rule = rule_services.rule_create({
            "name": RULE_PREFIX + RULE_NAMES[key],
            "rules": {"1": {"name": spec["name"], "conditions": spec["conditions"]}},
            "error": {"message": spec["error"]}})
        ids[key] = rule.public_id
    return ids


def _iso(moment) -> str:
    return moment.isoformat()


def generate_codes(campaign: Campaign) -> None:
    """Make sure the campaign's queued code generation has run (see core.demo.run_pending_action)."""
    from core.demo import run_pending_action

    run_pending_action(campaign_services.GENERATE_ACTION, campaign=campaign.pk)


def seed(ctx) -> dict:
    from datetime import timedelta

    rules = _rules()
    started = ctx.now - timedelta(days=60)
    welcome = campaign_services.campaign_create({
        "name": WELCOME, "campaign_type": "DISCOUNT_COUPONS", "type": "STATIC",
        "description": "10% off a first order of 50.00 or more: one unique code per new customer.",
        "vouchers_count": WELCOME_CODES, "start_date": _iso(started), "metadata": DEMO,
        "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10},
                    "redemption": {"quantity": 1},
                    "code_config": {"length": 8, "charset": codes.UNAMBIGUOUS, "prefix": "WELCOME-"}},
        "validation_rules": [rules["min_50"], rules["once"]],
    })
    generate_codes(welcome)
    blackfriday = campaign_services.voucher_create({
        "code": BLACKFRIDAY, "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 20},
        "metadata": DEMO, "additional_info": "Black Friday: 20% off, once per customer, 5,000.00 budget",
        "validation_rules": [rules["once"], rules["budget"]],
    })
    sorry_campaign = campaign_services.campaign_create({
        "name": SORRY, "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE", "metadata": DEMO,
        "description": "Customer service gives these to customers who had a problem (back office console).",
        "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000},
                    "redemption": {"quantity": 1},
                    "code_config": {"length": 8, "charset": codes.UNAMBIGUOUS, "prefix": "SORRY-"}},
    })
    sorry_campaign = campaign_services.campaign_set_fields(sorry_campaign, {"sorry_coupons": True})
    for customer, reason in zip(ctx.rng.sample(ctx.customers, min(3, len(ctx.customers))),
                                ("Parcel arrived late", "Damaged item", "Charged twice, refunded"), strict=False):
        sorry.issue(customer, sorry_campaign, reason=reason)
    promotion = campaign_services.campaign_create({
        "name": PROMOTIONS, "campaign_type": "PROMOTION", "metadata": DEMO, "start_date": _iso(started),
        "description": "Discounts without a code: happy hour, spend and save, free shipping.",
        "promotion": {"tiers": [
            {"name": "Happy hour 15%", "banner": "15% off, weekdays 17:00-19:00",
             "action": {"discount": {"type": "PERCENT", "percent_off": 15}},
             "validity_hours": {"daily": [{"start_time": "17:00", "expiration_time": "19:00",
                                           "days_of_week": [1, 2, 3, 4, 5]}]}},
            {"name": "Spend 200.00, save 20.00", "banner": "20.00 off orders of 200.00 or more",
             "action": {"discount": {"type": "AMOUNT", "amount_off": 2000, "effect": "APPLY_TO_ORDER"}},
             "validation_rules": [rules["min_200"]]},
            {"name": "Free shipping over 100.00", "banner": "Free shipping on orders over 100.00",
             "action": {"discount": {"type": "UNIT", "unit_off": 1, "unit_type": FREE_SHIPPING_PRODUCT,
                                     "effect": "ADD_MISSING_ITEMS"}},
             "validation_rules": [rules["min_100"]]},
        ]},
    })
    tiers = {tier.name: tier for tier in PromotionTier.objects.filter(campaign=promotion)}
    stack = stack_create(promotion, {"name": "Big basket: save 20.00 + free shipping", "tiers": {
        "ids": [tiers["Spend 200.00, save 20.00"].public_id, tiers["Free shipping over 100.00"].public_id]}})
    ctx.made.update(welcome=welcome, blackfriday=blackfriday, sorry=sorry_campaign, promotion=promotion,
                    tiers=tiers, stack=stack)
    redeem_some(ctx)
    return counts()


# ---------------------------------------------------------------- redemptions

def cart(ctx, *, lines: tuple[int, int] = (1, 3), shipping: bool = False) -> list[dict]:
    """Items of a cart of demo products (a SKU when the product has variants), optionally with shipping."""
    rng = ctx.rng
    items, seen = [], set()
    for product in rng.sample(ctx.products, min(rng.randint(*lines), len(ctx.products))):
        skus = ctx.skus_by_product.get(product.pk)
        sku = rng.choice(skus) if skus else None
        if product.pk in seen:
            continue
        seen.add(product.pk)
        quantity = rng.choices((1, 2, 3), (75, 20, 5))[0]
        if sku is not None:
            items.append({"sku_id": sku.public_id, "related_object": "sku", "quantity": quantity, "price": sku.price})
        else:
            items.append({"product_id": product.public_id, "related_object": "product", "quantity": quantity,
                          "price": product.price})
    if shipping:
        items.append({"product_id": FREE_SHIPPING_PRODUCT, "quantity": 1, "price": SHIPPING_PRICE})
    return items


def attempt(ctx, redeemables: list[dict], items: list[dict], customer, order_id: str) -> str | None:
    """One checkout through promo.services.redeem: the parent redemption id, or None when refused (the
    refusal is recorded with its reasons by the engine)."""
    payload = {"redeemables": redeemables, "customer": {"source_id": customer.source_id},
               "order": {"source_id": order_id, "items": items, "status": "PAID",
                         "metadata": {"channel": ctx.rng.choice(("web", "web", "app", "store"))}}}
    try:
        return services.redeem(payload)["parent_redemption"]["id"]
    except ApiError:
        return None


def redeem_some(ctx) -> None:
    """The demo checkouts, in one transaction (each redemption is its own savepoint, as in any caller's
    transaction): one commit instead of hundreds keeps seed_demo fast on SQLite."""
    with transaction.atomic():
        _redeem_some(ctx)


def _redeem_some(ctx) -> None:
    rng, made = ctx.rng, ctx.made
    codes_left = list(Voucher.objects.filter(campaign=made["welcome"]).order_by("code")
                      .values_list("code", flat=True)[:ctx.redemptions])
    tiers, stack = made["tiers"], made["stack"]
    shipping_tier = {"object": "promotion_tier", "id": tiers["Free shipping over 100.00"].public_id}
    used_welcome, used_blackfriday, to_roll_back = [], [], None
    names, weights = list(SCENARIOS), list(SCENARIOS.values())
    for number in range(1, ctx.redemptions + 1):
        scenario = rng.choices(names, weights)[0]
        customer = rng.choice(ctx.customers)
        shipping, lines = False, (1, 3)
        if scenario == "welcome_again" and used_welcome:
            customer = rng.choice(used_welcome)  # a second welcome code: refused, once per customer
        if scenario == "blackfriday_again" and used_blackfriday:
            customer = rng.choice(used_blackfriday)
        if scenario.startswith("welcome"):
            if not codes_left:
                continue
            redeemables = [{"object": "voucher", "id": codes_left.pop()}]
            if scenario == "welcome_and_shipping":
                redeemables.append(shipping_tier)
                shipping = True
        elif scenario.startswith("blackfriday"):
            redeemables = [{"object": "voucher", "id": BLACKFRIDAY}]
            lines = (1, 4)
        elif scenario == "spend_200":
            spend = tiers["Spend 200.00, save 20.00"]
            redeemables, lines = [{"object": "promotion_tier", "id": spend.public_id}], (2, 5)
        elif scenario == "free_shipping":
            redeemables, shipping = [shipping_tier], True
        elif scenario == "stack":
            redeemables, shipping, lines = [{"object": "promotion_stack", "id": stack.public_id}], True, (2, 5)
        else:
            redeemables = [{"object": "voucher", "id": "WELCOME-2019"}]  # an old code that does not exist
        redemption_id = attempt(ctx, redeemables, cart(ctx, lines=lines, shipping=shipping), customer,
                                f"demo-rdm-{number:05d}")
        if redemption_id is None:
            continue
        if scenario.startswith("welcome"):
            used_welcome.append(customer)
            to_roll_back = to_roll_back or redemption_id
        elif scenario.startswith("blackfriday"):
            used_blackfriday.append(customer)
    if to_roll_back:
        services.rollback(to_roll_back, reason="Order canceled by the customer")
