"""Vouchers as redeemables: loading by code, the checks every voucher kind shares (status, dates,
windows, quantity with session locks), and the discount voucher handler."""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import F

from core.permissions import redeemable_in_scope
from core.rawsql import RowLoader
from promo import discounts, locks
from promo.models import Campaign, Voucher
from promo.registry import Applied, Loaded, RedeemableError, handler_for
from promo.targets import resolve_targets
from promo.validity import check_validity
from rules import evaluation
from rules.models import ValidationRuleAssignment

# `has_rules`: whether any validation rule is assigned to the voucher or its campaign, so that a code
# without rules costs no rules query.
_VOUCHER_ROWS = RowLoader(Voucher, ["campaign", "category", "campaign__category"], extra={"has_rules": (
    f"SELECT COUNT(*) > 0 FROM {ValidationRuleAssignment._meta.db_table} a WHERE "
    "(a.related_object_type = 'voucher' AND a.related_object_id = t0.public_id) OR "
    "(a.related_object_type = 'campaign' AND a.related_object_id = t1.public_id)")})


@functools.cache
def _take_use_sql() -> str:
    """The conditional UPDATE that takes one use within the limit (uses locked by sessions count as taken);
    written once, as the ORM would write it, without building it on every redemption."""
    table = connection.ops.quote_name(Voucher._meta.db_table)
    return (f"UPDATE {table} SET redeemed_quantity = redeemed_quantity + 1 WHERE id = %s AND "
            "(redemption_quantity IS NULL OR redemption_quantity > redeemed_quantity + locked_quantity)")


def voucher_by_code(code: str) -> Voucher | None:
    """The voucher with its campaign and categories in one precompiled query (the holder is loaded
    only where a response shows it)."""
    found = _VOUCHER_ROWS.fetch("t0.code = %s", [code], limit=1)
    return found[0] if found else None


def voucher_rule_targets(voucher: Voucher) -> list[tuple[str, str]]:
    """Where validation rules may be assigned: the voucher and its campaign."""
    targets = [("voucher", voucher.public_id)]
    if voucher.campaign_id:
        targets.append(("campaign", voucher.campaign.public_id))
    return targets


def load_voucher(ref, ctx) -> Loaded:
    voucher = voucher_by_code(ref.id)
    if voucher is not None and not voucher.has_rules:
        evaluation.note_no_rules(voucher_rule_targets(voucher), ctx)
    # Outside the API key's campaign categories a code answers as if it did not exist.
    if voucher is None or (voucher.campaign_id and voucher.campaign.deleted_at) or not redeemable_in_scope(voucher):
        raise RedeemableError("not_found", "Resource not found", f"Cannot find voucher with id {ref.id}",
                              code=404, resource_type="voucher", resource_id=ref.id)
    handler = handler_for(voucher.type)
    if handler is None:
        raise RedeemableError("invalid_voucher", "Voucher type not supported",
                              f"{voucher.type} vouchers cannot be redeemed on this deployment yet",
                              resource_type="voucher", resource_id=ref.id)
    return Loaded(handler=handler, obj=voucher)


class VoucherHandlerBase:
    """Checks and bookkeeping shared by every kind of voucher (discount, gift card, loyalty card)."""

    kind = ""

    def category(self, voucher: Voucher):
        return voucher.category or (voucher.campaign.category if voucher.campaign_id else None)

    def campaign(self, voucher: Voucher):
        return voucher.campaign if voucher.campaign_id else None

    def describe(self, voucher: Voucher) -> dict:
        category = self.category(voucher)
        data = {"id": voucher.code, "object": "voucher", "metadata": voucher.metadata or {},
                "categories": [category_json(category)] if category else []}
        if voucher.campaign_id:
            data.update(campaign_id=voucher.campaign.public_id, campaign_name=voucher.campaign.name)
        return data

    def check(self, voucher: Voucher, ctx, ref) -> None:
        campaign = voucher.campaign if voucher.campaign_id else None
        if not voucher.active or (campaign and not campaign.active):
            where = "campaign" if voucher.active else "voucher"
            raise RedeemableError("voucher_disabled", "Voucher is disabled", f"The {where} is disabled")
        if campaign and campaign.approval_status != Campaign.Approval.APPROVED:  # pending ones are inactive too
            raise RedeemableError("campaign_not_approved", "Campaign not approved",
                                  "The campaign is waiting for approval")
        for source in filter(None, (campaign, voucher)):
            check_validity(start_date=source.start_date, expiration_date=source.expiration_date,
                           timeframe=source.validity_timeframe, days_of_week=source.validity_day_of_week,
                           hours=source.validity_hours, now=ctx.now)
        self._check_quantity(voucher, ctx)

    def rule_targets(self, voucher: Voucher) -> list[tuple[str, str]]:
        return voucher_rule_targets(voucher)

    def _check_quantity(self, voucher: Voucher, ctx) -> None:
        if voucher.redemption_quantity is None:
            return
        if ctx.session_key and locks.holds_lock(ctx.session_key, voucher):
            return
        if voucher.redeemed_quantity + voucher.locked_quantity >= voucher.redemption_quantity:
            if voucher.locked_quantity and locks.release_expired(voucher) and self._has_room(voucher):
                return
            raise RedeemableError("quantity_exceeded", "Quantity exceeded",
                                  f"The voucher can be redeemed {voucher.redemption_quantity} times "
                                  "and has no uses left")

    @staticmethod
    def _has_room(voucher: Voucher) -> bool:
        voucher.refresh_from_db(fields=["redeemed_quantity", "locked_quantity"])
        return voucher.redeemed_quantity + voucher.locked_quantity < voucher.redemption_quantity

    def rows(self, voucher: Voucher) -> list:
        """What redeem() changes, for the engine to lock in the global order (promo.services._lock): the
        voucher (its use). A gift card's balance moves only under its voucher's lock: the voucher covers it."""
        return [(Voucher, "pk", voucher.pk)]

    def rollback_rows(self, redemption, taken: dict) -> list:
        return [(Voucher, "pk", redemption.voucher_id)] if redemption.voucher_id else []

    def take_use(self, voucher: Voucher, ctx) -> dict:
        """One use of the voucher, in the redemption transaction: consume this session's lock if it
        holds one, else one conditional UPDATE within the limit."""
        if ctx.session_key and locks.consume(ctx.session_key, voucher):
            return {"voucher_use": 1, "from_lock": True}
        with connection.cursor() as cursor:
            cursor.execute(_take_use_sql(), [voucher.pk])
            if cursor.rowcount != 1:
                raise RedeemableError("quantity_exceeded", "Quantity exceeded",
                                      "The voucher's last use was taken by another redemption")
        return {"voucher_use": 1}

    def give_back_use(self, voucher_id: int, taken: dict) -> None:
        if taken.get("voucher_use"):
            Voucher.objects.filter(pk=voucher_id, redeemed_quantity__gte=1).update(
                redeemed_quantity=F("redeemed_quantity") - 1)


