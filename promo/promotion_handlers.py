"""Promotion tiers and stacks as redeemables: loaders for `promotion_tier` / `promotion_stack`, the
tier handler (checks, discount with bundles, counters), registered in PromoConfig.ready().

A stack is loaded as a group of its tiers (registry.Loaded.members): the engine applies them in the
stack's order, all of them or none, and each tier is its own child redemption.
"""

from __future__ import annotations

import json

from django.db.models import F, Q

from core.permissions import redeemable_in_scope
from distribution.services import emit
from promo import bundles, discounts
from promo.context import RedeemableRef
from promo.handlers import category_json, discount_result, resolve_unit_grants
from promo.models import CampaignEvent, PromotionStack, PromotionTier
from promo.registry import Applied, Loaded, RedeemableError
from promo.targets import resolve_targets
from promo.validity import check_validity
from rules import evaluation

KIND = "promotion_tier"


def _not_found(kind: str, ref_id: str) -> RedeemableError:
    return RedeemableError("not_found", "Resource not found", f"Cannot find {kind.replace('_', ' ')} with id {ref_id}",
                           code=404, resource_type=kind, resource_id=ref_id)


def _tiers():
    return PromotionTier.objects.select_related("campaign", "category", "campaign__category")


def load_tier(ref, ctx) -> Loaded:
    tier = _tiers().filter(public_id=ref.id).first() if ref.id else None
    if tier is None or tier.campaign.deleted_at or not redeemable_in_scope(tier.campaign):
        raise _not_found("promotion_tier", ref.id)
    return Loaded(handler=HANDLER, obj=tier)


def load_stack(ref, ctx) -> Loaded:
    stack = (PromotionStack.objects.select_related("campaign", "category").filter(public_id=ref.id).first()
             if ref.id else None)
    if stack is None or stack.campaign.deleted_at or not redeemable_in_scope(stack.campaign):
        raise _not_found("promotion_stack", ref.id)
    found = {t.public_id: t for t in _tiers().filter(campaign_id=stack.campaign_id, public_id__in=stack.tier_ids)}
    tiers = [found[i] for i in stack.tier_ids if i in found]
    if not tiers:
        raise RedeemableError("promotion_stack_empty", "Promotion stack has no tiers",
                              f"Promotion stack {ref.id} holds no promotion tiers", resource_type="promotion_stack",
                              resource_id=ref.id)
    members = [(RedeemableRef(object="promotion_tier", id=t.public_id), Loaded(handler=HANDLER, obj=t)) for t in tiers]
    return Loaded(handler=HANDLER, obj=stack, members=members)


def rule_targets(tier: PromotionTier) -> list[tuple[str, str]]:
    """Where validation rules may be assigned: the tier and its campaign (worked out once per tier object)."""
    targets = tier.__dict__.get("_rule_targets")
    if targets is None:
        targets = tier.__dict__["_rule_targets"] = [("promotion_tier", tier.public_id),
                                                    ("campaign", tier.campaign.public_id)]
    return targets


def unit_grants(discount: dict, ctx) -> list[discounts.UnitGrant]:
    """UNIT grants with catalog prices, looked up once for each discount definition (per request, or per
    cache generation in qualifications, which hand in a shared dict)."""
    cache = ctx.scratch.setdefault("unit_grants", {})
    held = cache.get(id(discount))  # the same definition again (a cached tier): no key to build
    if held is not None and held[0] is discount:
        return held[1]
    key = json.dumps(discount, sort_keys=True, default=str)
    found = cache.get(key)
    if found is None:
        found = cache[key] = resolve_unit_grants(discount)
    cache[id(discount)] = (discount, found)  # holding the definition: its id is not reused meanwhile
    return found


def bundle_rules(targets: list[tuple[str, str]], ctx) -> dict | None:
    for _scope, rule in evaluation.assigned_rules(targets, ctx):
        if rule.bundle_rules:
            return rule.bundle_rules
    return None


