"""Random sequences of takes and give-backs on limit counters (budgets in minor units up to 10^12 a take),
against a model: a take happens exactly when it stays within the limit, `used` is the sum of what was taken
less what was given back, and never passes the limit nor goes below zero. Locking the counters first (as a
stacked redemption does) changes nothing of that."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import counters
from rules.models import LimitCounter

MAX_AMOUNT = 10**12
steps = st.lists(st.one_of(
    st.tuples(st.just("take"), st.integers(0, MAX_AMOUNT)),
    st.tuples(st.just("give_back"), st.integers(0, 5)),  # gives back the n-th earlier take still held
    st.tuples(st.just("lock"), st.just(0)),
), min_size=1, max_size=25)
_keys = itertools.count()


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, limit=st.one_of(st.none(), st.integers(0, 10 * MAX_AMOUNT)))
def test_a_counter_is_the_sum_of_its_takes_within_the_limit(steps, limit):
    key = f"campaign:prop-{next(_keys)}|campaign.orders.amount_discounted"
    used, held = 0, []
    for step, value in steps:
        if step == "take":
            took = counters.take(key, value, limit)
            assert took == (limit is None or used + value <= limit)
            if took and value:
                used += value
                held.append(value)
        elif step == "give_back" and held:
            amount = held.pop(value % len(held))
            counters.give_back(key, amount)
            used -= amount
        elif step == "lock":
            counters.lock({key: limit, f"{key}|other": None})
        stored = counters.used(key)
        assert stored == used and stored >= 0 and (limit is None or stored <= limit)
    row = LimitCounter.objects.filter(key=key).first()
    assert row is None or row.used == used
