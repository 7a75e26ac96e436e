"""Response bodies in the Voucherify v1 shapes. Every amount is an int."""

from __future__ import annotations

from promo.context import Context
from promo.discounts import OrderState
from promo.engine import APPLICABLE, INAPPLICABLE, SKIP_MESSAGES, Candidate, Evaluation


def iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _item_json(ctx: Context, line, applied: int | None) -> dict:
    """A new dict each time (with its own product dict), made once per request for each state a line is
    shown in: qualifications show the same cart for every redeemable, most lines untouched."""
    key = (line.index, line.quantity, line.price, line.amount, line.discount_amount, line.discount_quantity,
           line.initial_quantity, line.product_id, line.sku_id, applied)
    known = ctx.scratch.setdefault("item_json", {})
    item = known.get(key)
    if item is None:
        item = known[key] = _new_item_json(ctx, line, applied)
    copy = dict(item)
    if "product" in copy:
        copy["product"] = dict(copy["product"])
    return copy


def _new_item_json(ctx: Context, line, applied: int | None) -> dict:
    info = ctx.items[line.index] if line.index < len(ctx.items) else None
    item = {"object": "order_item", "quantity": line.quantity, "amount": line.amount,
            "discount_amount": line.discount_amount, "price": line.price, "subtotal_amount": line.subtotal}
    if applied is not None:
        item["applied_discount_amount"] = applied
    if line.initial_quantity is not None:
        item.update(initial_quantity=line.initial_quantity, initial_amount=line.initial_quantity * line.price)
    if line.discount_quantity:
        item["discount_quantity"] = line.discount_quantity
    product = info.product if info else None
    sku = info.sku if info else None
    if line.product_id or product:
        item["product_id"] = line.product_id or product.public_id
    if line.sku_id:
        item["sku_id"] = line.sku_id
    if info is not None:
        item["related_object"] = info.related_object
        if info.source_id:
            item["source_id"] = info.source_id
        if info.metadata:
            item["metadata"] = info.metadata
    if product is not None:
        item["product"] = _product_json(product)
    elif info is not None and info.product_input:
        item["product"] = info.product_input
    if sku is not None:
        item["sku"] = {k: v for k, v in {"id": sku.public_id, "source_id": sku.source_id, "sku": sku.sku or None,
                                         "price": sku.price, "metadata": sku.metadata or None}.items()
                       if v is not None}
    return item


def _product_json(product) -> dict:
    return {k: v for k, v in {"id": product.public_id, "source_id": product.source_id, "name": product.name or None,
                              "price": product.price, "metadata": product.metadata or None}.items() if v is not None}


def order_json(ctx: Context, state: OrderState, *, applied_order: int, applied_items: dict[int, int] | None,
               order=None, customer=None) -> dict:
    """The order as the spec shows it. `applied_*` are the amounts of this request (or of one redeemable)."""
    items_applied = sum((applied_items or {}).values())
    items_discount = state.items_discount_amount
    body = {
        "amount": state.amount,
        "discount_amount": state.discount_amount,
        "items_discount_amount": items_discount,
        "total_discount_amount": state.discount_amount + items_discount,
        "total_amount": max(0, state.amount - state.discount_amount - items_discount),  # state.total_amount
        "applied_discount_amount": applied_order,
        "items_applied_discount_amount": items_applied,
        "total_applied_discount_amount": applied_order + items_applied,
        "items": [_item_json(ctx, line, (applied_items or {}).get(line.index, 0) if applied_items is not None else None)
                  for line in state.lines],
        "metadata": ctx.order_input.get("metadata") or (order.metadata if order is not None else {}) or {},
        "object": "order",
    }
    if state.amount != ctx.initial_amount or any(line.initial_quantity is not None for line in state.lines):
        body["initial_amount"] = ctx.initial_amount
    customer = customer or ctx.customer
    body["customer_id"] = customer.public_id if customer is not None else None
    if customer is not None:
        body["customer"] = {"id": customer.public_id, "object": "customer"}
    body["referrer_id"] = None
    if order is not None:
        body.update(id=order.public_id, source_id=order.source_id, status=order.status,
                    created_at=iso(order.created_at), updated_at=iso(order.updated_at))
    elif ctx.order_input.get("source_id"):
        body["source_id"] = ctx.order_input["source_id"]
    if ctx.order_input.get("status") and order is None:
        body["status"] = ctx.order_input["status"]
    return body


