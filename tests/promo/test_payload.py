"""The hot-path validator of stacked requests agrees with the serializer that documents them."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidPayload
from promo.api.payload import parse_stacked_request
from promo.api.serializers import StackedRequestSerializer


def _strip(value):
    """Drop nulls (not given) so both results compare on what was sent."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _both(payload):
    serializer = StackedRequestSerializer(data=payload)
    drf_ok = serializer.is_valid()
    try:
        fast = parse_stacked_request(payload)
        fast_ok = True
    except InvalidPayload:
        fast, fast_ok = None, False
    return drf_ok, fast_ok, (serializer.validated_data if drf_ok else None), fast


GOOD_ITEM = {"source_id": "a", "related_object": "product", "quantity": 2, "price": 500, "metadata": {"k": 1},
             "product": {"name": "A", "price": 500, "metadata": {}, "override": True}, "sku": None}
CORPUS = [
    {"redeemables": [{"object": "voucher", "id": "X"}]},
    {"redeemables": [{"object": "voucher", "id": "X", "gift": {"credits": 100}, "reward": None}],
     "order": {"amount": 1000, "items": [GOOD_ITEM], "status": "PAID", "metadata": None},
     "customer": {"source_id": "c", "address": {"city": "Porto"}, "birthdate": "1990-01-31"},
     "session": {"type": "LOCK", "ttl": 3, "ttl_unit": "HOURS"}, "tracking_id": "", "options": {"expand": ["order"]}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"customer": {"id": "cust_1"}}},
    {"redeemables": []},
    {"redeemables": [{"object": "coupon", "id": "X"}]},
    {"redeemables": [{"object": "voucher"}]},
    {"redeemables": [None]},
    {"redeemables": "X"},
    {},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"amount": 10.5}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"amount": "10"}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"amount": True}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"amount": -1}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"items": [None]}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"items": {"a": 1}}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"items": [{"quantity": 1.0}]}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "order": {"status": "DONE"}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "session": {"type": "OPEN"}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "customer": {"birthdate": "31/01/1990"}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "customer": {"email": 5}},
    {"redeemables": [{"object": "voucher", "id": "X"}], "metadata": [1]},
    {"redeemables": [{"object": "voucher", "id": "X" * 256}]},
    {"redeemables": [{"object": "voucher", "id": "X"}] * 31},
]


@pytest.mark.parametrize("payload", CORPUS)
def test_fast_validator_agrees_with_the_serializer(payload):
    drf_ok, fast_ok, drf_data, fast_data = _both(payload)
    assert drf_ok == fast_ok, (payload, drf_ok, fast_ok)
    if drf_ok:
        assert _strip(fast_data) == _strip(drf_data)


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=5), st.just("voucher"), st.just("LOCK"), st.just("product"),
                    st.just("2024-01-01"), st.lists(st.integers(0, 3), max_size=2), st.just({}))
_item = st.fixed_dictionaries({}, optional=dict.fromkeys(
    ("sku_id", "product_id", "related_object", "source_id", "quantity", "price", "amount", "metadata"), _values))
_payload = st.fixed_dictionaries(
    {"redeemables": st.lists(st.fixed_dictionaries({"object": st.sampled_from(["voucher", "promotion_tier", "x"]),
                                                    "id": st.text(min_size=1, max_size=4)},
                                                   optional={"gift": st.one_of(st.none(), st.fixed_dictionaries(
                                                       {"credits": _values}))}),
                             min_size=0, max_size=3)},
    optional={"order": st.one_of(st.none(), st.fixed_dictionaries(
        {}, optional={"amount": _values, "status": _values, "items": st.one_of(_values, st.lists(_item, max_size=3)),
                      "metadata": _values})),
              "session": st.one_of(_values, st.fixed_dictionaries({}, optional={"type": _values, "ttl": _values})),
              "tracking_id": _values, "metadata": _values})


@settings(max_examples=300, deadline=None)
@given(_payload)
def test_generated_payloads_agree(payload):
    drf_ok, fast_ok, drf_data, fast_data = _both(payload)
    assert drf_ok == fast_ok, (payload, drf_ok, fast_ok)
    if drf_ok:
        assert _strip(fast_data) == _strip(drf_data)
