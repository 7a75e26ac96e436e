"""The promotion-campaign wizard: a PROMOTION campaign (discounts without a code) with 1..N tiers, each a
plain discount (percent or amount off the order, free shipping, percent off a product or a collection), an
optional threshold (order amount at least X) and a banner; a schedule with an optional happy-hour window
(days of the week and a time window in the project's time zone) for the tiers that ask for it.

The answers become the API's request (POST /v1/campaigns with campaign_type PROMOTION and promotion.tiers)
and are created by the same service (promo.campaigns.campaign_create, which creates the tiers through
promo.promotions.tiers_create), so approvals, caps and category access behave as for the API. The live
preview creates the campaign inside a savepoint that is always rolled back and asks the redemption engine
(promo.engine.evaluate, the code behind POST /v1/validations) which tiers apply to a sample cart at a
sample moment and what each gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from backoffice.wizard import _message, to_minor
from core.errors import ApiError, InvalidPayload
from promo import campaigns, discounts
from promo.models import Campaign, PromotionTier
from rules import services as rule_services

# What a tier gives, as a marketer says it.
DISCOUNT_KINDS = {
    "PERCENT_ORDER": "Percent off the order",
    "AMOUNT_ORDER": "Amount off the order",
    "FREE_SHIPPING": "Free shipping",
    "PERCENT_PRODUCT": "Percent off a product",
    "PERCENT_COLLECTION": "Percent off a collection",
}
TARGETED = {"PERCENT_PRODUCT": "product", "PERCENT_COLLECTION": "products_collection"}
# Days as the API numbers them (0 = Sunday), listed from Monday.
DAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (0, "Sun")]
PREVIEW_AMOUNT = 12000  # minor units, when no sample cart is given
SHIPPING_PRICE = 500  # the sample cart's shipping line (free-shipping tiers take it off)
PREVIEW_PREFIX = "wizard preview "


@dataclass
class Tier:
    name: str
    kind: str  # a DISCOUNT_KINDS key
    value: Decimal | None = None  # percent, or an amount in major units
    target: str = ""  # product or collection id (source id) for the PERCENT_PRODUCT/COLLECTION kinds
    min_amount: int | None = None  # minor units: the tier applies to orders of at least this much
    banner: str = ""
    in_window: bool = False  # only during the recurring window of the schedule


@dataclass
class Plan:
    name: str
    tiers: tuple[Tier, ...]
    description: str = ""
    category: object = None  # promo.models.Category or None
    exclusive: bool = False
    start_date: datetime | None = None
    expiration_date: datetime | None = None
    days: tuple[int, ...] = ()  # 0 = Sunday
    window_start: time | None = None
    window_end: time | None = None
    extra: dict = field(default_factory=dict)


def discount_of(tier: Tier) -> dict:
    """The engine's discount for a tier (checked by the API's clean_discount)."""
    if tier.kind not in DISCOUNT_KINDS:
        raise InvalidPayload(f"Tier {tier.name!r}: choose what it gives")
    if tier.kind == "FREE_SHIPPING":
        discount = {"type": "UNIT", "unit_off": 1, "unit_type": discounts.FREE_SHIPPING_PRODUCT,
                    "effect": "ADD_MISSING_ITEMS"}
    elif tier.value is None:
        raise InvalidPayload(f"Tier {tier.name!r}: give the discount's value")
    elif tier.kind == "AMOUNT_ORDER":
        discount = {"type": "AMOUNT", "amount_off": to_minor(tier.value), "effect": "APPLY_TO_ORDER"}
    else:
        value = Decimal(tier.value)
        percent = int(value) if value == int(value) else float(value)
        discount = {"type": "PERCENT", "percent_off": percent,
                    "effect": "APPLY_TO_ITEMS" if tier.kind in TARGETED else "APPLY_TO_ORDER"}
    try:
        return campaigns.clean_discount(discount, f"tier {tier.name!r}")
    except ApiError as exc:
        raise InvalidPayload(f"Tier {tier.name!r}: {_message(exc)}")


def window_of(plan: Plan) -> dict | None:
    """validity_hours for the happy-hour window (None: no window)."""
    if not (plan.window_start or plan.window_end or plan.days):
        return None
    if not (plan.window_start and plan.window_end):
        raise InvalidPayload("Recurring window: give the time it starts and the time it ends (e.g. 17:00 to 19:00)")
    if plan.window_start == plan.window_end:
        raise InvalidPayload("Recurring window: the end must differ from the start")
    window = {"start_time": plan.window_start.strftime("%H:%M"), "expiration_time": plan.window_end.strftime("%H:%M")}
    if plan.days:
        window["days_of_week"] = sorted(set(plan.days))
    return campaigns.clean_hours({"daily": [window]})


def describe_window(hours: dict | None) -> str:
    """validity_hours in words: "Mon, Tue 17:00-19:00" (or "always")."""
    names = dict(DAYS)
    parts = []
    for window in (hours or {}).get("daily") or []:
        days = window.get("days_of_week")
        order = [n for n, _label in DAYS]
        when = ", ".join(names[d] for d in sorted(days, key=order.index)) if days else "every day"
        parts.append(f"{when} {window.get('start_time')}-{window.get('expiration_time')}")
    return "; ".join(parts) or "always"


def rule_of(tier: Tier) -> dict | None:
    """The tier's validation rule (threshold and/or the product or collection it discounts), API-shaped."""
    if tier.min_amount is None and tier.kind not in TARGETED:
        return None
    data: dict = {"name": f"{tier.name} (wizard)", "rules": {}}
    if tier.min_amount is not None:
        data["rules"] = rule_services.clean_rules({"1": {"name": "order.amount", "conditions": {
            "$more_than_or_equal": [tier.min_amount]}}, "logic": "1"})
    if tier.kind in TARGETED:
        if not tier.target.strip():
            raise InvalidPayload(f"Tier {tier.name!r}: name the {TARGETED[tier.kind].replace('products_', '')} "
                                 "it discounts (its id or source id)")
        data["applicable_to"] = {"included": [{"object": TARGETED[tier.kind], "id": tier.target.strip()}]}
    return data


