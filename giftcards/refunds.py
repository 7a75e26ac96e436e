"""Refunds to gift cards: customer service (console, admin) or an integration (`POST /v1/gift-cards/refunds`)
gives back part of an order's payment as gift card credit, onto an existing card or a new one for the
customer. What bounds a refund:

- The order: at most what it can still refund, its paid amount less what was refunded to gift cards
  before. The paid amount is the order's amount less its discounts, except gift card credits spent on it:
  those were paid, with a card (Order.discount_amount counts them, as Voucherify shows them). So
  paid = Order.total_amount + the credits gift cards spent on the order, net of rollbacks. OrderRefund
  holds what was refunded; one conditional UPDATE in the refund's transaction raises it only within the
  paid amount, so refunds of one order made at once never together pass it.
- An order the engine does not know: refused, unless GIFTCARD_REFUND_WITHOUT_ORDER_MAX allows such refunds
  and the refund says why; then at most that amount.
- Role cap, as for sorry coupons: a staff member who is not a superuser refunds at most CS_REFUND_MAX_AMOUNT
  at once; above it the refund is refused.
- Approval: above GIFTCARD_REFUND_APPROVAL_ABOVE (0: never) a refund by anyone but a superuser or a system
  job waits, as a RefundRequest, for someone else with `giftcards.approve_refund` (Marketer, Admin).
  Approving makes the refund, within what the order can refund then.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import audit, permissions
from core.errors import Conflict, InvalidPayload, NotFound
from customers.models import Customer, Order
from giftcards import services
from giftcards.models import GiftCard, GiftCardTransaction, OrderRefund, RefundRequest
from giftcards.selectors import find_order, refundable

APPROVE_PERMISSION = "giftcards.approve_refund"


class RefundCapExceeded(InvalidPayload):
    key = "refund_cap_exceeded"
    message = "Above the refund cap"


class RefundExceedsOrder(InvalidPayload):
    key = "refund_exceeds_order"
    message = "More than the order can refund"


# ================================================================ refunding

@dataclass
class _Refund:
    """A checked refund, made now or when approved."""

    amount: int
    order: Order | None
    order_ref: str
    reason: str
    card: GiftCard | None
    customer: Customer | None
    campaign: str


def refund_to_card(*, amount, order, actor: services.Actor, code: str | None = None, customer: str | None = None,
                   campaign: str | None = None, reason=None) -> GiftCardTransaction | RefundRequest:
    """Refund `amount` for `order` (its id or source_id) onto the card `code`, or onto a new card for
    `customer` (in `campaign`, a GIFT_VOUCHERS campaign, or standalone). Returns the ledger row, or the
    RefundRequest when the refund waits for approval."""
    refund = _checked(amount, order, code, customer, campaign, reason, actor)
    if _needs_approval(refund.amount, actor):
        return _request(refund, actor)
    return _make(refund, actor)


def _checked(amount, order, code, customer, campaign, reason, actor: services.Actor) -> _Refund:
    amount = services.clean_amount(amount)
    order_ref = services.clean_text(order, "order", 255)
    if not order_ref:
        raise InvalidPayload("order is required: the order id or source_id the refund is for")
    given_reason = services.clean_text(reason, "reason").strip()
    if bool(code) == bool(customer):
        raise InvalidPayload("Give either voucher (an existing card's code) or customer (for a new card)")
    card = services.card_get(code) if code else None
    holder = services.find_customer(customer) if customer else None
    campaign = services.clean_text(campaign, "campaign", 255)
    if holder is not None and campaign:
        services.gift_campaign(campaign)  # one the caller may see, or 404 now rather than at approval
    found = find_order(order_ref)
    if found is None:
        _check_without_order(amount, order_ref, given_reason)
    else:
        left = refundable(found).left
        if amount > left:  # a clear answer now; the refund itself checks again, atomically
            raise _exceeds(order_ref, amount, left)
    _check_role_cap(amount, actor)
    if holder is None and card is not None and card.voucher.holder_id:
        holder = card.voucher.holder
    return _Refund(amount=amount, order=found, order_ref=order_ref,
                   reason=given_reason or f"Refund of order {order_ref}", card=card, customer=holder,
                   campaign=campaign)


def _exceeds(order_ref: str, amount: int, left: int) -> RefundExceedsOrder:
    return RefundExceedsOrder(f"Order {order_ref} can refund {left} more (its paid amount less earlier refunds); "
                              f"{amount} is more")


def _check_without_order(amount: int, order_ref: str, reason: str) -> None:
    most = settings.GIFTCARD_REFUND_WITHOUT_ORDER_MAX
    if most <= 0:
        raise NotFound(f"Cannot find order with id {order_ref}: a refund is for an order the engine knows",
                       key="order_not_found", message="Order not found")
    if not reason:
        raise InvalidPayload(f"Order {order_ref} is unknown: a refund without a known order needs a reason")
    if amount > most:
        raise RefundCapExceeded(f"Order {order_ref} is unknown: a refund without a known order is at most {most} "
                                "(GIFTCARD_REFUND_WITHOUT_ORDER_MAX)")


def _staff_capped(actor: services.Actor) -> bool:
    return actor.user is not None and not actor.user.is_superuser


def _check_role_cap(amount: int, actor: services.Actor) -> None:
    cap = settings.CS_REFUND_MAX_AMOUNT
    if _staff_capped(actor) and amount > cap:
        raise RefundCapExceeded(f"{amount} is above the refund cap of {cap} (CS_REFUND_MAX_AMOUNT)")


def _needs_approval(amount: int, actor: services.Actor) -> bool:
    threshold = settings.GIFTCARD_REFUND_APPROVAL_ABOVE
    if not threshold or amount <= threshold:
        return False
    return actor.api_key is not None or _staff_capped(actor)


def _make(refund: _Refund, actor: services.Actor, details: dict | None = None) -> GiftCardTransaction:
    details = dict(details or {})
    if refund.order is None:
        details["order_found"] = False
    if refund.card is None and refund.customer is None:
        raise InvalidPayload("The customer this refund was for no longer exists")
    with transaction.atomic():
        if refund.order is not None:
            _take_from_order(refund.order, refund.amount, refund.order_ref)
        card = refund.card or services.new_card_for(refund.customer, campaign=refund.campaign or None,
                                                    origin="refund", actor=actor, amount=0)
        return services.credit_refund(
            card, refund.amount, actor, reason=refund.reason, details=details,
            order_id=refund.order.public_id if refund.order else "",
            order_source_id=(refund.order.source_id or "") if refund.order else refund.order_ref)


def _take_from_order(order: Order, amount: int, order_ref: str) -> None:
    """One conditional UPDATE: what was refunded grows by `amount` only while it stays within the paid amount."""
    OrderRefund.objects.bulk_create([OrderRefund(order=order)], ignore_conflicts=True)
    paid = refundable(order).paid
    if not OrderRefund.objects.filter(pk=order.pk, refunded_amount__lte=paid - amount).update(
            refunded_amount=F("refunded_amount") + amount, refunds=F("refunds") + 1, updated_at=timezone.now()):
        raise _exceeds(order_ref, amount, refundable(order).left)


# ================================================================ approval

def _request(refund: _Refund, actor: services.Actor) -> RefundRequest:
    with transaction.atomic():
        pending = RefundRequest.objects.create(
            amount=refund.amount, order=refund.order, order_ref=refund.order_ref, card=refund.card,
            customer=refund.customer, campaign=refund.campaign, reason=refund.reason, requested_by=actor.user,
            api_key=actor.api_key)
        audit.record(audit.Action.SUBMIT, pending, changes={"status": [None, RefundRequest.Status.PENDING]},
                     extra={"amount": refund.amount, "order": refund.order_ref,
                            "threshold": settings.GIFTCARD_REFUND_APPROVAL_ABOVE},
                     actor=actor.user or actor.api_key)
    return pending


def may_decide(pending: RefundRequest, user) -> bool:
    if not permissions.has_perm(user, APPROVE_PERMISSION) or permissions.resolve_actor(user)[0] != "user":
        return False
    return user.is_superuser or pending.requested_by_id != user.pk


def decide(pending: RefundRequest, approve: bool, user, note: str = "") -> RefundRequest:
    """Approve (the refund is made now, by the requester, within what the order can refund now) or reject.
    By staff other than the requester (a superuser may decide their own), in the back office."""
    if permissions.resolve_actor(user)[0] != "user":
        raise permissions.Forbidden("Refunds are approved by staff in the back office, not with an API key")
    permissions.require(user, APPROVE_PERMISSION, "Only a Marketer or an Admin may approve or reject refunds")
    if not may_decide(pending, user):
        raise permissions.Forbidden("A refund is approved by someone other than the one who asked for it")
    status = RefundRequest.Status.APPROVED if approve else RefundRequest.Status.REJECTED
    with transaction.atomic():
        if not RefundRequest.objects.filter(pk=pending.pk, status=RefundRequest.Status.PENDING).update(
                status=status, decided_by=user, decided_at=timezone.now(), note=note):
            raise Conflict(f"Refund request {pending.public_id} is no longer waiting for approval")
        pending.refresh_from_db()
        if approve:
            requester = services.Actor.of(api_key=pending.api_key, user=pending.requested_by)
            row = _make(_Refund(amount=pending.amount, order=pending.order, order_ref=pending.order_ref,
                                reason=pending.reason, card=pending.card, customer=pending.customer,
                                campaign=pending.campaign), requester,
                        details={"approval": {"request": pending.public_id, "approved_by": user.get_username()}})
            RefundRequest.objects.filter(pk=pending.pk).update(transaction=row)
            pending.transaction = row
        audit.record(audit.Action.APPROVE if approve else audit.Action.REJECT, pending,
                     changes={"status": [RefundRequest.Status.PENDING, status]}, extra={"note": note}, actor=user)
    return pending
