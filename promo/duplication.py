"""Duplicate a campaign: its settings, voucher template, validation-rule assignments and (PROMOTION) tiers
and stacks, never its codes, redemptions or counters.

The copy is created through promo.campaigns.campaign_create from an API-shaped request, so it goes through
exactly what a new campaign goes through: the category check of the person duplicating, the approval rules
(a Junior Marketer's copy waits for approval), and the audit log.
"""

from __future__ import annotations

from django.db import transaction

from promo import campaigns as campaign_services
from promo import promotions
from promo.campaign_selectors import assignments_for
from promo.models import Campaign, PromotionStack, PromotionTier

COPY_PREFIX = "Copy of "
MAX_COPIES = 100
_CAMPAIGN_VALIDITY = ("validity_timeframe", "validity_day_of_week", "validity_hours")


def copy_name(name: str) -> str:
    """"Copy of X", or "Copy of X (2)" ... when that name is taken (names are unique)."""
    base = (COPY_PREFIX + name)[:campaign_services.MAX_NAME]
    if not Campaign.objects.filter(name=base).exists():
        return base
    for number in range(2, MAX_COPIES + 2):
        suffix = f" ({number})"
        candidate = base[:campaign_services.MAX_NAME - len(suffix)] + suffix
        if not Campaign.objects.filter(name=candidate).exists():
            return candidate
    return base  # campaign_create answers "already exists"


def _rule_ids(object_type: str, object_id: str) -> list[str]:
    return [a.rule.public_id for a in assignments_for(object_type, [object_id])[object_id]]


def _iso(moment) -> str | None:
    return campaign_services._iso(moment)


def _validity(source) -> dict:
    data = {key: _iso(getattr(source, key)) for key in ("start_date", "expiration_date") if getattr(source, key)}
    data.update({key: getattr(source, key) for key in _CAMPAIGN_VALIDITY if getattr(source, key)})
    return data


def _template(campaign: Campaign) -> dict:
    """The stored voucher template in the request's shape (it is stored as the API shows it)."""
    template = {key: value for key, value in (campaign.voucher_template or {}).items() if value is not None}
    quantity = (template.get("redemption") or {}).get("quantity")
    template["redemption"] = {"quantity": quantity} if quantity is not None else {}
    return template


def _tier_request(tier: PromotionTier) -> dict:
    data = {"name": tier.name, "banner": tier.banner, "action": tier.action, "metadata": tier.metadata or {},
            "hierarchy": tier.hierarchy, "active": tier.active, **_validity(tier),
            "validation_rules": _rule_ids("promotion_tier", tier.public_id)}
    if tier.category_id:
        data["category_id"] = tier.category.public_id
    if tier.redemption_quantity is not None:
        data["redemption"] = {"quantity": tier.redemption_quantity}
    return data


def campaign_request(campaign: Campaign, name: str) -> dict:
    """The POST /v1/campaigns body that creates a copy of `campaign` named `name`, without codes."""
    data = {"name": name, "description": campaign.description, "campaign_type": campaign.campaign_type,
            "type": campaign.type, "join_once": campaign.join_once, "auto_join": campaign.auto_join,
            "metadata": campaign.metadata or {}, "exclusive": campaign.exclusive, **_validity(campaign),
            "validation_rules": _rule_ids("campaign", campaign.public_id)}
    if campaign.category_id:
        data["category_id"] = campaign.category.public_id
    if campaign.campaign_type == Campaign.CampaignType.PROMOTION:
        tiers = PromotionTier.objects.filter(campaign=campaign).select_related("category").order_by(
            "hierarchy", "created_at", "id")
        data["promotion"] = {"tiers": [_tier_request(tier) for tier in tiers]}
    else:
        data["voucher"] = _template(campaign)
    return data


def campaign_duplicate(campaign: Campaign, *, user=None, api_key=None, name: str | None = None) -> Campaign:
    """A new campaign like `campaign` (see the module doc); its stacks point at the copied tiers."""
    with transaction.atomic():
        copy = campaign_services.campaign_create(campaign_request(campaign, name or copy_name(campaign.name)),
                                                 user=user, api_key=api_key)
        if campaign.sorry_coupons:
            campaign_services.campaign_set_fields(copy, {"sorry_coupons": True})
        if campaign.campaign_type == Campaign.CampaignType.PROMOTION:
            _copy_stacks(campaign, copy)
    return Campaign.objects.get(pk=copy.pk)


def _copy_stacks(source: Campaign, copy: Campaign) -> None:
    old = list(PromotionTier.objects.filter(campaign=source).order_by("hierarchy", "created_at", "id")
               .values_list("public_id", flat=True))
    new = list(PromotionTier.objects.filter(campaign=copy).order_by("hierarchy", "created_at", "id")
               .values_list("public_id", flat=True))
    mapping = dict(zip(old, new, strict=False))
    for stack in PromotionStack.objects.filter(campaign=source).select_related("category").order_by("created_at",
                                                                                                     "id"):
        ids = [mapping[t] for t in stack.tier_ids or [] if t in mapping]
        if not ids:
            continue
        data = {"name": stack.name, "tiers": {"ids": ids, "hierarchy_mode": stack.hierarchy_mode}}
        if stack.category_id:
            data["category_id"] = stack.category.public_id
        promotions.stack_create(copy, data)
