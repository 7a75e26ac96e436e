"""The coupon-campaign wizard: what a marketer types (discount, what it applies to, audience, schedule, limits,
budget, codes) turned into the API's campaign request, created by the same service as POST /v1/campaigns
(promo.campaigns.campaign_create), so approvals, caps, category access and code generation behave alike.

Amounts are typed in major units (12.50) and become minor units (1250) here. Audience conditions come from
the rules registry (rules.conditions.CONDITIONS); limits and the budget become counter-backed conditions
(redemption.count.per_customer, campaign.redemptions.count, campaign.orders.amount_discounted) of one
validation rule assigned to the campaign. A discount on one product, SKU or collection (chosen from the
catalog) is the API's APPLY_TO_ITEMS discount with that item in the rule's applicable_to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from core.errors import ApiError, InvalidPayload
from core.models import AsyncAction
from promo import campaigns, codes, discounts
from promo.models import Campaign
from rules import services as rule_services
from rules.conditions import CONDITIONS, LimitCondition

SAMPLE_CODES = 5
PREVIEW_AMOUNTS = (2000, 5000, 10000)  # minor units: sample carts when none is given
# Item-targeted discounts: what the discount applies to (an applicable_to entry of the campaign's rule).
TARGET_OBJECTS = {"product": "Products", "sku": "SKUs", "products_collection": "Collections"}
MAX_TARGET_CHOICES = 500  # per kind in the dropdown
SAMPLE_ITEM_NAME = "the rest of the cart"

# Conditions a marketer picks in the rule builder (the registry's others need nested item rules or are the
# limits and budget asked for in their own section). Label shown; money conditions take major units.
CONDITION_LABELS = {
    "order.amount": "Order amount",
    "order.initial_amount": "Order amount before discounts",
    "order.items.count": "Number of items in the order",
    "order.metadata": "Order metadata",
    "customer.segment": "Customer segment (segment id)",
    "customer.email": "Customer e-mail",
    "customer.address.country": "Customer country",
    "customer.address.city": "Customer city",
    "customer.address.postal_code": "Customer postal code",
    "customer.metadata": "Customer metadata",
    "customer.orders.count": "Customer's number of orders",
    "customer.orders.amount": "Customer's total spent",
    "customer.orders.average_amount": "Customer's average order",
    "customer.created_at": "Customer since",
    "customer.last_order_date": "Customer's last order",
    "context.channel": "Sales channel",
    "context.day_of_week": "Day of the week (1 = Monday)",
    "context.time": "Time of day (HH:MM)",
}
OPERATOR_LABELS = {
    "$is": "is", "$is_not": "is not", "$in": "is one of", "$not_in": "is none of",
    "$more_than": "more than", "$more_than_or_equal": "at least", "$less_than": "less than",
    "$less_than_or_equal": "at most", "$contains": "contains", "$starts_with": "starts with",
    "$ends_with": "ends with", "$has_value": "is set", "$is_unknown": "is not set",
    "$after": "after (date)", "$before": "before (date)",
}
LIST_OPERATORS = ("$in", "$not_in")
VALUELESS = ("$has_value", "$is_unknown")
LOGIC = {"all": "and", "any": "or"}
CHARSET_LABELS = {
    "unambiguous": "Letters and digits, no look-alikes (2-9, A-Z without I, O)",
    "uppercase": "Uppercase letters",
    "alphanumeric": "Letters and digits",
    "numbers": "Digits only",
    "alphabetic": "Letters",
    "lowercase": "Lowercase letters",
}


def condition_choices() -> list[tuple[str, str]]:
    """(name, label) of the conditions the rule builder offers: registered, not limits."""
    return [(name, label) for name, label in CONDITION_LABELS.items()
            if name in CONDITIONS and not isinstance(CONDITIONS[name], LimitCondition)]


def needs_property(name: str) -> bool:
    condition = CONDITIONS.get(name)
    return bool(condition and condition.needs_property)


def to_minor(amount: Decimal | None) -> int | None:
    if amount is None:
        return None
    return int((Decimal(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class Condition:
    name: str
    operator: str
    value: str = ""
    property: str = ""


def _scalar(text: str, money: bool):
    text = text.strip()
    if money:
        try:
            return to_minor(Decimal(text.replace(",", ".")))
        except ArithmeticError:
            raise InvalidPayload(f"{text!r} is not an amount (e.g. 50 or 49.90)")
    try:
        return int(text) if text.lstrip("-").isdigit() else text
    except ValueError:
        return text


def condition_definition(row: Condition) -> dict:
    """One numbered condition of a rule: {"name", "property", "conditions": {operator: [values]}}."""
    if row.name not in dict(condition_choices()):
        raise InvalidPayload(f"Unknown condition {row.name!r}")
    if row.operator not in OPERATOR_LABELS:
        raise InvalidPayload(f"Unknown operator {row.operator!r}")
    money = rule_services.is_money_condition(row.name)
    if row.operator in VALUELESS:
        values = []
    elif row.operator in LIST_OPERATORS:
        values = [_scalar(part, money) for part in row.value.split(",") if part.strip()]
    else:
        values = [_scalar(row.value, money)] if row.value.strip() else []
    if row.operator not in VALUELESS and not values:
        raise InvalidPayload(f"{CONDITION_LABELS[row.name]} {OPERATOR_LABELS[row.operator]}: give a value")
    if needs_property(row.name) and not row.property.strip():
        raise InvalidPayload(f"{CONDITION_LABELS[row.name]}: name the metadata property")
    return {"name": row.name, "property": row.property.strip() or None, "conditions": {row.operator: values}}


@dataclass
class Plan:
    """The wizard's answers, in the engine's units (minor units for money)."""

    name: str
    discount_type: str  # PERCENT, AMOUNT, FIXED
    discount_value: Decimal
    description: str = ""
    category: object = None  # promo.models.Category or None
    max_discount: int | None = None  # PERCENT: at most this much off (amount_limit)
    conditions: tuple[Condition, ...] = ()
    match: str = "all"  # all | any of the audience conditions
    start_date: object = None
    expiration_date: object = None
    per_code: int | None = None  # redemptions of one code
    per_customer: int | None = None
    total_redemptions: int | None = None
    budget: int | None = None  # total discount given, minor units
    count: int = 0
    charset: str = "unambiguous"
    length: int = 8
    prefix: str = ""
    postfix: str = ""
    pattern: str = ""
    sorry_coupons: bool = False
    target: str = ""  # "" (the whole order) or "product:prod_…", "sku:sku_…", "products_collection:pc_…"


# ---------------------------------------------------------------- item targets

def target_choices(limit: int = MAX_TARGET_CHOICES) -> list:
    """The dropdown of what a discount may apply to: the whole order, or one product, SKU or collection of
    the catalog (grouped; at most `limit` of each kind, by name)."""
    from catalog.models import Product, ProductCollection, Sku

    groups = [
        ("product", [(p.public_id, p.name or p.source_id or p.public_id)
                     for p in Product.objects.order_by("name", "id")[:limit]]),
        ("sku", [(s.public_id, f"{s.product.name or s.product.public_id} / {s.sku or s.source_id or s.public_id}")
                 for s in Sku.objects.select_related("product").order_by("product__name", "sku", "id")[:limit]]),
        ("products_collection", [(c.public_id, c.name)
                                 for c in ProductCollection.objects.order_by("name", "id")[:limit]]),
    ]
    choices: list = [("", "The whole order")]
    for kind, rows in groups:
        if rows:
            choices.append((TARGET_OBJECTS[kind], [(f"{kind}:{ref}", label) for ref, label in rows]))
    return choices


@dataclass
class SampleItem:
    """The catalog item a targeted discount is shown on in the preview."""

    name: str
    price: int | None  # catalog unit price (minor units), None when the catalog has none
    product_id: str | None = None
    sku_id: str | None = None


def target_entry(plan: Plan) -> dict | None:
    """The applicable_to entry of the plan's target ({"object", "id"}), None for the whole order."""
    if not plan.target:
        return None
    kind, _sep, ref = plan.target.partition(":")
    if kind not in TARGET_OBJECTS or not ref:
        raise InvalidPayload("Choose what the discount applies to from the list")
    if sample_item(kind, ref) is None:
        raise InvalidPayload(f"Cannot find the {TARGET_OBJECTS[kind][:-1].lower()} {ref!r} in the catalog")
    return {"object": kind, "id": ref}


