"""Membership stays current: entered/left stints and events, refresh on customer/order/event changes,
static vs dynamic, passive segments, deletion, the set-based recompute and the schedule."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import AsyncAction
from customers import services as customer_services
from customers.models import Customer
from segments import services, tasks
from segments.models import Segment, SegmentEvent, SegmentMembership
from tests.segments.conftest import customer, members, order

pytestmark = pytest.mark.django_db

BIG_SPENDERS = {"junction": "and", "orders.total_amount": {"conditions": {"$more_than_or_equal": [10000]}}}
LONDON = {"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}}


def events(segment) -> list[tuple[str, str]]:
    return list(SegmentEvent.objects.filter(segment=segment).order_by("id")
                .values_list("type", "customer__source_id"))


def test_enter_and_leave_are_stints_with_events(make_segment):
    segment = make_segment(LONDON)
    ana = customer("ana", address={"city": "London"})
    customer_services.customer_update(ana, {"address": {"city": "Paris"}})
    customer_services.customer_update(ana, {"address": {"city": "London"}})
    assert members(segment) == {"ana"}
    stints = list(SegmentMembership.objects.filter(segment=segment, customer=ana).order_by("id"))
    assert len(stints) == 2
    assert stints[0].left_at is not None and stints[0].left_at >= stints[0].entered_at
    assert stints[1].left_at is None
    assert events(segment) == [("customer.segment.entered", "ana"), ("customer.segment.left", "ana"),
                               ("customer.segment.entered", "ana")]
    # A change that does not alter membership records nothing.
    customer_services.customer_update(ana, {"name": "Ana"})
    assert len(events(segment)) == 3


def test_an_order_refreshes_membership_in_its_transaction_with_few_queries(make_segment):
    segment = make_segment(BIG_SPENDERS)
    make_segment(LONDON)  # reads customer fields only: an order does not re-check it
    order("ben", 6000)
    assert members(segment) == set()
    with CaptureQueriesContext(connection) as queries:
        order("ben", 5000)
    segment_queries = [q["sql"] for q in queries if "segments_" in q["sql"]]
    # The dynamic segments with the customer's membership, then (in the customers table: not listed here)
    # which of them match, then the stint opened and its event.
    assert len(segment_queries) == 3, segment_queries
    assert members(segment) == {"ben"}
    assert events(segment) == [("customer.segment.entered", "ben")]
    ben = Customer.objects.get(source_id="ben")
    with CaptureQueriesContext(connection) as queries:
        services.refresh_customer(ben, changed="orders")  # nothing to change: read segments, match
    assert len(queries) == 2
    with CaptureQueriesContext(connection) as queries:
        services.refresh_customer(ben, changed="events")  # no segment reads events: one query
    assert len(queries) == 1
    # Cancelling the order takes the amount back: ben leaves.
    customer_services.order_create_or_update({"source_id": ben.orders.first().source_id, "status": "CANCELED"})
    assert members(segment) == set()


def test_an_unchanged_order_costs_one_query(make_segment):
    make_segment(BIG_SPENDERS)
    customer("cy")
    with CaptureQueriesContext(connection) as queries:
        order("cy", 100, status="CREATED")  # not counted: the aggregates do not move
    assert not [q for q in queries if "segments_" in q["sql"]]


def test_custom_events_refresh_segments_that_read_them(make_segment):
    segment = make_segment({"events.app_opened": {"conditions": {"$more_than_or_equal": [2]}}})
    customer_services.custom_event_track({"event": "app_opened", "customer": {"source_id": "dee"}})
    assert members(segment) == set()
    customer_services.custom_event_track({"event": "app_opened", "customer": {"source_id": "dee"}})
    assert members(segment) == {"dee"}


def test_static_segment_is_a_fixed_list(make_segment):
    ana, ben = customer("ana", address={"city": "London"}), customer("ben")
    segment = make_segment(type="static", customers=[ana.public_id, "ben"])
    assert members(segment) == {"ana", "ben"}
    assert segment.initial_sync_status == "DONE" and segment.filter is None
    customer("cy", address={"city": "London"})  # new customers never join a static segment
    customer_services.customer_update(ben, {"name": "Ben"})
    assert members(segment) == {"ana", "ben"}
    assert services.segment_remove_customers(segment, ["ben"]) == 1
    assert services.segment_add_customers(segment, ["cy", "ana"]) == 1  # ana is already in
    assert members(segment) == {"ana", "cy"}
    assert events(segment) == [("customer.segment.entered", "ana"), ("customer.segment.entered", "ben"),
                               ("customer.segment.left", "ben"), ("customer.segment.entered", "cy")]


def test_passive_segment_changes_membership_without_events(make_segment):
    customer("ana", address={"city": "London"})
    segment = make_segment(LONDON, type="passive")
    customer("ben", address={"city": "London"})
    assert members(segment) == {"ana", "ben"}
    assert events(segment) == []


def test_deleted_customers_leave_every_segment(make_segment):
    ana = customer("ana", address={"city": "London"})
    dynamic = make_segment(LONDON)
    static = make_segment(type="static", customers=["ana"])
    customer_services.customer_delete(ana)
    assert members(dynamic) == members(static) == set()
    assert events(dynamic)[-1] == ("customer.segment.left", None)  # the hidden customer's source_id is freed


def test_recompute_is_set_based_and_idempotent(make_segment):
    for number in range(30):
        customer(f"c{number}", address={"city": "London" if number % 3 == 0 else "Leeds"})
    segment = make_segment(LONDON)
    assert len(members(segment)) == 10
    # Data changed behind the services' back (an import by SQL): the recompute catches up.
    Customer.objects.filter(source_id__in=["c1", "c2"]).update(address_city="London")
    Customer.objects.filter(source_id="c0").update(address_city="Leeds")
    with CaptureQueriesContext(connection) as queries:
        result = services.segment_recompute(segment)
    assert result["entered"] == 2 and result["left"] == 1 and result["members"] == 11
    writes = [q for q in queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    assert len(writes) <= 5, writes  # a handful of statements, not one per customer
    assert services.segment_recompute(segment)["entered"] == 0  # a rerun changes nothing
    assert len(events(segment)) == 10 + 3


def test_recompute_reports_progress_in_ranges(make_segment, monkeypatch):
    monkeypatch.setattr(services, "RECOMPUTE_CHUNK", 4)
    for number in range(10):
        customer(f"p{number}", address={"city": "London"})
    segment = make_segment({"junction": "and"})
    reports = []
    services.segment_recompute(segment, lambda done, total: reports.append((done, total)))
    assert reports[0][0] == 0 and reports[-1][0] == reports[-1][1] == 10
    assert len(reports) == 4  # 0, then three ranges of four ids


def test_new_dynamic_segment_syncs_through_an_async_action(django_capture_on_commit_callbacks):
    customer("ana", address={"city": "London"})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        segment = services.segment_create({"name": "London", "type": "auto-update", "filter": LONDON})
    assert segment.initial_sync_status == "IN_PROGRESS" and members(segment) == set()
    action = AsyncAction.objects.get(type="SEGMENT_RECOMPUTE")
    for callback in callbacks:
        callback()
    action.refresh_from_db()
    segment.refresh_from_db()
    assert action.status == "DONE" and action.progress == 100 and action.result["members"] == 1
    assert segment.initial_sync_status == "DONE" and members(segment) == {"ana"}


def test_the_schedule_recomputes_time_based_segments_once(make_segment, django_capture_on_commit_callbacks):
    recent = make_segment({"orders.last_order_date": {"conditions": {"$less_than": [14]}}})
    make_segment(LONDON)  # not time-based: left alone
    order("ana", 1000, days_ago=1)
    assert members(recent) == {"ana"}
    Customer.objects.filter(source_id="ana").update(last_order_date=timezone.now() - timedelta(days=15))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert tasks.recompute_scheduled() == 1
        assert services.recompute_scheduled() == []  # already queued: not twice
    for callback in callbacks:
        callback()
    assert members(recent) == set()
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["segments-recompute-scheduled"]["task"] == "segments.recompute_scheduled"


def test_segment_update_and_delete(make_segment, django_capture_on_commit_callbacks):
    customer("ana", address={"city": "London"})
    customer("ben", address={"city": "Leeds"})
    segment = make_segment(LONDON)
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_update(segment, name="Leeds", raw_filter={"address.city": {"conditions": {"$is": ["Leeds"]}}})
    assert members(segment) == {"ben"} and Segment.objects.get(pk=segment.pk).name == "Leeds"
    services.segment_delete(segment)
    assert not SegmentMembership.objects.exists() and not SegmentEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_refresh_racing_a_recompute_records_each_change_once():
    """Eight threads refresh the same customers while a recompute runs: one stint and one event each."""
    segment = Segment.objects.create(name="London", type="auto-update", filter=LONDON, depends_on=["customer"])
    pks = [Customer.objects.create(source_id=f"r{n}", address_city="London").pk for n in range(40)]
    barrier = threading.Barrier(9)
    errors = []

    def refresher(offset):
        try:
            barrier.wait()
            for pk in pks[offset::2]:
                with transaction.atomic():
                    services.refresh_customer(pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def recomputer():
        try:
            barrier.wait()
            services.segment_recompute(segment)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresher, args=(n % 2,)) for n in range(8)] + [threading.Thread(
        target=recomputer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert SegmentMembership.objects.filter(segment=segment).count() == 40
    assert SegmentEvent.objects.filter(segment=segment, type="customer.segment.entered").count() == 40


def test_refresh_uses_the_compiled_filter_until_the_segment_changes(make_segment, django_capture_on_commit_callbacks):
    """The per-customer SQL is compiled once per segment; metadata values and the customer's id land in the
    right parameters, and editing the filter recompiles it."""
    segment = make_segment({"junction": "and", "metadata.industry": {"conditions": {"$is": ["pharma"]}},
                            "metadata.employees": {"conditions": {"$more_than": [1]}}})
    ana = customer("ana", metadata={"industry": "pharma", "employees": 2})
    ben = customer("ben", metadata={"industry": "retail", "employees": 2})
    assert members(segment) == {"ana"}
    customer_services.customer_update(ben, {"metadata": {"industry": "pharma", "employees": 2}})
    customer_services.customer_update(ana, {"metadata": {"industry": "pharma", "employees": 1}})
    assert members(segment) == {"ben"}
    with django_capture_on_commit_callbacks(execute=True):
        services.segment_update(segment, raw_filter={"metadata.industry": {"conditions": {"$is": ["retail"]}}})
    assert members(segment) == set()
    customer_services.customer_update(ana, {"metadata": {"industry": "retail"}})
    assert members(segment) == {"ana"}
