"""Demo segments for `manage.py seed_demo` (core.demo runs this module's seed after the demo customers):
two dynamic segments and a static one, created and computed through segments.services."""

from __future__ import annotations

from segments import services
from segments.models import Segment, SegmentMembership

LONDON = "London customers"
VIP = "VIP: spent over 500.00"
PANEL = "Customer panel (static)"
NAMES = (LONDON, VIP, PANEL)
PANEL_SIZE = 20

FILTERS = {
    LONDON: {"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}},
    VIP: {"junction": "and", "orders.total_amount": {"conditions": {"$more_than": [50000]}}},
}


def _demo_segments():
    return Segment.objects.filter(name__in=NAMES)


def present() -> bool:
    return _demo_segments().exists()


def counts() -> dict:
    return {"segments": _demo_segments().count(),
            "segment_members": SegmentMembership.objects.filter(segment__in=_demo_segments(),
                                                                left_at__isnull=True).count()}


def seed(ctx) -> dict:
    from core.demo import run_pending_action

    made = {}
    for name, raw_filter in FILTERS.items():
        segment = services.segment_create({"name": name, "type": Segment.Type.AUTO_UPDATE, "filter": raw_filter})
        run_pending_action(services.RECOMPUTE_ACTION, segment_id=segment.public_id)
        made[name] = segment
    panel = ctx.rng.sample(ctx.customers, min(PANEL_SIZE, len(ctx.customers)))
    made[PANEL] = services.segment_create({"name": PANEL, "type": Segment.Type.STATIC,
                                           "customers": [customer.public_id for customer in panel]})
    ctx.made["segments"] = made
    return counts()


def delete() -> dict:
    before = counts()
    for segment in _demo_segments():
        services.segment_delete(segment)
    return before
