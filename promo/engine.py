"""The redemption engine's evaluation: one pass over the requested redeemables that decides, in
the stacking order, which apply and what each does to the order. Validations answer with it;
redemptions (promo.services) persist it. Nothing here writes to the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promo import discounts, registry
from promo.context import Context, RedeemableRef
from promo.registry import Applied, RedeemableError
from promo.stacking import StackingRules

APPLICABLE, INAPPLICABLE, SKIPPED = "APPLICABLE", "INAPPLICABLE", "SKIPPED"

SKIP_MESSAGES = {
    "applicable_redeemables_limit_exceeded": "Applicable redeemables limit exceeded",
    "applicable_redeemables_per_category_limit_exceeded": "Applicable redeemables limit per category exceeded",
    "applicable_exclusive_redeemables_limit_exceeded": "Applicable exclusive redeemables limit exceeded",
    "applicable_exclusive_redeemables_per_category_limit_exceeded":
        "Applicable exclusive redeemables limit per category exceeded",
    "exclusion_rules_not_met": "Redeemable cannot be applied due to exclusion rules",
    "preceding_validation_failed": "Redeemable cannot be applied due to preceding validation failure",
    "no_effect": "Redeemable has no effect on the order",
}


@dataclass
class Candidate:
    ref: RedeemableRef
    position: int
    handler: Any = None
    obj: Any = None
    category: Any = None
    status: str = APPLICABLE
    error: RedeemableError | None = None
    skip_key: str | None = None
    applied: Applied | None = None
    order_after: discounts.OrderState | None = None
    applied_items: dict[int, int] = field(default_factory=dict)
    applied_order: int = 0

    @property
    def category_id(self) -> str | None:
        return self.category.public_id if self.category else None


@dataclass
class Evaluation:
    ctx: Context
    rules: StackingRules
    candidates: list[Candidate]

    @property
    def applicable(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status == APPLICABLE]

    @property
    def valid(self) -> bool:
        if self.rules.redeemables_application_mode == "ALL":
            return all(c.status == APPLICABLE for c in self.candidates)
        return bool(self.applicable)

    def first_error(self) -> RedeemableError | None:
        return next((c.error for c in self.candidates if c.error is not None), None)


def evaluate(ctx: Context, rules: StackingRules) -> Evaluation:
    candidates = [_load(ref, position, ctx) for position, ref in enumerate(ctx.redeemables)]
    ordered = _sorted(candidates, rules)
    for candidate in ordered:
        if candidate.status != APPLICABLE:
            continue
        skip = _stacking_skip(candidate, ordered, rules)
        if skip:
            candidate.status, candidate.skip_key = SKIPPED, skip
            continue
        _apply_one(candidate, ctx, rules)
    if rules.redeemables_application_mode == "ALL" and any(c.status == INAPPLICABLE for c in candidates):
        _fail_all(candidates)
    return Evaluation(ctx=ctx, rules=rules, candidates=candidates)


def _load(ref: RedeemableRef, position: int, ctx: Context) -> Candidate:
    candidate = Candidate(ref=ref, position=position)
    try:
        loaded = registry.load(ref, ctx)
    except RedeemableError as error:
        candidate.status, candidate.error = INAPPLICABLE, error
        return candidate
    candidate.handler, candidate.obj = loaded.handler, loaded.obj
    candidate.category = loaded.handler.category(loaded.obj)
    return candidate


def _sorted(candidates: list[Candidate], rules: StackingRules) -> list[Candidate]:
    if rules.redeemables_sorting_rule == "CATEGORY_HIERARCHY":
        # Categorised redeemables first by hierarchy; uncategorised keep the requested order after them.
        return sorted(candidates, key=lambda c: (c.category is None, c.category.hierarchy if c.category else 0,
                                                 c.position))
    return list(candidates)


def _stacking_skip(candidate: Candidate, ordered: list[Candidate], rules: StackingRules) -> str | None:
    applied = [c for c in ordered if c.status == APPLICABLE and c.applied is not None]
    exclusive, joint = set(rules.exclusive_categories), set(rules.joint_categories)
    cat = candidate.category_id
    if len(applied) >= rules.applicable_redeemables_limit:
        return "applicable_redeemables_limit_exceeded"
    if cat in exclusive:
        exclusives = [c for c in applied if c.category_id in exclusive]
        if len(exclusives) >= rules.applicable_exclusive_redeemables_limit:
            return "applicable_exclusive_redeemables_limit_exceeded"
        if sum(c.category_id == cat for c in exclusives) >= rules.applicable_exclusive_redeemables_per_category_limit:
            return "applicable_exclusive_redeemables_per_category_limit_exceeded"
        if any(c.category_id not in exclusive | joint for c in applied):
            return "exclusion_rules_not_met"  # an exclusive one combines only with joint categories
        return None
    if any(c.category_id in exclusive for c in applied) and cat not in joint:
        return "exclusion_rules_not_met"
    if cat is not None:
        per_category = rules.applicable_redeemables_category_limits.get(cat,
                                                                        rules.applicable_redeemables_per_category_limit)
        if sum(c.category_id == cat for c in applied) >= per_category:
            return "applicable_redeemables_per_category_limit_exceeded"
    return None


def _apply_one(candidate: Candidate, ctx: Context, rules: StackingRules) -> None:
    try:
        candidate.handler.check(candidate.obj, ctx, candidate.ref)
        applied = candidate.handler.apply(candidate.obj, ctx, candidate.ref)
    except RedeemableError as error:
        candidate.status, candidate.error = INAPPLICABLE, error
        return
    if applied.effect.is_empty and ctx.has_order and rules.redeemables_no_effect_rule == "SKIP" \
            and not _has_non_discount_result(applied):
        candidate.status, candidate.skip_key = SKIPPED, "no_effect"
        return
    discounts.apply(ctx.state, applied.effect)
    candidate.applied = applied
    candidate.applied_items = dict(applied.effect.item_discounts)
    candidate.applied_order = applied.effect.order_discount
    candidate.order_after = _snapshot(ctx.state)


def _has_non_discount_result(applied: Applied) -> bool:
    return any(key != "discount" for key in applied.result)


def _snapshot(state: discounts.OrderState) -> discounts.OrderState:
    lines = [discounts.Line(**vars(line)) for line in state.lines]
    return discounts.OrderState(lines=lines, amount=state.amount, discount_amount=state.discount_amount)


def _fail_all(candidates: list[Candidate]) -> None:
    """Application mode ALL: one inapplicable redeemable fails the request; the others are skipped."""
    for candidate in candidates:
        if candidate.status != INAPPLICABLE:
            candidate.status, candidate.skip_key, candidate.applied = SKIPPED, "preceding_validation_failed", None