class PromotionTierHandler:
    kind = KIND

    def category(self, tier):
        """A tier's own category, else its campaign's (a stack: likewise)."""
        return tier.category or tier.campaign.category

    def campaign(self, tier):
        return tier.campaign

    def describe(self, tier: PromotionTier) -> dict:
        category = self.category(tier)
        return {"id": tier.public_id, "object": "promotion_tier", "metadata": tier.metadata or {},
                "categories": [category_json(category)] if category else [], "campaign_id": tier.campaign.public_id,
                "campaign_name": tier.campaign.name, "name": tier.name, "banner": tier.banner or None}

    def check(self, tier: PromotionTier, ctx, ref) -> None:
        campaign = tier.campaign
        if not tier.active or not getattr(campaign, "is_live", campaign.active):
            where = "campaign" if tier.active else "promotion tier"
            raise RedeemableError("promotion_tier_disabled", "Promotion tier is disabled", f"The {where} is disabled")
        checked = ctx.scratch.setdefault("campaign_validity", {})  # many tiers share a campaign: once each
        if campaign.pk not in checked:
            checked[campaign.pk] = _validity_error(campaign, ctx.now)
        if checked[campaign.pk] is not None:
            raise checked[campaign.pk]
        error = _validity_error(tier, ctx.now)
        if error is not None:
            raise error
        if tier.redemption_quantity is not None and tier.redeemed_quantity >= tier.redemption_quantity:
            raise RedeemableError("quantity_exceeded", "Quantity exceeded",
                                  f"The promotion tier can be redeemed {tier.redemption_quantity} times and has no "
                                  "uses left")

    def apply(self, tier: PromotionTier, ctx, ref) -> Applied:
        discount = tier.discount or {}
        if not discount:
            raise RedeemableError("invalid_promotion_tier", "Promotion tier has no discount",
                                  "This promotion tier has no discount defined")
        kind = discount.get("type")
        item_level = discounts.discount_level(discount) == discounts.ITEM_LEVEL
        if item_level and kind != discounts.UNIT and not ctx.has_items:
            raise RedeemableError("missing_order_items", "Missing order items",
                                  "This discount applies to items: send order.items")
        if not ctx.has_order and kind in (discounts.PERCENT, discounts.FIXED):
            raise RedeemableError("missing_amount", "Missing order amount",
                                  "This discount depends on the order: send order.amount or order.items")
        targets_spec = rule_targets(tier)
        # Rules first (most tiers of a busy shop fail on them); counter-backed limits depend on the discount,
        # so when a rule has some they are checked again below with the amount.
        limits = evaluation.check_rules(targets_spec, ctx, subject="promotion_tier", resource_id=tier.public_id)
        included, excluded = evaluation.applicable_to(targets_spec, ctx)
        targets, applicable_json, inapplicable_json = resolve_targets(included, excluded, ctx)
        grants = unit_grants(discount, ctx) if kind == discounts.UNIT else None
        result: dict = {}
        calculated = discount
        spec = bundle_rules(targets_spec, ctx)
        if spec is not None:
            calculated, targets, grants = self._bundled(spec, discount, targets, grants, ctx, result)
        try:
            effect = discounts.calculate(ctx.state, calculated, targets, grants)
        except discounts.DiscountError as exc:
            raise RedeemableError("invalid_promotion_tier", "Invalid discount", str(exc))
        if limits:
            limits = evaluation.check_rules(targets_spec, ctx, amount=effect.total, subject="promotion_tier",
                                            resource_id=tier.public_id)
        result["discount"] = discount_result(discount)
        return Applied(effect=effect, result=result, applicable_to=applicable_json, inapplicable_to=inapplicable_json,
                       amount=effect.total, limits=limits)

    @staticmethod
    def _bundled(spec: dict, discount: dict, targets, grants, ctx, result: dict):
        try:
            bundle = bundles.find(spec, ctx)
        except bundles.BundleError as exc:
            raise RedeemableError("invalid_promotion_tier", "Invalid bundle rules", str(exc))
        result["bundle"] = bundle.as_result()
        if not bundle.quantity:
            raise RedeemableError("order_rules_violated", "Order does not match the validation rules",
                                  bundle.explain_missing())
        calculated, targets = bundles.discount_for(bundle, discount, targets, ctx.state)
        if grants is not None:
            grants = bundles.scale_grants(grants, bundle.quantity)
        return calculated, targets, grants

    def rows(self, tier: PromotionTier) -> list:
        """What redeem() changes, for the engine to lock in the global order: the tier's counters."""
        return [(PromotionTier, "pk", tier.pk)]

    def rollback_rows(self, redemption, taken: dict) -> list:
        return [(PromotionTier, "public_id", redemption.related_object_id)] if taken.get("tier_use") else []

    def redeem(self, tier: PromotionTier, ctx, ref, applied: Applied) -> dict:
        taken = take_use(tier, applied.amount, ctx.state.total_amount)
        taken.update(evaluation.take_limits(applied.limits, ctx))
        return taken

    def rollback(self, redemption, taken: dict) -> None:
        give_back_use(redemption.related_object_id, taken)
        evaluation.give_back_limits(taken)


