"""The API-key permission matrix, generated from the URL configuration (issue 13).

Every operation under /v1/ (each route of promoengine.urls and each HTTP method its view answers) is called
with a management key for every category, a read-only key, a validate-and-redeem key and keys limited to
department Alpha (of each scope), on Alpha's objects, on department Bravo's and on objects that do not exist
(tests/scope_world.py builds them). Expected:

- every view declares what it serves (core.api.scope): a new route without a declaration fails here;
- the management key's call on Alpha's objects succeeds (the sample request below is meaningful), unless
  REFUSED_SAMPLES says why not;
- a read-only key gets 403 for anything but GET; a validate-and-redeem key gets 403 for writes other than
  validating, redeeming, rolling back and releasing sessions; a key limited to categories gets 403 where
  the view serves every category at once (webhooks); otherwise each key gets what the management key got;
- on Bravo's objects, a key limited to Alpha gets exactly the answer it gets for objects that do not exist
  (404, never a 2xx): what it may not see does not exist for it;
- no answer to a key limited to Alpha, on Alpha's objects or on lists, names anything of Bravo.

A route added later is enumerated here with no test to write: it needs a sample for each of its URL
parameters (PARAMETERS) and, for a write, a body that succeeds (BODIES), or the matrix fails and says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from core.api.scope import api_views, declaration_problems
from tests.scope_world import build

METHODS = ("get", "post", "put", "patch", "delete")
LIMITED = ("alpha", "alpha_read_only", "alpha_redemption")
SCOPE_OF = {"management": "management", "read_only": "read_only", "redemption": "redemption",
            "alpha": "management", "alpha_read_only": "read_only", "alpha_redemption": "redemption"}


@dataclass(frozen=True)
class Operation:
    route: str  # as in the URL configuration: "v1/vouchers/<str:code>/balance"
    method: str
    view: type

    @property
    def id(self) -> str:
        return f"{self.method.upper()} /{self.route}"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.route)

    def path(self, values: dict) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.route)


def operations() -> list[Operation]:
    found = []
    for route, view in api_views():
        for method in METHODS:
            if view is not None and hasattr(view, method):
                found.append(Operation(route, method, view))
    return found


OPERATIONS = operations()

# ---------------------------------------------------------------- samples

MISSING = SimpleNamespace(
    name="missing", category=SimpleNamespace(public_id="cat_missing"),
    coupons=SimpleNamespace(public_id="camp_missing1"), code=SimpleNamespace(code="MISSING-CODE"),
    gifts=SimpleNamespace(public_id="camp_missing2"), card=SimpleNamespace(code="MISSING-GIFT"),
    promotion=SimpleNamespace(public_id="camp_missing3"), tier=SimpleNamespace(public_id="promo_missing"),
    stack=SimpleNamespace(public_id="stack_missing"), rule=SimpleNamespace(public_id="val_missing"),
    assignment=SimpleNamespace(public_id="asgm_missing"), redemption="r_missing", session_key="missing-session",
    batch=SimpleNamespace(public_id="aa_missing"))

# URL parameter -> its value for a department (Alpha, Bravo or MISSING). Parameters naming rows of no
# category (customers, products, webhooks ...) take the world's one shared row.
PARAMETERS = {
    "code": lambda w, d: d.card.code,
    "campaign_id": lambda w, d: d.gifts.public_id,
    "category_id": lambda w, d: d.category.public_id,
    "redemption_id": lambda w, d: d.redemption,
    "batch_id": lambda w, d: d.batch.public_id,
    "action_id": lambda w, d: d.batch.public_id,
    "tier_id": lambda w, d: d.tier.public_id,
    "stack_id": lambda w, d: d.stack.public_id,
    "session_key": lambda w, d: d.session_key,
    "rule_id": lambda w, d: d.rule.public_id,
    "assignment_id": lambda w, d: d.assignment.public_id,
    **{name: (lambda w, d, name=name: w.shared[name]) for name in (
        "customer_id", "order_id", "product_id", "sku_id", "collection_id", "segment_id", "webhook_id",
        "delivery_id", "resource")},
}
# Where a route needs another object than the parameter's usual one.
ROUTE_PARAMETERS = {
    "v1/promotions/": {"campaign_id": lambda w, d: d.promotion.public_id},
    "v1/campaigns/<str:campaign_id>/vouchers/<str:code>": {"code": lambda w, d: f"{d.name.upper()}-NEW"},
}


def _voucher_body(w, d) -> dict:
    return {"type": "DISCOUNT_VOUCHER", "category_id": d.category.public_id,
            "discount": {"type": "AMOUNT", "amount_off": 100}}


def _redeemables(w, d) -> dict:
    return {"customer": {"source_id": "shared-customer"}, "order": {"amount": 20_000},
            "redeemables": [{"object": "voucher", "id": d.code.code}]}


# (method, route) -> body for a department; writes not listed send {}.
BODIES = {
    ("post", "v1/vouchers"): lambda w, d: {**_voucher_body(w, d), "code": f"{d.name.upper()}-NEW"},
    ("post", "v1/vouchers/<str:code>"): _voucher_body,
    ("put", "v1/vouchers/<str:code>"): lambda w, d: {"metadata": {"note": "x"}},
    ("post", "v1/campaigns"): lambda w, d: {"name": f"{d.name} new", "category_id": d.category.public_id,
                                            "voucher": {"type": "DISCOUNT_VOUCHER",
                                                        "discount": {"type": "AMOUNT", "amount_off": 100}}},
    ("put", "v1/campaigns/<str:campaign_id>"): lambda w, d: {"description": "changed"},
    ("post", "v1/categories"): lambda w, d: {"name": "New department"},
    ("put", "v1/categories/<str:category_id>"): lambda w, d: {"hierarchy": 7},
    ("post", "v1/vouchers/<str:code>/balance"): lambda w, d: {"amount": 500},
    ("post", "v1/gift-cards/<str:code>/temporary-credits"): lambda w, d: {"amount": 500,
                                                                          "expires_at": "2999-01-01T00:00:00Z"},
    ("post", "v1/gift-cards/refunds"): lambda w, d: {"amount": 500, "order": "order-1", "voucher": d.card.code},
    ("post", "v1/gift-cards/bulk-issues"): lambda w, d: {"campaign": d.gifts.public_id, "count": 1},
    ("post", "v1/validations"): _redeemables,
    ("post", "v1/redemptions"): _redeemables,
    ("post", "v1/qualifications"): lambda w, d: {"customer": {"source_id": "shared-customer"},
                                                 "order": {"amount": 20_000}},
    ("post", "v1/promotions/<str:campaign_id>/tiers"): lambda w, d: {
        "name": "New tier", "action": {"discount": {"type": "AMOUNT", "amount_off": 100}}},
    ("put", "v1/promotions/tiers/<str:tier_id>"): lambda w, d: {"banner": "changed"},
    ("post", "v1/promotions/<str:campaign_id>/stacks"): lambda w, d: {"name": "New stack",
                                                                      "tiers": {"ids": [d.tier.public_id]}},
    ("put", "v1/promotions/<str:campaign_id>/stacks/<str:stack_id>"): lambda w, d: {"name": "Renamed"},
    ("post", "v1/validation-rules"): lambda w, d: {"name": "New rule", "rules": {}},
    ("put", "v1/validation-rules/<str:rule_id>"): lambda w, d: {"name": "Renamed rule"},
    ("post", "v1/validation-rules/<str:rule_id>/assignments"): lambda w, d: {
        "related_object_type": "voucher", "related_object_id": d.code.code},
    ("post", "v1/vouchers/bulk/async"): lambda w, d: [{"code": d.code.code, "metadata": {"note": "x"}}],
    ("post", "v1/vouchers/metadata/async"): lambda w, d: {"codes": [d.code.code], "metadata": {"note": "x"}},
    ("post", "v1/customers"): lambda w, d: {"source_id": "new-customer"},
    ("put", "v1/customers/<str:customer_id>"): lambda w, d: {"name": "Renamed"},
    ("post", "v1/customers/bulk/async"): lambda w, d: [{"source_id": "bulk-customer"}],
    ("post", "v1/customers/metadata/async"): lambda w, d: {"source_ids": ["shared-customer"], "metadata": {"a": 1}},
    ("put", "v1/customers/<str:customer_id>/consents"): lambda w, d: {"newsletter": True},
    ("post", "v1/orders"): lambda w, d: {"source_id": "new-order", "amount": 1000},
    ("put", "v1/orders/<str:order_id>"): lambda w, d: {"metadata": {"note": "x"}},
    ("post", "v1/events"): lambda w, d: {"event": "viewed", "customer": {"source_id": "shared-customer"}},
    ("post", "v1/consents"): lambda w, d: {"name": "sms"},
    ("post", "v1/products"): lambda w, d: {"source_id": "new-product", "name": "New", "price": 100},
    ("put", "v1/products/<str:product_id>"): lambda w, d: {"name": "Renamed"},
    ("post", "v1/products/<str:product_id>/skus"): lambda w, d: {"source_id": "new-sku", "sku": "New"},
    ("put", "v1/products/<str:product_id>/skus/<str:sku_id>"): lambda w, d: {"sku": "Renamed"},
    ("post", "v1/product-collections"): lambda w, d: {"name": "New collection", "type": "STATIC"},
    ("post", "v1/segments"): lambda w, d: {"name": "New segment", "type": "static"},
    ("post", "v1/metadata-schemas"): lambda w, d: {"related_object": "order", "properties": {}},
    ("post", "v1/webhooks"): lambda w, d: {"url": "https://hooks.example.com/new"},
    ("put", "v1/webhooks/<str:webhook_id>"): lambda w, d: {"description": "changed"},
}



@dataclass(frozen=True)
class Upload:
    """A CSV file sent as the multipart field `file`."""

    content: str


UPLOADS = {
    ("post", "v1/campaigns/<str:campaign_id>/importCSV"): lambda w, d: Upload(f"code\n{d.name.upper()}-IMPORTED\n"),
    ("post", "v1/vouchers/importCSV"): lambda w, d: Upload(
        f"code,category,discount_type,discount_value\n{d.name.upper()}-IMPORTED,{d.category.public_id},AMOUNT,100\n"),
    ("post", "v1/customers/importCSV"): lambda w, d: Upload("source_id,name\nimported,Ann\n"),
    ("post", "v1/products/importCSV"): lambda w, d: Upload("source_id,name,price\nimported,Hat,100\n"),
    ("post", "v1/skus/importCSV"): lambda w, d: Upload(f"product_id,source_id,sku\n{w.shared['product_id']},hat-s,S\n"),
}
BODIES.update(UPLOADS)

# Operations whose sample cannot succeed for the management key, with the answer it gets and why.
REFUSED_SAMPLES = {
    ("post", "v1/campaigns/<str:campaign_id>/approve"): (403, "approvals are made by staff, never by API keys"),
    ("post", "v1/campaigns/<str:campaign_id>/reject"): (403, "approvals are made by staff, never by API keys"),
    ("post", "v1/vouchers/<str:code>"): (409, "the code is taken: it is Alpha's card (the neutral conflict)"),
    ("delete", "v1/vouchers/<str:code>"): (409, "a gift card's ledger must be kept"),
}
# Views that answer only management keys (of every category), whatever the method.
MANAGEMENT_ONLY = {"WebhooksView", "WebhookView", "WebhookDeliveriesView", "WebhookTestView", "WebhookDeliveryView",
                   "WebhookDeliveryRetryView"}
# Parameters naming an async action: a key limited to categories sees only the actions it started itself
# (Alpha's batch was started by the "alpha" key), every other key or staff user sees them all.
STARTED_BY_ALPHA_KEY = {"batch_id", "action_id"}
# Creating with a client-chosen unique code: a taken code is refused wherever it is (not "as if missing").
CREATES_BY_CODE = {("post", "v1/vouchers/<str:code>")}


def _values(op: Operation, world, department) -> dict:
    chosen = {}
    for name in op.parameters:
        override = next((table[name] for prefix, table in ROUTE_PARAMETERS.items()
                         if op.route.startswith(prefix) and name in table), None)
        make = override or PARAMETERS.get(name)
        assert make is not None, f"{op.id}: add a sample for the URL parameter {name!r} to PARAMETERS"
        chosen[name] = make(world, department)
    return chosen


def _request(op: Operation, world, department):
    path = op.path(_values(op, world, department))
    body = BODIES.get((op.method, op.route))
    return path, (body(world, department) if body else ({} if op.method != "get" else None))


# ---------------------------------------------------------------- calling

@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    @property
    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def kind(self) -> tuple:
        """What a client can tell apart: the status, the error key, and for validations the verdicts."""
        body = self.json if isinstance(self.json, dict) else {}
        verdicts = tuple(sorted(str((r.get("result") or {}).get("error", {}).get("key") or r.get("status"))
                                for r in body.get("redeemables") or [] if isinstance(r, dict)))
        return self.status, body.get("key"), body.get("valid"), verdicts


def call(client, method: str, path: str, body) -> Answer:
    """One request in a savepoint rolled back afterwards: every call sees the world as built."""
    with transaction.atomic():
        if isinstance(body, Upload):
            upload = SimpleUploadedFile("sample.csv", body.content.encode(), content_type="text/csv")
            response = client.client.post(path, data={"file": upload}, headers=client.headers)
        else:
            response = client.request(method.upper(), path, body)
        if getattr(response, "streaming", False):
            raw = b"".join(response.streaming_content)
        else:
            raw = response.content
        transaction.set_rollback(True)
    return Answer(response.status_code, raw.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once per module inside a transaction rolled back at its end (each test's own transaction and
    each call's savepoint sit inside it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = build()
        built.shared = _shared_rows(built)
        yield built
        transaction.set_rollback(True)


def _shared_rows(world) -> dict:
    from distribution.models import WebhookDelivery, WebhookEndpoint

    client = world.keys["management"]
    product = client.post("/v1/products", {"source_id": "tshirt", "name": "T-shirt", "price": 2500}).json()
    sku = client.post(f"/v1/products/{product['id']}/skus", {"source_id": "tshirt-red", "sku": "Red"}).json()
    collection = client.post("/v1/product-collections", {"name": "Shirts", "type": "STATIC"}).json()
    segment = client.post("/v1/segments", {"name": "Everyone", "type": "static"}).json()
    order = client.post("/v1/orders", {"source_id": "order-1", "amount": 1000}).json()
    client.post("/v1/metadata-schemas", {"related_object": "customer", "properties": {}})
    client.post("/v1/consents", {"name": "newsletter"})
    endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/a", secret="s", event_types=["*"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_id="evt_1", event_type="webhook.ping",
                                              payload={})
    return {"customer_id": world.customer_id, "order_id": order["id"], "product_id": product["id"],
            "sku_id": sku["id"], "collection_id": collection["id"], "segment_id": segment["id"],
            "webhook_id": endpoint.public_id, "delivery_id": delivery.public_id, "resource": "customer"}


def _expected_for(op: Operation, key: str, reference: Answer) -> int | Answer:
    """What `key` should get on Alpha's objects, given the management key's answer."""
    scope = SCOPE_OF[key]
    if op.method != "get" and scope == "read_only":
        return 403
    if op.method != "get" and scope == "redemption" and not getattr(op.view, "redemption_scope", False):
        return 403
    if op.view.__name__ in MANAGEMENT_ONLY and scope != "management":
        return 403
    if key in LIMITED and getattr(op.view, "all_categories", None):
        return 403
    if key in LIMITED and key != "alpha" and STARTED_BY_ALPHA_KEY & set(op.parameters):
        return 404
    return reference


def _hidden_in(answer: Answer, world) -> list[str]:
    text = answer.text
    found = [marker for marker in world.hidden_ids() if marker and marker in text]
    if "bravo" in text.lower():
        found.append("bravo")
    return found


# ---------------------------------------------------------------- the matrix

IDS = [op.id for op in OPERATIONS]
# Operations any caller may use without a key (health) have no key to check.
KEYED = [op for op in OPERATIONS if getattr(op.view, "authentication_classes", True)]


def test_the_matrix_covers_the_whole_api():
    assert len(KEYED) > 100 and {op.view.__name__ for op in OPERATIONS if op not in KEYED} == {"HealthView"}
    assert {op.route for op in OPERATIONS} >= {"v1/redemptions", "v1/gift-cards/batches/<str:batch_id>/export.csv"}


@pytest.mark.parametrize("op", OPERATIONS, ids=IDS)
def test_every_view_declares_what_it_serves(op):
    assert declaration_problems(op.view) == [], f"{op.id}: see core/api/scope.py"


@pytest.mark.django_db
@pytest.mark.parametrize("op", KEYED, ids=[op.id for op in KEYED])
def test_scope_matrix(world, op):
    path, body = _request(op, world, world.alpha)
    reference = call(world.keys["management"], op.method, path, body)
    refused = REFUSED_SAMPLES.get((op.method, op.route))
    if refused:
        assert reference.status == refused[0], (op.id, reference.text[:300])
    else:
        assert 200 <= reference.status < 300, (op.id, "the sample must succeed", reference.text[:300])

    for key in ("read_only", "redemption", *LIMITED):
        got = call(world.keys[key], op.method, path, body)
        expected = _expected_for(op, key, reference)
        if isinstance(expected, int):
            assert got.status == expected, (op.id, key, got.text[:300])
        else:
            assert got.kind == expected.kind, (op.id, key, got.text[:300], expected.text[:300])
        if key in LIMITED:
            assert not _hidden_in(got, world), (op.id, key, _hidden_in(got, world))

    hidden_path, hidden_body = _request(op, world, world.bravo)
    if (hidden_path, hidden_body) == (path, body):
        return  # nothing of a category in this operation's request
    missing_path, missing_body = _request(op, world, MISSING)
    for key in LIMITED:
        client = world.keys[key]
        if (op.method, op.route) in CREATES_BY_CODE:  # Bravo's code, else as Alpha's: a code taken in its own
            hidden, like = call(client, op.method, hidden_path, body), call(client, op.method, path, body)
        else:
            hidden = call(client, op.method, hidden_path, hidden_body)
            like = call(client, op.method, missing_path, missing_body)
        assert hidden.kind == like.kind, (op.id, key, hidden.text[:300], like.text[:300])
