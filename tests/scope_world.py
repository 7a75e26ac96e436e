"""Two campaign categories with one of everything in each, for the API-key scope tests.

Department Alpha and department Bravo each get a discount campaign with a code, a gift card campaign with a
card, a promotion campaign with a tier and a stack, a validation rule assigned to their campaign, a stacked
redemption (code + card) by one shared customer, a validation session holding the card's credits and a bulk
issue of cards (an async action). Everything of Bravo carries "bravo" in its names and codes, so a test can
tell whether an answer shows any of it; `hidden_ids` lists Bravo's random public ids as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import services as core_services
from core.models import AsyncAction
from giftcards import services as gift_services
from promo import campaigns
from promo.models import Campaign, Category, PromotionStack, PromotionTier, Redemption, Voucher
from rules.models import ValidationRule, ValidationRuleAssignment
from tests.conftest import JsonClient


@dataclass
class Department:
    name: str  # "alpha" or "bravo"
    category: Category
    coupons: Campaign
    code: Voucher
    gifts: Campaign
    card: Voucher
    promotion: Campaign
    tier: PromotionTier
    stack: PromotionStack
    rule: ValidationRule
    assignment: ValidationRuleAssignment
    redemption: str = ""  # the stacked redemption's parent id
    session_key: str = ""
    batch: AsyncAction | None = None
    extra_ids: list[str] = field(default_factory=list)

    def public_ids(self) -> set[str]:
        ids = {self.category.public_id, self.coupons.public_id, self.code.public_id, self.gifts.public_id,
               self.card.public_id, self.promotion.public_id, self.tier.public_id, self.stack.public_id,
               self.rule.public_id, self.assignment.public_id, self.redemption, *self.extra_ids}
        if self.batch is not None:
            ids.add(self.batch.public_id)
        return ids


@dataclass
class ScopeWorld:
    alpha: Department
    bravo: Department
    mixed_redemption: str  # Alpha's code and Bravo's card in one stacked redemption
    customer_id: str
    keys: dict[str, JsonClient]  # by name: management, read_only, redemption, alpha, alpha_read_only ...
    shared: dict = field(default_factory=dict)  # rows of no category (customers, products ...) by URL parameter

    def hidden_ids(self) -> set[str]:
        return self.bravo.public_ids() | {self.mixed_redemption}


def key(scope: str = "management", categories=()) -> JsonClient:
    issued = core_services.api_key_create(name=f"{scope} key", scope=scope, categories=list(categories))
    return JsonClient({"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})


def _department(name: str) -> Department:
    title = name.title()
    category = Category.objects.create(name=f"{title} dept", hierarchy=1 if name == "alpha" else 2)
    coupons = campaigns.campaign_create({"name": f"{title} coupons", "category_id": category.public_id,
                                         "voucher": {"type": "DISCOUNT_VOUCHER",
                                                     "discount": {"type": "AMOUNT", "amount_off": 500}}})
    code = campaigns.voucher_create({"code": f"{name.upper()}-CODE"}, campaign=coupons)
    gifts = campaigns.campaign_create({"name": f"{title} gift cards", "campaign_type": "GIFT_VOUCHERS",
                                       "category_id": category.public_id,
                                       "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": 10_000}}})
    card = campaigns.voucher_create({"code": f"{name.upper()}-GIFT"}, campaign=gifts)
    promotion = Campaign.objects.create(name=f"{title} promotion", campaign_type=Campaign.CampaignType.PROMOTION,
                                        category=category)
    tier = PromotionTier.objects.create(campaign=promotion, name=f"{title} tier",
                                        action={"discount": {"type": "AMOUNT", "amount_off": 100}})
    stack = PromotionStack.objects.create(campaign=promotion, name=f"{title} stack", tier_ids=[tier.public_id])
    rule = ValidationRule.objects.create(name=f"{title} rule", rules={})
    assignment = ValidationRuleAssignment.objects.create(rule=rule, related_object_type="campaign",
                                                         related_object_id=coupons.public_id)
    return Department(name, category, coupons, code, gifts, card, promotion, tier, stack, rule, assignment)


def _redeem_once(client: JsonClient, *redeemables: dict) -> dict:
    body = {"customer": {"source_id": "shared-customer"}, "order": {"amount": 20_000},
            "redeemables": list(redeemables)}
    response = client.post("/v1/redemptions", body)
    assert response.status_code == 200, response.content
    return response.json()


def _code(voucher: Voucher) -> dict:
    return {"object": "voucher", "id": voucher.code}


def _credits(card: Voucher, amount: int = 1000) -> dict:
    return {"object": "voucher", "id": card.code, "gift": {"credits": amount}}


def _redeem(client: JsonClient, department: Department) -> None:
    """A redemption of the code and one of the card (one redeemable per category applies), then a
    validation session holding some of the card's credits."""
    coupon = _redeem_once(client, _code(department.code))
    gift = _redeem_once(client, _credits(department.card))
    department.redemption = gift["parent_redemption"]["id"]
    department.extra_ids += [coupon["parent_redemption"]["id"],
                             *(r["id"] for answer in (coupon, gift) for r in answer["redemptions"])]
    session = client.post("/v1/validations", {"order": {"amount": 5000}, "session": {"type": "LOCK"},
                                              "redeemables": [_credits(department.card, 2000)]})
    assert session.json()["valid"] is True, session.content
    department.session_key = session.json()["session"]["key"]


def _bulk_issue(department: Department, api_key) -> None:
    from django.db import transaction

    with transaction.atomic():
        action = gift_services.bulk_issue_start(campaign=department.gifts.public_id, count=2,
                                                label=f"{department.name} batch",
                                                actor=gift_services.Actor.of(api_key=api_key))
    core_services.async_action_run(action.pk)
    action.refresh_from_db()
    assert action.status == AsyncAction.Status.DONE, action.result
    department.batch = action
    department.extra_ids += list(Voucher.objects.filter(metadata__gift_batch=action.public_id)
                                 .values_list("code", flat=True))


def build() -> ScopeWorld:
    from core.models import ApiKey

    alpha, bravo = _department("alpha"), _department("bravo")
    keys = {"management": key(), "read_only": key("read_only"), "redemption": key("redemption"),
            "alpha": key(categories=[alpha.category]),
            "alpha_read_only": key("read_only", categories=[alpha.category]),
            "alpha_redemption": key("redemption", categories=[alpha.category])}
    for department in (alpha, bravo):
        _redeem(keys["management"], department)
    mixed = _redeem_once(keys["management"], _code(alpha.code), _credits(bravo.card))["parent_redemption"]["id"]
    alpha_key = ApiKey.objects.get(app_id=keys["alpha"].headers["X-App-Id"])
    unlimited_key = ApiKey.objects.get(app_id=keys["management"].headers["X-App-Id"])
    _bulk_issue(alpha, alpha_key)
    _bulk_issue(bravo, unlimited_key)
    customer = Redemption.objects.get(public_id=alpha.redemption).customer
    return ScopeWorld(alpha, bravo, mixed, customer.public_id, keys)
