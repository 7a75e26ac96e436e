"""Limits under concurrent checkouts, on PostgreSQL, through the real HTTP stack (live server, threads)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from core import services as core_services
from promo.models import Redemption, Voucher
from rules.models import LimitCounter
from tests.promo.factories import RuleFactory, VoucherFactory, assign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CART = {"amount": 5000, "items": [{"source_id": "sku-1", "related_object": "product", "quantity": 1, "price": 5000}]}


@pytest.fixture
def http(live_server):
    issued = core_services.api_key_create(name="concurrency")
    session_headers = {"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}

    def post(path: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
        response = requests.post(live_server.url + path, json=body, headers={**session_headers, **(headers or {})},
                                 timeout=60)
        return response.status_code, response.json()

    return post


def _parallel(count: int, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda i: call(i), range(count)))


def test_64_clients_on_a_public_code_limited_to_100(http):
    voucher = VoucherFactory(code="HOT100", redemption_quantity=100)

    def client(i: int):
        return [http("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "HOT100"}], "order": CART,
                                         "customer": {"source_id": f"hot-{i}-{attempt}"}})[0] for attempt in range(3)]

    statuses = [status for results in _parallel(64, client) for status in results]
    voucher.refresh_from_db()
    assert statuses.count(200) == 100
    assert statuses.count(400) == 192 - 100
    assert voucher.redeemed_quantity == 100
    assert Redemption.objects.filter(parent__isnull=True, result="SUCCESS").count() == 100
    assert Redemption.objects.filter(parent__isnull=True, result="FAILURE", failure_code="quantity_exceeded").count() \
        == 92


def test_same_customer_20_parallel_redemptions_of_a_once_per_customer_code(http):
    voucher = VoucherFactory(code="ONCEPC")
    once = {"name": "redemption.count.per_customer", "conditions": {"$less_than_or_equal": [1]}}
    assign(RuleFactory(rules={"1": once}), voucher)
    body = {"redeemables": [{"object": "voucher", "id": "ONCEPC"}], "order": CART, "customer": {"source_id": "dana"}}
    statuses = _parallel(20, lambda i: http("/v1/redemptions", body)[0])
    assert statuses.count(200) == 1, statuses
    assert Redemption.objects.filter(parent__isnull=True, result="SUCCESS").count() == 1
    assert LimitCounter.objects.get().used == 1
    voucher.refresh_from_db()
    assert voucher.redeemed_quantity == 1


def test_parallel_idempotent_retries_redeem_once(http):
    VoucherFactory(code="RETRY", redemption_quantity=50)
    body = {"redeemables": [{"object": "voucher", "id": "RETRY"}], "order": CART}
    results = _parallel(20, lambda i: http("/v1/redemptions", body, {"Idempotency-Key": "checkout-42"}))
    ok = [payload for status, payload in results if status == 200]
    in_flight = [payload for status, payload in results if status == 409]
    assert len(ok) + len(in_flight) == 20
    assert all(p["key"] == "multiple_requests" for p in in_flight)
    assert len({p["parent_redemption"]["id"] for p in ok}) == 1  # every 200 is the same replayed answer
    assert Voucher.objects.get(code="RETRY").redeemed_quantity == 1
    status, replay = http("/v1/redemptions", body, {"Idempotency-Key": "checkout-42"})
    assert status == 200 and replay["parent_redemption"]["id"] == ok[0]["parent_redemption"]["id"]


def test_parallel_rollbacks_restore_once(http):
    voucher = VoucherFactory(code="RB", redemption_quantity=1)
    status, body = http("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "RB"}], "order": CART})
    assert status == 200
    parent = body["parent_redemption"]["id"]
    statuses = _parallel(16, lambda i: http(f"/v1/redemptions/{parent}/rollbacks", {})[0])
    assert statuses.count(200) == 1, statuses
    voucher.refresh_from_db()
    assert voucher.redeemed_quantity == 0


def test_session_locks_never_oversell(http):
    voucher = VoucherFactory(code="LOCK5", redemption_quantity=5)
    body = {"redeemables": [{"object": "voucher", "id": "LOCK5"}], "order": CART, "session": {"type": "LOCK"}}
    results = _parallel(24, lambda i: http("/v1/validations", body))
    sessions = [payload["session"]["key"] for status, payload in results if status == 200 and payload["valid"]]
    assert len(sessions) == 5
    voucher.refresh_from_db()
    assert voucher.locked_quantity == 5
    redeemed = _parallel(5, lambda i: http("/v1/redemptions", {**body, "session": {"key": sessions[i]}})[0])
    assert redeemed == [200] * 5
    voucher.refresh_from_db()
    assert (voucher.redeemed_quantity, voucher.locked_quantity) == (5, 0)