def check(plan: Plan) -> None:
    """Refuse what cannot be created before anything is written."""
    if not plan.tiers:
        raise InvalidPayload("Add at least one tier: what the promotion gives")
    window = window_of(plan)
    if any(t.in_window for t in plan.tiers) and window is None:
        raise InvalidPayload("A tier is limited to the recurring window: set the window's days and times")
    for tier in plan.tiers:
        discount_of(tier)
        rule = rule_of(tier)
        if rule and rule.get("applicable_to"):
            rule_services.clean_applicable_to(rule["applicable_to"])


def campaign_request(plan: Plan, rule_ids: dict[int, str] | None = None) -> dict:
    """The POST /v1/campaigns body (rule_ids: tier index -> the id of its validation rule)."""
    window = window_of(plan)
    tiers = []
    for index, tier in enumerate(plan.tiers):
        data = {"name": tier.name, "action": {"discount": discount_of(tier)}, "hierarchy": index + 1}
        if tier.banner:
            data["banner"] = tier.banner
        if tier.in_window and window:
            data["validity_hours"] = window
        if rule_ids and index in rule_ids:
            data["validation_rules"] = [rule_ids[index]]
        tiers.append(data)
    request = {"name": plan.name, "description": plan.description, "campaign_type": "PROMOTION",
               "exclusive": plan.exclusive, "promotion": {"tiers": tiers}, **plan.extra}
    if plan.category is not None:
        request["category_id"] = plan.category.public_id
    if plan.start_date:
        request["start_date"] = plan.start_date.isoformat()
    if plan.expiration_date:
        request["expiration_date"] = plan.expiration_date.isoformat()
    return request


def _build(plan: Plan, *, user=None) -> Campaign:
    """The rules and the campaign with its tiers (in the caller's transaction)."""
    rule_ids = {}
    for index, tier in enumerate(plan.tiers):
        rule = rule_of(tier)
        if rule:
            rule_ids[index] = rule_services.rule_create(rule).public_id
    return campaigns.campaign_create(campaign_request(plan, rule_ids), user=user)


# ---------------------------------------------------------------- preview

class _Rollback(Exception):
    pass


def sample_moment(plan: Plan, now: datetime | None = None) -> datetime:
    """When the preview looks at the cart: now, or the next start of the window (or of the campaign)."""
    now = timezone.localtime(now or timezone.now())
    moment = max(now, timezone.localtime(plan.start_date)) if plan.start_date else now
    if plan.window_start and plan.window_end:
        days = set(plan.days) or set(range(7))
        for offset in range(8):
            day = (moment + timedelta(days=offset)).date()
            start = timezone.make_aware(datetime.combine(day, plan.window_start))
            end = timezone.make_aware(datetime.combine(day, plan.window_end))
            if end <= start:
                end += timedelta(days=1)
            if (day.isoweekday() % 7) in days and end > moment:
                return max(start, moment) + timedelta(minutes=1) if start <= moment else start + timedelta(minutes=1)
    return moment


