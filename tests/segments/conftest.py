"""Fixtures of the segment tests: segments created through the service with their initial recompute run,
and customers/orders/events written through the customers services (so aggregates and membership follow)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers import services as customer_services
from customers.models import Customer
from segments import services
from segments.models import SegmentMembership


@pytest.fixture
def make_segment(django_capture_on_commit_callbacks):
    def make(filter_spec=None, *, type="auto-update", customers=None, name="Segment"):
        data = {"name": name, "type": type}
        if type == "static":
            data["customers"] = customers or []
        else:
            data["filter"] = filter_spec
        with django_capture_on_commit_callbacks(execute=True):
            segment = services.segment_create(data)
        segment.refresh_from_db()
        return segment

    return make


def members(segment) -> set[str]:
    return set(SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
               .values_list("customer__source_id", flat=True))


def customer(source_id: str, *, days_ago: float = 0, **fields) -> Customer:
    created, _ = customer_services.customer_create_or_update({"source_id": source_id, **fields})
    if days_ago:
        Customer.objects.filter(pk=created.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
        created.refresh_from_db()
    return created


def order(source_id: str, amount: int, *, days_ago: float = 0, status: str = "PAID", number: list[int] = [0]):  # noqa: B006
    number[0] += 1
    placed = (timezone.now() - timedelta(days=days_ago)).isoformat()
    return customer_services.order_create_or_update({
        "source_id": f"o-{source_id}-{number[0]}", "status": status, "amount": amount,
        "customer": {"source_id": source_id}, "created_at": placed})[0]
