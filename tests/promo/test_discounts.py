"""Worked numbers for every discount type and effect. Amounts in cents."""

import pytest

from promo.discounts import (
    DiscountError,
    Line,
    OrderState,
    Target,
    UnitGrant,
    apply,
    calculate,
)


def cart(*lines: tuple[int, int], **ids) -> OrderState:
    """cart((price, qty), ...) -> an order whose lines are prod_0, prod_1, ..."""
    items = [Line(index=i, quantity=q, price=p, amount=p * q, product_id=f"prod_{i}") for i, (p, q) in enumerate(lines)]
    return OrderState(lines=items, amount=sum(line.amount for line in items))


def test_amount_off_order():
    order = cart((2000, 1), (700, 1))
    assert calculate(order, {"type": "AMOUNT", "amount_off": 1000}).order_discount == 1000


def test_amount_off_order_never_exceeds_the_total():
    order = cart((700, 1))
    assert calculate(order, {"type": "AMOUNT", "amount_off": 1000}).order_discount == 700


def test_percent_off_order_half_up_with_amount_limit():
    order = cart((1999, 1), (1000, 1))  # 2999
    assert calculate(order, {"type": "PERCENT", "percent_off": 10}).order_discount == 300  # 299.9
    capped = {"type": "PERCENT", "percent_off": 50, "amount_limit": 1000}
    assert calculate(order, capped).order_discount == 1000


def test_percent_off_applies_to_what_is_left_after_earlier_discounts():
    # the spec's 5-redeemable example: items discounted 1700 and a 100 gift card, then 40% off
    order = cart((2000, 1), (700, 1))
    order.lines[0].discount_amount, order.lines[1].discount_amount = 1000, 700
    order.discount_amount = 100
    assert calculate(order, {"type": "PERCENT", "percent_off": 40}).order_discount == 360


def test_fixed_order_total():
    order = cart((3000, 1), (2000, 1))
    assert calculate(order, {"type": "FIXED", "fixed_amount": 4000}).order_discount == 1000
    assert calculate(order, {"type": "FIXED", "fixed_amount": 9000}).order_discount == 0


def test_amount_apply_to_items_is_per_line_and_capped_by_the_line():
    # the spec's example: 1000 off each of a 2000 and a 700 item -> 1000 + 700
    order = cart((2000, 1), (700, 1))
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    assert effect.item_discounts == {0: 1000, 1: 700}
    assert effect.order_discount == 0


def test_amount_apply_to_items_by_quantity_is_per_unit():
    order = cart((500, 3), (200, 2))
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"})
    assert effect.item_discounts == {0: 300, 1: 200}


def test_amount_proportionally_splits_by_amount_with_largest_remainder():
    order = cart((2000, 1), (700, 1), (300, 1))  # 3000
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS_PROPORTIONALLY"})
    assert effect.item_discounts == {0: 667, 1: 233, 2: 100}
    assert effect.items_discount == 1000


def test_amount_proportionally_by_quantity():
    order = cart((1000, 3), (100, 1))
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 400,
                               "effect": "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"})
    assert effect.item_discounts == {0: 300, 1: 100}


def test_proportional_by_quantity_moves_what_a_cheap_line_cannot_take():
    order = cart((1000, 1), (50, 1))
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 400,
                               "effect": "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"})
    assert effect.item_discounts == {0: 350, 1: 50}


def test_percent_on_items_with_amount_limit_split_across_lines():
    order = cart((3000, 1), (1000, 1))
    effect = calculate(order, {"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS", "amount_limit": 1000})
    assert effect.item_discounts == {0: 750, 1: 250}


def test_fixed_price_per_item():
    order = cart((1500, 2), (800, 1))
    effect = calculate(order, {"type": "FIXED", "fixed_amount": 1000, "effect": "APPLY_TO_ITEMS"},
                       [Target(lines={0})])
    assert effect.item_discounts == {0: 1000}  # 2 x 1500 -> 2 x 1000


