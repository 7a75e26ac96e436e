"""PROMOTION campaigns: their tiers (discounts that apply without a code when the cart qualifies) and
promotion stacks (tiers that apply together). Writes and reads; the redemption side (loading a tier
for the engine, its counters) is in promo.promotion_handlers.

Input arrives API-shaped (Voucherify field names, `null` meaning "not given"). A tier's counters
(redeemed_quantity, discounted_amount, orders_amount) are never written here: edits are
column-limited UPDATEs, so a concurrent redemption's conditional UPDATE is never overwritten.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from core import audit
from core.errors import InvalidPayload, NotFound
from core.permissions import restrict
from promo import approvals
from promo import campaigns as campaign_services
from promo.campaign_selectors import campaign_get, usable_ref
from promo.models import Campaign, PromotionStack, PromotionTier
from rules.models import ValidationRuleAssignment

TIER_ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at")
STACK_ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at", "name", "-name")
MAX_TIERS_PER_CAMPAIGN = 500
MAX_TIERS_PER_STACK = 30
HIERARCHY_MODES = ("MANUAL",)
MAX_HIERARCHY = 10**6


# ================================================================ reads

def tier_queryset() -> QuerySet[PromotionTier]:
    return restrict(PromotionTier.objects.filter(campaign__deleted_at__isnull=True)
                    .select_related("campaign", "campaign__category", "category"))


def tier_find(ref) -> PromotionTier | None:
    if not usable_ref(ref):
        return None
    return tier_queryset().filter(public_id=ref).first()


def tier_get(ref) -> PromotionTier:
    tier = tier_find(ref)
    if tier is None:
        raise NotFound.for_object("promotion tier", ref)
    return tier


def available(queryset: QuerySet[PromotionTier], now: datetime | None = None) -> QuerySet[PromotionTier]:
    """Tiers that can apply now as far as switches and dates go (windows and rules are checked per cart)."""
    now = now or timezone.now()
    return queryset.filter(
        Q(active=True), Q(campaign__active=True),
        Q(start_date__isnull=True) | Q(start_date__lte=now),
        Q(expiration_date__isnull=True) | Q(expiration_date__gte=now),
        Q(campaign__start_date__isnull=True) | Q(campaign__start_date__lte=now),
        Q(campaign__expiration_date__isnull=True) | Q(campaign__expiration_date__gte=now))


def tier_list(*, campaign: Campaign | None = None, is_available: bool | None = None,
              order: str | None = None) -> QuerySet[PromotionTier]:
    tiers = tier_queryset()
    if campaign is not None:
        tiers = tiers.filter(campaign=campaign)
    if is_available:
        tiers = available(tiers)
    if order:
        return tiers.order_by(order, "-id" if order.startswith("-") else "id")
    return tiers.order_by("campaign_id", "hierarchy", "created_at", "id")


def stack_queryset() -> QuerySet[PromotionStack]:
    return restrict(PromotionStack.objects.filter(campaign__deleted_at__isnull=True).select_related("campaign",
                                                                                                   "category"))


def stack_get(campaign: Campaign, ref) -> PromotionStack:
    stack = stack_queryset().filter(campaign=campaign, public_id=ref).first() if usable_ref(ref) else None
    if stack is None:
        raise NotFound.for_object("promotion stack", ref)
    return stack


def stack_list(*, campaign: Campaign | None = None, order: str = "-created_at",
               created: tuple | None = None, updated: tuple | None = None) -> QuerySet[PromotionStack]:
    """`created` / `updated` are (after, before) bounds, either may be None."""
    stacks = stack_queryset()
    if campaign is not None:
        stacks = stacks.filter(campaign=campaign)
    for name, bounds in (("created_at", created), ("updated_at", updated)):
        after, before = bounds or (None, None)
        if after is not None:
            stacks = stacks.filter(**{f"{name}__gt": after})
        if before is not None:
            stacks = stacks.filter(**{f"{name}__lt": before})
    return stacks.order_by(order, "-id" if order.startswith("-") else "id")


def promotion_campaign_get(ref) -> Campaign:
    campaign = campaign_get(ref)
    if campaign.campaign_type != Campaign.CampaignType.PROMOTION:
        raise InvalidPayload(f"Campaign {campaign.public_id} is a {campaign.campaign_type} campaign, not a PROMOTION "
                             "campaign", key="invalid_campaign_type", message="Not a promotion campaign")
    return campaign


def tier_rule_assignments(tier_ids: list[str]) -> dict[str, list[ValidationRuleAssignment]]:
    from promo.campaign_selectors import assignments_for

    return assignments_for("promotion_tier", tier_ids)


# ================================================================ change signal for the qualifications cache

GENERATION_KEY = "promo:promotions:generation"


def definitions_generation() -> int:
    return cache.get(GENERATION_KEY, 0)


def definitions_changed() -> None:
    """Tiers or stacks changed: qualifications reload them once this commits (in every process when the
    cache is shared, i.e. Redis; otherwise in this one, the others within QUALIFICATIONS_CACHE_SECONDS)."""

    def bump() -> None:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:
            cache.set(GENERATION_KEY, 1, None)

    transaction.on_commit(bump)


# ================================================================ tiers: writes

TIER_FIELDS = ("name", "banner", "action", "metadata", "hierarchy", "active", "category", "category_id",
               "validation_rules", "redemption", *campaign_services.VALIDITY_FIELDS)


def _clean_action(value, path: str = "action") -> dict:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be an object with a discount")
    action = campaign_services.given(value)
    if "discount" not in action:
        raise InvalidPayload(f"{path}.discount is required: the discount the tier gives")
    return {"discount": campaign_services.clean_discount(action["discount"], f"{path}.discount")}


def clean_tier(data, *, path: str = "", creating: bool) -> tuple[dict, list | None]:
    """Model fields from an API-shaped tier, and the validation rules to assign (None: not given)."""
    data = campaign_services.given(data)
    campaign_services._nul_free(data, path or "tier")
    prefix = f"{path}." if path else ""
    fields: dict = {}
    if "name" in data or creating:
        fields["name"] = campaign_services.clean_name(data.get("name"), f"{prefix}name")
    if "banner" in data:
        fields["banner"] = campaign_services.clean_text(data["banner"], f"{prefix}banner", campaign_services.MAX_TEXT)
    if "action" in data or creating:
        if "action" not in data:
            raise InvalidPayload(f"{prefix}action is required: {{\"discount\": {{...}}}}")
        fields["action"] = _clean_action(data["action"], f"{prefix}action")
    if "metadata" in data:
        fields["metadata"] = campaign_services.clean_metadata("promotion_tier", data["metadata"], f"{prefix}metadata")
    if "hierarchy" in data:
        fields["hierarchy"] = campaign_services.clean_int(data["hierarchy"], f"{prefix}hierarchy", minimum=0,
                                                          maximum=MAX_HIERARCHY)
    if "active" in data:
        fields["active"] = campaign_services.clean_bool(data["active"], f"{prefix}active")
    category_given, category = campaign_services.resolve_category(data, f"{prefix}category")
    if category_given:
        fields["category"] = category
    given_quantity, quantity = campaign_services._redemption_quantity(data, f"{prefix}redemption")
    if given_quantity:
        fields["redemption_quantity"] = quantity
    fields.update(campaign_services.clean_validity(data, path))
    rules = campaign_services.clean_rules(data["validation_rules"], f"{prefix}validation_rules") \
        if "validation_rules" in data else None
    return fields, rules


def _next_hierarchy(campaign: Campaign) -> int:
    top = PromotionTier.objects.filter(campaign=campaign).aggregate(top=Max("hierarchy"))["top"]
    return (top or 0) + 1


def _check_room(campaign: Campaign, adding: int) -> None:
    if PromotionTier.objects.filter(campaign=campaign).count() + adding > MAX_TIERS_PER_CAMPAIGN:
        raise InvalidPayload(f"A promotion campaign holds at most {MAX_TIERS_PER_CAMPAIGN} tiers",
                             key="promotion_tiers_limit_exceeded", message="Too many promotion tiers")


def tiers_create(campaign: Campaign, tiers_data: list, *, path: str = "promotion.tiers") -> list[PromotionTier]:
    """Create the tiers of a PROMOTION campaign (inside the caller's transaction when there is one)."""
    if not isinstance(tiers_data, list):
        raise InvalidPayload(f"{path} must be a list of tiers")
    cleaned = [clean_tier(item, path=f"{path}[{index}]", creating=True) for index, item in enumerate(tiers_data)]
    for index, (fields, _rules) in enumerate(cleaned):
        campaign_services.check_validity(fields, f"{path}[{index}]")
    _check_room(campaign, len(cleaned))
    created = []
    with transaction.atomic():
        hierarchy = _next_hierarchy(campaign)
        for fields, rules in cleaned:
            fields.setdefault("hierarchy", hierarchy)
            hierarchy = max(hierarchy, fields["hierarchy"]) + 1
            tier = PromotionTier.objects.create(campaign=campaign, **fields)
            campaign_services.assign_rules(rules or [], "promotion_tier", tier.public_id)
            audit.record_create(tier, changes=_rules_change(rules) if rules else None)
            created.append(tier)
        definitions_changed()
    return created


def tier_create(campaign: Campaign, data) -> PromotionTier:
    if campaign.campaign_type != Campaign.CampaignType.PROMOTION:
        raise InvalidPayload("Promotion tiers belong to PROMOTION campaigns", key="invalid_campaign_type",
                             message="Not a promotion campaign")
    if data is not None and not isinstance(data, dict):
        raise InvalidPayload("The body must be a JSON object")
    with transaction.atomic():
        tier = tiers_create(campaign, [data or {}], path="")[0]
        review_tier(tier)
    return tier_get(tier.public_id)


def review_tier(tier: PromotionTier) -> bool:
    """A tier added or given a new discount after its campaign was approved: reviewed like a campaign's
    changed discount (promo.approvals.review_change), so a tier above a Junior Marketer's cap or past an
    approval threshold sends the campaign back to PENDING (disabled: none of its tiers applies) until a
    Marketer or Admin approves it again. True if it did."""
    campaign = Campaign.objects.get(pk=tier.campaign_id)
    return approvals.review_change(campaign, tier.discount)


def tier_update(tier: PromotionTier, data) -> PromotionTier:
    """PUT /v1/promotions/tiers/{id}: the given fields only; counters are left to the engine."""
    changes, rules = clean_tier(data, creating=False)
    merged = {key: getattr(tier, key) for key in campaign_services.VALIDITY_FIELDS}
    campaign_services.check_validity({**merged, **changes})
    quantity = changes.get("redemption_quantity")
    with transaction.atomic():
        before = audit.snapshot(tier, [PromotionTier._meta.get_field(k).attname for k in changes])
        if changes:
            updated = PromotionTier.objects.filter(pk=tier.pk)
            if quantity is not None:  # never below the uses already taken (the CHECK constraint backs this)
                updated = updated.filter(redeemed_quantity__lte=quantity)
            if not updated.update(**changes, updated_at=timezone.now()):
                raise InvalidPayload(f"redemption.quantity cannot be below the {tier.redeemed_quantity} uses taken")
        if rules is not None:
            campaign_services.assign_rules(rules, "promotion_tier", tier.public_id)
        audit.record_update(tier, before, changes=_rules_change(rules) if rules is not None else None)
        if "action" in changes:
            review_tier(PromotionTier.objects.get(pk=tier.pk))
        definitions_changed()
    return tier_get(tier.public_id)


def _rules_change(rules) -> dict | None:
    return {"validation_rules": [None, [r.public_id for r in rules]]} if rules is not None else None


def tier_set_active(tier: PromotionTier, active: bool) -> PromotionTier:
    with transaction.atomic():
        if PromotionTier.objects.filter(pk=tier.pk).exclude(active=active).update(active=active,
                                                                                   updated_at=timezone.now()):
            audit.record(audit.Action.UPDATE, tier, changes={"active": [not active, active]})
        definitions_changed()
    return tier_get(tier.public_id)


TIER_ADMIN_FIELDS = {"name", "banner", "action", "metadata", "hierarchy", "active", "category",
                     "redemption_quantity", *campaign_services.VALIDITY_FIELDS}


def clean_tier_fields(tier: PromotionTier, fields: dict) -> dict:
    """Model field values from a back-office form (None clears a date or the limit), checked by the API's
    rules. Raises ApiError."""
    unknown = set(fields) - TIER_ADMIN_FIELDS
    if unknown:
        raise InvalidPayload(f"These fields cannot be edited here: {', '.join(sorted(unknown))}")
    out = dict(fields)
    if "name" in out:
        out["name"] = campaign_services.clean_name(out["name"])
    if "banner" in out:
        out["banner"] = campaign_services.clean_text(out["banner"] or "", "banner", campaign_services.MAX_TEXT)
    if "action" in out:
        out["action"] = _clean_action(out["action"])
    if "metadata" in out:
        out["metadata"] = campaign_services.clean_metadata("promotion_tier", out["metadata"] or {})
    if "hierarchy" in out:
        out["hierarchy"] = campaign_services.clean_int(out["hierarchy"], "hierarchy", maximum=MAX_HIERARCHY)
    if out.get("redemption_quantity") is not None:
        out["redemption_quantity"] = campaign_services.clean_quantity(out["redemption_quantity"])
        if tier.pk and out["redemption_quantity"] < tier.redeemed_quantity:
            raise InvalidPayload(f"The redemption limit cannot be below the {tier.redeemed_quantity} uses taken",
                                 key="quantity_below_redeemed", message="Quantity below redeemed")
    for key, check in (("validity_timeframe", campaign_services.clean_timeframe),
                       ("validity_day_of_week", campaign_services.clean_days),
                       ("validity_hours", campaign_services.clean_hours)):
        if out.get(key) is not None:
            out[key] = check(out[key])
    campaign_services.check_validity({**{k: getattr(tier, k) for k in campaign_services.VALIDITY_FIELDS}, **out})
    return out


def tier_set_fields(tier: PromotionTier, fields: dict) -> PromotionTier:
    """Back-office edit: only the given columns are written (one UPDATE, never the counters), audited."""
    changes = clean_tier_fields(tier, fields)
    if not changes:
        return tier_get(tier.public_id)
    with transaction.atomic():
        stored = PromotionTier.objects.get(pk=tier.pk)  # a form has already set the new values on `tier`
        before = audit.snapshot(stored, [PromotionTier._meta.get_field(k).attname for k in changes])
        updated = PromotionTier.objects.filter(pk=tier.pk)
        quantity = changes.get("redemption_quantity")
        if quantity is not None:
            updated = updated.filter(redeemed_quantity__lte=quantity)
        if not updated.update(**changes, updated_at=timezone.now()):
            raise InvalidPayload(f"The redemption limit cannot be below the {stored.redeemed_quantity} uses taken",
                                 key="quantity_below_redeemed", message="Quantity below redeemed")
        audit.record_update(stored, before)
        if "action" in changes:
            review_tier(PromotionTier.objects.get(pk=tier.pk))
        definitions_changed()
    return tier_get(tier.public_id)


def tier_delete(tier: PromotionTier) -> None:
    """The tier, its rule assignments and its place in stacks go; redemption history keeps its id."""
    with transaction.atomic():
        for stack in PromotionStack.objects.select_for_update().filter(campaign_id=tier.campaign_id).order_by("pk"):
            if tier.public_id in (stack.tier_ids or []):
                remaining = [t for t in stack.tier_ids if t != tier.public_id]
                PromotionStack.objects.filter(pk=stack.pk).update(tier_ids=remaining, updated_at=timezone.now())
        ValidationRuleAssignment.objects.filter(related_object_type="promotion_tier",
                                                related_object_id=tier.public_id).delete()
        audit.record_delete(tier)
        tier.delete()
        definitions_changed()


# ================================================================ stacks: writes

def _clean_stack_tiers(campaign: Campaign, value, path: str = "tiers") -> dict:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be an object with ids (the promotion tiers, in order)")
    value = campaign_services.given(value)
    ids = value.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidPayload(f"{path}.ids must be a non-empty list of promotion tier ids")
    if len(ids) > MAX_TIERS_PER_STACK:
        raise InvalidPayload(f"{path}.ids may hold at most {MAX_TIERS_PER_STACK} tiers")
    if len(set(ids)) != len(ids):
        raise InvalidPayload(f"{path}.ids must not repeat a tier")
    found = set(PromotionTier.objects.filter(campaign=campaign, public_id__in=[i for i in ids if usable_ref(i)])
                .values_list("public_id", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"Cannot find promotion tier with id {missing[0]} in campaign {campaign.public_id}")
    mode = value.get("hierarchy_mode", "MANUAL")
    if mode not in HIERARCHY_MODES:
        raise InvalidPayload(f"{path}.hierarchy_mode must be MANUAL")
    return {"tier_ids": ids, "hierarchy_mode": mode}


def _stack_fields(campaign: Campaign, data, *, creating: bool) -> dict:
    data = campaign_services.given(data)
    campaign_services._nul_free(data, "stack")
    fields: dict = {}
    if "name" in data or creating:
        fields["name"] = campaign_services.clean_name(data.get("name"))
    if "tiers" in data or creating:
        fields.update(_clean_stack_tiers(campaign, data.get("tiers")))
    category_given, category = campaign_services.resolve_category(data)
    if category_given:
        fields["category"] = category
    return fields


def stack_create(campaign: Campaign, data) -> PromotionStack:
    if campaign.campaign_type != Campaign.CampaignType.PROMOTION:
        raise InvalidPayload("Promotion stacks belong to PROMOTION campaigns", key="invalid_campaign_type",
                             message="Not a promotion campaign")
    fields = _stack_fields(campaign, data, creating=True)
    with transaction.atomic():
        stack = PromotionStack.objects.create(campaign=campaign, **fields)
        audit.record_create(stack)
        definitions_changed()
    return stack_get(campaign, stack.public_id)


def stack_update(stack: PromotionStack, data) -> PromotionStack:
    fields = _stack_fields(stack.campaign, data, creating=False)
    if fields:
        with transaction.atomic():
            before = audit.snapshot(stack, [PromotionStack._meta.get_field(k).attname for k in fields])
            PromotionStack.objects.filter(pk=stack.pk).update(**fields, updated_at=timezone.now())
            audit.record_update(stack, before)
            definitions_changed()
    return stack_get(stack.campaign, stack.public_id)


def stack_delete(stack: PromotionStack) -> None:
    with transaction.atomic():
        audit.record_delete(stack)
        stack.delete()
        definitions_changed()


def stack_tiers(stack: PromotionStack) -> list[PromotionTier]:
    """The stack's tiers in the stack's order (tiers deleted since are left out)."""
    found = {t.public_id: t for t in tier_queryset().filter(public_id__in=stack.tier_ids or [])}
    return [found[i] for i in stack.tier_ids or [] if i in found]


# ================================================================ response shapes (Voucherify's)

def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def category_json(category) -> dict:
    return {"id": category.public_id, "name": category.name, "hierarchy": category.hierarchy, "object": "category",
            "created_at": _iso(category.created_at), "updated_at": _iso(category.updated_at)}


def _validity(source) -> dict:
    """Recurring windows as the spec shows them: left out when unset (the spec does not allow null)."""
    return {key: getattr(source, key) for key in ("validity_timeframe", "validity_day_of_week", "validity_hours")
            if getattr(source, key)}


def _assignments_json(rows) -> dict:
    data = [{"id": a.public_id, "rule_id": a.rule.public_id, "related_object_id": a.related_object_id,
             "related_object_type": a.related_object_type, "created_at": _iso(a.created_at),
             "object": "validation_rules_assignment"} for a in rows]
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}


def tier_json(tier: PromotionTier, assignments: list | None = None) -> dict:
    campaign = tier.campaign
    category = tier.category or campaign.category
    body = {
        "id": tier.public_id, "created_at": _iso(tier.created_at), "updated_at": _iso(tier.updated_at),
        "name": tier.name, "banner": tier.banner, "action": tier.action or {}, "metadata": tier.metadata or {},
        "hierarchy": tier.hierarchy, "promotion_id": campaign.public_id,
        "campaign": {"id": campaign.public_id, "start_date": _iso(campaign.start_date),
                     "expiration_date": _iso(campaign.expiration_date), **_validity(campaign),
                     "active": getattr(campaign, "is_live", campaign.active),
                     "category_id": campaign.category.public_id if campaign.category_id else None,
                     "object": "campaign"},
        "campaign_id": campaign.public_id, "active": tier.active, "start_date": _iso(tier.start_date),
        "expiration_date": _iso(tier.expiration_date), **_validity(tier),
        "summary": {"redemptions": {"total_redeemed": tier.redeemed_quantity},
                    "orders": {"total_amount": tier.orders_amount, "total_discount_amount": tier.discounted_amount}},
        "object": "promotion_tier",
        "validation_rule_assignments": _assignments_json(
            assignments if assignments is not None else tier_rule_assignments([tier.public_id])[tier.public_id]),
        "category_id": category.public_id if category else None,
        "categories": [category_json(category)] if category else [],
        "redemption": {"quantity": tier.redemption_quantity, "redeemed_quantity": tier.redeemed_quantity},
    }
    return body


def tiers_json(tiers: list[PromotionTier]) -> list[dict]:
    found = tier_rule_assignments([t.public_id for t in tiers])
    return [tier_json(t, found[t.public_id]) for t in tiers]


def tiers_list_json(tiers: list[PromotionTier], *, data_ref: str = "tiers", total: int | None = None,
                    has_more: bool = False) -> dict:
    return {"object": "list", "data_ref": data_ref, data_ref: tiers_json(tiers),
            "total": len(tiers) if total is None else total, "has_more": has_more}


def stack_json(stack: PromotionStack) -> dict:
    category = stack.category
    return {"id": stack.public_id, "name": stack.name,
            "tiers": {"ids": list(stack.tier_ids or []), "hierarchy_mode": stack.hierarchy_mode},
            "created_at": _iso(stack.created_at), "updated_at": _iso(stack.updated_at),
            "campaign_id": stack.campaign.public_id, "object": "promotion_stack",
            "category_id": category.public_id if category else None,
            "categories": [category_json(category)] if category else []}