def sample_item(kind: str, ref: str) -> SampleItem | None:
    """A catalog item of the target: the product or SKU itself, or a product (else SKU) of the collection."""
    from catalog import selectors as catalog
    from catalog.models import ProductCollection

    if kind == "product":
        product = catalog.product_by_ref(ref)
        return SampleItem(product.name or product.public_id, product.price, product_id=product.public_id) \
            if product else None
    if kind == "sku":
        sku = catalog.sku_by_ref(ref)
        return SampleItem(f"{sku.product.name or sku.product.public_id} / {sku.sku or sku.public_id}",
                          sku.price if sku.price is not None else sku.product.price,
                          product_id=sku.product.public_id, sku_id=sku.public_id) if sku else None
    collection = ProductCollection.objects.filter(public_id=ref).first()
    if collection is None:
        return None
    product = catalog.collection_products(collection).order_by("id").first()
    if product is not None:
        return SampleItem(product.name or product.public_id, product.price, product_id=product.public_id)
    sku = catalog.collection_skus(collection).select_related("product").order_by("id").first()
    if sku is not None:
        return SampleItem(sku.sku or sku.public_id, sku.price if sku.price is not None else sku.product.price,
                          product_id=sku.product.public_id, sku_id=sku.public_id)
    return SampleItem(f"an item of {collection.name}", None)  # an empty collection: nothing would match