def sample_order(amount: int, tiers: tuple[Tier, ...]) -> dict:
    """A cart of `amount`: one line per product or collection a tier targets (the rest on a plain line),
    plus shipping when a tier gives free shipping."""
    items = []
    targets = [t.target.strip() for t in tiers if t.kind in TARGETED and t.target.strip()]
    if any(t.kind == "PERCENT_PRODUCT" and t.target.strip() for t in tiers):
        share = amount // (len(targets) + 1)
        for tier in tiers:
            if tier.kind == "PERCENT_PRODUCT" and tier.target.strip():
                items.append({"product_id": tier.target.strip(), "quantity": 1, "price": share, "amount": share})
    rest = amount - sum(i["amount"] for i in items)
    if rest > 0:
        items.append({"product_id": "prod_wizard_sample", "quantity": 1, "price": rest, "amount": rest})
    if any(t.kind == "FREE_SHIPPING" for t in tiers):
        items.append({"product_id": discounts.FREE_SHIPPING_PRODUCT, "quantity": 1, "price": SHIPPING_PRICE,
                      "amount": SHIPPING_PRICE})
    return {"amount": sum(i["amount"] for i in items), "items": items}


def preview(plan: Plan, cart_amount: int | None = None, at: datetime | None = None) -> dict:
    """Which tiers apply to a sample cart at a sample moment and what each gives, by the engine, on the
    campaign created in a savepoint that is rolled back."""
    from promo.api.payload import parse_stacked_request
    from promo.context import build_context
    from promo.engine import APPLICABLE, evaluate
    from promo.stacking import project_stacking_rules

    out: dict = {"errors": [], "tiers": [], "order": None, "at": None, "total_discount": 0}
    try:
        check(plan)
    except ApiError as exc:
        out["errors"].append(_message(exc))
        return out
    moment = at or sample_moment(plan)
    order = sample_order(cart_amount or PREVIEW_AMOUNT, plan.tiers)
    out["at"], out["order"] = moment, order
    probe = Plan(**{**plan.__dict__, "name": f"{PREVIEW_PREFIX}{timezone.now().timestamp()}"})
    stacking = replace(project_stacking_rules(), redeemables_application_mode="PARTIAL")

    def run(tiers: list[PromotionTier]) -> dict:
        payload = parse_stacked_request({"redeemables": [{"object": "promotion_tier", "id": t.public_id}
                                                         for t in tiers], "order": order})
        ctx = build_context(payload)
        ctx.now = moment
        return {c.ref.id: c for c in evaluate(ctx, stacking).candidates}

    try:
        with transaction.atomic():
            campaign = _build(probe)  # as the system: the preview ignores approvals
            tiers = list(PromotionTier.objects.filter(campaign=campaign).order_by("hierarchy", "id"))
            together = run(tiers)  # all tiers at once: what the cart gets under the stacking rules
            for tier, planned in zip(tiers, plan.tiers, strict=True):
                alone = run([tier]).get(tier.public_id)  # what this tier gives on its own, or why not
                applies = alone is not None and alone.status == APPLICABLE
                reason = ""
                if not applies and alone is not None:
                    reason = alone.error.details if alone.error else (alone.skip_key or "not applied")
                joint = together.get(tier.public_id)
                counted = joint is not None and joint.status == APPLICABLE and joint.applied is not None
                out["tiers"].append({"name": planned.name, "applies": applies, "reason": reason,
                                     "discount": alone.applied.amount if applies and alone.applied else 0,
                                     "combined": counted, "banner": planned.banner})
                out["total_discount"] += joint.applied.amount if counted else 0
            raise _Rollback
    except _Rollback:
        pass
    except ApiError as exc:
        out["errors"].append(_message(exc))
    return out


# ---------------------------------------------------------------- creating

def create(plan: Plan, *, user) -> Campaign:
    """Create the campaign, its tiers and their rules as `user`, in one transaction."""
    from core.context import acting
    from core.permissions import require

    require(user, "promo.add_campaign", "Your role may not create campaigns")
    check(plan)
    if plan.name.startswith(PREVIEW_PREFIX):
        raise InvalidPayload("Choose another name")
    with acting(user), transaction.atomic():
        return _build(plan, user=user)