HANDLER = PromotionTierHandler()


def _validity_error(source, now) -> RedeemableError | None:
    try:
        check_validity(start_date=source.start_date, expiration_date=source.expiration_date,
                       timeframe=source.validity_timeframe, days_of_week=source.validity_day_of_week,
                       hours=source.validity_hours, now=now, subject="promotion")
    except RedeemableError as error:
        return error
    return None


def take_use(tier: PromotionTier, amount: int, order_total: int) -> dict:
    """One use of the tier with its amounts, in the redemption transaction: one conditional UPDATE."""
    within = Q(redemption_quantity__isnull=True) | Q(redemption_quantity__gt=F("redeemed_quantity"))
    if not PromotionTier.objects.filter(Q(pk=tier.pk) & within).update(
            redeemed_quantity=F("redeemed_quantity") + 1, discounted_amount=F("discounted_amount") + amount,
            orders_amount=F("orders_amount") + order_total):
        raise RedeemableError("quantity_exceeded", "Quantity exceeded",
                              "The promotion tier's last use was taken by another redemption")
    return {"tier_use": 1, "discounted_amount": amount, "orders_amount": order_total}


def give_back_use(tier_id: str, taken: dict) -> None:
    """Undo take_use (the rollback runs once: promo.services claims the parent redemption first)."""
    if not taken.get("tier_use"):
        return
    discounted, orders = taken.get("discounted_amount", 0), taken.get("orders_amount", 0)
    PromotionTier.objects.filter(public_id=tier_id, redeemed_quantity__gte=1, discounted_amount__gte=discounted,
                                 orders_amount__gte=orders).update(
        redeemed_quantity=F("redeemed_quantity") - 1, discounted_amount=F("discounted_amount") - discounted,
        orders_amount=F("orders_amount") - orders)


def budget_exhausted(scope: str, condition: str, limit: int) -> None:
    """A budget rule assigned to a tier ran out: disable the tier in the redemption's transaction."""
    kind, _, public_id = scope.partition(":")
    if kind != "promotion_tier":
        return
    tier = PromotionTier.objects.select_related("campaign").filter(public_id=public_id).first()
    if tier is not None and PromotionTier.objects.filter(pk=tier.pk, active=True).update(active=False):
        data = {"promotion_tier": public_id, "condition": condition, "limit": limit, "disabled": True}
        CampaignEvent.objects.create(campaign_id=tier.campaign_id, type="promotion_tier.budget_exhausted", data=data)
        emit("promotion_tier.budget_exhausted", data, campaign=tier.campaign)  # webhooks, sent after commit
