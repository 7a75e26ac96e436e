"""Evaluate the validation rules assigned to a redeemable, explain failures, and take the
counter-backed limits at redemption time.

A redeemable's rules are those assigned to its targets, e.g. [("voucher", "v_..."), ("campaign", "camp_...")].
Every rule must pass; within a rule, its numbered conditions combine by its `logic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from promo.registry import RedeemableError
from rules import counters, logic
from rules.conditions import CONDITIONS, LimitCondition
from rules.models import ValidationRule, ValidationRuleAssignment
from rules.operators import OPERATORS, UPPER_BOUNDS, apply_operator

DEFAULT_MESSAGES = {
    "customer_rules_violated": "Customer does not match the validation rules",
    "order_rules_violated": "Order does not match the validation rules",
    "redemption_rules_violated": "Redemption does not match the validation rules",
}


@dataclass(frozen=True)
class LimitUse:
    """A counter to take at redemption. The key is made then, when the customer surely exists."""

    condition: str
    scope: str
    amount: int
    limit: int


@dataclass
class ConditionResult:
    number: str
    name: str
    property: str | None
    conditions: dict
    actual: object
    passed: bool
    error_key: str
    note: str = ""

    def explain(self) -> str:
        prop = f"[{self.property}]" if self.property else ""
        text = f"rule {self.number}: {self.name}{prop} {self.conditions} (actual: {self.actual!r})"
        return f"{text}: {self.note}" if self.note else text


def assigned_rules(targets: list[tuple[str, str]], ctx=None) -> list[tuple[str, ValidationRule]]:
    """The rules assigned to any of `targets`; with a context, looked up once per request."""
    if not targets:
        return []
    if ctx is not None:
        cache = ctx.scratch.setdefault("assigned_rules", {})
        key = tuple(targets)
        if key not in cache:
            cache[key] = assigned_rules(targets)
        return cache[key]
    # Raw SQL: this runs for every redeemable of every validation, and the ORM spends far longer
    # compiling the OR of (type, id) pairs than PostgreSQL spends answering it.
    pairs = " OR ".join(["(a.related_object_type = %s AND a.related_object_id = %s)"] * len(targets))
    params = [value for pair in targets for value in pair]
    rule_table, assignment_table = ValidationRule._meta.db_table, ValidationRuleAssignment._meta.db_table
    rules = ValidationRule.objects.raw(
        "SELECT r.*, a.related_object_type AS assigned_type, a.related_object_id AS assigned_id "
        f"FROM {assignment_table} a JOIN {rule_table} r ON r.id = a.rule_id WHERE {pairs} ORDER BY a.id", params)
    return [(f"{rule.assigned_type}:{rule.assigned_id}", rule) for rule in rules]


def note_no_rules(targets: list[tuple[str, str]], ctx) -> None:
    """The caller has learnt, along with the redeemable itself, that no rule is assigned to these targets."""
    ctx.scratch.setdefault("assigned_rules", {})[tuple(targets)] = []


def _evaluate_numbered(number: str, definition: dict, ctx, scope: str, uses: list[LimitUse]) -> ConditionResult:
    name, prop = definition.get("name", ""), definition.get("property")
    conditions = definition.get("conditions") or {}
    condition = CONDITIONS.get(name)
    if condition is None:
        return ConditionResult(number, name, prop, conditions, None, False, "redemption_rules_violated",
                               "this condition is not supported, so the rule cannot pass")
    ignored = ctx.scratch.get("ignored_conditions")  # condition classes a caller does not check (qualifications)
    if ignored and isinstance(condition, ignored):
        return ConditionResult(number, name, prop, conditions, None, True, condition.error_key, "not checked here")
    actual = condition.value(ctx, definition, scope)
    passed = True
    for operator, expected in conditions.items():
        try:
            ok = apply_operator(operator, actual, expected)
        except KeyError:
            return ConditionResult(number, name, prop, conditions, actual, False, condition.error_key,
                                   f"unknown operator {operator}")
        passed = passed and ok
    if passed and isinstance(condition, LimitCondition):
        uses.extend(_limit_uses(condition, conditions, ctx, scope))
    return ConditionResult(number, name, prop, conditions, actual, passed, condition.error_key)


def _limit_uses(condition: LimitCondition, conditions: dict, ctx, scope: str) -> list[LimitUse]:
    uses = []
    for operator, expected in conditions.items():
        if operator in UPPER_BOUNDS:
            bound = Decimal(str((expected if isinstance(expected, list) else [expected])[0]))
            limit = int(bound) + UPPER_BOUNDS[operator] if bound == int(bound) else int(bound)
            uses.append(LimitUse(condition.name, scope, condition.increment(ctx, ctx.scratch.get("pending_amount", 0)),
                                 limit))
    return uses


def evaluate_rule(rule: ValidationRule, ctx, scope: str) -> tuple[bool, list[ConditionResult], list[LimitUse]]:
    numbered = {k: v for k, v in (rule.rules or {}).items() if k.isdigit() and isinstance(v, dict)}
    if not numbered:
        return True, [], []
    results: dict[str, ConditionResult] = {}
    uses: list[LimitUse] = []

    def value_of(number: str) -> bool:
        if number not in numbered:
            raise logic.LogicError(f"logic refers to rule {number}, which is not defined")
        if number not in results:
            results[number] = _evaluate_numbered(number, numbered[number], ctx, scope, uses)
        return results[number].passed

    expression = (rule.rules or {}).get("logic") or logic.default_logic(list(numbered))
    try:
        passed = logic.evaluate(logic.parse(expression), value_of)
    except logic.LogicError as exc:
        return False, [ConditionResult("logic", "logic", None, {}, expression, False, "redemption_rules_violated",
                                       str(exc))], []
    return passed, list(results.values()), uses


def check_rules(targets: list[tuple[str, str]], ctx, *, amount: int = 0, subject: str = "voucher",
                resource_id: str | None = None) -> list[LimitUse]:
    """Raise RedeemableError naming the failed rule and condition; return the limits to take.

    A caller that only needs the verdict (qualifications) puts a dict in ctx.scratch["rule_plans"]: the
    rules are then checked through precompiled plans (see quick_verdict), and a failure names the rule
    but not every failed condition."""
    ctx.scratch["pending_amount"] = amount
    rules = assigned_rules(targets, ctx)
    if not rules:
        return []
    plans = ctx.scratch.get("rule_plans")
    if plans is not None:
        verdict = quick_verdict(targets, rules, ctx, plans)
        if verdict is None:
            return []
        if verdict is not _SLOW:
            key, rule = verdict
            raise RedeemableError(key, rule.error_message or DEFAULT_MESSAGES.get(key, "Validation rules violated"),
                                  f"Validation rule '{rule.name}' ({rule.public_id}) failed",
                                  resource_type=subject, resource_id=resource_id)
    all_uses: list[LimitUse] = []
    for scope, rule in rules:
        passed, results, uses = evaluate_rule(rule, ctx, scope)
        if not passed:
            failed = next((r for r in results if not r.passed), None)
            key = failed.error_key if failed else "redemption_rules_violated"
            explanation = "; ".join(r.explain() for r in results if not r.passed)
            raise RedeemableError(key, rule.error_message or DEFAULT_MESSAGES.get(key, "Validation rules violated"),
                                  f"Validation rule '{rule.name}' ({rule.public_id}) failed: {explanation}",
                                  resource_type=subject, resource_id=resource_id)
        all_uses.extend(uses)
    return all_uses


# ---------------------------------------------------------------- precompiled plans (verdict only)

_SLOW = object()  # quick_verdict cannot decide: a counter-backed limit is checked (it has uses to return)


@dataclass
class _RulePlan:
    """One rule, compiled once: numbered conditions resolved to strategies and operator functions, logic
    parsed (a plain "1 and 2 and ..." becomes a sequence checked in order, as the parsed tree would be)."""

    rule: ValidationRule
    numbered: dict  # number -> (condition or None, definition, [(operator function or None, expected)], memo key)
    sequence: list | None  # the entries in order when the logic is the default "and" of them all
    tree: object  # the parsed logic; None: no numbered condition (passes); a LogicError: always fails
    limits: tuple  # the counter-backed conditions it names


def _plan(rule: ValidationRule) -> _RulePlan:
    numbered = {}
    for number, definition in (rule.rules or {}).items():
        if not (number.isdigit() and isinstance(definition, dict)):
            continue
        condition = CONDITIONS.get(definition.get("name", ""))
        prop = definition.get("property")
        memo = (condition.name, prop) if getattr(condition, "cacheable", False) and isinstance(
            prop, str | int | None) else None
        operators = [(OPERATORS.get(operator), expected if isinstance(expected, list) else [expected])
                     for operator, expected in (definition.get("conditions") or {}).items()]
        numbered[number] = (condition, definition, operators, memo)
    limits = tuple(c for c, *_rest in numbered.values() if isinstance(c, LimitCondition))
    tree, sequence = None, None
    if numbered:
        given = (rule.rules or {}).get("logic")
        try:
            tree = logic.parse(given or logic.default_logic(list(numbered)))
        except logic.LogicError as exc:
            tree = exc
        if not given:
            sequence = [numbered[n] for n in sorted(numbered, key=int)]
    return _RulePlan(rule=rule, numbered=numbered, sequence=sequence, tree=tree, limits=limits)


def quick_verdict(targets, rules: list, ctx, plans: dict):
    """The verdict check_rules would give, without explanations: None when every rule passes, else
    (error key, failed rule); _SLOW when a counter-backed limit must be checked (it has uses to return).
    `plans` caches the compiled rules by targets, for the same list of rules (shared while it is). Values of
    conditions that depend only on the request (order.amount, customer.*, context.*) are read once per
    request while ctx.state is the order as sent (ctx.scratch["pristine_state"])."""
    key = tuple(targets)
    cached = plans.get(key)
    if cached is None or cached[0] is not rules:  # compiled for this very list of rules, else again
        cached = plans[key] = (rules, [_plan(rule) for _scope, rule in rules])
    scratch = ctx.scratch
    ignored = scratch.get("ignored_conditions") or ()
    memo = scratch.setdefault("condition_values", {}) if scratch.get("pristine_state") is ctx.state else None
    for plan, (scope, _rule) in zip(cached[1], rules, strict=True):
        if plan.tree is None:
            continue
        if plan.limits and not all(isinstance(c, ignored) for c in plan.limits):
            return _SLOW
        if isinstance(plan.tree, logic.LogicError):
            return "redemption_rules_violated", plan.rule
        if plan.sequence is not None:
            for entry in plan.sequence:
                passed, error_key = _quick_condition(entry, ctx, scope, ignored, memo)
                if not passed:
                    return error_key, plan.rule
            continue
        failed: list[str] = []  # error keys of the conditions that failed, in evaluation order
        seen: dict[str, bool] = {}

        def value_of(number: str, plan=plan, scope=scope, failed=failed, seen=seen) -> bool:
            if number in seen:
                return seen[number]
            entry = plan.numbered.get(number)
            if entry is None:
                raise logic.LogicError(number)
            passed, error_key = _quick_condition(entry, ctx, scope, ignored, memo)
            seen[number] = passed
            if not passed:
                failed.append(error_key)
            return passed

        try:
            passed = logic.evaluate(plan.tree, value_of)
        except logic.LogicError:
            return "redemption_rules_violated", plan.rule
        if not passed:
            return (failed[0] if failed else "redemption_rules_violated"), plan.rule
    return None


def _quick_condition(entry, ctx, scope: str, ignored: tuple, memo: dict | None) -> tuple[bool, str]:
    """(passed, error key) of one numbered condition, as _evaluate_numbered decides it."""
    condition, definition, operators, memo_key = entry
    if condition is None:
        return False, "redemption_rules_violated"
    if ignored and isinstance(condition, ignored):
        return True, condition.error_key
    if memo is None or memo_key is None:
        actual = condition.value(ctx, definition, scope)
    elif memo_key in memo:
        actual = memo[memo_key]
    else:
        actual = memo[memo_key] = condition.value(ctx, definition, scope)
    passed = True
    for function, expected in operators:
        if function is None:  # an unknown operator: the condition cannot pass
            return False, condition.error_key
        passed = function(actual, expected) and passed
    return passed, condition.error_key


# Called as handler(scope, condition_name, limit) when a budget is used up by a redemption, inside its
# transaction: promo disables the campaign or voucher of `scope` ("campaign:camp_..") and records why.
_EXHAUSTED_HANDLERS: list = []


def on_budget_exhausted(handler) -> None:
    if handler not in _EXHAUSTED_HANDLERS:
        _EXHAUSTED_HANDLERS.append(handler)


def take_limits(uses: list[LimitUse], ctx) -> dict:
    """Inside the redemption transaction; a limit reached by a concurrent redemption raises."""
    taken = []
    for use in uses:
        condition = CONDITIONS[use.condition]
        key = condition.counter_key(ctx, use.scope)
        if key is None or not counters.take(key, use.amount, use.limit):
            raise RedeemableError("redemption_rules_violated", "Redemption does not match the validation rules",
                                  f"Limit reached: {use.condition} allows {use.limit}")
        taken.append([key, use.amount])
        if condition.is_budget and counters.used(key) >= use.limit:
            for handler in _EXHAUSTED_HANDLERS:
                handler(use.scope, use.condition, use.limit)
    return {"limits": taken} if taken else {}


def limit_counters(uses: list[LimitUse], ctx) -> dict[str, int | None]:
    """The counters take_limits will take (key -> limit), for the redemption to lock them first."""
    found = {}
    for use in uses:
        key = CONDITIONS[use.condition].counter_key(ctx, use.scope)
        if key is not None:
            found[key] = use.limit
    return found


def taken_counters(taken: dict) -> list[str]:
    """The counters give_back_limits will give back to."""
    return [key for key, _amount in taken.get("limits", [])]


def give_back_limits(taken: dict) -> None:
    for key, amount in taken.get("limits", []):
        counters.give_back(key, amount)


def applicable_to(targets: list[tuple[str, str]], ctx=None) -> tuple[list[dict], list[dict]]:
    included, excluded = [], []
    for _scope, rule in assigned_rules(targets, ctx):
        included.extend(rule.applicable_to or [])
        excluded.extend(rule.inapplicable_to or [])
    return included, excluded