def test_targets_restrict_lines():
    order = cart((1000, 1), (1000, 1), (1000, 1))
    effect = calculate(order, {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"},
                       [Target(lines={0, 2})])
    assert effect.item_discounts == {0: 100, 2: 100}


def test_cheapest_item_free_is_one_unit_of_the_cheapest_line():
    order = cart((2500, 1), (1200, 2), (4000, 1))
    effect = calculate(order, {"type": "PERCENT", "percent_off": 100, "effect": "APPLY_TO_ITEMS"},
                       [Target(lines={0, 1, 2}, effect="APPLY_TO_CHEAPEST")])
    assert effect.item_discounts == {1: 1200}


def test_most_expensive_with_quantity_limit():
    order = cart((2500, 3), (1200, 2))
    effect = calculate(order, {"type": "PERCENT", "percent_off": 20, "effect": "APPLY_TO_ITEMS"},
                       [Target(lines={0, 1}, effect="APPLY_TO_MOST_EXPENSIVE", quantity_limit=2)])
    assert effect.item_discounts == {0: 1000}  # 20% of 2 x 2500


def test_from_cheapest_with_aggregated_quantity_limit():
    # buy 5, the 3 cheapest units are half price
    order = cart((1000, 2), (300, 1), (600, 2))
    effect = calculate(order, {"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS"},
                       [Target(lines={0, 1, 2}, effect="APPLY_FROM_CHEAPEST", aggregated_quantity_limit=3)])
    assert effect.item_discounts == {1: 150, 2: 600}


def test_from_most_expensive():
    order = cart((1000, 2), (300, 1), (600, 2))
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 100, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"},
                       [Target(lines={0, 1, 2}, effect="APPLY_FROM_MOST_EXPENSIVE", aggregated_quantity_limit=3)])
    assert effect.item_discounts == {0: 200, 2: 100}


def test_target_amount_limits():
    order = cart((5000, 1), (5000, 1))
    per_line = calculate(order, {"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS"},
                         [Target(lines={0, 1}, amount_limit=1000)])
    assert per_line.item_discounts == {0: 1000, 1: 1000}
    aggregated = calculate(order, {"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS"},
                           [Target(lines={0, 1}, aggregated_amount_limit=1500)])
    assert aggregated.item_discounts == {0: 750, 1: 750}


def test_a_unit_is_never_discounted_twice_by_two_targets():
    order = cart((1000, 1))
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 300, "effect": "APPLY_TO_ITEMS"},
                       [Target(lines={0}), Target(lines={0})])
    assert effect.item_discounts == {0: 300}


def test_item_discount_never_exceeds_the_line_after_earlier_discounts():
    order = cart((1000, 1))
    order.lines[0].discount_amount = 900
    effect = calculate(order, {"type": "AMOUNT", "amount_off": 500, "effect": "APPLY_TO_ITEMS"})
    assert effect.item_discounts == {0: 100}


def test_unit_add_missing_item_free():
    order = cart((2000, 1))
    grant = UnitGrant(unit_type="prod_gift", unit_off=1, effect="ADD_MISSING_ITEMS", price=500)
    effect = calculate(order, {"type": "UNIT", "unit_off": 1, "unit_type": "prod_gift",
                               "effect": "ADD_MISSING_ITEMS"}, unit_grants=[grant])
    assert [line.product_id for line in effect.new_lines] == ["prod_gift"]
    assert effect.added_units == {1: 1} and effect.item_discounts == {1: 500}
    apply(order, effect)
    assert order.amount == 2500 and order.total_amount == 2000
    assert order.lines[1].quantity == 1 and order.lines[1].discount_quantity == 1


def test_unit_add_missing_when_already_in_the_cart_adds_nothing():
    order = cart((2000, 1), (500, 1))
    grant = UnitGrant(unit_type="prod_1", unit_off=1, effect="ADD_MISSING_ITEMS", price=500)
    effect = calculate(order, {"type": "UNIT", "effect": "ADD_MISSING_ITEMS"}, unit_grants=[grant])
    assert effect.added_units == {} and effect.item_discounts == {1: 500}


def test_buy_two_get_third_free_adds_new_units():
    order = cart((800, 2))
    grant = UnitGrant(unit_type="prod_0", unit_off=1, effect="ADD_NEW_ITEMS", price=800)
    effect = calculate(order, {"type": "UNIT", "effect": "ADD_NEW_ITEMS"}, unit_grants=[grant])
    apply(order, effect)
    assert order.lines[0].quantity == 3 and order.lines[0].initial_quantity == 2
    assert order.amount == 2400 and order.total_amount == 1600


