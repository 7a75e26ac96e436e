"""A key limited to a campaign category sees and moves only that category's money (issue 13).

Each test is one of the holes found: a key limited to department Alpha reaching department Bravo's
redemptions, gift cards, batches, async actions, liability, reconciliation, customer timeline and codes.
The generated matrix (tests/test_api_scope_matrix.py) covers every operation; these say it in words."""

import pytest

from giftcards.models import GiftCard, GiftCardTransaction
from tests.conftest import assert_error
from tests.scope_world import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build()


def _balance(code: str) -> int:
    return GiftCard.objects.get(voucher__code=code).balance


def test_redemptions_of_other_categories_are_not_listed_nor_rolled_back(world):
    alpha = world.keys["alpha"]
    listed = {r["id"] for r in alpha.get("/v1/redemptions", limit=100).json()["redemptions"]}
    assert world.alpha.redemption in listed
    assert not listed & world.hidden_ids()
    before = _balance("BRAVO-GIFT")
    assert_error(alpha.get(f"/v1/redemptions/{world.bravo.redemption}"), 404, "not_found")
    assert_error(alpha.post(f"/v1/redemptions/{world.bravo.redemption}/rollback"), 404, "not_found")
    assert_error(alpha.post(f"/v1/redemptions/{world.bravo.redemption}/rollbacks"), 404, "not_found")
    assert _balance("BRAVO-GIFT") == before
    assert alpha.post(f"/v1/redemptions/{world.alpha.redemption}/rollback").status_code == 200


def test_gift_cards_of_other_categories_cannot_be_moved_or_read(world):
    alpha = world.keys["alpha"]
    before = _balance("BRAVO-GIFT")
    assert_error(alpha.post("/v1/vouchers/BRAVO-GIFT/balance", {"amount": 5000}), 404, "not_found")
    assert_error(alpha.post("/v1/vouchers/BRAVO-GIFT/balance", {"amount": -5000}), 404, "not_found")
    assert_error(alpha.post("/v1/gift-cards/BRAVO-GIFT/temporary-credits",
                            {"amount": 5000, "expires_at": "2999-01-01T00:00:00Z"}), 404, "not_found")
    assert_error(alpha.post("/v1/gift-cards/refunds", {"amount": 5000, "order": "o-1", "voucher": "BRAVO-GIFT"}),
                 404, "not_found")
    assert_error(alpha.get("/v1/vouchers/BRAVO-GIFT/transactions"), 404, "not_found")
    assert_error(alpha.post("/v1/vouchers/BRAVO-GIFT/transactions/export", {}), 404, "not_found")
    assert_error(alpha.get("/v1/vouchers/BRAVO-GIFT/transactions/export.csv"), 404, "not_found")
    assert_error(alpha.delete(f"/v1/vouchers/BRAVO-GIFT/sessions/{world.bravo.session_key}"), 404, "not_found")
    assert _balance("BRAVO-GIFT") == before
    assert alpha.post("/v1/vouchers/ALPHA-GIFT/balance", {"amount": 5000}).status_code == 200


def test_refunds_onto_a_new_card_need_a_visible_campaign(world):
    from tests.customers.factories import OrderFactory

    OrderFactory(source_id="o-1", amount=5000)  # a refund is for an order the engine knows
    alpha = world.keys["alpha"]
    body = {"amount": 500, "order": "o-1", "customer": world.customer_id}
    assert_error(alpha.post("/v1/gift-cards/refunds", {**body, "campaign": world.bravo.gifts.public_id}),
                 404, "not_found")
    assert alpha.post("/v1/gift-cards/refunds", {**body, "campaign": world.alpha.gifts.public_id}).status_code == 201


@pytest.mark.parametrize("name", ["alpha", "alpha_read_only", "alpha_redemption"])
def test_batches_and_async_actions_of_others_are_hidden(world, name):
    client = world.keys[name]
    batch = world.bravo.batch.public_id
    download = client.get(f"/v1/gift-cards/batches/{batch}/export.csv")
    assert_error(download, 404, "not_found")
    assert_error(client.get(f"/v1/async-actions/{batch}"), 404, "not_found")
    listed = {a["id"] for a in client.get("/v1/async-actions").json()["async_actions"]}
    assert batch not in listed


def test_a_limited_key_downloads_its_own_batch_with_its_cards_only(world):
    alpha = world.keys["alpha"]
    own = alpha.get(f"/v1/gift-cards/batches/{world.alpha.batch.public_id}/export.csv")
    assert own.status_code == 200
    lines = b"".join(own.streaming_content).decode().strip().splitlines()
    assert len(lines) == 3  # the header and two cards
    listed = {a["id"] for a in alpha.get("/v1/async-actions").json()["async_actions"]}
    assert listed == {world.alpha.batch.public_id}
    everything = {a["id"] for a in world.keys["management"].get("/v1/async-actions").json()["async_actions"]}
    assert {world.alpha.batch.public_id, world.bravo.batch.public_id} <= everything


