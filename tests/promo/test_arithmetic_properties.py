"""Properties of the money arithmetic against exact rational arithmetic (fractions), with amounts up to 10^12
(the documented maximum): half-up rounding, percentages, largest-remainder splits that add up and give the
leftover units to the largest remainders, capped splits, and discounts that never exceed what they apply to."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from promo.discounts import Line, OrderState, Target, apply, calculate
from promo.money import percent_of, round_half_up, split_capped, split_largest_remainder

MAX_AMOUNT = 10**12
amounts = st.integers(0, MAX_AMOUNT)
# Percentages as clients send them: whole numbers, two decimals, and long fractions (floats' str).
percents = st.one_of(st.integers(0, 100), st.decimals(0, 100, places=2),
                     st.floats(0, 100, allow_nan=False, allow_infinity=False).map(lambda f: Decimal(str(f))),
                     st.decimals(0, 100, places=20))


@st.composite
def near_ties(draw) -> tuple[int, Decimal]:
    """An amount and a long percentage whose exact share lies just below a half unit: where arithmetic that
    rounds in between (28 significant digits of Decimal's default context) rounds the wrong way."""
    amount = draw(st.integers(10**11, MAX_AMOUNT))
    units = amount // 2 + draw(st.integers(0, amount // 2 - 1))  # a share of 50% or more: many digits
    return amount, _below(Fraction(100 * units + 50, amount), draw(st.integers(17, 30)))


def _below(value: Fraction, places: int) -> Decimal:
    """`value` truncated to `places` decimals, exactly."""
    scaled = value.numerator * 10**places // value.denominator
    return Decimal(scaled).scaleb(-places)


def exact_half_up(value: Fraction) -> int:
    """Half-up (away from zero at .5) of an exact fraction."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    return sign * int((magnitude + Fraction(1, 2)) // 1)


@given(st.decimals(-10**13, 10**13, places=6, allow_nan=False, allow_infinity=False))
def test_round_half_up_matches_exact_arithmetic(value):
    assert round_half_up(value) == exact_half_up(Fraction(value))


@given(st.integers(-10**12, 10**12))
def test_half_units_round_away_from_zero(units):
    assert round_half_up(Decimal(units) + Decimal("0.5")) == (units + 1 if units >= 0 else units)


@settings(max_examples=500)
@given(amounts, percents)
def test_percent_of_is_exact_half_up(amount, percent):
    assert percent_of(amount, percent) == exact_half_up(Fraction(amount) * Fraction(Decimal(str(percent))) / 100)


@settings(max_examples=500)
@given(near_ties())
def test_percent_of_is_exact_next_to_a_half_unit(case):
    amount, percent = case
    assert percent_of(amount, percent) == exact_half_up(Fraction(amount) * Fraction(percent) / 100)


@given(amounts, percents)
def test_a_percentage_never_exceeds_the_amount(amount, percent):
    assert 0 <= percent_of(amount, percent) <= amount


@settings(max_examples=300)
@given(amounts, st.lists(st.integers(0, MAX_AMOUNT), min_size=1, max_size=30))
def test_largest_remainder_parts_are_floor_or_ceiling_and_add_up(total, weights):
    parts = split_largest_remainder(total, weights)
    weight_sum = sum(weights)
    if weight_sum == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == total
    exact = [Fraction(total * w, weight_sum) for w in weights]
    assert all(int(share) <= part <= int(share) + 1 for part, share in zip(parts, exact, strict=True))
    # The leftover units went to the largest remainders: no part left at its floor has a larger one.
    raised = [share - int(share) for part, share in zip(parts, exact, strict=True) if part > int(share)]
    floored = [share - int(share) for part, share in zip(parts, exact, strict=True) if part == int(share)]
    if raised and floored:
        assert min(raised) >= max(floored)


@settings(max_examples=300)
@given(amounts, st.lists(st.tuples(st.integers(0, MAX_AMOUNT), st.integers(0, MAX_AMOUNT)), min_size=1,
                         max_size=20))
def test_capped_split_of_large_amounts(total, pairs):
    weights, caps = [w for w, _ in pairs], [c for _, c in pairs]
    parts = split_capped(total, weights, caps)
    assert all(isinstance(p, int) and 0 <= p <= c for p, c in zip(parts, caps, strict=True))
    assert sum(parts) == min(total, sum(caps))


# ---------------------------------------------------------------- discounts on large orders

_lines = st.lists(st.tuples(st.integers(0, MAX_AMOUNT // 100), st.integers(1, 100)), min_size=1, max_size=8)
_item_effects = st.sampled_from(["APPLY_TO_ITEMS", "APPLY_TO_ITEMS_PROPORTIONALLY",
                                 "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY", "APPLY_TO_ITEMS_BY_QUANTITY"])
_large_discounts = st.one_of(
    st.builds(lambda a, e: {"type": "AMOUNT", "amount_off": a, "effect": e}, amounts,
              st.one_of(st.just("APPLY_TO_ORDER"), _item_effects)),
    st.builds(lambda p, e, lim: {"type": "PERCENT", "percent_off": p, "effect": e, "amount_limit": lim},
              percents, st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"]), st.one_of(st.none(), amounts)),
    st.builds(lambda f, e: {"type": "FIXED", "fixed_amount": f, "effect": e}, amounts,
              st.sampled_from(["APPLY_TO_ORDER", "APPLY_TO_ITEMS"])),
)


def _order(lines: list[tuple[int, int]]) -> OrderState:
    built = [Line(index=i, quantity=q, price=p, amount=p * q) for i, (p, q) in enumerate(lines)]
    return OrderState(lines=built, amount=sum(line.amount for line in built))


@settings(max_examples=300)
@given(_lines, st.lists(_large_discounts, min_size=1, max_size=4))
def test_large_stacked_discounts_never_exceed_what_they_apply_to(lines, discounts):
    order = _order(lines)
    for discount in discounts:
        before = order.total_amount
        subtotals = {line.index: line.subtotal for line in order.lines}
        effect = calculate(order, discount, [Target(lines=set(subtotals))])
        assert all(isinstance(v, int) and 0 <= v <= subtotals[i] for i, v in effect.item_discounts.items())
        assert isinstance(effect.order_discount, int) and 0 <= effect.total <= before
        apply(order, effect)
        assert all(0 <= line.discount_amount <= line.amount for line in order.lines)
        assert order.total_amount == before - effect.total


@given(st.integers(1, MAX_AMOUNT), percents, st.one_of(st.none(), amounts))
def test_an_order_percentage_is_the_exact_half_up_share_within_its_limit(amount, percent, limit):
    effect = calculate(OrderState(lines=[], amount=amount), {"type": "PERCENT", "percent_off": percent,
                                                              "amount_limit": limit})
    share = exact_half_up(Fraction(amount) * Fraction(Decimal(str(percent))) / 100)
    assert effect.order_discount == (share if limit is None else min(share, limit))


@given(_lines, amounts)
def test_a_proportional_amount_is_split_to_the_unit_over_the_items(lines, amount_off):
    order = _order(lines)
    effect = calculate(order, {"type": "AMOUNT", "amount_off": amount_off, "effect": "APPLY_TO_ITEMS_PROPORTIONALLY"})
    assert effect.items_discount == min(amount_off, order.total_amount)
    assert all(effect.item_discounts.get(line.index, 0) <= line.subtotal for line in order.lines)
