"""schemathesis against the project's own OpenAPI schema (drf-spectacular, served at /api/schema): every
operation, with generated requests (valid and invalid) against the demo shop, answers without a server
error and with a body the schema describes.

It runs in the README's test command (`python3 dev.py test`), so in CI on PostgreSQL, bounded to a few
minutes: SCHEMATHESIS_EXAMPLES generated requests per operation (default 20) and SCHEMATHESIS_BUDGET
seconds per operation (default 8). Path parameters are mostly the ids of real objects, so the
answers with bodies (200s) are checked, not only the 404s of random ids. A failure prints, per
operation, what schemathesis found and the curl command that reproduces it.
"""

import os
import time

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from catalog.models import Product, ProductCollection, Sku
from core import demo
from core.models import AsyncAction
from customers.models import Customer, Order
from distribution.models import WebhookDelivery, WebhookEndpoint
from promo.models import Campaign, Category, PromotionStack, PromotionTier, Redemption, SessionLock, Voucher
from promoengine.wsgi import application
from rules.models import ValidationRule, ValidationRuleAssignment
from segments.models import Segment
from tests.conftest import JsonClient

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
BUDGET = float(os.environ.get("SCHEMATHESIS_BUDGET", "8"))
CHECKS = [not_a_server_error, response_schema_conformance]


def _seed(api: JsonClient) -> None:
    """The demo shop (customers, catalog, orders, coupons, promotions, gift cards, segments, redemptions),
    and what it lacks: a category, a webhook with a delivery, a bulk issue of gift cards, a session lock."""
    demo.seed_demo(customers=20, products=8, orders=30, events=10, redemptions=15)
    assert api.post("/v1/categories", {"name": "Shoes", "hierarchy": 1}).status_code == 201
    # Port 9 (discard) refuses at once: a test or retry the fuzzing sends fails without waiting on a network.
    webhook = api.post("/v1/webhooks", {"url": "http://127.0.0.1:9/promo", "events": ["*"]})
    assert webhook.status_code == 200, webhook.content
    WebhookDelivery.objects.create(endpoint=WebhookEndpoint.objects.get(public_id=webhook.json()["id"]),
                                   event_id="evt_seed", event_type="campaign.disabled", payload={"id": "evt_seed"},
                                   status=WebhookDelivery.Status.FAILED, attempts=6)
    gift_campaign = Campaign.objects.filter(campaign_type=Campaign.CampaignType.GIFT_VOUCHERS).first()
    assert api.post("/v1/gift-cards/bulk-issues", {"campaign": gift_campaign.public_id, "count": 2}).status_code == 202
    coupon = Voucher.objects.filter(campaign__campaign_type=Campaign.CampaignType.DISCOUNT_COUPONS,
                                    active=True).first()
    locked = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": coupon.code}],
                                          "order": {"amount": 100_000}, "session": {"type": "LOCK"}})
    assert locked.status_code == 200, locked.content


def _ids(queryset, field: str = "public_id", count: int = 3) -> list[str]:
    return list(queryset.order_by("pk").values_list(field, flat=True)[:count])


def _real_values() -> dict[str, list[str]]:
    """Path parameter -> ids of real objects (several kinds where one name serves several)."""
    kinds = Campaign.CampaignType
    codes = (_ids(Voucher.objects.filter(campaign__campaign_type=kinds.DISCOUNT_COUPONS), "code", 2)
             + _ids(Voucher.objects.filter(campaign__campaign_type=kinds.GIFT_VOUCHERS), "code", 2))
    return {
        "action_id": _ids(AsyncAction.objects.all()),
        "batch_id": _ids(AsyncAction.objects.filter(type="GIFT_CARDS_BULK_ISSUE")),
        "campaign_id": [_ids(Campaign.objects.filter(campaign_type=kind), count=1)[0] for kind in
                        (kinds.DISCOUNT_COUPONS, kinds.PROMOTION, kinds.GIFT_VOUCHERS)],
        "category_id": _ids(Category.objects.all()),
        "code": codes,
        "customer_id": _ids(Customer.objects.all(), count=2) + _ids(Customer.objects.all(), "source_id", 1),
        "product_id": _ids(Product.objects.all()),
        "sku_id": _ids(Sku.objects.all()),
        "collection_id": _ids(ProductCollection.objects.all()),
        "redemption_id": _ids(Redemption.objects.filter(parent__isnull=True)) + _ids(Redemption.objects.filter(
            parent__isnull=False), count=1),
        "rule_id": _ids(ValidationRule.objects.all()),
        "assignment_id": _ids(ValidationRuleAssignment.objects.all()),
        "segment_id": _ids(Segment.objects.all()),
        "tier_id": _ids(PromotionTier.objects.all()),
        "stack_id": _ids(PromotionStack.objects.all()),
        "order_id": _ids(Order.objects.all(), count=2) + _ids(Order.objects.all(), "source_id", 1),
        "resource": ["customer", "order", "product"],
        "webhook_id": _ids(WebhookEndpoint.objects.all()),
        "delivery_id": _ids(WebhookDelivery.objects.all()),
        "session_key": _ids(SessionLock.objects.all(), "session_key"),
    }


def _inside_the_test_transaction(app):
    """The WSGI app, each request in a savepoint of the test's transaction, as Django's test client runs
    it: the end-of-request handler that would close the connection is unhooked meanwhile, and a request
    that fails inside PostgreSQL is rolled back alone instead of aborting every later one."""

    def wrapped(environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        body = []
        try:
            with transaction.atomic():
                response = app(environ, start_response)
                try:
                    body = [b"".join(response)]
                finally:
                    response.close()
        except DatabaseError:
            pass  # its answer, a 500, was started already: the check reports it
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return body

    return wrapped


def test_every_operation_answers_what_the_schema_says(api, django_capture_on_commit_callbacks):
    schema = schemathesis.openapi.from_wsgi("/api/schema", _inside_the_test_transaction(application))
    with django_capture_on_commit_callbacks(execute=True):
        _seed(api)
    real = {name: values for name, values in _real_values().items() if values}

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """Each path parameter: as generated, or the id of a real object."""
        if not path_parameters:
            return st.just(path_parameters)
        return st.fixed_dictionaries({
            name: st.sampled_from([value, *real[name]]) if name in real else st.just(value)
            for name, value in path_parameters.items()})

    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _exercise(operation, api.headers)
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures are gathered, then reported
            failures.append(f"{operation.label}:\n{exc}")
    assert not failures, f"{len(failures)} operations fail:\n\n" + "\n\n".join(failures)


def _exercise(operation, headers: dict) -> None:
    until = time.monotonic() + BUDGET

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        if time.monotonic() < until:  # past the budget the remaining examples are skipped
            case.call_and_validate(headers=headers, checks=CHECKS)

    check()
