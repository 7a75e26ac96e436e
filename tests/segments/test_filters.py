"""The segment filter language over customers, with the issue's examples. Each example is checked both
ways membership is decided: the set-based recompute of the whole segment, and the per-customer refresh
that follows a change (they must agree)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidPayload
from customers import services as customer_services
from customers.models import Customer
from segments import services
from segments.filters import compile_segment_filter, normalize_segment_filter, register_aggregate_field
from segments.selectors import matching_customers, preview_count
from tests.segments.conftest import customer, members, order

pytestmark = pytest.mark.django_db


def both_ways(spec: dict) -> set[str]:
    """Source ids matching `spec`, computed in bulk and per customer; asserts that they agree."""
    normalized = normalize_segment_filter(spec)
    bulk = set(matching_customers(normalized).values_list("source_id", flat=True))
    one_by_one = {c.source_id for c in Customer.objects.filter(deleted_at__isnull=True)
                  if compile_segment_filter(normalized, per_customer=True).apply(
                      Customer.objects.filter(pk=c.pk)).exists()}
    assert bulk == one_by_one
    return bulk


def test_at_least_5_orders_in_a_period(make_segment):
    for _ in range(5):
        order("five", 1000, days_ago=3)
    for _ in range(4):
        order("four", 1000, days_ago=3)
    for days in (1, 2, 3, 4, 40):  # one of the five is too old
        order("old", 1000, days_ago=days)
    for _ in range(5):
        order("unpaid", 1000, days_ago=1, status="CREATED")  # not counted
    spec = {"junction": "and", "orders.count": {"conditions": {"$more_than_or_equal": [5]}, "period": {"days": 30}}}
    assert both_ways(spec) == {"five"}
    segment = make_segment(spec)
    assert members(segment) == {"five"}
    assert segment.scheduled_recompute  # "the last 30 days" moves with the clock
    order("four", 1000, days_ago=0)  # the fifth order: the refresh puts "four" in at once
    assert members(segment) == {"five", "four"}


def test_total_orders_over_500_in_a_period(make_segment):
    start, end = timezone.now() - timedelta(days=60), timezone.now() - timedelta(days=30)
    order("big", 30000, days_ago=45)
    order("big", 25000, days_ago=40)  # 550.00 inside the period
    order("outside", 60000, days_ago=10)  # after the period
    order("exact", 50000, days_ago=50)  # 500.00 is not over 500.00
    spec = {"junction": "and", "orders.amount": {"conditions": {"$more_than": [50000]},
                                                  "period": {"after": start.isoformat(), "before": end.isoformat()}}}
    assert both_ways(spec) == {"big"}
    segment = make_segment(spec)
    assert members(segment) == {"big"}
    assert not segment.scheduled_recompute  # fixed dates: no need to recompute on a schedule


def test_postal_code_65_737_or_city_london(make_segment):
    customer("gdynia", address={"postal_code": "65-737", "city": "Zielona Góra"})
    customer("london", address={"city": "London"})
    customer("paris", address={"city": "Paris", "postal_code": "75001"})
    spec = {"junction": "or", "address.postal_code": {"conditions": {"$is": ["65-737"]}},
            "address.city": {"conditions": {"$is": ["London"]}}}
    assert both_ways(spec) == {"gdynia", "london"}
    segment = make_segment(spec)
    assert members(segment) == {"gdynia", "london"}
    customer_services.customer_update(Customer.objects.get(source_id="paris"), {"address": {"city": "London"}})
    assert members(segment) == {"gdynia", "london", "paris"}  # moved to London: joined


def test_last_order_less_than_14_days_ago(make_segment):
    order("recent", 1000, days_ago=3)
    order("lapsed", 1000, days_ago=20)
    customer("never")
    spec = {"junction": "and", "orders.last_order_date": {"conditions": {"$less_than_ago": [14]}}}
    assert normalize_segment_filter(spec)["orders.last_order_date"] == {"conditions": {"$less_than": [14]}}
    assert both_ways(spec) == {"recent"}
    segment = make_segment(spec)
    assert members(segment) == {"recent"} and segment.scheduled_recompute
    order("lapsed", 1000, days_ago=1)
    assert members(segment) == {"recent", "lapsed"}


def test_signed_up_less_than_5_days_ago(make_segment):
    customer("new", days_ago=2)
    customer("old", days_ago=9)
    spec = {"junction": "and", "created_at": {"conditions": {"$less_than": [5]}}}
    assert both_ways(spec) == {"new"}
    segment = make_segment(spec)
    assert members(segment) == {"new"}
    customer("newest")  # a new customer is checked against every dynamic segment when created
    assert members(segment) == {"new", "newest"}
    # Six days later "new" is no longer new: the scheduled recompute takes it out.
    Customer.objects.filter(source_id="new").update(created_at=timezone.now() - timedelta(days=6))
    services.segment_recompute(segment)
    assert members(segment) == {"newest"}


def test_fields_metadata_events_and_lifetime_aggregates():
    customer("pharma", metadata={"industry": "pharma", "employees": 250}, email="a@pharma.example",
             phone="+48 600 100 200", name="Ana Pharma")
    customer("retail", metadata={"industry": "retail", "employees": "40"}, email="b@shop.example")
    for _ in range(3):
        customer_services.custom_event_track({"event": "newsletter_opened", "customer": {"source_id": "retail"}})
    order("retail", 120000, days_ago=2)
    assert both_ways({"junction": "and", "metadata.industry": {"conditions": {"$in": ["pharma", "biotech"]}}}) == {
        "pharma"}
    assert both_ways({"metadata.employees": {"conditions": {"$more_than": [100]}}}) == {"pharma"}
    assert both_ways({"email": {"conditions": {"$ends_with": ["@shop.example"]}}}) == {"retail"}
    assert both_ways({"phone": {"conditions": {"$starts_with": ["+48"]}}}) == {"pharma"}
    assert both_ways({"name": {"conditions": {"$contains": ["pharma"]}}}) == {"pharma"}
    assert both_ways({"source_id": {"conditions": {"$is_not": ["pharma"]}}}) == {"retail"}
    assert both_ways({"events.newsletter_opened": {"conditions": {"$more_than_equal": [3]},
                                                   "period": {"days": 7}}}) == {"retail"}
    assert both_ways({"events.newsletter_opened": {"conditions": {"$less_than": [1]}}}) == {"pharma"}  # none = 0
    assert both_ways({"summary.orders.total_amount": {"conditions": {"$more_than_equal": [100000]}}}) == {"retail"}
    assert both_ways({"customer.orders.count": {"conditions": {"$is": [0]}}}) == {"pharma"}  # the rules' name
    assert both_ways({"orders.last_order_amount": {"conditions": {"$has_value": []}}}) == {"retail"}
    assert both_ways({"orders.count": {"conditions": {"$is_unknown": []}}}) == {"pharma"}
    assert both_ways({"junction": "and"}) == {"pharma", "retail"}  # no condition: everyone
    assert preview_count({"junction": "or", "metadata.industry": {"conditions": {"$is": ["pharma"]}},
                          "orders.count": {"conditions": {"$more_than": [0]}}}) == 2


def test_redemptions_field_is_recomputed_on_the_schedule():
    spec = normalize_segment_filter({"redemptions.count": {"conditions": {"$more_than_equal": [1]}}})
    assert compile_segment_filter(spec).needs_schedule  # promo does not refresh segments: the schedule does
    customer("nobody")
    assert both_ways(spec) == set()


def test_another_app_plugs_in_a_field():
    from django.db.models import Count

    from customers.models import CustomEvent

    register_aggregate_field("test_referrals.count", lambda suffix: (
        CustomEvent.objects.filter(name="referred"), "customer", "created_at", Count("id")), depends_on="referrals")
    customer("referrer")
    customer("other")
    customer_services.custom_event_track({"event": "referred", "customer": {"source_id": "referrer"}})
    spec = normalize_segment_filter({"test_referrals.count": {"conditions": {"$more_than": [0]}}})
    assert compile_segment_filter(spec).depends_on == {"referrals"}
    assert both_ways(spec) == {"referrer"}


@pytest.mark.parametrize("spec, message", [
    ([], "filter must be a JSON object"),
    ({"junction": "xor"}, "junction"),
    ({"shoe_size": {"conditions": {"$is": [42]}}}, "unknown filter field"),
    ({"address.city": {"conditions": {"$more_than": ["L"]}}}, "unknown operator"),
    ({"address.city": {"conditions": {}}}, "at least one operator"),
    ({"address.city": {"conditions": {"$is": [1]}}}, "is not a string"),
    ({"address.city": "London"}, "must be an object"),
    ({"orders.count": {"conditions": {"$more_than": ["five"]}}}, "is not an integer"),
    ({"orders.count": {"conditions": {"$more_than": [5]}, "period": {"days": 0}}}, "whole number of days"),
    ({"orders.count": {"conditions": {"$more_than": [5]}, "period": {"weeks": 2}}}, "days, after and/or before"),
    ({"orders.count": {"conditions": {"$more_than": [5]}, "period": {"after": "yesterday"}}}, "ISO 8601"),
    ({"address.city": {"conditions": {"$is": ["x"]}, "period": {"days": 3}}}, "only a 'conditions' object"),
    ({"created_at": {"conditions": {"$after": ["not a date"]}}}, "ISO 8601"),
    ({"metadata.a b": {"conditions": {"$is": ["x"]}}}, "metadata keys"),
])
def test_bad_filters_are_refused_with_the_bad_part_named(spec, message):
    with pytest.raises(InvalidPayload) as error:
        normalize_segment_filter(spec)
    assert message in error.value.details