def error_json(error, request_id: str | None) -> dict:
    body = {"code": error.code, "key": error.key, "message": error.message, "details": error.details,
            "request_id": request_id}
    if error.resource_id:
        body.update(resource_id=error.resource_id, resource_type=error.resource_type)
    return body


# The spec's answers know only these objects (a promotion stack is answered as its tiers): a stack that could
# not be loaded is shown as a tier, its error naming resource_type "promotion_stack", so SDKs can parse it.
ANSWER_OBJECTS = ("voucher", "promotion_tier")


def redeemable_json(candidate: Candidate, ctx: Context, request_id: str | None) -> dict:
    described = candidate.handler.describe(candidate.obj) if candidate.obj is not None else {}
    shown = candidate.ref.object if candidate.ref.object in ANSWER_OBJECTS else "promotion_tier"
    body = {"status": candidate.status, "id": candidate.ref.id, "object": shown}
    body.update({k: v for k, v in described.items() if k not in ("id", "object")})
    if candidate.status == APPLICABLE and candidate.applied is not None:
        body["order"] = order_json(ctx, candidate.order_after, applied_order=candidate.applied_order,
                                   applied_items=candidate.applied_items)
        body["applicable_to"] = _list(candidate.applied.applicable_to)
        body["inapplicable_to"] = _list(candidate.applied.inapplicable_to)
        body["result"] = candidate.applied.result
    elif candidate.status == INAPPLICABLE:
        body["result"] = {"error": error_json(candidate.error, request_id),
                          "details": {"key": candidate.error.key, "message": candidate.error.message}}
    else:
        body["result"] = {"details": {"key": candidate.skip_key, "message": SKIP_MESSAGES[candidate.skip_key]}}
    return body


def _list(entries: list[dict]) -> dict:
    return {"data": entries, "total": len(entries), "data_ref": "data", "object": "list"}


def validation_json(evaluation: Evaluation, *, validation_id: str, request_id: str | None,
                    session: dict | None) -> dict:
    ctx = evaluation.ctx
    redeemables = [redeemable_json(c, ctx, request_id) for c in evaluation.candidates]
    body = {
        "id": validation_id,
        "valid": evaluation.valid,
        "redeemables": redeemables,
        "skipped_redeemables": [r for r in redeemables if r["status"] == "SKIPPED"],
        "inapplicable_redeemables": [r for r in redeemables if r["status"] == "INAPPLICABLE"],
        "tracking_id": ctx.tracking_id,
        "stacking_rules": evaluation.rules.as_response(),
    }
    if evaluation.valid and ctx.has_order:
        body["order"] = totals_json(evaluation)
    if session and evaluation.valid:
        body["session"] = session
    return body


def totals_json(evaluation: Evaluation, order=None, customer=None) -> dict:
    """The order after every applicable redeemable, with this request's applied amounts."""
    applied_items: dict[int, int] = {}
    applied_order = 0
    for candidate in evaluation.applicable:
        applied_order += candidate.applied_order
        for index, amount in candidate.applied_items.items():
            applied_items[index] = applied_items.get(index, 0) + amount
    return order_json(evaluation.ctx, evaluation.ctx.state, applied_order=applied_order, applied_items=applied_items,
                      order=order, customer=customer)


