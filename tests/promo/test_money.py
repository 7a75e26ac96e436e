from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from promo.money import percent_of, round_half_up, split_capped, split_largest_remainder


def test_round_half_up_not_bankers():
    assert round_half_up(Decimal("2.5")) == 3
    assert round_half_up(Decimal("3.5")) == 4
    assert round_half_up(Decimal("2.49")) == 2


def test_percent_of_rounds_half_up():
    assert percent_of(2999, 10) == 300  # 299.9
    assert percent_of(125, 10) == 13  # 12.5 -> 13
    assert percent_of(1000, Decimal("12.5")) == 125
    assert percent_of(999, "33.3") == 333  # 332.667


def test_split_largest_remainder_worked_example():
    # 100 split 1:1:1 -> 33.33 each; the leftover unit goes to the first (ties by position)
    assert split_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    # 1000 by 2000/700/300 -> 666.67, 233.33, 100 -> [667, 233, 100]
    assert split_largest_remainder(1000, [2000, 700, 300]) == [667, 233, 100]
    assert split_largest_remainder(5, [0, 0]) == [0, 0]


def test_split_capped_redistributes_overflow():
    # 900 by equal weight over caps 100/1000/1000: the first takes 100, the rest share 800
    assert split_capped(900, [1, 1, 1], [100, 1000, 1000]) == [100, 400, 400]
    assert split_capped(5000, [1, 1], [100, 200]) == [100, 200]


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=30))
def test_split_adds_up_exactly(total, weights):
    parts = split_largest_remainder(total, weights)
    assert sum(parts) == (total if sum(weights) else 0)
    assert all(isinstance(p, int) and p >= 0 for p in parts)


@given(st.integers(0, 10**7), st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 10**5)), min_size=1,
                                       max_size=20))
def test_split_capped_never_exceeds_a_cap(total, pairs):
    weights, caps = [w for w, _ in pairs], [c for _, c in pairs]
    parts = split_capped(total, weights, caps)
    assert all(0 <= p <= c for p, c in zip(parts, caps, strict=True))
    assert sum(parts) == min(total, sum(caps))
