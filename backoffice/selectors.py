"""Reads for the back-office pages: the customer-service console (search, one customer's history).

Every queryset passes through core.permissions.restrict() with the staff user: codes and redemptions of
campaigns outside their categories are not shown. Gift cards, segments and activity are read through their
apps when those are installed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Q, QuerySet

from core.permissions import restrict
from customers.models import Customer, CustomerActivity, Order
from promo.models import Redemption, Voucher

SEARCH_LIMIT = 50
HISTORY_LIMIT = 50


def _usable(term) -> bool:
    return isinstance(term, str) and bool(term.strip()) and "\x00" not in term


def customer_search(term: str, actor, limit: int = SEARCH_LIMIT) -> QuerySet[Customer]:
    """Live customers matching `term`: an exact id (public id, source id), an e-mail, a phone number, or
    part of a name or e-mail. Exact matches come first."""
    rows = restrict(Customer.objects.filter(deleted_at__isnull=True), actor, "view")
    if not _usable(term):
        return rows.none()
    term = term.strip()[:255]
    digits = "".join(ch for ch in term if ch.isdigit() or ch == "+")
    match = (Q(public_id=term) | Q(source_id=term) | Q(email__iexact=term) | Q(phone=term)
             | Q(name__icontains=term) | Q(email__icontains=term))
    if len(digits) >= 6:
        match |= Q(phone__contains=digits.lstrip("+")[-9:])
    return rows.filter(match).order_by("name", "email", "id")[:limit]


def customer_for_console(ref: str, actor) -> Customer | None:
    if not _usable(ref):
        return None
    rows = restrict(Customer.objects.filter(deleted_at__isnull=True), actor, "view")
    return rows.filter(Q(public_id=ref) | Q(source_id=ref)).first()


@dataclass
class CustomerOverview:
    customer: Customer
    orders: list = field(default_factory=list)
    redemptions: list = field(default_factory=list)
    failed_count: int = 0
    vouchers: list = field(default_factory=list)
    gift_cards: list = field(default_factory=list)
    gift_cards_available: bool = False
    pending_refunds: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    segments_available: bool = False
    activity: list = field(default_factory=list)


def customer_vouchers(customer: Customer, actor) -> QuerySet[Voucher]:
    """Discount codes (not gift cards) the customer holds, newest first."""
    rows = Voucher.objects.filter(holder=customer).exclude(type=Voucher.Type.GIFT_VOUCHER)
    return restrict(rows, actor, "view").select_related("campaign").order_by("-created_at", "-id")


def customer_redemptions(customer: Customer, actor) -> QuerySet[Redemption]:
    """The customer's redemption attempts, one row per redeemable (stacked parents left out), newest first."""
    rows = Redemption.objects.filter(customer=customer).exclude(related_object_type="redemption")
    return (restrict(rows, actor, "view").select_related("voucher", "campaign", "order")
            .order_by("-created_at", "-id"))


def customer_gift_cards(customer: Customer, actor) -> list:
    if not apps.is_installed("giftcards"):
        return []
    GiftCard = apps.get_model("giftcards", "GiftCard")
    vouchers = restrict(Voucher.objects.filter(holder=customer, type=Voucher.Type.GIFT_VOUCHER), actor, "view")
    return list(GiftCard.objects.filter(voucher__in=vouchers).select_related("voucher", "voucher__campaign")
                .order_by("-created_at"))


def orders_refundable(orders: list) -> dict:
    """What each order can still refund to a gift card (giftcards.selectors.Refundable by order pk)."""
    if not apps.is_installed("giftcards"):
        return {}
    from giftcards import selectors as giftcard_selectors

    return giftcard_selectors.refundable_many(orders)


def order_refundable(ref: str):
    """The Refundable of the order `ref` (id or source_id), or None when the order is unknown."""
    from giftcards import selectors as giftcard_selectors

    order = giftcard_selectors.find_order(ref)
    return giftcard_selectors.refundable(order) if order is not None else None


def pending_refunds(customer: Customer) -> list:
    if not apps.is_installed("giftcards"):
        return []
    from giftcards import selectors as giftcard_selectors

    return list(giftcard_selectors.pending_refunds(customer))


def customer_segments(customer: Customer) -> list:
    if not apps.is_installed("segments"):
        return []
    from segments import selectors as segment_selectors

    return list(segment_selectors.customer_segments(customer))


