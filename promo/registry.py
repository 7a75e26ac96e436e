"""The redeemable handler registry: campaign-type apps plug their kind of redeemable into the one
validate -> effect -> redeem -> rollback path. `promo` knows this registry, not the apps.

An app registers in its AppConfig.ready():

    registry.register_handler(GiftCardHandler())            # handles kind "GIFT_VOUCHER"
    registry.register_loader("promotion_tier", load_tier)   # resolves {"object": "promotion_tier", "id": ...}

Vouchers (`object: voucher`) are loaded by promo and dispatched on voucher.type
(DISCOUNT_VOUCHER, GIFT_VOUCHER, LOYALTY_CARD); other objects are loaded by their app's loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from promo.discounts import Effect


class RedeemableError(Exception):
    """Why one redeemable cannot be applied: rendered as the spec's error object."""

    def __init__(self, key: str, message: str, details: str = "", *, code: int = 400,
                 resource_type: str | None = None, resource_id: str | None = None):
        super().__init__(details or message)
        self.key, self.message, self.details, self.code = key, message, details or message, code
        self.resource_type, self.resource_id = resource_type, resource_id


@dataclass
class Applied:
    """What a redeemable does to the order (and what the response says about it)."""

    effect: Effect
    result: dict  # e.g. {"discount": {...}} or {"gift": {"credits": 100}}
    applicable_to: list[dict] = field(default_factory=list)
    inapplicable_to: list[dict] = field(default_factory=list)
    amount: int = 0  # discount or credits taken, for the redemption row
    limits: list = field(default_factory=list)  # counter-backed rule limits to take at redemption


class RedeemableHandler(Protocol):
    kind: str

    def check(self, obj: Any, ctx, ref) -> None:
        """Raise RedeemableError if `obj` cannot be used now by this customer (status, dates, limits)."""

    def apply(self, obj: Any, ctx, ref) -> Applied:
        """Compute the effect on ctx.state (the order as earlier redeemables left it); raise RedeemableError
        when the order lacks what the redeemable needs."""

    def redeem(self, obj: Any, ctx, ref, applied: Applied) -> dict:
        """Inside the redemption transaction: take counters/budgets/balances with conditional UPDATEs and
        return exactly what was taken (stored on the redemption for the rollback). Raise RedeemableError
        when a limit is reached (the transaction is rolled back)."""

    def rollback(self, redemption, taken: dict) -> None:
        """Give back exactly what `redeem` took."""

    def describe(self, obj: Any) -> dict:
        """Response fields: {"id", "object", "metadata", "categories", "campaign_id", "campaign_name", "name"}."""

    def category(self, obj: Any):
        """The stacking category (promo.models.Category) or None."""

    def campaign(self, obj: Any):
        """The campaign the redeemable belongs to, or None."""

    # Optional: level(obj) -> 0 item-level discount, 1 order-level discount, 2 not a discount (gift card
    # credits, points). Without it the engine reads obj.discount (see promo.discounts.discount_level).
    # Optional: rows(obj) and rollback_rows(redemption, taken) -> the rows (core.locks.Row) redeem() and
    # rollback() change. The engine locks them, with the rules' counters, in the global order before any
    # handler runs, so stacked redemptions never deadlock (promo.services, "lock order").


@dataclass
class Loaded:
    handler: RedeemableHandler
    obj: Any
    # A group that applies as one (a promotion stack): its members, each (RedeemableRef, Loaded), in order.
    # The engine makes a candidate per member; they apply all together or not at all.
    members: list | None = None


Loader = Callable[[Any, Any], Loaded]
_handlers: dict[str, RedeemableHandler] = {}
_loaders: dict[str, Loader] = {}


def register_handler(handler: RedeemableHandler) -> None:
    _handlers[handler.kind] = handler


def register_loader(object_type: str, loader: Loader) -> None:
    _loaders[object_type] = loader


def handler_for(kind: str) -> RedeemableHandler | None:
    return _handlers.get(kind)


def load(ref, ctx) -> Loaded:
    loader = _loaders.get(ref.object)
    if loader is None:
        raise RedeemableError("invalid_payload", "Invalid payload",
                              f"Redeemables of type {ref.object} are not supported by this deployment",
                              resource_type=ref.object, resource_id=ref.id)
    return loader(ref, ctx)
