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
    group: str | None = None  # the members of one promotion stack share it: they apply together or not at all
    level: int = discounts.ORDER_LEVEL  # calculation order: item-level discounts, order-level, then the rest
    hierarchy: int = 0  # a promotion tier's hierarchy: its place within its category (CATEGORY_HIERARCHY)
    campaign: Any = None

    @property
    def category_id(self) -> str | None:
        return self.category.public_id if self.category else None

    @property
    def exclusive(self) -> bool:
        """From an exclusive campaign: applies alone."""
        return bool(getattr(self.campaign, "exclusive", False))


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
    candidates = [c for position, ref in enumerate(ctx.redeemables) for c in _load(ref, position, ctx)]
    initial = _snapshot(ctx.state) if len({c.level for c in candidates}) > 1 else None
    ordered = _sorted(candidates, rules)
    # Payments (gift cards: handler.applies_after_discounts) come after every discount, whatever the sorting rule.
    ordered.sort(key=lambda c: bool(getattr(c.handler, "applies_after_discounts", False)))
    for unit in _units(ordered):
        _evaluate_unit(unit, ordered, ctx, rules)
    if initial is not None:
        _recalculate_by_level(ordered, ctx, rules, initial)
    if rules.redeemables_application_mode == "ALL" and any(c.status == INAPPLICABLE for c in candidates):
        _fail_all(candidates)
    return Evaluation(ctx=ctx, rules=rules, candidates=candidates)


def _units(ordered: list[Candidate]) -> list[list[Candidate]]:
    """Redeemables as they stack: one each, a promotion stack's tiers (kept together by _sorted) as one."""
    units: list[list[Candidate]] = []
    for candidate in ordered:
        if candidate.group is not None and units and units[-1][0].group == candidate.group:
            units[-1].append(candidate)
        else:
            units.append([candidate])
    return units


def _evaluate_unit(unit: list[Candidate], ordered: list[Candidate], ctx: Context, rules: StackingRules) -> None:
    live = [c for c in unit if c.status == APPLICABLE]
    if not live:
        return
    skip = _stacking_skip(live[0], ordered, rules)  # a stack's tiers are judged together, by the first
    if skip:
        for candidate in live:
            candidate.status, candidate.skip_key = SKIPPED, skip
        return
    before = _snapshot(ctx.state) if len(unit) > 1 else None
    for candidate in live:
        _apply_one(candidate, ctx, rules)
        if candidate.status == INAPPLICABLE and before is not None:  # all of a stack or none of it
            _restore(ctx.state, before)
            for other in unit:
                if other is not candidate and other.status != INAPPLICABLE:
                    other.status, other.skip_key, other.applied = SKIPPED, "preceding_validation_failed", None
            return


def _recalculate_by_level(ordered: list[Candidate], ctx: Context, rules: StackingRules,
                          initial: discounts.OrderState) -> None:
    """Which redeemables apply is decided in the stacking order; their discounts are calculated with
    item-level discounts first, then order-level ones, then the rest (gift card credits), each level in
    the stacking order. Recalculate when the stacking order put a later level first."""
    applied = [c for c in ordered if c.status == APPLICABLE and c.applied is not None]
    if all(a.level <= b.level for a, b in zip(applied, applied[1:], strict=False)):
        return
    _restore(ctx.state, initial)
    for candidate in sorted(applied, key=lambda c: c.level):
        candidate.applied = None
        _apply_one(candidate, ctx, rules)


def _load(ref: RedeemableRef, position: int, ctx: Context) -> list[Candidate]:
    try:
        loaded = registry.load(ref, ctx)
    except RedeemableError as error:
        return [Candidate(ref=ref, position=position, status=INAPPLICABLE, error=error)]
    if loaded.members is None:
        return [_candidate(ref, position, loaded)]
    group, category = f"{position}:{ref.object}:{ref.id}", getattr(loaded.obj, "category", None)
    return [_candidate(member_ref, position, member, group=group, category=category)
            for member_ref, member in loaded.members]


def _candidate(ref: RedeemableRef, position: int, loaded: registry.Loaded, *, group: str | None = None,
               category=None) -> Candidate:
    handler, obj = loaded.handler, loaded.obj
    if getattr(handler, "applies_after_discounts", False):
        level = discounts.AFTER_DISCOUNTS
    elif hasattr(handler, "level"):
        level = handler.level(obj)
    else:
        level = discounts.discount_level(getattr(obj, "discount", None))
    return Candidate(ref=ref, position=position, handler=handler, obj=obj, category=category or handler.category(obj),
                     group=group, level=level, hierarchy=getattr(obj, "hierarchy", 0) or 0,
                     campaign=handler.campaign(obj))


def _sorted(candidates: list[Candidate], rules: StackingRules) -> list[Candidate]:
    if rules.redeemables_sorting_rule != "CATEGORY_HIERARCHY":
        return list(candidates)
    # Categorised redeemables first by category hierarchy, then (promotion tiers) by tier hierarchy;
    # uncategorised keep the requested order after them. A stack's tiers stay together, in the stack's order.
    keys: dict = {}
    for c in candidates:
        keys.setdefault(c.group or id(c), (c.category is None, c.category.hierarchy if c.category else 0,
                                           c.hierarchy, c.position))
    return sorted(candidates, key=lambda c: keys[c.group or id(c)])


def _count(candidates: list[Candidate]) -> int:
    """How many redeemables these are for the limits: a promotion stack counts once."""
    return len({c.group or id(c) for c in candidates})


def _stacking_skip(candidate: Candidate, ordered: list[Candidate], rules: StackingRules) -> str | None:
    applied = [c for c in ordered if c.status == APPLICABLE and c.applied is not None]
    exclusive, joint = set(rules.exclusive_categories), set(rules.joint_categories)
    cat = candidate.category_id
    if _count(applied) >= rules.applicable_redeemables_limit:
        return "applicable_redeemables_limit_exceeded"
    if applied and (candidate.exclusive or any(c.exclusive for c in applied)):
        return "exclusion_rules_not_met"  # an exclusive campaign's redeemable applies alone
    if cat in exclusive:
        exclusives = [c for c in applied if c.category_id in exclusive]
        if _count(exclusives) >= rules.applicable_exclusive_redeemables_limit:
            return "applicable_exclusive_redeemables_limit_exceeded"
        if _count([c for c in exclusives if c.category_id == cat]) \
                >= rules.applicable_exclusive_redeemables_per_category_limit:
            return "applicable_exclusive_redeemables_per_category_limit_exceeded"
        if any(c.category_id not in exclusive | joint for c in applied):
            return "exclusion_rules_not_met"  # an exclusive one combines only with joint categories
        return None
    if any(c.category_id in exclusive for c in applied) and cat not in joint:
        return "exclusion_rules_not_met"
    if cat is not None:
        per_category = rules.applicable_redeemables_category_limits.get(cat,
                                                                        rules.applicable_redeemables_per_category_limit)
        if _count([c for c in applied if c.category_id == cat]) >= per_category:
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


def _restore(state: discounts.OrderState, saved: discounts.OrderState) -> None:
    state.lines[:] = [discounts.Line(**vars(line)) for line in saved.lines]
    state.amount, state.discount_amount = saved.amount, saved.discount_amount


def _fail_all(candidates: list[Candidate]) -> None:
    """Application mode ALL: one inapplicable redeemable fails the request; the others are skipped."""
    for candidate in candidates:
        if candidate.status != INAPPLICABLE:
            candidate.status, candidate.skip_key, candidate.applied = SKIPPED, "preceding_validation_failed", None