def customer_overview(customer: Customer, actor, limit: int = HISTORY_LIMIT) -> CustomerOverview:
    redemptions = customer_redemptions(customer, actor)
    shown = list(redemptions[:limit])
    for row in shown:  # why a failed attempt was refused, in words
        row.explained = explain_failure(row.failure_message) if row.result == Redemption.Result.FAILURE else None
    orders = list(Order.objects.filter(customer=customer).order_by("-created_at", "-id")[:limit])
    refundable = orders_refundable(orders)
    for order in orders:  # what it was paid and can still refund to a gift card (None: gift cards not installed)
        order.refund = refundable.get(order.pk)
    return CustomerOverview(
        customer=customer,
        orders=orders,
        pending_refunds=pending_refunds(customer),
        redemptions=shown,
        failed_count=redemptions.filter(result=Redemption.Result.FAILURE).count(),
        vouchers=list(customer_vouchers(customer, actor)[:limit]),
        gift_cards=customer_gift_cards(customer, actor),
        gift_cards_available=apps.is_installed("giftcards"),
        segments=customer_segments(customer),
        segments_available=apps.is_installed("segments"),
        activity=list(CustomerActivity.objects.filter(customer=customer).order_by("-created_at", "-id")[:limit]),
    )


def voucher_of_customer(customer: Customer, code: str, actor) -> Voucher | None:
    if not _usable(code):
        return None
    return customer_vouchers(customer, actor).filter(code=code).first()


LIMIT_LABELS = {
    "redemption.count.per_customer": "Uses by this customer, with this one",
    "campaign.redemptions.count": "Uses of the campaign, with this one",
    "campaign.orders.amount_discounted": "Campaign budget used, with this discount",
    "campaign.orders.amount": "Campaign order total, with this order",
}
CONDITION_TEXT = re.compile(r"^rule (?P<number>\S+): (?P<name>[\w.]+)(?:\[(?P<property>[^\]]*)\])? "
                            r"(?P<conditions>\{.*\}) \(actual: (?P<actual>.*?)\)(?:: (?P<note>.*))?$")


def _value_text(value, money: bool) -> str:
    from backoffice.forms import money as money_text

    if money and isinstance(value, int) and not isinstance(value, bool):
        return money_text(value)
    if value is None:
        return "nothing"
    return str(value)


def humanize_condition(text: str) -> str:
    """"rule 1: order.amount {'$more_than_or_equal': [10000]} (actual: 6500)" -> "Order amount: at least 100.00
    (here: 65.00)". Text it cannot read is returned as it is."""
    from backoffice.wizard import CONDITION_LABELS, OPERATOR_LABELS
    from rules.services import is_money_condition

    match = CONDITION_TEXT.match(text.strip())
    if match is None:
        return text
    try:
        conditions = ast.literal_eval(match["conditions"])
        actual = ast.literal_eval(match["actual"])
    except (ValueError, SyntaxError):
        return text
    if not isinstance(conditions, dict):
        return text
    name, money = match["name"], is_money_condition(match["name"])
    label = {**CONDITION_LABELS, **LIMIT_LABELS}.get(name, name) + (f" “{match['property']}”" if match["property"]
                                                                    else "")
    parts = []
    for operator, values in conditions.items():
        shown = ", ".join(_value_text(v, money) for v in (values if isinstance(values, list) else [values]))
        parts.append(f"{OPERATOR_LABELS.get(operator, operator)} {shown}".strip())
    sentence = f"{label}: {' and '.join(parts)} (here: {_value_text(actual, money)})"
    return f"{sentence}: {match['note']}" if match["note"] else sentence


def explain_failure(message: str) -> dict:
    """A failure explanation ("Validation rule 'NAME' (val_..) failed: rule 1: ...; rule 2: ...") split into the
    rule and its failed conditions in words; other messages stay whole."""
    rule, _sep, conditions = (message or "").partition(" failed: ")
    if not conditions:
        return {"rule": "", "conditions": [], "text": message or ""}
    parts = [part for part in conditions.split("; rule ") if part]
    parts = [part if index == 0 else f"rule {part}" for index, part in enumerate(parts)]
    return {"rule": rule, "conditions": [humanize_condition(part) for part in parts], "text": message}


def explain_validation(answer: dict) -> dict:
    """A validation response (promo.services.validate) as the console shows it: per code, applicable or not,
    the error key and message, and the failed rule and its conditions in words (rules.evaluation explains
    them as "Validation rule 'NAME' (val_..) failed: rule 1: order.amount {...} (actual: ...); rule 2: ...")."""
    rows = []
    for redeemable in answer.get("redeemables") or []:
        result = redeemable.get("result") or {}
        error = result.get("error") or {}
        details = error.get("details") or ""
        details = details if isinstance(details, str) else str(details)
        explained = explain_failure(details)
        order = redeemable.get("order") or {}
        rows.append({
            "id": redeemable.get("id"), "status": redeemable.get("status"),
            "key": error.get("key") or (result.get("details") or {}).get("key", ""),
            "message": error.get("message") or (result.get("details") or {}).get("message", ""),
            "details": details, "rule": explained["rule"], "conditions": explained["conditions"],
            "discount": order.get("total_applied_discount_amount", order.get("total_discount_amount")),
        })
    order = answer.get("order") or {}
    return {"valid": bool(answer.get("valid")), "rows": rows, "error": "",
            "discount": order.get("total_discount_amount"), "total": order.get("total_amount")}