def redemption_json(redemption, *, children: list | None = None, rollback=None) -> dict:
    """A Redemption row as the spec's redemption object."""
    body = {
        "id": redemption.public_id, "object": "redemption", "date": iso(redemption.created_at),
        "customer_id": redemption.customer.public_id if redemption.customer_id else None,
        "tracking_id": redemption.tracking_id or None, "metadata": redemption.metadata or {},
        "amount": redemption.amount, "redemption": redemption.parent.public_id if redemption.parent_id else None,
        "result": redemption.result, "status": redemption.status,
        "related_object_type": redemption.related_object_type, "related_object_id": redemption.related_object_id,
        "channel": {"channel_id": redemption.api_key.app_id if redemption.api_key_id else None,
                    "channel_type": "API" if redemption.api_key_id else "USER"},
    }
    if redemption.result == "FAILURE":
        body.update(failure_code=redemption.failure_code, failure_message=redemption.failure_message)
    if redemption.customer_id:
        customer = redemption.customer
        body["customer"] = {"id": customer.public_id, "source_id": customer.source_id, "name": customer.name or None,
                            "email": customer.email or None, "metadata": customer.metadata or {},
                            "object": "customer"}
    if redemption.order_id:
        order = redemption.order
        body["order"] = {"id": order.public_id, "source_id": order.source_id, "status": order.status,
                         "amount": order.amount, "discount_amount": order.discount_amount,
                         "items_discount_amount": order.items_discount_amount,
                         "total_discount_amount": order.total_discount_amount, "total_amount": order.total_amount,
                         "metadata": order.metadata or {}, "object": "order",
                         "customer_id": order.customer.public_id if order.customer_id else None}
    if redemption.voucher_id:
        body["voucher"] = _voucher_brief(redemption.voucher)
    if redemption.session_key:
        body["session"] = {"key": redemption.session_key, "type": "LOCK"}
    if children is not None:
        body["related_redemptions"] = {"redemptions": [{"id": c.public_id, "date": iso(c.created_at)}
                                                       for c in children]}
    if rollback is not None:
        body.setdefault("related_redemptions", {})["rollbacks"] = [{"id": rollback.public_id,
                                                                    "date": iso(rollback.created_at)}]
    return body


def _voucher_brief(voucher) -> dict:
    body = {"id": voucher.public_id, "code": voucher.code, "type": voucher.type, "object": "voucher",
            "campaign": voucher.campaign.name if voucher.campaign_id else None,
            "campaign_id": voucher.campaign.public_id if voucher.campaign_id else None,
            "is_referral_code": voucher.is_referral_code, "active": voucher.active,
            "metadata": voucher.metadata or {},
            "redemption": {"quantity": voucher.redemption_quantity, "redeemed_quantity": voucher.redeemed_quantity,
                           "object": "list"}}
    if voucher.discount:
        body["discount"] = voucher.discount
    if voucher.holder_id:
        body["holder_id"] = voucher.holder.public_id
    return body


def redemption_response(evaluation: Evaluation, parent, children: list, order, customer) -> dict:
    request_id = parent.request_id or None
    redeemables = [redeemable_json(c, evaluation.ctx, request_id) for c in evaluation.candidates]
    return {
        "redemptions": [redemption_json(child) for child in children],
        "parent_redemption": redemption_json(parent, children=children),
        "order": totals_json(evaluation, order=order, customer=customer),
        "inapplicable_redeemables": [r for r in redeemables if r["status"] == "INAPPLICABLE"],
        "skipped_redeemables": [r for r in redeemables if r["status"] == "SKIPPED"],
    }


def rollback_json(redemption, rollback, *, parent_rollback_id: str | None = None) -> dict:
    return {
        "id": rollback.public_id, "object": "redemption_rollback", "date": iso(rollback.created_at),
        "customer_id": redemption.customer.public_id if redemption.customer_id else None,
        "tracking_id": rollback.tracking_id or None, "metadata": rollback.metadata or {},
        "amount": -rollback.amount if rollback.amount else 0, "redemption": redemption.public_id,
        "reason": rollback.reason or None, "result": rollback.result, "status": "SUCCEEDED",
        "related_object_type": redemption.related_object_type, "related_object_id": redemption.related_object_id,
        "channel": {"channel_id": redemption.api_key.app_id if redemption.api_key_id else None,
                    "channel_type": "API" if redemption.api_key_id else "USER"},
        **({"voucher": _voucher_brief(redemption.voucher)} if redemption.voucher_id else {}),
        **({"parent_rollback_id": parent_rollback_id} if parent_rollback_id else {}),
    }


def rollback_response(parent, parent_rollback, children: list, child_rollbacks: list) -> dict:
    return {
        "rollbacks": [rollback_json(child, rb, parent_rollback_id=parent_rollback.public_id)
                      for child, rb in zip(children, child_rollbacks, strict=True)],
        "parent_rollback": rollback_json(parent, parent_rollback),
        "order": None,
    }
