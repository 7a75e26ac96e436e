"""BEST_DEAL pages judge as few redeemables as they can (promo.qualifications._best_deals), on bounds that
never undercut what a discount is worth (promo.discounts.bound_function): the page is the one judging
everything gives."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from promo import discounts
from promo.discounts import Line, OrderState, Target, calculate
from promo.qualifications import Candidate, Qualified, _best_deals, _page, _sort

# ---------------------------------------------------------------- the bound of one discount

carts = st.lists(st.tuples(st.integers(0, 50_000), st.integers(1, 5)), min_size=1, max_size=8)
ITEM_EFFECTS = sorted(discounts.ITEM_EFFECTS)


@st.composite
def discount_definitions(draw):
    kind = draw(st.sampled_from(["AMOUNT", "PERCENT", "FIXED"]))
    effect = draw(st.sampled_from(sorted(discounts.EFFECTS_BY_TYPE[kind])))
    definition = {"type": kind, "effect": effect}
    if kind == "AMOUNT":
        definition["amount_off"] = draw(st.integers(0, 100_000))
    elif kind == "PERCENT":
        definition["percent_off"] = draw(st.one_of(st.integers(0, 100), st.decimals(0, 100, places=2)))
        if draw(st.booleans()):
            definition["amount_limit"] = draw(st.integers(0, 50_000))
    else:
        definition["fixed_amount"] = draw(st.integers(0, 100_000))
    return definition


def _state(lines: list[tuple[int, int]]) -> OrderState:
    items = [Line(index=i, quantity=q, price=p, amount=p * q, product_id=f"p{i}") for i, (p, q) in enumerate(lines)]
    return OrderState(lines=items, amount=sum(line.amount for line in items))


@settings(max_examples=400, deadline=None)
@given(lines=carts, discount=discount_definitions(), covered=st.sets(st.integers(0, 7)))
def test_a_bound_is_never_below_what_the_discount_takes(lines, discount, covered):
    state = _state(lines)
    covered = {i for i in covered if i < len(lines)} or {0}
    targets = [Target(lines=covered)] if discount["effect"] in discounts.ITEM_EFFECTS else None
    taken = calculate(state, discount, targets).total
    chosen = [line for line in state.lines if line.index in covered] if targets else state.lines
    bound = discounts.upper_bound(discount, sum(line.subtotal for line in chosen), len(chosen),
                                  sum(line.quantity for line in chosen))
    assert bound is not None and bound >= taken


def test_unit_discounts_have_no_bound_without_their_prices():
    assert discounts.upper_bound({"type": "UNIT", "unit_off": 1, "unit_type": "p1"}, 10_000, 2, 3) is None


def test_a_definition_the_calculator_refuses_is_worth_nothing():
    assert discounts.upper_bound({"type": "PERCENT", "percent_off": 120}, 10_000, 2, 3) == 0


# ---------------------------------------------------------------- the search

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _candidates(worths: list[tuple[int | None, int | None, int]]) -> tuple[list[Candidate], list[str]]:
    """(amount or None: does not qualify, bound or None: unknown, minutes after BASE) -> candidates, and a log
    of the ones judged."""
    judged: list[str] = []
    made = []
    for index, (amount, bound, minutes) in enumerate(worths):
        ident, created = f"t{index:02d}", BASE + timedelta(minutes=minutes)

        def evaluate(ident=ident, created=created, amount=amount):
            judged.append(ident)
            if amount is None:
                return None
            return Qualified(object="promotion_tier", id=ident, created_at=created, obj=None, handler=None, steps=[],
                             campaign=None, category=None, amount=amount)

        made.append(Candidate(created, ident, evaluate, lambda bound=bound: bound))
    return made, judged


def _everything(worths, options):
    candidates, _judged = _candidates(worths)
    found = [q for q in (c.evaluate() for c in candidates) if q is not None]
    page, more = _page(_sort(found, "BEST_DEAL"), options)
    return [q.id for q in page], more


def test_the_search_stops_early_and_keeps_ties_in_order():
    # three worth 500 (ties: the newest first), one worth 900, many cheap ones that need not be judged
    worths = [(500, 500, 1), (500, 520, 5), (900, 900, 2), (500, 500, 3), (None, 2000, 9)] + \
             [(100, 100, 10 + n) for n in range(30)]
    candidates, judged = _candidates(worths)
    page, more = _best_deals(candidates, {"limit": 3})
    assert ([q.id for q in page], more) == _everything(worths, {"limit": 3}) == (["t02", "t01", "t03"], True)
    assert len(judged) <= 7  # the 30 cheap ones: only as many as tell there are more


def test_a_candidate_that_can_only_tie_is_judged_when_it_is_newer():
    # judged in the order of their bounds: t00 and t01 fill the page and tell there are more; t02 can at best
    # tie with t00, and is newer: ties go to the newest, so it must be judged and wins the page
    worths = [(500, 900, 1), (300, 800, 0), (500, 500, 2), (500, 500, 0)]
    candidates, judged = _candidates(worths)
    page, more = _best_deals(candidates, {"limit": 1})
    assert ([q.id for q in page], more) == _everything(worths, {"limit": 1}) == (["t02"], True)
    assert "t03" not in judged  # at best a tie, and older than the page's last: not judged


@settings(max_examples=300, deadline=None)
@given(worths=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 50)), st.integers(0, 20), st.integers(0, 9),
                                 st.booleans()), min_size=0, max_size=25),
       limit=st.integers(1, 6))
def test_the_page_is_the_one_judging_everything_gives(worths, limit):
    # bound = amount + slack (never below it), or unknown; created_at collide on purpose (ties on both keys)
    shaped = [(amount, None if unknown else (amount or 0) + slack, minutes)
              for amount, slack, minutes, unknown in worths]
    candidates, _judged = _candidates(shaped)
    page, more = _best_deals(candidates, {"limit": limit})
    assert ([q.id for q in page], more) == _everything(shaped, {"limit": limit})


# ---------------------------------------------------------------- the bound of a bundle's discount

@st.composite
def bundle_cases(draw):
    products = st.sampled_from(["p0", "p1", "p2"])
    lines = draw(st.lists(st.tuples(products, st.integers(0, 20_000), st.integers(1, 4)), min_size=1, max_size=6))
    items = draw(st.lists(st.fixed_dictionaries({"object": st.just("product"), "id": products,
                                                 "quantity": st.integers(1, 3)}), min_size=1, max_size=3))
    if draw(st.booleans()):
        discount = {"type": "FIXED", "fixed_amount": draw(st.integers(0, 30_000))}
    else:
        discount = {"type": "AMOUNT", "amount_off": draw(st.integers(0, 30_000)),
                    "effect": draw(st.sampled_from([None, "APPLY_TO_ORDER", "APPLY_TO_ITEMS_PROPORTIONALLY",
                                                    "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"]))}
    return lines, {"items": items, "limit": draw(st.integers(1, 3))}, discount


@settings(max_examples=400, deadline=None)
@given(case=bundle_cases())
def test_a_bundle_bound_is_never_below_what_the_bundle_takes(case):
    from types import SimpleNamespace

    from promo import bundles
    from promo.targets import matching_lines

    lines, spec, discount = case
    state = OrderState(lines=[Line(index=i, quantity=q, price=p, amount=p * q, product_id=ref)
                              for i, (ref, p, q) in enumerate(lines)], amount=sum(p * q for _r, p, q in lines))
    ctx = SimpleNamespace(state=state, scratch={}, items=[
        SimpleNamespace(product=None, sku=None, related_object="product", source_id=ref) for ref, _p, _q in lines])
    items, limit = bundles.clean(spec)
    bound = bundles.most_worth(items, limit, discount, [matching_lines(item, ctx) for item in items], state)
    assert bound is not None and bound >= 0
    bundle = bundles.find(spec, ctx)
    if bundle.quantity:
        calculated, targets = bundles.discount_for(bundle, discount, None, state)
        assert bound >= calculate(state, calculated, targets).total
