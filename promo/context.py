"""The evaluation context of one validation or redemption: who, what cart, when, through which key.

Built once per request from the validated payload; catalog lookups are batched so a 10-line cart
costs a fixed number of queries. Nothing here writes to the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from catalog.models import Product, Sku
from catalog.selectors import CatalogLookup
from core.errors import InvalidPayload
from core.rawsql import RowLoader
from customers.models import Customer, Order
from promo.discounts import FREE_SHIPPING_PRODUCT, Line, OrderState


@dataclass
class ItemInfo:
    """What the engine knows about an order line beyond the numbers the calculator needs."""

    product: Product | None
    sku: Sku | None
    source_id: str | None
    related_object: str
    metadata: dict
    product_input: dict
    sku_input: dict


@dataclass
class RedeemableRef:
    object: str
    id: str
    gift_credits: int | None = None
    reward_id: str | None = None
    reward_points: int | None = None


@dataclass
class Context:
    redeemables: list[RedeemableRef]
    order_input: dict
    customer_input: dict | None
    customer: Customer | None  # an existing customer, when the request names one
    existing_order: Order | None
    state: OrderState
    items: list[ItemInfo]
    has_order: bool
    has_items: bool
    catalog: CatalogLookup
    session: dict | None
    tracking_id: str | None
    metadata: dict
    api_key: object | None = None
    channel: str | None = None
    now: datetime = field(default_factory=timezone.now)
    # Filled by handlers for their own use across validate -> redeem.
    scratch: dict = field(default_factory=dict)

    @property
    def session_key(self) -> str | None:
        return (self.session or {}).get("key")

    @property
    def initial_amount(self) -> int:
        return sum(line.amount for line in self.state.lines) if self.has_items else self.state.amount


def _clean(data: dict | None) -> dict:
    """Requests may carry an explicit null for any optional field: treat it as not given."""
    return {k: v for k, v in (data or {}).items() if v is not None}


_CUSTOMER_ROWS = RowLoader(Customer)


def find_customer(customer_input: dict | None) -> Customer | None:
    """The live customer the request names (by id, then by source_id), in one precompiled query."""
    data = _clean(customer_input)
    if data.get("id"):
        return _customer_where("t0.public_id = %s", data["id"]) or _customer_where("t0.source_id = %s", data["id"])
    if data.get("source_id"):
        return _customer_where("t0.source_id = %s", data["source_id"])
    return None


def _customer_where(where: str, value) -> Customer | None:
    found = _CUSTOMER_ROWS.fetch(f"t0.deleted_at IS NULL AND {where} ORDER BY t0.id", [value], limit=1)
    return found[0] if found else None


def find_order(order_input: dict) -> Order | None:
    if order_input.get("id"):
        return Order.objects.filter(public_id=order_input["id"]).first()
    if order_input.get("source_id"):
        return Order.objects.filter(source_id=order_input["source_id"]).first()
    return None


def _catalog(items: list[dict]) -> CatalogLookup:
    """Products and SKUs referenced by the items (2 queries for the whole cart)."""
    product_refs, sku_refs = set(), set()
    for item in items:
        sku_refs.add(item.get("sku_id"))
        product_refs.add(item.get("product_id"))
        if item.get("source_id"):
            (sku_refs if item.get("related_object") == "sku" else product_refs).add(item["source_id"])
    return CatalogLookup(product_refs, sku_refs)


def _line(index: int, item: dict, catalog: CatalogLookup) -> tuple[Line, ItemInfo]:
    related = item.get("related_object") or ("sku" if item.get("sku_id") else "product")
    sku = catalog.sku(item.get("sku_id")) or (catalog.sku(item.get("source_id")) if related == "sku" else None)
    product = (sku.product if sku else None) or catalog.product(item.get("product_id")) or (
        catalog.product(item.get("source_id")) if related == "product" else None)
    product_input, sku_input = _clean(item.get("product")), _clean(item.get("sku"))
    quantity = item.get("quantity")
    price = item.get("price")
    if price is None:
        price = product_input.get("price") if related == "product" else sku_input.get("price")
    if price is None:
        price = (sku.price if sku and sku.price is not None else None) or (product.price if product else None)
    amount = item.get("amount")
    if quantity is None:
        quantity = 1 if amount is not None or price is not None else 0
    if amount is None:
        amount = (price or 0) * quantity
    if price is None:
        price = amount // quantity if quantity else 0
    # The shipping line (Voucherify's built-in product prod_5h1pp1ng) is named even when the catalog lacks it.
    shipping = FREE_SHIPPING_PRODUCT if FREE_SHIPPING_PRODUCT in (item.get("product_id"), item.get("source_id")) \
        else None
    line = Line(index=index, quantity=quantity, price=price, amount=amount,
                product_id=product.public_id if product else shipping, sku_id=sku.public_id if sku else None)
    info = ItemInfo(product=product, sku=sku, source_id=item.get("source_id"), related_object=related,
                    metadata=_clean(item.get("metadata")), product_input=product_input, sku_input=sku_input)
    return line, info


_LOOK_UP = object()


def build_context(payload: dict, *, api_key=None, customer=_LOOK_UP) -> Context:
    """From a validated stacked request (see promo.api.serializers) to the evaluation context.
    `customer`: the customer the caller already found for payload["customer"] (None: none), not looked up again."""
    order_input = _clean(payload.get("order"))
    raw_items = [_clean(item) for item in order_input.get("items") or []]
    existing = find_order(order_input) if order_input else None
    if existing is not None and not raw_items:
        raw_items = _items_of(existing)
    catalog = _catalog(raw_items)
    lines, infos = [], []
    for index, item in enumerate(raw_items):
        line, info = _line(index, item, catalog)
        lines.append(line)
        infos.append(info)
    items_total = sum(line.amount for line in lines)
    amount = order_input.get("amount")
    if amount is None:
        amount = existing.amount if existing is not None and not order_input.get("items") else items_total
    if lines and amount < items_total:
        raise InvalidPayload(f"order.amount ({amount}) is less than the sum of its items ({items_total})")
    redeemables = [
        RedeemableRef(object=r["object"], id=r["id"], gift_credits=_clean(r.get("gift")).get("credits"),
                      reward_id=_clean(r.get("reward")).get("id"), reward_points=_clean(r.get("reward")).get("points"))
        for r in payload["redeemables"]
    ]
    customer_input = _clean(payload.get("customer")) or None
    return Context(
        redeemables=redeemables, order_input=order_input, customer_input=customer_input,
        customer=(find_customer(customer_input) if customer is _LOOK_UP else customer)
        or (existing.customer if existing is not None else None),
        existing_order=existing, state=OrderState(lines=lines, amount=amount), items=infos,
        has_order=bool(order_input) or existing is not None, has_items=bool(lines), catalog=catalog,
        session=_clean(payload.get("session")) or None, tracking_id=payload.get("tracking_id"),
        metadata=_clean(payload.get("metadata")), api_key=api_key, channel=payload.get("channel"),
    )


def _items_of(order: Order) -> list[dict]:
    return [
        {"product_id": item.product.public_id if item.product else None,
         "sku_id": item.sku.public_id if item.sku else None, "source_id": item.source_id or None,
         "related_object": item.related_object, "quantity": item.quantity, "price": item.price,
         "amount": item.amount, "metadata": item.metadata}
        for item in order.items.select_related("product", "sku")
    ]
