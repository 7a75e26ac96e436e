"""Gift cards as redeemables: the GIFT_VOUCHER handler of the redemption engine (registered in
GiftcardsConfig.ready()) and the `redemption.gift.amount` rule condition.

A gift card pays for what is left of the order after the discounts: the engine applies it after every
discount redeemable of the request (`applies_after_discounts`), and its credits count as an order-level
discount, as Voucherify shows them (`discount_amount`, `applied_discount_amount`, `total_amount`).
`gift.credits` asks for part of the balance; without it the card pays min(balance, total left).
With `gift.effect` APPLY_TO_ITEMS the credits are split over the order's items in proportion to what is
left to pay on each (largest remainder), like an APPLY_TO_ITEMS_PROPORTIONALLY discount; what the items
cannot take (shipping in `order.amount`, or an order without items) stays order-level.

A validation with `session: {type: LOCK}` reserves the credits it would spend (`lock`, called by
promo.services._lock_session); the redemption with the same session key consumes the reservation.
"""

from __future__ import annotations

from giftcards import services
from giftcards.models import GiftCard
from promo.discounts import Effect
from promo.handlers import VoucherHandlerBase
from promo.models import Voucher
from promo.money import split_capped
from promo.registry import Applied, RedeemableError
from rules import evaluation
from rules.conditions import Condition, register


def _exceeded(details: str) -> RedeemableError:
    return RedeemableError("gift_amount_exceeded", "Gift amount exceeded", details, resource_type="voucher")


class GiftCardHandler(VoucherHandlerBase):
    kind = Voucher.Type.GIFT_VOUCHER
    applies_after_discounts = True  # a payment: it sees the order after every discount of the request

    def card(self, voucher: Voucher, ctx) -> GiftCard:
        cards = ctx.scratch.setdefault("gift_cards", {})
        if voucher.pk not in cards:
            card = GiftCard.objects.filter(pk=voucher.pk).first()
            if card is None:
                raise RedeemableError("invalid_voucher", "Gift card has no balance record",
                                      f"Gift card {voucher.code} was never issued")
            card.voucher = voucher
            cards[voucher.pk] = card
        return cards[voucher.pk]

    def check(self, voucher: Voucher, ctx, ref) -> None:
        card = self.card(voucher, ctx)
        campaign = voucher.campaign if voucher.campaign_id else None
        if card.law_sets_expiry and campaign is not None and campaign.expiration_date is not None:
            # The holder's country law set this card's expiry (on the voucher): the campaign's end does not apply.
            saved = campaign.expiration_date
            campaign.expiration_date = None
            try:
                super().check(voucher, ctx, ref)
            finally:
                campaign.expiration_date = saved
            return
        super().check(voucher, ctx, ref)

    def apply(self, voucher: Voucher, ctx, ref) -> Applied:
        if not ctx.has_order:
            raise RedeemableError("missing_amount", "Missing order amount",
                                  "A gift card pays for an order: send order.amount or order.items")
        card = self.card(voucher, ctx)
        available = services.spendable(card, ctx.now, session_key=ctx.session_key)
        due = ctx.state.total_amount
        if ref.gift_credits is not None:
            if ref.gift_credits > available:
                raise _exceeded(f"gift.credits ({ref.gift_credits}) is more than the card's balance ({available})")
            credits = min(ref.gift_credits, due)
        else:
            if available == 0:
                raise _exceeded(f"The gift card {voucher.code} has no balance left")
            credits = min(available, due)
        ctx.scratch["redeemable"] = voucher
        limits = evaluation.check_rules(self.rule_targets(voucher), ctx, amount=credits, resource_id=voucher.code)
        return Applied(effect=credits_effect(ctx.state, credits, card.effect), result={"gift": {"credits": credits}},
                       amount=credits, limits=limits)

    def lock(self, voucher: Voucher, ctx, session_key: str, ttl, applied: Applied) -> None:
        """promo.services._lock_session hook: reserve the credits this validation would spend."""
        try:
            services.reserve(self.card(voucher, ctx), session_key, applied.amount if applied else 0, ctx.now + ttl,
                             now=ctx.now)
        except services.GiftAmountExceeded as exc:
            raise _exceeded(exc.details)

    def unlock(self, voucher: Voucher, session_key: str) -> bool:
        """DELETE /v1/vouchers/{code}/sessions/{key} (and a lost lock race): give the reservation back."""
        return services.release_reservation(voucher.pk, session_key)

    def redeem(self, voucher: Voucher, ctx, ref, applied: Applied) -> dict:
        taken = self.take_use(voucher, ctx)  # also the voucher row lock every balance movement starts with
        taken.update(evaluation.take_limits(applied.limits, ctx))
        if applied.amount:
            parent = ctx.scratch.get("parent_redemption")
            order = ctx.scratch.get("order")
            try:
                row = services.spend(self.card(voucher, ctx), applied.amount, _engine_actor(ctx),
                                     redemption_id=parent.public_id if parent is not None else "", order=order,
                                     order_source_id=ctx.order_input.get("source_id") or "", now=ctx.now,
                                     session_key=ctx.session_key)
            except services.GiftAmountExceeded as exc:
                raise _exceeded(exc.details)
            taken["gift"] = {"transaction": row.public_id, "credits": applied.amount}
        return taken

    def rollback(self, redemption, taken: dict) -> None:
        self.give_back_use(redemption.voucher_id, taken)
        evaluation.give_back_limits(taken)
        gift = taken.get("gift")
        if gift:
            parent = redemption.parent.public_id if redemption.parent_id else redemption.public_id
            actor = services.Actor(label="rollback", channel="API" if redemption.api_key_id else "USER",
                                   api_key=redemption.api_key)
            services.rollback_spend(gift["transaction"], actor, redemption_id=parent,
                                    reason=f"Redemption {parent} rolled back")


def credits_effect(state, credits: int, effect: str) -> Effect:
    """APPLY_TO_ORDER: one order-level amount. APPLY_TO_ITEMS: split over the lines by what is left to pay on
    each (largest remainder, never more than a line's subtotal); the rest order-level."""
    lines = [line for line in state.lines if line.subtotal > 0]
    if effect != GiftCard.Effect.APPLY_TO_ITEMS or not lines:
        return Effect(order_discount=credits)
    subtotals = [line.subtotal for line in lines]
    parts = split_capped(credits, subtotals, subtotals)
    return Effect(order_discount=credits - sum(parts),
                  item_discounts={line.index: part for line, part in zip(lines, parts, strict=True) if part})


def _engine_actor(ctx) -> services.Actor:
    if ctx.api_key is not None:
        return services.Actor.of(api_key=ctx.api_key)
    user = services.clerk_var.get()  # the in-store page redeems as the logged-in clerk
    return services.Actor.of(user=user) if user is not None else services.Actor(label="redemption", channel="USER")


@register
class RedemptionGiftAmount(Condition):
    """`redemption.gift.amount`: the credits this redemption takes from a gift card."""

    name = "redemption.gift.amount"

    def value(self, ctx, rule, scope):
        return ctx.scratch.get("pending_amount", 0)
