"""POST /v1/qualifications: what this customer and cart can get, with the discount each would give.

Each candidate (a promotion tier, a promotion stack, a code in the customer's wallet) is checked and
calculated alone on the cart as sent, with the same handlers as validations (promo.handlers,
promo.promotion_handlers), then filtered, sorted and paginated. Everything is loaded in a fixed number
of queries whatever the number of tiers: live tiers with their campaigns and categories (1), stacks
(1), wallet codes (1), and the rules assigned to all of them (1), prefilled into the context's rule
cache so no handler queries per tier.

Like Voucherify's, qualifications do not check counter-backed limits (budgets, per-customer and
per-period counts): redemption enforces them. Scenarios (docs/promotions.md):

- ALL: wallet codes, promotion tiers and promotion stacks that apply to the customer and cart;
- CUSTOMER_WALLET: the customer's codes (vouchers held by the customer) only;
- AUDIENCE_ONLY: like ALL, checking only the rules about the customer (order rules are ignored);
- PRODUCTS / PRODUCTS_BY_CUSTOMER: item-level discounts that cover at least one of the order's
  products (customer rules ignored / checked);
- PRODUCTS_DISCOUNT / PRODUCTS_DISCOUNT_BY_CUSTOMER: the same, only those that give the items a
  discount, with the discount per item;
- PROMOTION_STACKS: promotion stacks whose tiers all apply, with the combined discount.

With a cart, a redeemable that would give it nothing (10% off a product it does not hold) is not
offered, except in AUDIENCE_ONLY. Sorting: DEFAULT newest first, BEST_DEAL / LEAST_DEAL by the total
applied discount (ties newest first); pages follow `starting_after` (the created_at of the last one).
With DEFAULT, candidates are judged newest first only until the page is full and one more qualifies;
only the page is rendered.
Loaded tiers, stacks and rules are shared (tier and stack writes through promo.promotions refresh them
at once), with each tier's rules compiled once (rules.evaluation.quick_verdict); every
QUALIFICATIONS_CACHE_SECONDS one query checks that no row they come from changed in another way.
On top of that, whole answers are kept for QUALIFICATIONS_CACHE_SECONDS, keyed by the request as sent,
the caller, the customer's row (id, updated_at, order totals) and the definitions' generation: the same
cart asked again within seconds is answered without evaluating anything.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q

from core.permissions import current_actor, redeemable_in_scope, resolve_actor, sees_every_campaign
from customers.models import Customer
from promo import bundles, discounts, presenters
from promo.context import Context, RedeemableRef, build_context, find_customer
from promo.handlers import _VOUCHER_ROWS as WALLET_ROWS
from promo.models import Campaign, Category, PromotionStack, PromotionTier, Voucher
from promo.promotion_handlers import HANDLER as TIER_HANDLER
from promo.promotion_handlers import bundle_rules, rule_targets, unit_grants
from promo.promotions import category_json, definitions_generation
from promo.registry import Applied, RedeemableError, handler_for
from promo.stacking import StackingRules, project_stacking_rules
from promo.targets import matching_lines, resolve_targets
from rules import evaluation
from rules.conditions import CustomerCondition, LimitCondition, OrderCondition
from rules.models import ValidationRule, ValidationRuleAssignment

SCENARIOS = ("ALL", "CUSTOMER_WALLET", "AUDIENCE_ONLY", "PRODUCTS", "PRODUCTS_DISCOUNT", "PROMOTION_STACKS",
             "PRODUCTS_BY_CUSTOMER", "PRODUCTS_DISCOUNT_BY_CUSTOMER")
SORTING_RULES = ("DEFAULT", "BEST_DEAL", "LEAST_DEAL")
DEFAULT_LIMIT, MAX_LIMIT = 5, 50
FILTER_FIELDS = ("category_id", "campaign_id", "campaign_type", "resource_id", "resource_type", "voucher_type",
                 "code", "holder_role")
FILTER_OPERATORS = ("$is", "$is_not", "$in", "$not_in", "$has_value", "$is_unknown")
# A cart that cannot say what a discount is worth (no items, no amount) does not rule the redeemable out.
UNKNOWN_WORTH = {"missing_order_items", "missing_amount"}


@dataclass
class Qualified:
    """One redeemable that qualifies, with what it does to the cart (stacks: per tier)."""

    object: str
    id: str
    created_at: datetime
    obj: Any
    handler: Any
    steps: list[tuple[Any, Applied | None]]  # (tier or voucher, its effect; None when the cart cannot tell)
    campaign: Campaign | None
    category: Any
    amount: int = 0
    extra: dict = field(default_factory=dict)

    def attribute(self, name: str):
        """The value a filter of options.filters reads."""
        voucher = self.obj if isinstance(self.obj, Voucher) else None
        return {
            "category_id": self.category.public_id if self.category else None,
            "campaign_id": self.campaign.public_id if self.campaign else None,
            "campaign_type": self.campaign.campaign_type if self.campaign else None,
            "resource_id": self.id, "resource_type": self.object,
            "voucher_type": voucher.type if voucher else None, "code": voucher.code if voucher else None,
            "holder_role": "OWNER" if voucher is not None and voucher.holder_id else None,
        }[name]


# ================================================================ entry point

def qualify(request: dict, *, render: Callable[[dict], bytes], api_key=None) -> bytes:
    """`request` is the parsed body (promo.api.qualifications): customer, order, scenario, options, ...
    The answer as JSON, written by `render` (the API's renderer). It comes from the result cache when the
    same request was answered within QUALIFICATIONS_CACHE_SECONDS for the same caller, customer row and
    definitions: kept as the bytes sent, a cached answer costs no decoding or encoding."""
    seconds = getattr(settings, "QUALIFICATIONS_CACHE_SECONDS", 0)
    customer = find_customer(request.get("customer"))
    key = _result_key(request, customer) if seconds > 0 else None
    if key is not None:
        found = _results.get(key)
        if found is not None and time.monotonic() - found[0] < seconds:
            return found[1]
    text = render(_qualify(request, customer, api_key))
    if key is not None:
        _keep_result(key, text, seconds)
    return text


def _keep_result(key: str, text: bytes, seconds: float) -> None:
    """Answers are kept as JSON text: as dicts, a thousand 50-redeemable pages were 1.4 million objects that
    every full garbage collection walked (a second's stall of the process) and 800 MB. The oldest go first,
    beyond RESULTS_KEPT answers, RESULTS_BYTES or their age."""
    global _results_bytes
    now = time.monotonic()
    with _results_lock:
        previous = _results.pop(key, None)
        _results_bytes += len(text) - (len(previous[1]) if previous else 0)
        _results[key] = (now, text)
        while _results and (len(_results) > RESULTS_KEPT or _results_bytes > RESULTS_BYTES
                            or now - next(iter(_results.values()))[0] >= seconds):
            _results_bytes -= len(_results.popitem(last=False)[1][1])


def _qualify(request: dict, customer: Customer | None, api_key) -> dict:
    scenario = request.get("scenario") or "ALL"
    options = request.get("options") or {}
    ctx = build_context({"redeemables": [], "order": request.get("order"), "customer": request.get("customer"),
                         "metadata": request.get("metadata"), "tracking_id": request.get("tracking_id"),
                         "session": None}, api_key=api_key, customer=customer)
    ctx.scratch["ignored_conditions"] = _ignored_conditions(scenario)
    ctx.scratch["pristine_state"] = ctx.state  # condition values are read once while the cart is as sent
    stacking = project_stacking_rules()
    definitions = _definitions(ctx.now) if scenario != "CUSTOMER_WALLET" else None
    ctx.scratch["rule_plans"] = definitions.plans if definitions else {}
    # Only what the caller's API key (or user) may see: other categories' campaigns do not exist for it.
    visible: dict[int, bool] = {}  # by campaign: the scope depends on the campaign's category only
    everything = sees_every_campaign()
    tiers = [t for t in definitions.tiers if everything or _in_scope(t.campaign, visible)] if definitions else []
    stacks = [(s, members) for s, members in definitions.stacks if everything or _in_scope(s.campaign, visible)] \
        if definitions and scenario in ("ALL", "AUDIENCE_ONLY", "PROMOTION_STACKS") else []
    vouchers = [v for v in _wallet(ctx) if redeemable_in_scope(v)] if scenario not in ("PROMOTION_STACKS",) else []
    if scenario.startswith("PRODUCTS_DISCOUNT"):  # only item-level discounts can qualify (_for_products)
        tiers, vouchers = [t for t in tiers if _item_level(t)], [v for v in vouchers if _item_level(v)]
    ctx.scratch["assigned_rules"] = dict(definitions.rules) if definitions else {}
    ctx.scratch["unit_grants"] = definitions.grants if definitions else {}
    ctx.scratch["bound_plans"] = definitions.bound_plans if definitions else {}
    for voucher in vouchers:
        if not voucher.has_rules:  # known from the wallet's query: no rules query for them
            ctx.scratch["assigned_rules"][tuple(_targets_of(voucher))] = []
    _prefetch_rules(ctx.scratch["assigned_rules"], [v for v in vouchers if v.has_rules])
    # (created_at, id, evaluate): each candidate is judged alone on the cart as sent, so the order they
    # are judged in changes nothing, and newest first only as many as the page needs are judged at all.
    candidates: list[Candidate] = []
    if scenario != "PROMOTION_STACKS":
        candidates += [Candidate(t.created_at, t.public_id,
                                 partial(_single, TIER_HANDLER, t, "promotion_tier", t.public_id, ctx, scenario),
                                 partial(_bound, t, ctx)) for t in tiers]
        candidates += [Candidate(v.created_at, v.code,
                                 partial(_single, handler_for(v.type), v, "voucher", v.code, ctx, scenario),
                                 partial(_bound, v, ctx)) for v in vouchers]
    candidates += [Candidate(s.created_at, s.public_id, partial(_stack, s, members, ctx),
                             partial(_stack_bound, members, ctx)) for s, members in stacks]
    page, has_more = _judge(candidates, options)
    expand = set(options.get("expand") or [])
    data = [_qualified_json(q, ctx, stacking, expand) for q in page]
    body = {
        "redeemables": {"object": "list", "data_ref": "data", "data": data, "total": len(data), "has_more": has_more},
        "tracking_id": ctx.tracking_id,
        "stacking_rules": stacking.as_response(),
    }
    if has_more:
        body["redeemables"]["more_starting_after"] = presenters.iso(page[-1].created_at)
    if ctx.has_order:
        body["order"] = presenters.order_json(ctx, ctx.state, applied_order=0, applied_items=None)
    return body


def _in_scope(campaign: Campaign, visible: dict[int, bool]) -> bool:
    found = visible.get(campaign.pk)
    if found is None:
        found = visible[campaign.pk] = redeemable_in_scope(campaign)
    return found


def _ignored_conditions(scenario: str) -> tuple:
    ignored: tuple = (LimitCondition,)  # as Voucherify: budgets and counts are for redemption to enforce
    if scenario == "AUDIENCE_ONLY":
        ignored += (OrderCondition,)
    elif scenario in ("PRODUCTS", "PRODUCTS_DISCOUNT"):
        ignored += (CustomerCondition,)
    return ignored


# ================================================================ loading (a fixed number of queries)

@dataclass
class _Definitions:
    """Live tiers, their stacks and rules, as loaded at one moment; shared read-only by requests."""

    tiers: list[PromotionTier]
    stacks: list[tuple[PromotionStack, list[PromotionTier]]]
    rules: dict  # rule targets (tuple) -> [(scope, rule)], as rules.evaluation.assigned_rules caches them
    grants: dict  # UNIT grants by discount (promo.promotion_handlers.unit_grants)
    generation: int
    loaded: float  # when last known to match the database (time.monotonic)
    fingerprint: tuple = ()
    plans: dict = field(default_factory=dict)  # compiled rules by targets (rules.evaluation.quick_verdict)
    bound_plans: dict = field(default_factory=dict)  # BEST_DEAL's bound plans by discount and targets (_bound)


_cached: dict[str, _Definitions] = {}

# ---------------------------------------------------------------- result cache

RESULTS_KEPT = 1000  # answers kept per process (least recently stored dropped first)
RESULTS_BYTES = 32 * 1024 * 1024  # and at most this much of their JSON
_results: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
_results_bytes = 0
_results_lock = threading.Lock()
def _result_key(request: dict, customer: Customer | None) -> str:
    """The request as sent, who asks (their scope decides what they see), the customer's row as it stands
    and the generation of the tiers and stacks."""
    kind, principal = resolve_actor(current_actor())
    facts = [customer.pk, customer.updated_at, customer.orders_total_count, customer.orders_total_amount,
             customer.last_order_date] if customer is not None else None
    text = json.dumps([request, facts, kind, getattr(principal, "pk", None), connection.alias,
                       definitions_generation()], sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _definitions(now: datetime) -> _Definitions:
    """From the per-process cache while no tier or stack was changed through promo.promotions; every
    QUALIFICATIONS_CACHE_SECONDS the rows they come from are checked with one query (_fingerprint) and
    loaded again (4 queries, then every tier's rules and bounds worked out anew) only when one changed.
    A reload costs a busy process tens of milliseconds, which every request queued behind it waits."""
    seconds = getattr(settings, "QUALIFICATIONS_CACHE_SECONDS", 0)
    if seconds <= 0:
        return _load_definitions(now, generation=0, fingerprint=())
    generation = definitions_generation()
    current = _cached.get(connection.alias)
    if current is not None and current.generation == generation:
        if time.monotonic() - current.loaded < seconds:
            return current
        fingerprint = _fingerprint()
        if fingerprint == current.fingerprint:
            current.loaded = time.monotonic()
            return current
    else:
        fingerprint = _fingerprint()
    fresh = _cached[connection.alias] = _load_definitions(now, generation, fingerprint)
    return fresh


def _load_definitions(now: datetime, generation: int, fingerprint: tuple) -> _Definitions:
    loaded = time.monotonic()  # the fingerprint was read before the rows: a write in between reloads again
    tiers = _live_tiers(now)
    rules: dict = {}
    _prefetch_rules(rules, tiers)
    return _Definitions(tiers=tiers, stacks=_stacks(tiers), rules=rules, grants={}, generation=generation,
                        loaded=loaded, fingerprint=fingerprint)


def _fingerprint() -> tuple:
    """Changes to the rows qualifications load: counts, newest edits and ids of tiers, stacks, promotion
    campaigns, categories, rules and rule assignments (an edit moves updated_at, a deletion the count, an
    insertion the largest id)."""
    quote = connection.ops.quote_name
    parts = []
    for model, where in ((PromotionTier, ""), (PromotionStack, ""), (Category, ""), (ValidationRule, ""),
                         (Campaign, f" WHERE {quote('campaign_type')} = 'PROMOTION'")):
        parts.append(f"SELECT COUNT(*), MAX({quote('updated_at')}), MAX({quote('id')}) "
                     f"FROM {quote(model._meta.db_table)}{where}")
    parts.append(f"SELECT COUNT(*), NULL, MAX({quote('id')}) FROM {quote(ValidationRuleAssignment._meta.db_table)}")
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return tuple(cursor.fetchall())


def forget_cached() -> None:
    global _results_bytes
    _cached.clear()
    with _results_lock:
        _results.clear()
        _results_bytes = 0


def _live_tiers(now: datetime) -> list[PromotionTier]:
    """Enabled tiers of enabled, live campaigns not expired yet; campaigns and categories are loaded once each
    and shared (not one copy per tier, as a join would make). Tiers that start later are loaded too, and
    the tier handler's check turns them (and those expiring after the load) away by the request's time:
    the loaded list stays right as time passes."""
    live_window = Q(expiration_date__isnull=True) | Q(expiration_date__gte=now)
    campaign_window = Q(campaign__expiration_date__isnull=True) | Q(campaign__expiration_date__gte=now)
    rows = list(PromotionTier.objects.filter(live_window & campaign_window, active=True, campaign__active=True,
                                             campaign__deleted_at__isnull=True).order_by("-created_at", "-id"))
    campaigns = Campaign.objects.select_related("category").in_bulk({t.campaign_id for t in rows})
    categories = Category.objects.in_bulk({t.category_id for t in rows if t.category_id})
    live = []
    for tier in rows:
        tier.campaign = campaigns[tier.campaign_id]
        if tier.category_id:
            tier.category = categories[tier.category_id]
        if getattr(tier.campaign, "is_live", True):
            live.append(tier)
    return live


def _stacks(tiers: list[PromotionTier]) -> list[tuple[PromotionStack, list[PromotionTier]]]:
    """Stacks of live campaigns whose tiers are all live."""
    by_id = {t.public_id: t for t in tiers}
    campaigns = {t.campaign_id for t in tiers}
    found = []
    for stack in PromotionStack.objects.filter(campaign_id__in=campaigns).select_related("category").order_by(
            "-created_at", "-id"):
        members = [by_id.get(i) for i in stack.tier_ids or []]
        if members and all(members):
            stack.campaign = members[0].campaign
            found.append((stack, members))
    return found


def _wallet(ctx: Context) -> list[Voucher]:
    """The customer's codes (vouchers they hold), of kinds this deployment can redeem."""
    if ctx.customer is None:
        return []
    rows = WALLET_ROWS.fetch("t0.holder_id = %s AND t0.active = %s AND (t0.campaign_id IS NULL OR "
                             "(t1.deleted_at IS NULL AND t1.active = %s)) ORDER BY t0.created_at DESC, t0.id DESC",
                             [ctx.customer.pk, True, True], limit=1000)
    return [v for v in rows if handler_for(v.type) is not None and (
        v.campaign is None or getattr(v.campaign, "is_live", True))]


def _targets_of(obj) -> list[tuple[str, str]]:
    """Where rules may be assigned (as the handlers' rule_targets)."""
    if isinstance(obj, PromotionTier):
        return rule_targets(obj)
    return [("voucher", obj.public_id), *([("campaign", obj.campaign.public_id)] if obj.campaign_id else [])]


def _prefetch_rules(cache: dict, objects: list) -> None:
    """All rules assigned to these redeemables (tiers, vouchers) and their campaigns in one query, into a
    cache shaped as the one rules.evaluation.assigned_rules reads (same order: by assignment)."""
    wanted: dict[str, set[str]] = {}
    for obj in objects:
        for kind, public_id in _targets_of(obj):
            wanted.setdefault(kind, set()).add(public_id)
    by_target: dict[tuple[str, str], list] = {}
    for row in _assigned(wanted):
        by_target.setdefault((row.assigned_type, row.assigned_id), []).append(
            (row.assignment_pk, f"{row.assigned_type}:{row.assigned_id}", row))
    for obj in objects:
        targets = _targets_of(obj)
        rows = sorted((r for target in targets for r in by_target.get(target, [])), key=lambda r: r[0])
        cache[tuple(targets)] = [(scope, rule) for _pk, scope, rule in rows]


def _assigned(wanted: dict[str, set[str]]):
    """Rules with the (type, id) they are assigned to. Raw SQL with one array parameter per type on
    PostgreSQL: hundreds of IN placeholders cost more to build and bind than the query takes to run."""
    if not wanted:
        return []
    clauses, params = [], []
    for kind, ids in wanted.items():
        if connection.vendor == "postgresql":
            clauses.append("(a.related_object_type = %s AND a.related_object_id = ANY(%s))")
            params += [kind, sorted(ids)]
        else:
            marks = ", ".join(["%s"] * len(ids))
            clauses.append(f"(a.related_object_type = %s AND a.related_object_id IN ({marks}))")
            params += [kind, *sorted(ids)]
    rules, assignments = ValidationRule._meta.db_table, ValidationRuleAssignment._meta.db_table
    where = " OR ".join(clauses)
    return ValidationRule.objects.raw(
        "SELECT r.*, a.id AS assignment_pk, a.related_object_type AS assigned_type, a.related_object_id AS assigned_id"
        f" FROM {assignments} a JOIN {rules} r ON r.id = a.rule_id WHERE {where} ORDER BY a.id", params)


# ================================================================ evaluation

def _attempt(handler, obj, ref: RedeemableRef, ctx: Context) -> Applied | None:
    """The effect on the cart as it stands; None when the cart cannot tell (no items or amount).
    Raises RedeemableError when the redeemable does not qualify."""
    handler.check(obj, ctx, ref)
    try:
        return handler.apply(obj, ctx, ref)
    except RedeemableError as error:
        if error.key in UNKNOWN_WORTH:
            return None
        raise


def _single(handler, obj, kind: str, ref_id: str, ctx: Context, scenario: str) -> Qualified | None:
    if handler is None:
        return None
    try:
        applied = _attempt(handler, obj, RedeemableRef(object=kind, id=ref_id), ctx)
    except RedeemableError:
        return None
    if scenario.startswith("PRODUCTS") and not _for_products(obj, applied, ctx, scenario):
        return None
    if _gives_nothing(applied, ctx) and scenario != "AUDIENCE_ONLY":
        return None  # e.g. 10% off a product the cart does not hold
    return Qualified(object=kind, id=ref_id, created_at=obj.created_at, obj=obj, handler=handler,
                     steps=[(obj, applied)], campaign=handler.campaign(obj), category=handler.category(obj),
                     amount=applied.effect.total if applied else 0)


def _item_level(obj) -> bool:
    return discounts.discount_level(getattr(obj, "discount", None)) == discounts.ITEM_LEVEL


def _gives_nothing(applied: Applied | None, ctx: Context) -> bool:
    return (applied is not None and ctx.has_order and applied.effect.is_empty
            and all(key == "discount" for key in applied.result))


def _for_products(obj, applied: Applied | None, ctx: Context, scenario: str) -> bool:
    """PRODUCTS_DISCOUNT*: discounts that give the order's items a discount. PRODUCTS*: item-level
    discounts covering at least one of the order's products, or redeemables whose rules require one of
    them (order.items.any / every naming it)."""
    if applied is None:
        return False
    effect = applied.effect
    item_level = _item_level(obj)
    if scenario.startswith("PRODUCTS_DISCOUNT"):
        return item_level and bool(effect.item_discounts or effect.added_units or effect.new_lines)
    if item_level and (not applied.applicable_to and ctx.state.lines
                       or any(matching_lines(entry, ctx) for entry in applied.applicable_to)):
        return True
    return any(matching_lines(entry, ctx) for entry in _required_items(obj, ctx))


def _required_items(obj, ctx: Context) -> list[dict]:
    """Products, SKUs and collections the redeemable's rules require (order.items.any / every)."""
    found = []
    for _scope, rule in ctx.scratch.get("assigned_rules", {}).get(tuple(_targets_of(obj)), []):
        for key, condition in (rule.rules or {}).items():
            if not key.isdigit() or not isinstance(condition, dict) or condition.get("name") not in (
                    "order.items.any", "order.items.every"):
                continue
            for values in (condition.get("conditions") or {}).values():
                for ref in values if isinstance(values, list) else [values]:
                    ref_id = ref.get("id") if isinstance(ref, dict) else ref
                    if isinstance(ref_id, str):
                        kind = "sku" if ref_id.startswith("sku_") else (
                            "products_collection" if ref_id.startswith("pc_") else "product")
                        found.append({"object": kind, "id": ref_id})
    return found


def _stack(stack: PromotionStack, members: list[PromotionTier], ctx: Context) -> Qualified | None:
    """All the stack's tiers, in order, each on the cart the previous ones left; any failing: none."""
    pristine = ctx.state
    ctx.state = _copy(pristine)
    steps = []
    try:
        for tier in members:
            applied = _attempt(TIER_HANDLER, tier, RedeemableRef(object="promotion_tier", id=tier.public_id), ctx)
            if applied is not None:
                discounts.apply(ctx.state, applied.effect)
            steps.append((tier, applied))
    except RedeemableError:
        return None
    finally:
        ctx.state = pristine
    if all(_gives_nothing(applied, ctx) for _tier, applied in steps):
        return None
    return Qualified(object="promotion_stack", id=stack.public_id, created_at=stack.created_at, obj=stack,
                     handler=TIER_HANDLER, steps=steps, campaign=stack.campaign,
                     category=stack.category or stack.campaign.category,
                     amount=sum(a.effect.total for _t, a in steps if a is not None))


def _copy(state: discounts.OrderState) -> discounts.OrderState:
    return discounts.OrderState(lines=[discounts.Line(**vars(line)) for line in state.lines], amount=state.amount,
                                discount_amount=state.discount_amount)


# ================================================================ filters, order, pages

@dataclass
class Candidate:
    """A redeemable to judge: `evaluate()` -> Qualified or None; `bound()` -> the most it can be worth on
    this cart, None when only evaluating tells."""

    created_at: datetime
    id: str
    evaluate: Any
    bound: Any


def _judge(candidates: list[Candidate], options: dict) -> tuple[list[Qualified], bool]:
    """The page and whether more follow. DEFAULT (newest first): candidates are judged in that order until
    the page is full and one more qualifies (after `starting_after`: the ones older than it, which is
    what _page keeps of the sorted list). BEST_DEAL: the most valuable first, until nothing left unjudged
    can reach the page (_best_deals); LEAST_DEAL and BEST_DEAL pages after the first judge them all."""
    filters = options.get("filters")
    rule = options.get("sorting_rule") or "DEFAULT"
    if rule == "BEST_DEAL" and options.get("starting_after") is None:
        return _best_deals(candidates, options)
    if rule != "DEFAULT":
        found = [q for q in (c.evaluate() for c in candidates) if q is not None and _matches_filters(q, filters)]
        return _page(_sort(found, rule), options)
    limit = options.get("limit") or DEFAULT_LIMIT
    cursor = options.get("starting_after")
    page: list[Qualified] = []
    for candidate in sorted(candidates, key=lambda c: (c.created_at, c.id), reverse=True):
        if cursor is not None and candidate.created_at >= cursor:
            continue
        qualified = candidate.evaluate()
        if qualified is None or not _matches_filters(qualified, filters):
            continue
        if len(page) == limit:
            return page, True
        page.append(qualified)
    return page, False


def _best_deals(candidates: list[Candidate], options: dict) -> tuple[list[Qualified], bool]:
    """The first BEST_DEAL page judging as few candidates as it can (branch and bound): in the order of
    what each could be worth at most, stopping once the page is full, one more qualifies (has_more), and
    no candidate left could be worth as much as the page's last (equal could still rank before it: ties go
    to the newest). The page is then exactly the one judging every candidate would give."""
    filters = options.get("filters")
    limit = options.get("limit") or DEFAULT_LIMIT
    bounded = [(c.bound(), c) for c in candidates]
    bounded.sort(key=lambda pair: -pair[0] if pair[0] is not None else float("-inf"))
    found: list[Qualified] = []  # in page order: largest amount first, then newest
    for bound, candidate in bounded:
        if len(found) > limit and bound is not None:
            last = found[limit - 1]
            if bound < last.amount:
                break
            if bound == last.amount and (candidate.created_at, candidate.id) < (last.created_at, last.id):
                continue  # at best a tie, and ties go to the newest
        qualified = candidate.evaluate()
        if qualified is None or not _matches_filters(qualified, filters):
            continue
        bisect.insort(found, qualified, key=_best_deal_order)
    return _page(found, options)


def _best_deal_order(qualified: Qualified) -> tuple:
    """BEST_DEAL's order as a sort key: largest amount first, then newest (as _sort orders them)."""
    return (-qualified.amount, _Descending((qualified.created_at, qualified.id)))


class _Descending:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return self.value > other.value

    def __eq__(self, other) -> bool:
        return self.value == other.value


def _bound(obj, ctx: Context) -> int | None:
    """The most a tier's or a code's discount can take off the cart as sent. How to work it out
    (_bound_plan) depends only on the definitions: a cached tier keeps its plan, and tiers with the same
    discount and targets (10% off for several audiences) share one, worked out once per request."""
    plan = obj.__dict__.get("_bound_plan")
    if plan is None:
        plan = _shared_plan(obj, ctx)
        if isinstance(obj, PromotionTier):  # vouchers are read per request; tiers live with the definitions
            obj.__dict__["_bound_plan"] = plan
    known = ctx.scratch.setdefault("bounds", {})
    bound = known.get(plan, _UNKNOWN)
    if bound is _UNKNOWN:
        bound = known[plan] = plan(ctx)
    return bound


def _shared_plan(obj, ctx: Context):
    """The plan of every redeemable with this discount and these targets (what _bound_plan reads)."""
    targets = _targets_of(obj)
    included, excluded = evaluation.applicable_to(targets, ctx)
    key = json.dumps([type(obj).__name__, getattr(obj, "type", None), obj.discount, bundle_rules(targets, ctx),
                      included, excluded], sort_keys=True, default=str)
    # Tiers' plans live with the definitions; codes are read per request (their discounts are unbounded in
    # number: a CS "sorry" coupon each), so theirs live with the request.
    plans = ctx.scratch.setdefault("bound_plans" if isinstance(obj, PromotionTier) else "code_bound_plans", {})
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = _bound_plan(obj, ctx)
    return plan


_UNKNOWN = object()


def _cart(ctx: Context) -> tuple[int, int, int]:
    """(total, lines, units) of the cart as sent."""
    cart = ctx.scratch.get("cart_totals")
    if cart is None:
        lines = ctx.state.lines
        cart = ctx.scratch["cart_totals"] = (ctx.state.total_amount, len(lines), sum(ln.quantity for ln in lines))
    return cart


def _lines_cart(ctx: Context, covered: set[int]) -> tuple[int, int, int]:
    lines = [line for line in ctx.state.lines if line.index in covered]
    return sum(line.subtotal for line in lines), len(lines), sum(line.quantity for line in lines)


def _bound_plan(obj, ctx: Context):
    """ctx -> the bound (discounts.bound_function) over the lines the discount's applicable_to covers;
    UNIT: the units it gives away at their price; a bundle price (FIXED): what the bundle's lines cost;
    another bundle repeats its discount per bundle: the cart's total (PERCENT: its share of it)."""
    discount = obj.discount
    if not discount or isinstance(obj, Voucher) and obj.type != Voucher.Type.DISCOUNT_VOUCHER:
        return lambda ctx: None
    targets, kind = _targets_of(obj), discount.get("type")
    bound = discounts.bound_function(discount)
    spec = bundle_rules(targets, ctx)
    if spec is not None:
        if kind == discounts.UNIT:
            return lambda ctx: None
        try:
            items, limit = bundles.clean(spec)
        except bundles.BundleError:
            return lambda ctx: 0  # the tier cannot qualify
        def bundle_bound(ctx):
            matches = [matching_lines(item, ctx) for item in items]
            covered = _lines_cart(ctx, set().union(*matches))[0]
            most = bundles.most_worth(items, limit, discount, matches, ctx.state)
            if kind == discounts.FIXED:
                return min(_cart(ctx)[0], covered, most)
            if kind == discounts.PERCENT:
                return bound(*_cart(ctx))
            return _cart(ctx)[0] if most is None else min(_cart(ctx)[0], most)

        return bundle_bound
    if kind == discounts.UNIT:
        try:
            grants = unit_grants(discount, ctx)
        except (AttributeError, TypeError, ValueError):  # a malformed definition: evaluating it will say why
            return lambda ctx: None
        if any(isinstance(g.unit_off, bool) or not isinstance(g.unit_off, int) for g in grants):
            return lambda ctx: None
        return lambda ctx: sum(grant.unit_off * max([grant.price or 0, *(
            line.price for line in ctx.state.lines if line.refers_to(grant.unit_type))]) for grant in grants)
    included, excluded = evaluation.applicable_to(targets, ctx)
    if discounts.discount_level(discount) == discounts.ITEM_LEVEL and (included or excluded):
        def covered_bound(ctx):
            resolved, _shown, _hidden = resolve_targets(included, excluded, ctx)
            return bound(*_lines_cart(ctx, set().union(*(target.lines for target in resolved))))

        return covered_bound
    return lambda ctx: bound(*_cart(ctx))


def _stack_bound(members: list[PromotionTier], ctx: Context) -> int | None:
    """Each tier of a stack takes from what the ones before it left: at most the sum of their bounds on the
    cart as sent, and never more than the cart."""
    bounds = [_bound(tier, ctx) for tier in members]
    if any(bound is None for bound in bounds):
        return None
    return min(sum(bounds), _cart(ctx)[0])


def _condition_holds(value, conditions: dict) -> bool:
    for operator, expected in conditions.items():
        values = expected if isinstance(expected, list) else [expected]
        if operator in ("$is", "$in") and value not in values:
            return False
        if operator in ("$is_not", "$not_in") and value in values:
            return False
        if operator == "$has_value" and value is None:
            return False
        if operator == "$is_unknown" and value is not None:
            return False
    return True


def _matches_filters(qualified: Qualified, filters: dict | None) -> bool:
    if not filters:
        return True
    checks = [_condition_holds(qualified.attribute(name), (spec or {}).get("conditions") or {})
              for name, spec in filters.items() if name != "junction"]
    if not checks:
        return True
    return any(checks) if filters.get("junction") == "or" else all(checks)


def _sort(found: list[Qualified], rule: str) -> list[Qualified]:
    newest_first = sorted(found, key=lambda q: (q.created_at, q.id), reverse=True)
    if rule == "BEST_DEAL":
        return sorted(newest_first, key=lambda q: -q.amount)
    if rule == "LEAST_DEAL":
        return sorted(newest_first, key=lambda q: q.amount)
    return newest_first


def _page(ordered: list[Qualified], options: dict) -> tuple[list[Qualified], bool]:
    """`starting_after` is the created_at of the last redeemable of the previous page."""
    limit = options.get("limit") or DEFAULT_LIMIT
    cursor = options.get("starting_after")
    if cursor is not None:
        positions = [i for i, q in enumerate(ordered) if q.created_at == cursor]
        if positions:
            ordered = ordered[positions[-1] + 1:]
        else:
            ordered = [q for q in ordered if q.created_at < cursor]
    return ordered[:limit], len(ordered) > limit


# ================================================================ response

def _categories_json(category, stacking: StackingRules) -> list[dict]:
    if category is None:
        return []
    shown = category_json(category)
    if category.public_id in stacking.exclusive_categories:
        shown["stacking_rules_type"] = "EXCLUSIVE"
    elif category.public_id in stacking.joint_categories:
        shown["stacking_rules_type"] = "JOINT"
    return [shown]


def _list(entries: list[dict]) -> dict:
    return {"data": entries, "total": len(entries), "data_ref": "data", "object": "list"}


def _assignments(obj, ctx: Context) -> dict:
    rows = ctx.scratch.get("assigned_rules", {}).get(tuple(_targets_of(obj)), [])
    data = [{"rule_id": rule.public_id, "related_object_type": scope.partition(":")[0],
             "related_object_id": scope.partition(":")[2], "object": "validation_rules_assignment"}
            for scope, rule in rows]
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}


def _step_json(kind: str, ref_id: str, obj, applied: Applied | None, state: discounts.OrderState, ctx: Context,
               stacking: StackingRules, expand: set, handler) -> dict:
    described = handler.describe(obj)
    body = {"id": ref_id, "object": kind, "created_at": presenters.iso(obj.created_at),
            "result": dict(applied.result) if applied else {"discount": _definition(obj)},
            "metadata": described.get("metadata") or {},
            "categories": _categories_json(handler.category(obj), stacking),
            "name": described.get("name") or ref_id, "campaign_id": described.get("campaign_id"),
            "campaign_name": described.get("campaign_name")}
    if isinstance(obj, PromotionTier):
        body["banner"] = obj.banner or obj.name
    if applied is not None:
        body["applicable_to"] = _list(applied.applicable_to)
        body["inapplicable_to"] = _list(applied.inapplicable_to)
        if ctx.has_order:
            body["order"] = presenters.order_json(ctx, state, applied_order=applied.effect.order_discount,
                                                  applied_items=applied.effect.item_discounts)
    if "validation_rules" in expand:
        body["validation_rules_assignments"] = _assignments(obj, ctx)
    return {k: v for k, v in body.items() if v is not None}


def _definition(obj) -> dict | None:
    discount = getattr(obj, "discount", None)
    return discount if discount else None


def _qualified_json(qualified: Qualified, ctx: Context, stacking: StackingRules, expand: set) -> dict:
    state = _copy(ctx.state)
    steps = []
    for obj, applied in qualified.steps:
        if applied is not None:
            discounts.apply(state, applied.effect)
        is_tier = isinstance(obj, PromotionTier)
        # order_json reads the state into new dicts at once: the next step may change it afterwards.
        steps.append(_step_json("promotion_tier" if is_tier else "voucher", obj.public_id if is_tier else obj.code,
                                obj, applied, state, ctx, stacking, expand,
                                TIER_HANDLER if is_tier else handler_for(obj.type)))
    if qualified.object != "promotion_stack":
        return steps[0]
    stack = qualified.obj
    applied_order = sum(a.effect.order_discount for _o, a in qualified.steps if a is not None)
    applied_items: dict[int, int] = {}
    for _obj, applied in qualified.steps:
        for index, amount in (applied.effect.item_discounts if applied else {}).items():
            applied_items[index] = applied_items.get(index, 0) + amount
    body = {"id": stack.public_id, "object": "promotion_stack", "created_at": presenters.iso(stack.created_at),
            "result": {}, "name": stack.name, "metadata": {},
            "categories": _categories_json(qualified.category, stacking),
            "campaign_id": stack.campaign.public_id, "campaign_name": stack.campaign.name,
            "redeemables": steps}
    if ctx.has_order:
        body["order"] = presenters.order_json(ctx, state, applied_order=applied_order, applied_items=applied_items)
    return body