def discount_of(plan: Plan) -> dict:
    discount = _order_discount(plan)
    if plan.target:
        discount["effect"] = discounts.APPLY_TO_ITEMS
    return campaigns.clean_discount(discount)


def _order_discount(plan: Plan) -> dict:
    if plan.discount_type == "PERCENT":
        value = Decimal(plan.discount_value)
        discount = {"type": "PERCENT", "percent_off": int(value) if value == int(value) else float(value)}
        if plan.max_discount:
            discount["amount_limit"] = plan.max_discount
    elif plan.discount_type == "AMOUNT":
        discount = {"type": "AMOUNT", "amount_off": to_minor(plan.discount_value)}
    elif plan.discount_type == "FIXED":
        discount = {"type": "FIXED", "fixed_amount": to_minor(plan.discount_value)}
    else:
        raise InvalidPayload("Choose the kind of discount")
    return discount


def code_config_of(plan: Plan) -> dict:
    config = {"charset": codes.CHARSETS.get(plan.charset, codes.UNAMBIGUOUS), "prefix": plan.prefix,
              "postfix": plan.postfix}
    if plan.pattern:
        config["pattern"] = plan.pattern
    else:
        config["length"] = plan.length
    return codes.clean_code_config(config)


def rules_of(plan: Plan) -> dict:
    """The campaign's validation rule: the audience conditions combined by `match`, and the limits and
    budget, which always apply. Empty: no rule."""
    audience = [condition_definition(row) for row in plan.conditions]
    bounds = [("redemption.count.per_customer", plan.per_customer),
              ("campaign.redemptions.count", plan.total_redemptions),
              ("campaign.orders.amount_discounted", plan.budget)]
    limits = [{"name": name, "conditions": {"$less_than_or_equal": [bound]}} for name, bound in bounds if bound]
    numbered = {str(i): definition for i, definition in enumerate([*audience, *limits], start=1)}
    if not numbered:
        return {}
    audience_numbers = [str(i) for i in range(1, len(audience) + 1)]
    limit_numbers = [str(i) for i in range(len(audience) + 1, len(numbered) + 1)]
    parts = []
    if audience_numbers:
        joined = f" {LOGIC.get(plan.match, 'and')} ".join(audience_numbers)
        parts.append(f"({joined})" if len(audience_numbers) > 1 and limit_numbers else joined)
    parts.extend(limit_numbers)
    return rule_services.clean_rules({**numbered, "logic": " and ".join(parts)})


def rule_request(plan: Plan) -> dict | None:
    """The POST /v1/validation-rules body of the campaign's rule: the conditions (rules_of) and, for an
    item-targeted discount, applicable_to naming the product, SKU or collection. None: no rule."""
    definition = rules_of(plan)
    entry = target_entry(plan)
    if not definition and entry is None:
        return None
    data = {"name": f"{plan.name} (audience, limits and budget)", "rules": definition}
    if entry is not None:
        data["applicable_to"] = rule_services.clean_applicable_to({"included": [entry]})
    return data


def campaign_request(plan: Plan, rule_ids: list[str] | None = None) -> dict:
    """The POST /v1/campaigns body for the plan."""
    voucher = {"type": "DISCOUNT_VOUCHER", "discount": discount_of(plan), "code_config": code_config_of(plan),
               "redemption": {"quantity": plan.per_code}}
    data = {"name": plan.name, "description": plan.description, "campaign_type": "DISCOUNT_COUPONS",
            "type": "AUTO_UPDATE", "voucher": voucher, "vouchers_count": plan.count}
    if plan.category is not None:
        data["category_id"] = plan.category.public_id
    if plan.start_date:
        data["start_date"] = plan.start_date.isoformat()
    if plan.expiration_date:
        data["expiration_date"] = plan.expiration_date.isoformat()
    if rule_ids:
        data["validation_rules"] = rule_ids
    return data


