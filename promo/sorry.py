"""Sorry coupons: customer service gives a customer a code of a campaign marked for it (`Campaign.sorry_coupons`)
from the customer-service console, within a value cap.

- Who: `promo.issue_sorry_coupon` (Customer Service, Marketer, Admin), on a campaign the actor may see.
- What: a new unique code of the campaign (its code_config), held by the customer, with the campaign's
  discount or a smaller one the agent chooses; AMOUNT and PERCENT discounts only.
- Cap: CS_SORRY_COUPON_MAX_AMOUNT (minor units, amount off; also the most a percent coupon may take when the
  campaign limits it) and CS_SORRY_COUPON_MAX_PERCENT. A superuser is not capped.
- Trace: the voucher's audit row (create, with the reason and `sorry_coupon` in extra), and a customer activity
  `customer.sorry_coupon.issued` on the customer's history.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core import audit, permissions
from core.context import current_actor
from core.errors import DuplicateFound, InvalidPayload
from customers import services as customer_services
from customers.models import Customer
from promo import campaigns
from promo.models import Campaign, Voucher

PERMISSION = "promo.issue_sorry_coupon"
ACTIVITY = "customer.sorry_coupon.issued"
KINDS = ("AMOUNT", "PERCENT")
MAX_REASON = 500
REPEAT_WINDOW = timedelta(minutes=2)  # the same coupon again this soon is a double click, not a second apology


def sorry_campaigns(actor=None) -> QuerySet[Campaign]:
    """Live discount-coupon campaigns marked for sorry coupons that `actor` may see, by name."""
    actor = current_actor() if actor is None else actor
    rows = Campaign.objects.filter(sorry_coupons=True, deleted_at__isnull=True, active=True,
                                   approval_status=Campaign.Approval.APPROVED,
                                   campaign_type=Campaign.CampaignType.DISCOUNT_COUPONS).order_by("name")
    return permissions.restrict(rows, actor, "view")


def caps() -> dict:
    return {"amount": settings.CS_SORRY_COUPON_MAX_AMOUNT, "percent": settings.CS_SORRY_COUPON_MAX_PERCENT}


def _uncapped(actor) -> bool:
    kind, principal = permissions.resolve_actor(actor)
    return kind == "system" or (kind == "user" and principal.is_superuser)


def _percent(value) -> Decimal:
    try:
        percent = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidPayload("The percent off must be a number")
    if not percent.is_finite():
        raise InvalidPayload("The percent off must be a number")
    return percent


def sorry_discount(campaign: Campaign, value=None, *, actor=None) -> dict:
    """The discount of the coupon: the campaign's, or `value` (amount off in minor units, or percent off)
    when given, checked against the cap. Raises InvalidPayload."""
    actor = current_actor() if actor is None else actor
    discount = dict((campaign.voucher_template or {}).get("discount") or {})
    kind = discount.get("type")
    if kind not in KINDS:
        raise InvalidPayload(f"Campaign {campaign.name} gives a {kind or 'non-discount'} discount; sorry coupons are "
                             "amount-off or percent-off coupons")
    if value not in (None, ""):
        if kind == "AMOUNT":
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidPayload("The amount off must be a positive whole number of minor units")
            discount["amount_off"] = value
        else:
            percent = _percent(value)
            if not Decimal(0) < percent <= Decimal(100):
                raise InvalidPayload("The percent off must be above 0 and at most 100")
            discount["percent_off"] = int(percent) if percent == int(percent) else float(percent)
    if not _uncapped(actor):
        cap = caps()
        if kind == "AMOUNT" and int(discount.get("amount_off") or 0) > cap["amount"]:
            raise InvalidPayload(f"{discount['amount_off']} off is above the sorry-coupon cap of {cap['amount']} "
                                 "(CS_SORRY_COUPON_MAX_AMOUNT)", key="sorry_coupon_cap_exceeded",
                                 message="Above the sorry-coupon cap")
        if kind == "PERCENT":
            if _percent(discount.get("percent_off") or 0) > cap["percent"]:
                raise InvalidPayload(f"{discount['percent_off']}% off is above the sorry-coupon cap of "
                                     f"{cap['percent']}% (CS_SORRY_COUPON_MAX_PERCENT)",
                                     key="sorry_coupon_cap_exceeded", message="Above the sorry-coupon cap")
            limit = discount.get("amount_limit")
            if limit is not None and int(limit) > cap["amount"]:
                discount["amount_limit"] = cap["amount"]
    return campaigns.clean_discount(discount)


def issue(customer: Customer, campaign: Campaign, *, reason: str, value=None, actor=None) -> Voucher:
    """Issue one sorry coupon of `campaign` to `customer`. Raises Forbidden, NotFound or InvalidPayload."""
    actor = current_actor() if actor is None else actor
    permissions.require(actor, PERMISSION, "Your role may not issue sorry coupons")
    if not sorry_campaigns(actor).filter(pk=campaign.pk).exists():
        raise InvalidPayload(f"Campaign {campaign.name} is not a live campaign marked for sorry coupons",
                             key="not_a_sorry_campaign", message="Not a sorry-coupon campaign")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidPayload("Say why the customer gets the coupon (the reason is kept with it)")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise InvalidPayload(f"The reason must be at most {MAX_REASON} characters")
    discount = sorry_discount(campaign, value, actor=actor)
    note = f"Sorry coupon: {reason}"
    if Voucher.objects.filter(campaign=campaign, holder=customer, additional_info=note,
                              created_at__gte=timezone.now() - REPEAT_WINDOW).exists():
        raise DuplicateFound(f"{customer.name or customer.public_id} was just given a coupon of {campaign.name} for "
                             "this reason; it is under Coupons held")
    with transaction.atomic():
        voucher = campaigns.voucher_create({"holder_id": customer.public_id, "discount": discount,
                                            "additional_info": note}, campaign=campaign)
        audit.record(audit.Action.UPDATE, voucher, changes={"sorry_coupon": [None, reason]},
                     extra={"sorry_coupon": True, "customer": customer.public_id, "discount": discount})
        customer_services.customer_activity_create(customer, ACTIVITY, {
            "voucher": {"id": voucher.public_id, "code": voucher.code}, "campaign": campaign.public_id,
            "discount": discount, "reason": reason, "issued_by": audit.object_ref(actor) if actor else "system"})
    return voucher


def set_enabled(voucher: Voucher, active: bool, *, actor=None) -> Voucher:
    """Disable or re-enable a customer's code from the console (audit-logged by the voucher service):
    whoever may change the code, and customer service (`promo.disable_voucher`) on codes they may see."""
    actor = current_actor() if actor is None else actor
    action = "view" if permissions.has_perm(actor, "promo.disable_voucher") else "change"
    if not permissions.can(actor, action, voucher):
        raise permissions.Forbidden("Your role may not disable or enable this code")
    return campaigns.voucher_set_active(voucher, active)