def test_same_items_discounts_only_what_is_there():
    order = cart((800, 1))
    grant = UnitGrant(unit_type="prod_0", unit_off=2, effect="ADD_SAME_ITEMS", price=800)
    effect = calculate(order, {"type": "UNIT", "effect": "ADD_SAME_ITEMS"}, unit_grants=[grant])
    assert effect.item_discounts == {0: 800} and effect.added_units == {}


def test_free_shipping_discounts_the_shipping_line():
    order = cart((5000, 1), (799, 1))
    order.lines[1].product_id = "prod_5h1pp1ng"
    grant = UnitGrant(unit_type="prod_5h1pp1ng", unit_off=1, effect="ADD_MISSING_ITEMS", price=0)
    effect = calculate(order, {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng",
                               "effect": "ADD_MISSING_ITEMS"}, unit_grants=[grant])
    assert effect.item_discounts == {1: 799} and effect.added_units == {}


def test_many_units():
    order = cart((3000, 1))
    grants = [UnitGrant("prod_a", 1, "ADD_MANY_ITEMS", 400), UnitGrant("prod_b", 2, "ADD_MANY_ITEMS", 150)]
    effect = calculate(order, {"type": "UNIT", "effect": "ADD_MANY_ITEMS"}, unit_grants=grants)
    apply(order, effect)
    assert order.amount == 3700 and order.total_amount == 3000
    assert [(ln.product_id, ln.quantity, ln.discount_amount) for ln in order.lines[1:]] == [
        ("prod_a", 1, 400), ("prod_b", 2, 300)]


def test_sequential_application_matches_the_spec_totals():
    order = cart((2000, 1), (700, 1))
    for discount in ({"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"},
                     {"type": "AMOUNT", "amount_off": 100},
                     {"type": "PERCENT", "percent_off": 40}):
        apply(order, calculate(order, discount))
    assert order.items_discount_amount == 1700
    assert order.discount_amount == 460
    assert order.total_amount == 540


@pytest.mark.parametrize("discount", [
    {"type": "BOGUS"},
    {"type": "AMOUNT", "amount_off": 10.5},
    {"type": "AMOUNT", "amount_off": -1},
    {"type": "AMOUNT", "amount_off": True},
    {"type": "PERCENT", "percent_off": 120},
    {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS_BY_QUANTITY"},
    {"type": "FIXED"},
])
def test_invalid_discounts_are_refused(discount):
    with pytest.raises(DiscountError):
        calculate(cart((1000, 1)), discount)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_discounts = st.one_of(
    st.builds(lambda a, e: {"type": "AMOUNT", "amount_off": a, "effect": e}, st.integers(0, 10**6),
              st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS", "APPLY_TO_ITEMS_PROPORTIONALLY",
                               "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY", "APPLY_TO_ITEMS_BY_QUANTITY"])),
    st.builds(lambda p, e, lim: {"type": "PERCENT", "percent_off": p, "effect": e, "amount_limit": lim},
              st.integers(0, 100), st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]),
              st.one_of(st.none(), st.integers(0, 10**5))),
    st.builds(lambda f, e: {"type": "FIXED", "fixed_amount": f, "effect": e}, st.integers(0, 10**5),
              st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"])),
)
_effects = st.sampled_from(["APPLY_TO_EVERY", "APPLY_TO_CHEAPEST", "APPLY_FROM_CHEAPEST", "APPLY_TO_MOST_EXPENSIVE",
                            "APPLY_FROM_MOST_EXPENSIVE"])


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 10**5), st.integers(1, 20)), min_size=1, max_size=10),
       st.lists(_discounts, min_size=1, max_size=5), _effects, st.one_of(st.none(), st.integers(0, 10)))
def test_stacked_discounts_never_exceed_what_they_apply_to(lines, discounts, target_effect, quantity_limit):
    order = cart(*lines)
    for discount in discounts:
        target = Target(lines={ln.index for ln in order.lines}, effect=target_effect, quantity_limit=quantity_limit)
        effect = calculate(order, discount, [target])
        assert all(isinstance(v, int) and v >= 0 for v in effect.item_discounts.values())
        assert isinstance(effect.order_discount, int) and effect.order_discount >= 0
        apply(order, effect)
        assert all(0 <= ln.discount_amount <= ln.amount for ln in order.lines)
        assert order.total_amount >= 0
        assert order.discount_amount + order.items_discount_amount <= order.amount
