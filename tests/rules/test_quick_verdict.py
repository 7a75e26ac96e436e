"""rules.evaluation.quick_verdict (precompiled rules, for qualifications) gives the verdict and error key that
the explaining evaluator gives, for every shape of rule: logic, unknown conditions and operators, ignored
condition classes, counter-backed limits, and values read once per request only while the cart is as sent."""

import pytest

from customers.models import Customer
from promo.context import build_context
from promo.discounts import OrderState
from promo.registry import RedeemableError
from rules import evaluation
from rules.conditions import CustomerCondition, LimitCondition, OrderCondition
from rules.models import ValidationRule

pytestmark = pytest.mark.django_db

TARGETS = [("promotion_tier", "promo_test")]
CART = {"items": [{"source_id": "shirt", "related_object": "product", "quantity": 2, "price": 2500},
                  {"source_id": "socks", "related_object": "product", "quantity": 1, "price": 500}]}


def numbered(*conditions, logic=None) -> dict:
    found = {str(i + 1): c for i, c in enumerate(conditions)}
    if logic is not None:
        found["logic"] = logic
    return found


AMOUNT_OVER = {"name": "order.amount", "conditions": {"$more_than": [5000]}}  # 5500: passes
AMOUNT_UNDER = {"name": "order.amount", "conditions": {"$less_than": [1000]}}  # fails
POLISH = {"name": "customer.address.country", "conditions": {"$in": ["PL"]}}  # passes
FRENCH = {"name": "customer.address.country", "conditions": {"$is": ["FR"]}}  # fails
GOLD = {"name": "customer.metadata", "property": "loyalty_tier", "conditions": {"$is": ["gold"]}}
SOCKS = {"name": "order.items.any", "conditions": {"$is": [{"object": "product", "id": "socks"}]}}
HATS = {"name": "order.items.any", "conditions": {"$is": [{"object": "product", "id": "hats"}]}}
PER_CUSTOMER = {"name": "redemption.count.per_customer", "conditions": {"$less_than": [3]}}

RULE_SETS = [
    [],
    [numbered()],
    [numbered(AMOUNT_OVER)],
    [numbered(AMOUNT_UNDER)],
    [numbered(AMOUNT_OVER, FRENCH)],
    [numbered(FRENCH, AMOUNT_UNDER)],
    [numbered(AMOUNT_UNDER, FRENCH, logic="1 or 2")],
    [numbered(AMOUNT_UNDER, POLISH, logic="1 or 2")],
    [numbered(AMOUNT_UNDER, logic="not 1")],
    [numbered(AMOUNT_OVER, FRENCH, GOLD, logic="(1 and 2) or 3")],
    [numbered(AMOUNT_UNDER, FRENCH, GOLD, logic="(1 or 2) and 3")],
    [numbered(AMOUNT_OVER, logic="1 and")],
    [numbered(AMOUNT_OVER, logic="1 and 5")],
    [numbered(AMOUNT_OVER, {"name": "no.such.condition", "conditions": {"$is": [1]}})],
    [numbered({"name": "order.amount", "conditions": {"$more_than": [1], "$no_such_operator": [2]}})],
    [numbered({"name": "order.amount", "conditions": {"$more_than": [1], "$less_than": [2]}})],
    [numbered({"name": "order.amount", "conditions": {"$more_than": 1}})],
    [numbered(SOCKS), numbered(HATS)],
    [numbered(SOCKS, GOLD), numbered(POLISH, AMOUNT_OVER, AMOUNT_OVER)],
    [numbered(PER_CUSTOMER)],
    [numbered(POLISH, PER_CUSTOMER, logic="1 and 2")],
    [{"10": AMOUNT_OVER, "2": FRENCH}],
    [{"1": AMOUNT_OVER, "note": "not a condition", "2": "not a dict"}],
    [numbered({"name": "customer.address.country", "property": ["ignored"], "conditions": {"$is": ["PL"]}})],
]
IGNORED = [None, (LimitCondition,), (LimitCondition, OrderCondition), (LimitCondition, CustomerCondition)]


def verdict(ctx, rules, *, plans=None):
    ctx.scratch["assigned_rules"] = {tuple(TARGETS): [(f"promotion_tier:promo_test:{i}", r)
                                                      for i, r in enumerate(rules)]}
    if plans is None:
        ctx.scratch.pop("rule_plans", None)
    else:
        ctx.scratch["rule_plans"] = plans
    try:
        evaluation.check_rules(TARGETS, ctx, subject="promotion_tier", resource_id="promo_test")
    except RedeemableError as error:
        return error.key
    return "passes"


@pytest.fixture
def ctx():
    Customer.objects.create(source_id="ann", address_country="PL", metadata={"loyalty_tier": "gold"})
    built = build_context({"redeemables": [], "order": CART, "customer": {"source_id": "ann"}})
    built.scratch["pristine_state"] = built.state
    return built


@pytest.mark.parametrize("ignored", IGNORED)
@pytest.mark.parametrize("index", range(len(RULE_SETS)))
def test_same_verdict_as_the_explaining_evaluator(ctx, index, ignored):
    rules = [ValidationRule(name=f"r{i}", rules=r) for i, r in enumerate(RULE_SETS[index])]
    ctx.scratch["ignored_conditions"] = ignored
    expected = verdict(ctx, rules)
    plans: dict = {}
    assert verdict(ctx, rules, plans=plans) == expected
    assert verdict(ctx, rules, plans=plans) == expected  # compiled once, and read values reused


def test_values_are_reused_only_while_the_cart_is_as_sent(ctx):
    rules = [ValidationRule(name="total", rules=numbered({"name": "order.total_amount",
                                                          "conditions": {"$more_than": [5000]}}))]
    plans: dict = {}
    assert verdict(ctx, rules, plans=plans) == "passes"
    pristine = ctx.state
    ctx.state = OrderState(lines=pristine.lines, amount=pristine.amount, discount_amount=1000)  # a stack's next step
    assert verdict(ctx, rules, plans=plans) == "order_rules_violated"
    ctx.state = pristine
    assert verdict(ctx, rules, plans=plans) == "passes"


def test_plans_follow_changed_rules(ctx):
    plans: dict = {}
    assert verdict(ctx, [ValidationRule(name="a", rules=numbered(AMOUNT_OVER))], plans=plans) == "passes"
    assert verdict(ctx, [ValidationRule(name="a", rules=numbered(AMOUNT_UNDER))], plans=plans) == \
        "order_rules_violated"