# ---------------------------------------------------------------- preview

def sample_discount(discount: dict, amount: int, item: SampleItem | None = None) -> dict:
    """The discount on a sample cart of `amount` (minor units), by the engine's calculator. With an item
    (a targeted discount), the cart holds that item at its catalog price (half the cart when the catalog
    has none) and the rest of the amount on another line; the discount applies to the item's line only."""
    if item is None:
        state = discounts.OrderState(lines=[discounts.Line(index=0, quantity=1, price=amount, amount=amount)],
                                     amount=amount)
        taken = discounts.calculate(state, discount).total
        return {"amount": amount, "discount": taken, "total": amount - taken}
    price = item.price if item.price else max(1, amount // 2)
    lines = [discounts.Line(index=0, quantity=1, price=price, amount=price, product_id=item.product_id,
                            sku_id=item.sku_id)]
    if amount > price:
        lines.append(discounts.Line(index=1, quantity=1, price=amount - price, amount=amount - price))
    total = sum(line.amount for line in lines)
    state = discounts.OrderState(lines=lines, amount=total)
    effect = discounts.calculate(state, discount, [discounts.Target(lines={0})])
    taken = effect.total
    return {"amount": total, "discount": taken, "total": total - taken, "item_name": item.name,
            "item_price": price, "item_discount": effect.item_discounts.get(0, 0)}


def sample_codes(plan: Plan, count: int = SAMPLE_CODES) -> list[str]:
    return codes.random_codes(codes.CodeSpec.from_config(code_config_of(plan)), count)


def preview(plan: Plan, cart_amount: int | None = None) -> dict:
    """What the campaign would do: its discount on sample carts, sample codes, the rule as the engine stores it,
    and the problems found (each part independently, so one mistake does not hide the rest)."""
    out: dict = {"errors": [], "carts": [], "codes": [], "rules": {}, "discount": None, "target": ""}
    try:
        out["discount"] = discount_of(plan)
        entry = target_entry(plan)
        item = sample_item(entry["object"], entry["id"]) if entry else None
        amounts = [cart_amount] if cart_amount else list(PREVIEW_AMOUNTS)
        out["carts"] = [sample_discount(out["discount"], amount, item) for amount in amounts]
        out["target"] = item.name if item else ""
    except (ApiError, discounts.DiscountError) as exc:
        out["errors"].append(_message(exc))
    try:
        spec = codes.CodeSpec.from_config(code_config_of(plan))
        codes.check_code_space(spec, max(plan.count, 1))
        out["codes"] = sample_codes(plan)
    except ApiError as exc:
        out["errors"].append(_message(exc))
    try:
        out["rules"] = rules_of(plan)
    except ApiError as exc:
        out["errors"].append(_message(exc))
    return out


def _message(exc) -> str:
    return getattr(exc, "details", None) or getattr(exc, "message", None) or str(exc)


# ---------------------------------------------------------------- creating

@dataclass
class Created:
    campaign: Campaign
    action: AsyncAction | None


def create(plan: Plan, *, user) -> Created:
    """Create the campaign (and its validation rule) as `user`, in one transaction; the codes are generated
    by the async action queued when it commits. Raises ApiError (InvalidPayload, Forbidden, DuplicateFound)."""
    from core.context import acting
    from core.permissions import require

    require(user, "promo.add_campaign", "Your role may not create campaigns")
    rule_data = rule_request(plan)
    campaign_request(plan)  # refuse bad answers before anything is written
    with acting(user), transaction.atomic():
        rule_ids = []
        if rule_data:
            rule_ids.append(rule_services.rule_create(rule_data).public_id)
        campaign = campaigns.campaign_create(campaign_request(plan, rule_ids), user=user)
        if plan.sorry_coupons:
            campaign = campaigns.campaign_set_fields(campaign, {"sorry_coupons": True})
    action = (AsyncAction.objects.filter(type=campaigns.GENERATE_ACTION, payload__campaign=campaign.pk)
              .order_by("-id").first()) if plan.count else None
    return Created(campaign, action)
