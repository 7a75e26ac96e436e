"""Builders for promotion campaigns, tiers, stacks, carts and rules used by the promotion tests."""

from __future__ import annotations

from catalog.models import Product, ProductCollection
from promo.models import Campaign, Category, PromotionStack, PromotionTier
from rules.models import ValidationRule, ValidationRuleAssignment


def promotion_campaign(name: str = "Promotions", **fields) -> Campaign:
    return Campaign.objects.create(name=name, campaign_type=Campaign.CampaignType.PROMOTION, **fields)


def tier(campaign: Campaign, name: str, discount: dict, *, rules: list[dict] | None = None,
         applicable_to: list[dict] | None = None, bundle: dict | None = None, **fields) -> PromotionTier:
    """A tier with one validation rule built from `rules` (conditions), `applicable_to` and `bundle`."""
    created = PromotionTier.objects.create(campaign=campaign, name=name, action={"discount": discount}, **fields)
    if rules or applicable_to or bundle:
        rule(created, rules or [], applicable_to=applicable_to, bundle=bundle)
    return created


def rule(target, conditions: list[dict], *, applicable_to=None, bundle=None, logic: str | None = None,
         name: str = "rule") -> ValidationRule:
    numbered = {str(i + 1): {"name": c["name"], "property": c.get("property"), "conditions": c["conditions"],
                             "rules": {}} for i, c in enumerate(conditions)}
    if logic:
        numbered["logic"] = logic
    created = ValidationRule.objects.create(name=name, rules=numbered, applicable_to=applicable_to or [],
                                            bundle_rules=bundle)
    kind = "promotion_tier" if isinstance(target, PromotionTier) else (
        "campaign" if isinstance(target, Campaign) else "voucher")
    ValidationRuleAssignment.objects.create(rule=created, related_object_type=kind, related_object_id=target.public_id)
    return created


def stack(campaign: Campaign, name: str, tiers: list[PromotionTier], category: Category | None = None):
    return PromotionStack.objects.create(campaign=campaign, name=name, tier_ids=[t.public_id for t in tiers],
                                         category=category)


def products(**prices: int) -> dict[str, Product]:
    return {name: Product.objects.create(source_id=name, name=name.title(), price=price)
            for name, price in prices.items()}


def collection(name: str, members: list[Product]) -> ProductCollection:
    found = ProductCollection.objects.create(name=name, type="STATIC")
    for product in members:
        found.items.create(product=product)
    return found


def line(source_id: str, quantity: int, price: int) -> dict:
    return {"source_id": source_id, "related_object": "product", "quantity": quantity, "price": price}


def cart(*lines: dict, **order) -> dict:
    return {"items": list(lines), **order}