def test_liability_and_reconciliation_count_only_the_keys_categories(world):
    alpha = world.keys["alpha"].get("/v1/gift-cards/liability").json()
    everything = world.keys["management"].get("/v1/gift-cards/liability").json()
    assert [c["campaign_id"] for c in alpha["by_campaign"]] == [world.alpha.gifts.public_id]
    alpha_cards = GiftCard.objects.filter(voucher__campaign=world.alpha.gifts)
    assert alpha["cards"] == alpha_cards.count() == 3  # ALPHA-GIFT and its batch of two
    assert alpha["outstanding_balance"] == sum(c.balance for c in alpha_cards)
    assert everything["cards"] == GiftCard.objects.count() == 6
    assert "bravo" not in str(alpha).lower()
    reconciliation = world.keys["alpha"].get("/v1/gift-cards/reconciliation").json()
    assert reconciliation["cards"] == 3
    broken = GiftCard.objects.get(voucher__code="BRAVO-GIFT")  # a ledger row the balance never saw
    GiftCardTransaction.objects.create(card=broken, kind="adjustment", amount=1, balance_after=broken.balance)
    assert world.keys["alpha"].get("/v1/gift-cards/reconciliation").json()["mismatches"] == []
    assert [m["code"] for m in world.keys["management"].get("/v1/gift-cards/reconciliation").json()["mismatches"]] \
        == ["BRAVO-GIFT"]


def test_customer_activity_hides_other_categories_redemptions(world):
    alpha = world.keys["alpha"]
    timeline = alpha.get(f"/v1/customers/{world.customer_id}/activity", limit=100).json()["data"]
    text = str(timeline)
    assert world.alpha.redemption in text
    assert world.bravo.redemption not in text and "BRAVO" not in text
    everything = str(world.keys["management"].get(f"/v1/customers/{world.customer_id}/activity", limit=100).json())
    assert world.bravo.redemption in everything


def test_customer_summary_counts_only_the_keys_categories(world):
    alpha = world.keys["alpha"].get(f"/v1/customers/{world.customer_id}").json()
    everything = world.keys["management"].get(f"/v1/customers/{world.customer_id}").json()
    assert everything["summary"]["redemptions"]["total_succeeded"] == 6
    assert alpha["summary"]["redemptions"]["total_succeeded"] == 2  # not the code in the stack with Bravo's card


@pytest.mark.parametrize("path", ["/v1/vouchers/{code}", "/v1/vouchers"])
def test_creating_a_taken_code_does_not_say_where_it_is(world, path):
    """Codes are unique per deployment, so a taken code is refused; a key limited to categories gets the
    same answer whether the code is in one of its categories or hidden in another."""
    alpha = world.keys["alpha"]

    def create(code):
        body = {"type": "DISCOUNT_VOUCHER", "category_id": world.alpha.category.public_id,
                "discount": {"type": "AMOUNT", "amount_off": 100}}
        if path == "/v1/vouchers":
            return alpha.post(path, {**body, "code": code})
        return alpha.post(path.format(code=code), body)

    hidden, visible = create("BRAVO-CODE"), create("ALPHA-CODE")
    assert hidden.status_code == visible.status_code == 409
    strip = lambda body: {k: v.replace("ALPHA", "X").replace("BRAVO", "X") if isinstance(v, str) else v  # noqa: E731
                          for k, v in body.items() if k != "request_id"}
    assert strip(hidden.json()) == strip(visible.json())
    assert "exist" not in hidden.json()["details"]
    assert create("FREE-CODE").status_code == 201


def test_creating_a_campaign_with_a_hidden_campaigns_name_does_not_say_it_exists(world):
    alpha = world.keys["alpha"]
    body = {"category_id": world.alpha.category.public_id,
            "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}}
    hidden = alpha.post("/v1/campaigns", {**body, "name": "Bravo coupons"})
    visible = alpha.post("/v1/campaigns", {**body, "name": "Alpha coupons"})
    assert hidden.status_code == visible.status_code == 409
    assert hidden.json()["details"].replace("Bravo", "X") == visible.json()["details"].replace("Alpha", "X")
    assert "exist" not in hidden.json()["details"]


def _run_accepted(response) -> dict:
    """Run the async action a write answered with (as its key, like the worker) and return its result."""
    from core import services as core_services
    from core.models import AsyncAction

    assert response.status_code == 202, response.content
    action = AsyncAction.objects.get(public_id=response.json()["async_action_id"])
    core_services.async_action_run(action.pk)
    action.refresh_from_db()
    return action.result


def test_bulk_updates_in_the_background_touch_only_the_keys_categories(world):
    from promo.models import Voucher

    alpha = world.keys["alpha"]
    result = _run_accepted(alpha.post("/v1/vouchers/metadata/async",
                                      {"codes": ["ALPHA-CODE", "BRAVO-CODE"], "metadata": {"tag": "x"}}))
    assert Voucher.objects.get(code="ALPHA-CODE").metadata.get("tag") == "x"
    assert "tag" not in Voucher.objects.get(code="BRAVO-CODE").metadata
    assert str(result).count("Cannot find voucher with id BRAVO-CODE") == 1
    _run_accepted(alpha.post("/v1/vouchers/bulk/async", [{"code": "BRAVO-CODE", "active": False}]))
    assert Voucher.objects.get(code="BRAVO-CODE").active


def test_imported_codes_go_only_into_the_keys_categories(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from promo.models import Voucher

    rows = (f"code,category,discount_type,discount_value\nIN-BRAVO,{world.bravo.category.public_id},AMOUNT,100\n"
            f"NO-CATEGORY,,AMOUNT,100\nIN-ALPHA,{world.alpha.category.public_id},AMOUNT,100\n")
    alpha = world.keys["alpha"]
    upload = SimpleUploadedFile("codes.csv", rows.encode(), content_type="text/csv")
    _run_accepted(alpha.client.post("/v1/vouchers/importCSV", {"file": upload}, headers=alpha.headers))
    assert set(Voucher.objects.filter(code__in=["IN-BRAVO", "NO-CATEGORY", "IN-ALPHA"]).values_list(
        "code", flat=True)) == {"IN-ALPHA"}