class DiscountVoucherHandler(VoucherHandlerBase):
    kind = Voucher.Type.DISCOUNT_VOUCHER

    def apply(self, voucher: Voucher, ctx, ref) -> Applied:
        discount = voucher.discount or {}
        if not discount:
            raise RedeemableError("invalid_voucher", "Voucher has no discount", "This voucher has no discount defined")
        kind = discount.get("type")
        effect_name = discount.get("effect") or ("ADD_MISSING_ITEMS" if kind == "UNIT" else "APPLY_TO_ORDER")
        item_level = effect_name in discounts.ITEM_EFFECTS or kind == "UNIT"
        if item_level and kind != "UNIT" and not ctx.has_items:
            raise RedeemableError("missing_order_items", "Missing order items",
                                  "This discount applies to items: send order.items")
        if kind in ("PERCENT", "FIXED") and effect_name == "APPLY_TO_ORDER" and not ctx.has_order:
            raise RedeemableError("missing_amount", "Missing order amount",
                                  "This discount depends on the order: send order.amount or order.items")
        included, excluded = evaluation.applicable_to(self.rule_targets(voucher), ctx)
        targets, applicable_json, inapplicable_json = resolve_targets(included, excluded, ctx)
        grants = resolve_unit_grants(discount) if kind == "UNIT" else None
        try:
            effect = discounts.calculate(ctx.state, discount, targets, grants)
        except discounts.DiscountError as exc:
            raise RedeemableError("invalid_voucher", "Invalid discount", str(exc))
        ctx.scratch["redeemable"] = voucher  # conditions about the code itself (its holder) read it
        limits = evaluation.check_rules(self.rule_targets(voucher), ctx, amount=effect.total, resource_id=voucher.code)
        return Applied(effect=effect, result={"discount": discount_result(discount)}, applicable_to=applicable_json,
                       inapplicable_to=inapplicable_json, amount=effect.total, limits=limits)

    def redeem(self, voucher: Voucher, ctx, ref, applied: Applied) -> dict:
        taken = self.take_use(voucher, ctx)
        taken.update(evaluation.take_limits(applied.limits, ctx))
        return taken

    def rollback(self, redemption, taken: dict) -> None:
        self.give_back_use(redemption.voucher_id, taken)
        evaluation.give_back_limits(taken)


def discount_result(discount: dict) -> dict:
    """The discount as the response shows it: spec fields only, integers for money."""
    shown = {k: v for k, v in discount.items() if v is not None}
    shown.setdefault("effect", "ADD_MISSING_ITEMS" if discount.get("type") == "UNIT" else "APPLY_TO_ORDER")
    shown.setdefault("is_dynamic", False)
    return shown


def resolve_unit_grants(discount: dict) -> list[discounts.UnitGrant]:
    """UNIT discounts name products by id; their prices come from the catalog."""
    from catalog.selectors import product_by_ref, sku_by_ref

    units = discount.get("units") or [discount]
    grants = []
    for unit in units:
        unit_type = unit.get("unit_type") or ""
        item = sku_by_ref(unit_type) if unit_type.startswith("sku_") else product_by_ref(unit_type)
        price = item.price if item is not None and item.price is not None else 0
        grants.append(discounts.UnitGrant(unit_type=item.public_id if item else unit_type,
                                          unit_off=unit.get("unit_off") or 0,
                                          effect=unit.get("effect") or discount.get("effect") or "ADD_MISSING_ITEMS",
                                          price=price))
    return grants


def category_json(category) -> dict:
    return {"id": category.public_id, "name": category.name, "hierarchy": category.hierarchy,
            "created_at": category.created_at.isoformat().replace("+00:00", "Z"), "object": "category"}
