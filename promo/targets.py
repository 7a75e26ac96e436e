"""applicable_to / inapplicable_to entries -> the calculator's Targets over the order's lines,
plus the lists the response shows."""

from __future__ import annotations

from catalog.models import ProductCollection
from catalog.selectors import collection_contains_many
from promo.discounts import APPLY_TO_EVERY, TARGET_EFFECTS, Target


def _matches(entry: dict, ctx) -> set[int]:
    """A new set each time; worked out once per request for each (object, id): the order's items do not
    change within a request (qualifications ask about the same products for many tiers)."""
    kind, ref = entry.get("object"), entry.get("id") or entry.get("source_id")
    scratch = getattr(ctx, "scratch", None)
    if scratch is None or not isinstance(kind, str | None) or not isinstance(ref, str | None):
        return _lines_named(kind, ref, ctx)
    known = scratch.setdefault("matched_lines", {})
    found = known.get((kind, ref))
    if found is None:
        found = known[(kind, ref)] = frozenset(_lines_named(kind, ref, ctx))
    return set(found)


def _lines_named(kind, ref, ctx) -> set[int]:
    lines = set()
    if kind == "products_collection":
        collection = ProductCollection.objects.filter(public_id=ref).first()
        if collection is None:
            return set()
        pairs = [(info.product.pk if info.product else None, info.sku.pk if info.sku else None) for info in ctx.items]
        return {i for i, inside in enumerate(collection_contains_many(collection, pairs)) if inside}
    for index, info in enumerate(ctx.items):
        if kind == "sku" and info.sku is not None and ref in (info.sku.public_id, info.sku.source_id):
            lines.add(index)
        elif kind == "product":
            product = info.product
            if product is not None and ref in (product.public_id, product.source_id):
                lines.add(index)
            elif product is None and info.related_object == "product" and ref == info.source_id:
                lines.add(index)  # an item not in the catalog, named by the same source id
    return lines


def matching_lines(entry: dict, ctx) -> set[int]:
    """Indexes of the order lines an {object: product|sku|products_collection, id} entry names."""
    return _matches(entry, ctx)


def _shown(entry: dict) -> dict:
    shown = {k: v for k, v in entry.items() if v is not None and k in {
        "object", "id", "source_id", "product_id", "product_source_id", "strict", "price", "effect",
        "quantity_limit", "aggregated_quantity_limit", "amount_limit", "aggregated_amount_limit",
        "order_item_indices", "repeat", "skip_initially", "target"}}
    shown.setdefault("effect", APPLY_TO_EVERY)
    return shown


def resolve_targets(included: list[dict], excluded: list[dict], ctx) -> tuple[list[Target] | None, list, list]:
    """None for "every line" when nothing is included or excluded."""
    if not included and not excluded:
        return None, [], []
    blocked: set[int] = set()
    for entry in excluded:
        blocked |= _matches(entry, ctx)
    every_line = set(range(len(ctx.items))) - blocked
    targets = []
    for entry in included:
        effect = entry.get("effect") if entry.get("effect") in TARGET_EFFECTS else APPLY_TO_EVERY
        targets.append(Target(
            lines=_matches(entry, ctx) - blocked, effect=effect, quantity_limit=entry.get("quantity_limit"),
            aggregated_quantity_limit=entry.get("aggregated_quantity_limit"), amount_limit=entry.get("amount_limit"),
            aggregated_amount_limit=entry.get("aggregated_amount_limit"), price=entry.get("price"),
        ))
    if not included:
        targets = [Target(lines=every_line)]
    return targets, [_shown(e) for e in included], [_shown(e) for e in excluded]
