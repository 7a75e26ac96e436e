"""Product bundles: "A + B together at a fixed price (or a discount)", "buy 2 get 1", "any 3 from the
collection, cheapest free".

A bundle is defined by the `bundle_rules` of a validation rule assigned to a promotion tier (the
field exists in Voucherify's rule object; its inner shape is this project's):

    {"items": [{"object": "product" | "sku" | "products_collection", "id": "...", "quantity": 1}, ...],
     "limit": 1}

The cart holds `quantity` complete bundles (0..limit): for each bundle item, enough units of the
order lines it names; units are identified SKU items first, then products, then collections, each
line's units counted once, lines in cart order. With no complete bundle the tier does not apply
(`order_rules_violated`, listing what is missing). With bundles, the tier's discount works on them:

- AMOUNT: `amount_off` per bundle (multiplied by the quantity) for APPLY_TO_ORDER and the
  proportional effects, spread over the bundle's units when the effect is an item effect;
- PERCENT: `percent_off` off the bundle's units (whatever the effect);
- FIXED: the bundle's units cost `fixed_amount` per bundle together (a bundle price);
- UNIT: `unit_off` units per bundle.

When the tier's rules also name items (applicable_to: the "get" part of "buy X get Y"), an AMOUNT
or PERCENT discount goes to those items instead, and their quantity limits are per bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from promo import discounts
from promo.discounts import Target
from promo.money import split_capped
from promo.targets import matching_lines

SPECIFICITY = {"sku": 0, "product": 1, "products_collection": 2}
MAX_LIMIT = 100
PER_BUNDLE_EFFECTS = {None, discounts.APPLY_TO_ORDER, discounts.APPLY_TO_ITEMS_PROPORTIONALLY,
                      discounts.APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY}


class BundleError(ValueError):
    """bundle_rules that cannot be read."""


@dataclass
class Bundle:
    quantity: int
    limit: int
    identified: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    portions: dict[int, int] = field(default_factory=dict)  # line index -> units in the identified bundles

    def as_result(self) -> dict:
        shown = {"quantity": self.quantity, "limit": self.limit, "identified": self.identified}
        if self.missing:
            shown["missing"] = self.missing
        return shown

    def explain_missing(self) -> str:
        parts = [f"{m['item_quantity']} x {m['object']} {m['id']}" for m in self.missing]
        return "The order does not hold the bundle: missing " + ", ".join(parts)


def clean(bundle_rules: dict) -> tuple[list[dict], int]:
    items = bundle_rules.get("items") if isinstance(bundle_rules, dict) else None
    if not isinstance(items, list) or not items:
        raise BundleError("bundle_rules.items must be a non-empty list of {object, id, quantity}")
    cleaned = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("object") not in SPECIFICITY or not isinstance(item.get("id"), str):
            raise BundleError(f"bundle_rules.items[{index}] needs object (product, sku or products_collection) and id")
        quantity = item.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise BundleError(f"bundle_rules.items[{index}].quantity must be a positive integer")
        cleaned.append({"object": item["object"], "id": item["id"], "quantity": quantity})
    limit = bundle_rules.get("limit", 1)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BundleError(f"bundle_rules.limit must be an integer from 1 to {MAX_LIMIT}")
    return sorted(cleaned, key=lambda i: SPECIFICITY[i["object"]]), limit


def find(bundle_rules: dict, ctx) -> Bundle:
    """The complete bundles in the cart as it stands (ctx.state)."""
    items, limit = clean(bundle_rules)
    lines = ctx.state.lines
    matches = [sorted(matching_lines(item, ctx)) for item in items]
    ceiling = min(sum(lines[i].quantity for i in found) // item["quantity"] for item, found in zip(items, matches,
                                                                                                   strict=True))
    for quantity in range(min(limit, ceiling), 0, -1):
        taken, missing = _allocate(items, matches, lines, quantity)
        if not missing:
            return _identified(Bundle(quantity=quantity, limit=limit), items, taken, ctx)
    _taken, missing = _allocate(items, matches, lines, 1)
    return Bundle(quantity=0, limit=limit, missing=missing)


def most_worth(items: list[dict], limit: int, discount: dict, matches: list[set[int]],
               state: discounts.OrderState) -> int | None:
    """The most `discount` can take for these (cleaned) bundle items on the cart, without allocating units
    (BEST_DEAL's bound): None when only evaluating tells. `matches`: the lines each item names. A cart
    holds at most `quantity` bundles, and a bundle's units are worth at most each item's quantity times the
    dearest unit among its lines; FIXED takes what a bundle is worth above its price, per bundle; AMOUNT
    with a per-bundle effect its amount per bundle."""
    lines = state.lines
    quantity = min(limit, *(sum(lines[i].quantity for i in found) // item["quantity"]
                            for item, found in zip(items, matches, strict=True)))
    if quantity <= 0:
        return 0  # no complete bundle: the tier does not apply
    kind = discount.get("type")
    if kind == discounts.FIXED:
        per_bundle = sum(item["quantity"] * max((-(-lines[i].subtotal // lines[i].quantity)
                                                 for i in found if lines[i].quantity > 0), default=0)
                         for item, found in zip(items, matches, strict=True))
        return quantity * max(0, per_bundle - (discount.get("fixed_amount") or 0))
    if kind == discounts.AMOUNT and discount.get("effect") in PER_BUNDLE_EFFECTS:
        amount = discount.get("amount_off")
        return quantity * amount if isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0 else None
    return None


def _allocate(items: list[dict], matches: list[list[int]], lines, quantity: int):
    """Units per (item, line) for `quantity` bundles, and what is missing for them."""
    used: dict[int, int] = {}
    taken: list[list[tuple[int, int]]] = []
    missing = []
    for item, found in zip(items, matches, strict=True):
        need = item["quantity"] * quantity
        mine = []
        for index in found:
            units = min(need, lines[index].quantity - used.get(index, 0))
            if units > 0:
                mine.append((index, units))
                used[index] = used.get(index, 0) + units
                need -= units
        taken.append(mine)
        if need:
            missing.append({"id": item["id"], "object": item["object"], "item_quantity": need})
    return taken, missing


def _identified(bundle: Bundle, items: list[dict], taken: list[list[tuple[int, int]]], ctx) -> Bundle:
    for item, mine in zip(items, taken, strict=True):
        for index, units in mine:
            line = ctx.state.lines[index]
            info = ctx.items[index] if index < len(ctx.items) else None
            is_sku = item["object"] == "sku" and line.sku_id
            shown_id = line.sku_id if is_sku else (line.product_id or (info.source_id if info else None) or item["id"])
            bundle.identified.append({"id": shown_id, "object": "sku" if is_sku else "product", "item_index": index,
                                      "item_quantity": units})
            bundle.portions[index] = bundle.portions.get(index, 0) + units
    return bundle


def _portion_base(state: discounts.OrderState, index: int, units: int) -> int:
    line = state.lines[index]
    return max(0, line.subtotal if units >= line.quantity else line.subtotal * units // line.quantity)


def _per_bundle(target: Target, quantity: int) -> Target:
    scale = {name: getattr(target, name) * quantity for name in
             ("quantity_limit", "aggregated_quantity_limit", "amount_limit", "aggregated_amount_limit")
             if getattr(target, name) is not None}
    return replace(target, **scale)


def _spread(total: int, bundle: Bundle, state: discounts.OrderState, *, by_units: bool) -> tuple[dict, list[Target]]:
    """`total` off the bundle's units, split over its lines by value (or by units), largest remainder."""
    portions = list(bundle.portions.items())
    bases = [_portion_base(state, index, units) for index, units in portions]
    shares = split_capped(total, [units for _i, units in portions] if by_units else bases, bases)
    targets = [Target(lines={index}, quantity_limit=units, amount_limit=share)
               for (index, units), share in zip(portions, shares, strict=True)]
    return {"type": discounts.AMOUNT, "effect": discounts.APPLY_TO_ITEMS, "amount_off": max(shares, default=0)}, targets


def discount_for(bundle: Bundle, discount: dict, rule_targets: list[Target] | None,
                 state: discounts.OrderState) -> tuple[dict, list[Target] | None]:
    """The discount and targets the calculator gets for `bundle.quantity` bundles."""
    quantity, kind, effect = bundle.quantity, discount.get("type"), discount.get("effect")
    own = [Target(lines={index}, quantity_limit=units) for index, units in bundle.portions.items()]
    targets = [_per_bundle(t, quantity) for t in rule_targets] if rule_targets else own
    if kind == discounts.FIXED:
        price = discount.get("fixed_amount") or 0
        base = sum(_portion_base(state, index, units) for index, units in bundle.portions.items())
        return _spread(max(0, base - price * quantity), bundle, state, by_units=False)
    if kind == discounts.PERCENT:
        return {**discount, "effect": discounts.APPLY_TO_ITEMS}, targets
    if kind == discounts.AMOUNT:
        amount = (discount.get("amount_off") or 0) * (quantity if effect in PER_BUNDLE_EFFECTS else 1)
        if effect in (discounts.APPLY_TO_ITEMS_PROPORTIONALLY, discounts.APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY) \
                and not rule_targets:
            return _spread(amount, bundle, state,
                           by_units=effect == discounts.APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY)
        scaled = {**discount, "amount_off": amount}
        return scaled, (targets if effect in discounts.ITEM_EFFECTS else None)
    return discount, rule_targets  # UNIT: the grants are scaled by the caller


def scale_grants(grants: list[discounts.UnitGrant], quantity: int) -> list[discounts.UnitGrant]:
    return [replace(grant, unit_off=grant.unit_off * quantity) for grant in grants]
