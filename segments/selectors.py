"""Reads of segments: lookups, members, a customer's segments, and the count a filter would match."""

from django.db.models import Count, Q, QuerySet

from core.errors import NotFound
from customers.models import Customer
from customers.selectors import live_customers
from segments.filters import compile_segment_filter, normalize_segment_filter
from segments.models import Segment, SegmentEvent, SegmentMembership

SEGMENT_ORDERINGS = ("created_at", "-created_at", "name", "-name")


def segment_get(ref) -> Segment:
    segment = Segment.objects.filter(public_id=ref).first() if isinstance(ref, str) and "\x00" not in ref else None
    if segment is None:
        raise NotFound.for_object("segment", ref)
    return segment


def segment_list(*, order: str = "-created_at") -> QuerySet[Segment]:
    return with_member_counts(Segment.objects.all()).order_by(order, "-id" if order.startswith("-") else "id")


def with_member_counts(segments: QuerySet[Segment]) -> QuerySet[Segment]:
    return segments.annotate(members_count=Count("memberships", filter=Q(memberships__left_at__isnull=True)))


def members(segment: Segment) -> QuerySet[Customer]:
    """The segment's current members (live customers), most recent entrants first."""
    return (live_customers().filter(segment_memberships__segment=segment, segment_memberships__left_at__isnull=True)
            .order_by("-segment_memberships__entered_at", "-id"))


def members_count(segment: Segment) -> int:
    return SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count()


def customer_segments(customer: Customer) -> QuerySet[Segment]:
    """The segments the customer is a member of now, oldest membership first."""
    return (Segment.objects.filter(memberships__customer=customer, memberships__left_at__isnull=True)
            .order_by("memberships__entered_at", "id"))


def customer_segment_ids(customer_pk: int) -> list[str]:
    """Public ids of the customer's segments: one query (the `customer.segment` rule condition)."""
    return list(SegmentMembership.objects.filter(customer_id=customer_pk, left_at__isnull=True)
                .values_list("segment__public_id", flat=True))


def matching_customers(filter_spec: dict, *, per_customer: bool = False) -> QuerySet[Customer]:
    """Live customers matching a normalized filter, decided by the database."""
    return compile_segment_filter(filter_spec, per_customer=per_customer).apply(live_customers()).order_by()


def preview_count(raw_filter) -> int:
    """How many customers a filter matches now (the admin shows it before saving). Raises InvalidPayload."""
    return matching_customers(normalize_segment_filter(raw_filter)).count()


def segment_events(segment: Segment | None = None, customer: Customer | None = None) -> QuerySet[SegmentEvent]:
    events = SegmentEvent.objects.select_related("segment", "customer")
    if segment is not None:
        events = events.filter(segment=segment)
    if customer is not None:
        events = events.filter(customer=customer)
    return events.order_by("-created_at", "-id")
