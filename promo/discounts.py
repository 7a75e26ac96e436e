"""The discount calculator: what one discount takes off an order in its current state.

Pure Python, no database: the engine resolves products, collections and prices first and
hands in `Line`s (order items) with the set of targets each one matches. Every result is an
integer in minor units; a discount never exceeds what it applies to.

Order of application (the engine's job, documented in docs/promotions.md): redeemables are
applied one after another, item-level discounts first, then order-level ones (discount_level);
each sees the order as the previous ones left it. Order-level
discounts take from the current total (amount minus all discounts so far); item-level
discounts take from each line's current subtotal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from promo.money import percent_of, split_capped

# Discount types and effects, exactly as the Voucherify spec names them.
AMOUNT, PERCENT, FIXED, UNIT = "AMOUNT", "PERCENT", "FIXED", "UNIT"
APPLY_TO_ORDER = "APPLY_TO_ORDER"
APPLY_TO_ITEMS = "APPLY_TO_ITEMS"
APPLY_TO_ITEMS_PROPORTIONALLY = "APPLY_TO_ITEMS_PROPORTIONALLY"
APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY = "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"
APPLY_TO_ITEMS_BY_QUANTITY = "APPLY_TO_ITEMS_BY_QUANTITY"
ADD_MISSING_ITEMS, ADD_NEW_ITEMS, ADD_MANY_ITEMS, ADD_SAME_ITEMS = (
    "ADD_MISSING_ITEMS", "ADD_NEW_ITEMS", "ADD_MANY_ITEMS", "ADD_SAME_ITEMS")
ITEM_EFFECTS = {APPLY_TO_ITEMS, APPLY_TO_ITEMS_PROPORTIONALLY, APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY,
                APPLY_TO_ITEMS_BY_QUANTITY}
EFFECTS_BY_TYPE = {
    AMOUNT: {APPLY_TO_ORDER} | ITEM_EFFECTS,
    PERCENT: {APPLY_TO_ORDER, APPLY_TO_ITEMS},
    FIXED: {APPLY_TO_ORDER, APPLY_TO_ITEMS},
    UNIT: {ADD_MISSING_ITEMS, ADD_NEW_ITEMS, ADD_MANY_ITEMS, ADD_SAME_ITEMS},
}

# applicable_to[].effect: which units of the matching lines a target covers.
APPLY_TO_EVERY = "APPLY_TO_EVERY"
APPLY_TO_CHEAPEST = "APPLY_TO_CHEAPEST"
APPLY_FROM_CHEAPEST = "APPLY_FROM_CHEAPEST"
APPLY_TO_MOST_EXPENSIVE = "APPLY_TO_MOST_EXPENSIVE"
APPLY_FROM_MOST_EXPENSIVE = "APPLY_FROM_MOST_EXPENSIVE"
TARGET_EFFECTS = {APPLY_TO_EVERY, APPLY_TO_CHEAPEST, APPLY_FROM_CHEAPEST, APPLY_TO_MOST_EXPENSIVE,
                  APPLY_FROM_MOST_EXPENSIVE}

FREE_SHIPPING_PRODUCT = "prod_5h1pp1ng"


@dataclass
class Line:
    """One order line as the calculator sees it."""

    index: int
    quantity: int
    price: int  # unit price
    amount: int  # line amount before discounts (normally price * quantity)
    product_id: str | None = None
    sku_id: str | None = None
    discount_amount: int = 0  # item-level discounts applied so far
    discount_quantity: int = 0  # units given away by UNIT discounts
    initial_quantity: int | None = None  # set when a UNIT discount added units

    @property
    def subtotal(self) -> int:
        return self.amount - self.discount_amount

    def refers_to(self, unit_type: str) -> bool:
        return unit_type in (self.product_id, self.sku_id)


@dataclass
class Target:
    """One resolved applicable_to entry: which lines it matches and how it limits them."""

    lines: set[int]  # indexes of matching lines
    effect: str = APPLY_TO_EVERY
    quantity_limit: int | None = None
    aggregated_quantity_limit: int | None = None
    amount_limit: int | None = None
    aggregated_amount_limit: int | None = None
    price: int | None = None  # fixed unit price for FIXED discounts on this target


@dataclass
class OrderState:
    lines: list[Line]
    amount: int
    discount_amount: int = 0  # order-level discounts applied so far

    @property
    def items_discount_amount(self) -> int:
        return sum(line.discount_amount for line in self.lines)

    @property
    def total_amount(self) -> int:
        return max(0, self.amount - self.discount_amount - self.items_discount_amount)


@dataclass
class UnitGrant:
    """Units a UNIT discount gives away (and adds to the order when missing)."""

    unit_type: str
    unit_off: int
    effect: str
    price: int  # unit price from the catalog (used when the order has no such line)


@dataclass
class Effect:
    """What one discount does: order-level amount, per-line amounts, units added."""

    order_discount: int = 0
    item_discounts: dict[int, int] = field(default_factory=dict)
    added_units: dict[int, int] = field(default_factory=dict)  # line index -> units added
    new_lines: list[Line] = field(default_factory=list)
    discount_quantities: dict[int, int] = field(default_factory=dict)

    @property
    def items_discount(self) -> int:
        return sum(self.item_discounts.values())

    @property
    def total(self) -> int:
        return self.order_discount + self.items_discount

    @property
    def is_empty(self) -> bool:
        return self.total == 0 and not self.added_units and not self.new_lines


ITEM_LEVEL, ORDER_LEVEL, AFTER_DISCOUNTS = 0, 1, 2


def discount_level(discount: dict | None) -> int:
    """When a discount is calculated in a stacked request: item-level ones (item effects, UNIT) before
    order-level ones; a redeemable without a discount (gift card credits, points) after both."""
    if not discount:
        return AFTER_DISCOUNTS
    if discount.get("type") == UNIT or discount.get("effect") in ITEM_EFFECTS:
        return ITEM_LEVEL
    return ORDER_LEVEL


class DiscountError(ValueError):
    """A discount definition that cannot be applied (bad type/effect or a missing value)."""


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DiscountError(f"discount.{name} must be an integer in minor units")
    if value < 0:
        raise DiscountError(f"discount.{name} must not be negative")
    return value


def _percent(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise DiscountError("discount.percent_off must be a number")
    percent = Decimal(str(value))
    if not Decimal(0) <= percent <= Decimal(100):
        raise DiscountError("discount.percent_off must be between 0 and 100")
    return percent


def calculate(state: OrderState, discount: dict, targets: list[Target] | None = None,
              unit_grants: list[UnitGrant] | None = None) -> Effect:
    """The effect of `discount` on the order as it stands. Does not change `state`.

    `targets` are the resolved applicable_to entries (None or empty: every line);
    `unit_grants` the resolved units of a UNIT discount.
    """
    kind = discount.get("type")
    effect = discount.get("effect") or (ADD_MISSING_ITEMS if kind == UNIT else APPLY_TO_ORDER)
    if kind not in EFFECTS_BY_TYPE:
        raise DiscountError(f"Unknown discount type {kind!r}")
    if effect not in EFFECTS_BY_TYPE[kind]:
        raise DiscountError(f"Effect {effect} does not apply to {kind} discounts")
    if kind == UNIT:
        return _unit(state, unit_grants or [])
    if effect == APPLY_TO_ORDER:
        return Effect(order_discount=_order_level(state, kind, discount))
    targets = targets or [Target(lines={line.index for line in state.lines})]
    return _items(state, kind, effect, discount, targets)


def upper_bound(discount: dict | None, total: int, lines: int, units: int) -> int | None:
    """The most `discount` can take off `total` (the subtotal of `lines` order lines holding `units`
    units) without calculating it; None when nothing short of calculating tells (see bound_function)."""
    return bound_function(discount)(total, lines, units)


def bound_function(discount: dict | None):
    """upper_bound for one discount definition, read once: a function (total, lines, units) -> int | None.
    Lets a "best deals first" search skip what cannot reach the page: a discount never exceeds what it
    applies to, an AMOUNT never its amount (per line or per unit for the effects that repeat it), a
    PERCENT never its share plus each line's half-up rounding, nor its amount_limit. None when nothing
    short of calculating tells (UNIT discounts add items the order does not hold yet)."""
    kind = (discount or {}).get("type")
    if not discount or kind == UNIT:
        return _unknown
    effect = discount.get("effect")
    try:
        if kind == AMOUNT:
            amount_off = _int(discount.get("amount_off"), "amount_off")
            if effect == APPLY_TO_ITEMS:
                return lambda total, lines, units: min(total, amount_off * lines)
            if effect == APPLY_TO_ITEMS_BY_QUANTITY:
                return lambda total, lines, units: min(total, amount_off * units)
            return lambda total, lines, units: min(total, amount_off)
        if kind == PERCENT:
            percent = _percent(discount.get("percent_off"))
            limit = None if discount.get("amount_limit") is None else _int(discount["amount_limit"], "amount_limit")
            per_line = effect in ITEM_EFFECTS  # item effects round each line half-up

            def percent_bound(total: int, lines: int, units: int) -> int:
                bound = percent_of(total, percent) + (lines + 1 if per_line else 0)
                return min(total, bound if limit is None else min(bound, limit))

            return percent_bound
    except DiscountError:
        return _nothing  # calculate() refuses it: it qualifies for nothing
    return _everything


def _unknown(total: int, lines: int, units: int) -> None:
    return None


def _nothing(total: int, lines: int, units: int) -> int:
    return 0


def _everything(total: int, lines: int, units: int) -> int:
    return total


# ---------------------------------------------------------------- order level

def _order_level(state: OrderState, kind: str, discount: dict) -> int:
    base = state.total_amount
    if kind == AMOUNT:
        wanted = _int(discount.get("amount_off"), "amount_off")
    elif kind == PERCENT:
        wanted = percent_of(base, _percent(discount.get("percent_off")))
        if discount.get("amount_limit") is not None:
            wanted = min(wanted, _int(discount["amount_limit"], "amount_limit"))
    else:  # FIXED: the order total becomes fixed_amount
        wanted = base - _int(discount.get("fixed_amount"), "fixed_amount")
    return max(0, min(wanted, base))


# ---------------------------------------------------------------- item level

@dataclass
class _Portion:
    """Units of one line selected by one target, with the subtotal they carry."""

    line: Line
    units: int
    target: Target

    @property
    def base(self) -> int:
        if self.units >= self.line.quantity:
            return max(0, self.line.subtotal)
        return max(0, self.line.subtotal * self.units // self.line.quantity)


def _select(state: OrderState, target: Target, taken: dict[int, int]) -> list[_Portion]:
    """The units of the matching lines this target covers, honouring its effect and limits.
    `taken` counts units already claimed by earlier targets so no unit is discounted twice."""
    lines = [line for line in state.lines if line.index in target.lines]
    available = {line.index: line.quantity - taken.get(line.index, 0) for line in lines}
    lines = [line for line in lines if available[line.index] > 0]
    if target.effect in (APPLY_TO_CHEAPEST, APPLY_FROM_CHEAPEST):
        lines.sort(key=lambda ln: (ln.price, ln.index))
    elif target.effect in (APPLY_TO_MOST_EXPENSIVE, APPLY_FROM_MOST_EXPENSIVE):
        lines.sort(key=lambda ln: (-ln.price, ln.index))
    if target.effect in (APPLY_TO_CHEAPEST, APPLY_TO_MOST_EXPENSIVE):
        lines = lines[:1]
    single = target.effect in (APPLY_TO_CHEAPEST, APPLY_TO_MOST_EXPENSIVE)
    budget = target.aggregated_quantity_limit
    portions = []
    for line in lines:
        units = available[line.index]
        if target.quantity_limit is not None:
            units = min(units, target.quantity_limit)
        elif single:
            units = min(units, 1)  # "the cheapest item": one unit unless a limit says more
        if budget is not None:
            units = min(units, budget)
            budget -= units
        if units > 0:
            portions.append(_Portion(line, units, target))
            taken[line.index] = taken.get(line.index, 0) + units
    return portions


def _items(state: OrderState, kind: str, effect: str, discount: dict, targets: list[Target]) -> Effect:
    taken: dict[int, int] = {}
    per_target = [_select(state, target, taken) for target in targets]
    amounts_by_target = [_target_amounts(kind, effect, discount, portions) for portions in per_target]
    result = Effect()
    flat: list[tuple[_Portion, int]] = []
    for target, portions, amounts in zip(targets, per_target, amounts_by_target, strict=True):
        caps = [min(p.base, target.amount_limit if target.amount_limit is not None else p.base) for p in portions]
        amounts = [min(a, c) for a, c in zip(amounts, caps, strict=True)]
        if target.aggregated_amount_limit is not None and sum(amounts) > target.aggregated_amount_limit:
            amounts = split_capped(target.aggregated_amount_limit, amounts, caps)
        flat.extend(zip(portions, amounts, strict=True))
    overall_cap = discount.get("aggregated_amount_limit")
    if kind == PERCENT and discount.get("amount_limit") is not None:
        limit = _int(discount["amount_limit"], "amount_limit")
        overall_cap = limit if overall_cap is None else min(limit, overall_cap)
    amounts = [a for _, a in flat]
    if overall_cap is not None and sum(amounts) > overall_cap:
        amounts = split_capped(_int(overall_cap, "aggregated_amount_limit"), amounts, [p.base for p, _ in flat])
    if sum(amounts) > state.total_amount:
        # Earlier order-level discounts already took part of the order: never go below zero.
        amounts = split_capped(state.total_amount, amounts, amounts)
    for (portion, _), amount in zip(flat, amounts, strict=True):
        if amount:
            index = portion.line.index
            result.item_discounts[index] = result.item_discounts.get(index, 0) + amount
    return result


def _target_amounts(kind: str, effect: str, discount: dict, portions: list[_Portion]) -> list[int]:
    """The wanted discount per portion before caps."""
    if not portions:
        return []
    bases = [p.base for p in portions]
    if kind == PERCENT:
        percent = _percent(discount.get("percent_off"))
        return [percent_of(base, percent) for base in bases]
    if kind == FIXED:
        fixed = discount.get("fixed_amount")
        return [max(0, base - p.units * _int(p.target.price if p.target.price is not None else fixed, "fixed_amount"))
                for p, base in zip(portions, bases, strict=True)]
    amount_off = _int(discount.get("amount_off"), "amount_off")
    if effect == APPLY_TO_ITEMS:
        return [amount_off for _ in portions]
    if effect == APPLY_TO_ITEMS_BY_QUANTITY:
        return [amount_off * p.units for p in portions]
    weights = bases if effect == APPLY_TO_ITEMS_PROPORTIONALLY else [p.units for p in portions]
    return split_capped(amount_off, weights, bases)


# ---------------------------------------------------------------- units

def _unit(state: OrderState, grants: list[UnitGrant]) -> Effect:
    """Give units away: discount units of the product, adding the missing (or new) ones first."""
    result = Effect()
    for grant in grants:
        unit_off = _int(grant.unit_off, "unit_off")
        line = next((ln for ln in [*state.lines, *result.new_lines] if ln.refers_to(grant.unit_type)), None)
        present = line.quantity if line else 0
        if grant.effect in (ADD_NEW_ITEMS, ADD_MANY_ITEMS):
            to_add = unit_off
        elif grant.effect == ADD_MISSING_ITEMS:
            to_add = max(0, unit_off - present)
        else:  # ADD_SAME_ITEMS: only units already in the order
            to_add = 0
        if line is None:
            if to_add == 0:
                continue
            is_sku = grant.unit_type.startswith("sku_")
            line = Line(index=len(state.lines) + len(result.new_lines), quantity=0, price=grant.price, amount=0,
                        product_id=None if is_sku else grant.unit_type, sku_id=grant.unit_type if is_sku else None)
            result.new_lines.append(line)
        if to_add:
            result.added_units[line.index] = result.added_units.get(line.index, 0) + to_add
        unit_price = line.price if line.price is not None else grant.price
        free_units = min(unit_off, present + to_add)
        discount = min(free_units * unit_price, line.subtotal + to_add * unit_price)
        if discount:
            result.item_discounts[line.index] = result.item_discounts.get(line.index, 0) + discount
        result.discount_quantities[line.index] = result.discount_quantities.get(line.index, 0) + free_units
    return result


def apply(state: OrderState, effect: Effect) -> None:
    """Apply an effect to the order state (the next redeemable sees the result)."""
    for line in effect.new_lines:
        state.lines.append(line)
    for index, units in effect.added_units.items():
        line = state.lines[index]
        if line.initial_quantity is None:
            line.initial_quantity = line.quantity
        line.quantity += units
        line.amount += units * line.price
        state.amount += units * line.price
    for index, amount in effect.item_discounts.items():
        state.lines[index].discount_amount += amount
    for index, units in effect.discount_quantities.items():
        state.lines[index].discount_quantity += units
    state.discount_amount += effect.order_discount
