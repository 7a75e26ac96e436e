"""Writes of gift cards: issue, spend, roll back, top up, debit, temporary credit and its expiry, bulk
issue, birthday cards, and the expiry law applied at issue. Refunds to a card: giftcards.refunds.

The balance changes in exactly one place, `_update_card`: one conditional UPDATE (`balance = balance - x
WHERE balance >= x`) whose row count says whether it happened; the caller writes the ledger row in the
same transaction. Locks are always taken in the same order -- the voucher row, then the card row, then
its temporary credits -- so concurrent redemptions, top-ups and expiries never deadlock: a redemption
locks the voucher first (its use counter), everything else locks it explicitly.
"""

from __future__ import annotations

import calendar
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from core import csv_import, dates
from core.errors import ApiError, Conflict, InvalidPayload, NotFound
from core.models import AsyncAction
from core.permissions import restrict
from core.services import async_action_start, register_async_handler
from customers.models import Customer, Order
from giftcards.models import (
    BirthdayGift,
    ExpiryLaw,
    GiftCard,
    GiftCardCredit,
    GiftCardReservation,
    GiftCardTransaction,
)
from promo import codes
from promo.models import Campaign, Voucher

logger = logging.getLogger(__name__)

MAX_AMOUNT = 10**12  # ten billion in major units: far above any card
CARD_BATCH = 2000
BULK_ACTION = "GIFT_CARDS_BULK_ISSUE"
Kind = GiftCardTransaction.Kind


class GiftAmountExceeded(ApiError):
    key = "gift_amount_exceeded"
    message = "Gift amount exceeded"


class NotAGiftCard(InvalidPayload):
    key = "invalid_voucher"
    message = "Not a gift card"


@dataclass(frozen=True)
class Actor:
    """Who moved the money: an API key, a staff user, or a system job."""

    label: str = "system"
    channel: str = "SYSTEM"
    api_key: object = None
    user: object = None

    @classmethod
    def of(cls, *, api_key=None, user=None, job: str | None = None) -> Actor:
        if api_key is not None:
            return cls(label=f"api_key:{api_key.name}", channel="API", api_key=api_key)
        if user is not None and getattr(user, "pk", None):
            return cls(label=f"user:{user.get_username()}", channel="USER", user=user)
        return cls(label=f"system:{job or 'engine'}", channel="SYSTEM")


SYSTEM = Actor()
# The staff user redeeming through the in-store page (giftcards.views), for the ledger's actor.
clerk_var: ContextVar[object | None] = ContextVar("giftcard_clerk", default=None)


# ================================================================ input checks

def clean_amount(value, path: str = "amount", *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload(f"{path} must be an integer in minor units (1000 is 10.00)")
    if not minimum <= value <= MAX_AMOUNT:
        raise InvalidPayload(f"{path} must be between {minimum} and {MAX_AMOUNT}")
    return value


def clean_text(value, path: str, max_length: int = 1000) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidPayload(f"{path} must be a string")
    if len(value) > max_length:
        raise InvalidPayload(f"{path} must have at most {max_length} characters")
    return value


def clean_gift(raw, path: str = "gift", *, required: bool = True) -> dict:
    """The `gift` of a gift voucher (or a campaign's template): {amount, effect}; the stored JSON is the
    spec's Gift {amount, subtracted_amount, balance, effect} at issue."""
    if raw is None:
        if required:
            raise InvalidPayload(f"{path} is required for a gift card: {{\"amount\": 5000}}")
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{path} must be a JSON object")
    if raw.get("amount") is None:
        raise InvalidPayload(f"{path}.amount is required (minor units)")
    amount = clean_amount(raw["amount"], f"{path}.amount", minimum=0)
    effect = raw.get("effect") or GiftCard.Effect.APPLY_TO_ORDER
    if effect not in GiftCard.Effect.values:
        raise InvalidPayload(f"{path}.effect must be one of {', '.join(GiftCard.Effect.values)}")
    if raw.get("sold_price") is not None:
        clean_amount(raw["sold_price"], f"{path}.sold_price", minimum=0)
    return {"amount": amount, "subtracted_amount": 0, "balance": amount, "effect": effect}


def clean_sold_price(value, face_value: int, path: str = "sold_price") -> int | None:
    if value is None:
        return None
    price = clean_amount(value, path, minimum=0)
    if price > face_value:
        raise InvalidPayload(f"{path} ({price}) must not be above the face value ({face_value})")
    return price


# ================================================================ the one place the balance changes

def _lock_voucher(card_pk: int) -> None:
    """The first lock of every movement (a redemption already holds it: its use counter)."""
    list(Voucher.objects.select_for_update().filter(pk=card_pk).values_list("pk", flat=True))


def _update_card(card_pk: int, kind: str, amount: int, *, reserved: int = 0) -> bool:
    """One conditional UPDATE moving `amount` (> 0) of the given kind; False when it would go below zero.
    A spend may not take credits other sessions reserved (locked_amount); `reserved` is the part of
    locked_amount this spend's own session reservation held (released by the same UPDATE)."""
    now = timezone.now()
    cards = GiftCard.objects.filter(pk=card_pk)
    if kind == Kind.SPEND:
        changed = cards.filter(balance__gte=F("locked_amount") - reserved + amount, locked_amount__gte=reserved).update(
            balance=F("balance") - amount, redeemed_amount=F("redeemed_amount") + amount,
            locked_amount=F("locked_amount") - reserved, updated_at=now)
    elif kind == Kind.ROLLBACK:
        changed = cards.filter(redeemed_amount__gte=amount).update(
            balance=F("balance") + amount, redeemed_amount=F("redeemed_amount") - amount, updated_at=now)
    elif kind in (Kind.ISSUE, Kind.TOP_UP, Kind.REFUND, "credit"):
        changed = cards.update(balance=F("balance") + amount, amount=F("amount") + amount, updated_at=now)
    else:  # a debit: adjustment or expiry
        changed = cards.filter(balance__gte=amount).update(
            balance=F("balance") - amount, subtracted_amount=F("subtracted_amount") + amount, updated_at=now)
    return bool(changed)


def _record(card: GiftCard, kind: str, amount: int, actor: Actor, **fields) -> GiftCardTransaction:
    """The ledger row of a movement just made, with the balance it left, and the voucher's `gift` JSON
    brought in line (the API shows the card through it)."""
    card.refresh_from_db(fields=["amount", "redeemed_amount", "subtracted_amount", "balance", "effect",
                                 "locked_amount"])
    row = GiftCardTransaction.objects.create(card=card, kind=kind, amount=amount, balance_after=card.balance,
                                             actor=actor.label, channel=actor.channel, api_key=actor.api_key,
                                             user=actor.user, **fields)
    sync_voucher(card)
    return row


def gift_json(card: GiftCard) -> dict:
    """The spec's Gift object, plus (project extension, only on cards issued to a holder) `expiry_law`:
    the explanation recorded at issue and whether it replaced the campaign's end date."""
    body = {"amount": card.amount, "subtracted_amount": card.subtracted_amount, "balance": card.balance,
            "effect": card.effect}
    if card.expiry_rule:
        body["expiry_law"] = {"country": card.country or None, "overrides_campaign_expiration": card.law_sets_expiry,
                              "explanation": card.expiry_rule}
    return body


def card_expiration(voucher: Voucher, law_sets_expiry: bool | None = None) -> datetime | None:
    """When a gift card really expires: the voucher's own date; the campaign's end only when no expiry law
    replaced it (a law that forbids expiry leaves no date at all). `law_sets_expiry` None: read from the
    voucher's gift JSON (no query)."""
    if law_sets_expiry is None:
        law_sets_expiry = bool(((voucher.gift or {}).get("expiry_law") or {}).get("overrides_campaign_expiration"))
    if law_sets_expiry:
        return voucher.expiration_date
    return voucher.expiration_date or (voucher.campaign.expiration_date if voucher.campaign_id else None)


def sync_voucher(card: GiftCard) -> None:
    Voucher.objects.filter(pk=card.pk).update(gift=gift_json(card))


def _move(card: GiftCard, kind: str, amount: int, actor: Actor, *, lock: bool = True, **fields) -> GiftCardTransaction:
    """A credit (amount > 0) or debit (amount < 0) of the card, with its ledger row. In the caller's
    transaction; raises GiftAmountExceeded when a debit would go below zero."""
    if lock:
        _lock_voucher(card.pk)
    update_kind = "credit" if kind == Kind.ADJUSTMENT and amount > 0 else kind
    if not _update_card(card.pk, update_kind, abs(amount)):
        raise GiftAmountExceeded(f"The gift card {card.voucher.code} has less than {abs(amount)} left")
    if amount < 0 and kind != Kind.EXPIRY:
        clipped = _clip_temporary(card.pk)
        if clipped:
            fields = {**fields, "temporary_amount": -clipped}
    return _record(card, kind, amount, actor, **fields)


def _clip_temporary(card_pk: int) -> int:
    """After a debit: temporary credit can never be more than the balance, so a debit larger than the
    permanent part takes the rest from the temporary credit (latest expiry first). Under the card lock."""
    balance = GiftCard.objects.values_list("balance", flat=True).get(pk=card_pk)
    buckets = list(GiftCardCredit.objects.filter(card_id=card_pk, expired_at__isnull=True, remaining__gt=0)
                   .order_by("-expires_at", "-id"))
    excess = sum(b.remaining for b in buckets) - balance
    clipped = 0
    for bucket in buckets:
        if excess <= 0:
            break
        part = min(bucket.remaining, excess)
        if GiftCardCredit.objects.filter(pk=bucket.pk, remaining=bucket.remaining).update(
                remaining=F("remaining") - part):
            excess -= part
            clipped += part
    return clipped


# ================================================================ issue

def card_get(code: str) -> GiftCard:
    """The card with this code, if the current API key or staff user may see it (a card of a category the
    caller is not limited to answers 404 as if it did not exist)."""
    cards = GiftCard.objects.select_related("voucher", "voucher__campaign").filter(voucher__code=code)
    card = restrict(cards, action="view").first()
    if card is None:
        voucher = restrict(Voucher.objects.filter(code=code), action="view").first()
        if voucher is None:
            raise NotFound.for_object("voucher", code)
        raise NotAGiftCard(f"Voucher {code} is a {voucher.type}, not a gift card")
    return card


def expiry_law_for(country: str) -> ExpiryLaw | None:
    name = (country or "").strip().lower()
    if not name:
        return None
    for law in ExpiryLaw.objects.all():
        names = {law.country.strip().lower(), *(a.strip().lower() for a in law.aliases.split(",") if a.strip())}
        if name in names:
            return law
    return None


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def expiry_under_law(law: ExpiryLaw | None, issued: datetime, expiration: datetime | None
                     ) -> tuple[datetime | None, str, bool]:
    """(expiration date, explanation, law overrides the campaign's end) for a card issued now."""
    if law is None:
        when = f"expires on {expiration:%Y-%m-%d}" if expiration else "does not expire"
        return expiration, f"No expiry law recorded for the holder's country: the card {when} as its campaign " \
                           "or voucher says.", False
    source = f" ({law.note})" if law.note else ""
    if law.no_expiry:
        return None, f"{law.country}{source} does not allow gift cards to expire: the card never expires.", True
    if law.min_validity_years:
        earliest = _add_years(issued, law.min_validity_years)
        if expiration is None or expiration >= earliest:
            when = f"on {expiration:%Y-%m-%d}" if expiration else "never"
            return expiration, f"{law.country}{source} requires at least {law.min_validity_years} years of " \
                               f"validity; the card's own expiry ({when}) already allows that.", False
        return earliest, f"{law.country}{source} requires at least {law.min_validity_years} years of validity: " \
                         f"the expiry moved from {expiration:%Y-%m-%d} to {earliest:%Y-%m-%d}.", True
    return expiration, f"{law.country}{source} sets no limit on gift card expiry.", False


def issue_card(voucher: Voucher, *, amount: int, sold_price: int | None = None, origin: str = "standalone",
               actor: Actor = SYSTEM, reason: str = "", customer: Customer | None = None) -> GiftCard:
    """The card of a new gift voucher, with its issue row; the holder's country law sets its expiry."""
    customer = customer or (voucher.holder if voucher.holder_id else None)
    country, rule, law_sets = "", "", False
    if customer is not None:
        campaign_end = voucher.campaign.expiration_date if voucher.campaign_id else None
        expiration = voucher.expiration_date or campaign_end
        law = expiry_law_for(customer.address_country)
        expiration, rule, law_sets = expiry_under_law(law, timezone.now(), expiration)
        country = customer.address_country
        if law_sets:
            Voucher.objects.filter(pk=voucher.pk).update(expiration_date=expiration)
            voucher.expiration_date = expiration
    effect = (voucher.gift or {}).get("effect") or GiftCard.Effect.APPLY_TO_ORDER
    with transaction.atomic():
        card = GiftCard.objects.create(voucher=voucher, face_value=amount, sold_price=sold_price, amount=amount,
                                       balance=amount, effect=effect, country=country, expiry_rule=rule,
                                       law_sets_expiry=law_sets, origin=origin)
        _record(card, Kind.ISSUE, amount, actor, reason=reason or "Card issued",
                details={"sold_price": sold_price} if sold_price is not None else {})
    voucher.gift = gift_json(card)  # the caller's copy answers the API with what was stored
    return card


def cards_for_new_vouchers(vouchers, *, origin: str, sold_price: int | None = None, actor: Actor = SYSTEM,
                           reason: str = "Card issued") -> int:
    """Cards (and issue rows) for generated gift vouchers that have none yet, in multi-row inserts.
    Idempotent and safe beside a concurrent run: both inserts skip what exists (UNIQUE card, UNIQUE
    issue row per card)."""
    rows = list(vouchers.filter(type=Voucher.Type.GIFT_VOUCHER, gift_card__isnull=True).values_list("pk", "gift"))
    for start in range(0, len(rows), CARD_BATCH):
        chunk = rows[start:start + CARD_BATCH]
        cards = [GiftCard(voucher_id=pk, face_value=(gift or {}).get("amount", 0), sold_price=sold_price,
                          amount=(gift or {}).get("amount", 0), balance=(gift or {}).get("amount", 0),
                          effect=(gift or {}).get("effect") or GiftCard.Effect.APPLY_TO_ORDER, origin=origin)
                 for pk, gift in chunk]
        GiftCard.objects.bulk_create(cards, ignore_conflicts=True)
        GiftCardTransaction.objects.bulk_create(
            [GiftCardTransaction(card_id=card.pk, kind=Kind.ISSUE, amount=card.amount, balance_after=card.amount,
                                 reason=reason, actor=actor.label, channel=actor.channel, api_key=actor.api_key,
                                 user=actor.user,
                                 details={"sold_price": sold_price} if sold_price is not None else {})
             for card in cards], ignore_conflicts=True)
    return len(rows)


# ================================================================ spend and rollback (the redemption engine)

def overdue_credit(card_pk: int, now: datetime) -> int:
    """Temporary credit past its expiry that the job has not removed yet (not spendable)."""
    return GiftCardCredit.objects.filter(card_id=card_pk, expired_at__isnull=True, expires_at__lte=now).aggregate(
        total=Sum("remaining"))["total"] or 0


def spendable(card: GiftCard, now: datetime | None = None, *, session_key: str | None = None) -> int:
    """What a checkout may spend now: the balance less overdue temporary credit and less what other
    validation sessions reserved (the session `session_key` may spend its own reservation)."""
    now = now or timezone.now()
    release_expired_reservations(card.pk, now)
    balance, locked = GiftCard.objects.filter(pk=card.pk).values_list("balance", "locked_amount").get()
    own = _reserved_by(card.pk, session_key, now) if session_key else 0
    return max(0, balance - overdue_credit(card.pk, now) - (locked - own))


def spend(card: GiftCard, amount: int, actor: Actor, *, redemption_id: str = "", order: Order | None = None,
          order_source_id: str = "", reason: str = "", now: datetime | None = None,
          session_key: str | None = None) -> GiftCardTransaction:
    """Take `amount` in a redemption (temporary credit first), consuming the session's reservation if it
    holds one. In the caller's transaction, which holds the voucher row already; raises
    GiftAmountExceeded if the balance (less other sessions' reservations) no longer covers it."""
    now = now or timezone.now()
    expire_overdue(card, now, actor=SYSTEM)
    release_expired_reservations(card.pk, now)
    reserved = _consume_reservation(card.pk, session_key, now) if session_key else 0
    if not _update_card(card.pk, Kind.SPEND, amount, reserved=reserved):
        raise GiftAmountExceeded(f"The gift card {card.voucher.code} no longer has {amount} to spend")
    taken = _take_temporary(card.pk, amount, now)
    details: dict = {"credits": taken} if taken else {}
    if reserved:
        details["reserved"] = {"session_key": session_key, "amount": reserved}
    return _record(card, Kind.SPEND, -amount, actor, reason=reason, redemption_id=redemption_id,
                   temporary_amount=-sum(taken.values()), order_id=order.public_id if order is not None else "",
                   order_source_id=(order.source_id or "") if order is not None else order_source_id,
                   details=details)


# ================================================================ session reservations (validation LOCK)

def _reserved_by(card_pk: int, session_key: str, now: datetime) -> int:
    return GiftCardReservation.objects.filter(card_id=card_pk, session_key=session_key, expires_at__gt=now
                                              ).values_list("amount", flat=True).first() or 0


def reserve(card: GiftCard, session_key: str, amount: int, expires_at: datetime,
            now: datetime | None = None) -> GiftCardReservation | None:
    """Reserve `amount` of the card for a validation session until `expires_at` (a revalidation with the
    same key replaces its reservation). One conditional UPDATE of locked_amount: raises
    GiftAmountExceeded when the unreserved spendable balance does not cover it."""
    now = now or timezone.now()
    release_expired_reservations(card.pk, now)
    overdue = overdue_credit(card.pk, now)
    with transaction.atomic():
        existing = GiftCardReservation.objects.filter(card_id=card.pk, session_key=session_key).first()
        held = existing.amount if existing is not None else 0
        delta = amount - held
        cards = GiftCard.objects.filter(pk=card.pk)
        if delta > 0 and not cards.filter(balance__gte=F("locked_amount") + delta + overdue).update(
                locked_amount=F("locked_amount") + delta):
            raise GiftAmountExceeded(f"The gift card {card.voucher.code} has less than {amount} left that another "
                                     "checkout has not reserved")
        if delta < 0:
            cards.filter(locked_amount__gte=-delta).update(locked_amount=F("locked_amount") + delta)
        if existing is not None:
            if not GiftCardReservation.objects.filter(pk=existing.pk, amount=held).update(amount=amount,
                                                                                          expires_at=expires_at):
                raise Conflict("The session's reservation changed meanwhile: validate again")
            existing.amount, existing.expires_at = amount, expires_at
            return existing
        if amount == 0:
            return None
        try:
            with transaction.atomic():
                return GiftCardReservation.objects.create(card_id=card.pk, session_key=session_key, amount=amount,
                                                          expires_at=expires_at)
        except IntegrityError:  # the same session reserved concurrently: undo ours (whole transaction)
            raise Conflict("The session reserved this card concurrently: validate again")


def _consume_reservation(card_pk: int, session_key: str, now: datetime) -> int:
    """Delete the session's live reservation (exactly once) and return its amount; the caller's spend
    UPDATE takes it off locked_amount in the same transaction."""
    row = GiftCardReservation.objects.filter(card_id=card_pk, session_key=session_key, expires_at__gt=now).first()
    if row is None or not GiftCardReservation.objects.filter(pk=row.pk).delete()[0]:
        return 0
    return row.amount


def _unlock(card_pk: int, amount: int) -> None:
    if amount:
        GiftCard.objects.filter(pk=card_pk, locked_amount__gte=amount).update(
            locked_amount=F("locked_amount") - amount)


def release_reservation(card_pk: int, session_key: str) -> bool:
    """DELETE of the validation session: its reserved credits become spendable by others again."""
    row = GiftCardReservation.objects.filter(card_id=card_pk, session_key=session_key).first()
    if row is None:
        return False
    with transaction.atomic():
        if not GiftCardReservation.objects.filter(pk=row.pk).delete()[0]:
            return False
        _unlock(card_pk, row.amount)
    return True


def release_expired_reservations(card_pk: int | None = None, now: datetime | None = None, *,
                                 batch: int = 1000) -> int:
    """Free expired reservations (one card's, or a batch of all): each row is deleted by exactly one caller,
    which then takes its amount off locked_amount."""
    expired = GiftCardReservation.objects.filter(expires_at__lte=now or timezone.now())
    if card_pk is not None:
        expired = expired.filter(card_id=card_pk)
    released = 0
    for pk, card_id, amount in expired.values_list("pk", "card_id", "amount")[:batch]:
        with transaction.atomic():
            if GiftCardReservation.objects.filter(pk=pk).delete()[0]:
                _unlock(card_id, amount)
                released += 1
    return released


def _take_temporary(card_pk: int, amount: int, now: datetime) -> dict[str, int]:
    """Temporary credit covers the spend first, earliest expiry first. The caller holds the card row, so
    nobody else changes these buckets meanwhile; each take is still a compare-and-swap."""
    taken: dict[str, int] = {}
    left = amount
    buckets = GiftCardCredit.objects.filter(card_id=card_pk, expired_at__isnull=True, remaining__gt=0,
                                            expires_at__gt=now).order_by("expires_at", "id")
    for bucket in buckets:
        if left == 0:
            break
        part = min(bucket.remaining, left)
        if GiftCardCredit.objects.filter(pk=bucket.pk, remaining=bucket.remaining).update(
                remaining=F("remaining") - part):
            taken[str(bucket.pk)] = part
            left -= part
    return taken


def rollback_spend(transaction_id: str, actor: Actor, *, redemption_id: str = "",
                   reason: str = "") -> GiftCardTransaction:
    """Give back exactly what a spend took, once (UNIQUE rollback per spend); temporary credit goes back
    to its bucket, and straight out again as expired if the bucket has expired meanwhile."""
    spent = GiftCardTransaction.objects.select_related("card", "card__voucher").get(public_id=transaction_id,
                                                                                  kind=Kind.SPEND)
    card, amount = spent.card, -spent.amount
    _lock_voucher(card.pk)
    if not _update_card(card.pk, Kind.ROLLBACK, amount):
        raise ApiError("The spend cannot be given back: the card's redeemed amount is lower", key="conflict")
    expired_parts = []
    for bucket_pk, part in (spent.details.get("credits") or {}).items():
        bucket = GiftCardCredit.objects.get(pk=int(bucket_pk))
        if bucket.expired_at is not None:
            expired_parts.append((bucket, part))
        else:
            GiftCardCredit.objects.filter(pk=bucket.pk).update(remaining=F("remaining") + part)
    row = _record(card, Kind.ROLLBACK, amount, actor, reason=reason or "Redemption rolled back", related=spent,
                  redemption_id=redemption_id or spent.redemption_id, temporary_amount=-spent.temporary_amount,
                  order_id=spent.order_id, order_source_id=spent.order_source_id)
    for bucket, part in expired_parts:
        _move(card, Kind.EXPIRY, -part, SYSTEM, lock=False, credit=bucket, temporary_amount=-part,
              reason="Temporary credit given back by a rollback after it expired")
    return row


# ================================================================ balance changes by staff and integrations

def adjust_balance(code: str, amount, *, actor: Actor, reason=None, source_id=None) -> GiftCardTransaction:
    """POST /v1/vouchers/{code}/balance: a positive amount tops up, a negative one debits (never below zero)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidPayload("amount must be a non-zero integer in minor units: positive adds, negative removes")
    clean_amount(abs(amount))
    reason = clean_text(reason, "reason")
    source_id = clean_text(source_id, "source_id", 255)
    card = card_get(code)
    kind = Kind.TOP_UP if amount > 0 else Kind.ADJUSTMENT
    with transaction.atomic():
        return _move(card, kind, amount, actor, reason=reason, source_id=source_id)


def staff_adjustment(card: GiftCard, amount: int, *, actor: Actor, reason: str) -> GiftCardTransaction:
    """A correction by staff (either sign); a reason is required."""
    if not (reason or "").strip():
        raise InvalidPayload("A reason is required for an adjustment")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidPayload("amount must be a non-zero integer")
    clean_amount(abs(amount))
    with transaction.atomic():
        return _move(card, Kind.ADJUSTMENT, amount, actor, reason=reason)


def add_temporary_credit(code: str, amount, expires_at: datetime, *, actor: Actor, reason=None) -> GiftCardCredit:
    """Credit that lasts until `expires_at` ("we added $10, spend it by midnight"), spent before the rest."""
    amount = clean_amount(amount)
    reason = clean_text(reason, "reason")
    expires_at = dates.clean_moment(expires_at, "expires_at")  # also from the admin's form: at most year 9999 UTC
    if expires_at <= timezone.now():
        raise InvalidPayload("expires_at must be in the future")
    card = card_get(code)
    with transaction.atomic():
        _lock_voucher(card.pk)
        if not _update_card(card.pk, Kind.TOP_UP, amount):  # a credit always applies
            raise GiftAmountExceeded("The card cannot be credited")
        bucket = GiftCardCredit.objects.create(card=card, amount=amount, remaining=amount, expires_at=expires_at,
                                               reason=reason)
        _record(card, Kind.TOP_UP, amount, actor, reason=reason or "Temporary credit", credit=bucket,
                temporary_amount=amount, details={"temporary": True, "expires_at": expires_at.isoformat()})
    return bucket


def expire_overdue(card: GiftCard, now: datetime, *, actor: Actor = SYSTEM) -> int:
    """Remove this card's temporary credit past its expiry (an expiry row each). Returns the amount."""
    total = 0
    for bucket_pk in GiftCardCredit.objects.filter(card_id=card.pk, expired_at__isnull=True,
                                                   expires_at__lte=now).values_list("pk", flat=True):
        total += _expire_bucket(card, bucket_pk, now, actor)
    return total


def _expire_bucket(card: GiftCard, bucket_pk: int, now: datetime, actor: Actor) -> int:
    with transaction.atomic():
        _lock_voucher(card.pk)
        # Under the voucher lock nobody spends from the bucket meanwhile: its remaining is final.
        bucket = GiftCardCredit.objects.get(pk=bucket_pk)
        if bucket.expired_at is not None:
            return 0
        left = bucket.remaining
        if not GiftCardCredit.objects.filter(pk=bucket.pk, expired_at__isnull=True, remaining=left).update(
                remaining=0, expired_at=now):
            return 0
        if left:
            _move(card, Kind.EXPIRY, -left, actor, lock=False, credit=bucket, temporary_amount=-left,
                  reason=f"Temporary credit expired at {bucket.expires_at:%Y-%m-%d %H:%M} UTC")
        return left


def expire_credits(now: datetime | None = None) -> dict:
    """The scheduled expiry job: every temporary credit past its time, on every card."""
    now = now or timezone.now()
    removed = buckets = 0
    overdue = GiftCardCredit.objects.filter(expired_at__isnull=True, expires_at__lte=now).select_related(
        "card", "card__voucher").order_by("card_id", "id")
    for bucket in overdue.iterator(chunk_size=500):
        removed += _expire_bucket(bucket.card, bucket.pk, now, Actor.of(job="expire_credits"))
        buckets += 1
    return {"buckets": buckets, "removed": removed, "reservations_released": release_expired_reservations(now=now)}


# ================================================================ refunds to a card

def find_customer(ref) -> Customer:
    if not isinstance(ref, str) or not ref:
        raise InvalidPayload("customer must be a customer id or source_id")
    customer = Customer.objects.filter(Q(public_id=ref) | Q(source_id=ref), deleted_at__isnull=True).first()
    if customer is None:
        raise NotFound.for_object("customer", ref)
    return customer


def credit_refund(card: GiftCard, amount: int, actor: Actor, **fields) -> GiftCardTransaction:
    """The ledger side of a refund (giftcards.refunds decides whether and how much), in its transaction."""
    return _move(card, Kind.REFUND, amount, actor, **fields)


def new_card_for(customer: Customer, *, campaign: str | None, origin: str, actor: Actor,
                 amount: int | None = None) -> GiftCard:
    """A new card held by `customer` (the expiry law of their country applies), in a GIFT_VOUCHERS campaign
    or standalone; `amount` None takes the campaign's value."""
    from promo import campaigns as promo_campaigns

    data: dict = {"type": Voucher.Type.GIFT_VOUCHER, "holder_id": customer.public_id}
    target = gift_campaign(campaign) if campaign else None
    if amount is not None or target is None:
        effect = (target.voucher_template.get("gift") or {}).get("effect") if target is not None else None
        data["gift"] = {"amount": amount or 0, "effect": effect}
    if target is None:
        data["code_config"] = DEFAULT_CODE_CONFIG
    voucher = promo_campaigns.voucher_create(data, campaign=target)
    card = GiftCard.objects.select_related("voucher").get(pk=voucher.pk)
    GiftCard.objects.filter(pk=card.pk).update(origin=origin)
    card.origin = origin
    return card


DEFAULT_CODE_CONFIG = {"length": 12, "charset": codes.UNAMBIGUOUS, "prefix": "GC-"}


def gift_campaign(ref: str) -> Campaign:
    from promo.campaign_selectors import campaign_get

    found = campaign_get(ref)
    if found.campaign_type != Campaign.CampaignType.GIFT_VOUCHERS:
        raise InvalidPayload(f"Campaign {found.name} is not a GIFT_VOUCHERS campaign")
    return found


# ================================================================ created by promo (hooks)

def clean_voucher_fields(data: dict, path: str, template: dict | None) -> dict:
    """promo.campaigns asks this for a gift voucher's own fields (or a campaign's template): its `gift`."""
    prefix = f"{path}." if path else ""
    raw = data.get("gift")
    if raw is None and template is not None:
        return {}  # the campaign's template gives it
    if isinstance(raw, dict) and template is not None and raw.get("amount") is None:
        raw = {**raw, "amount": (template.get("gift") or {}).get("amount")}
    return {"gift": clean_gift(raw, f"{prefix}gift")}


def on_voucher_created(voucher: Voucher, data: dict) -> None:
    """promo.campaigns calls this when a gift voucher is created (API, admin, refunds, birthdays, imports)."""
    gift = voucher.gift or {}
    amount = gift.get("amount", 0)
    raw = data.get("gift") if isinstance(data.get("gift"), dict) else {}
    sold = clean_sold_price(raw.get("sold_price"), amount, "gift.sold_price")
    issuing = _issue_var.get() or {}
    issue_card(voucher, amount=amount, sold_price=sold,
               origin=issuing.get("origin") or ("campaign" if voucher.campaign_id else "standalone"),
               actor=issuing.get("actor") or SYSTEM, reason=issuing.get("reason") or "")


def on_vouchers_generated(campaign_pk: int) -> None:
    """promo.campaigns calls this inside each generated batch's transaction."""
    cards_for_new_vouchers(Voucher.objects.filter(campaign_id=campaign_pk), origin="campaign")


# ================================================================ bulk issue for a partner or event

def bulk_issue_start(*, campaign: str, count, amount=None, sold_price=None, partner=None, label=None,
                     actor: Actor = SYSTEM) -> AsyncAction:
    """N cards of a value in a GIFT_VOUCHERS campaign for a partner or event, generated in the background
    (an async action with progress); the cards are exported as CSV once done."""
    target = gift_campaign(campaign)
    count = clean_amount(count, "count")
    if count > codes.MAX_CODES_PER_REQUEST:
        raise InvalidPayload(f"count must be at most {codes.MAX_CODES_PER_REQUEST}")
    template_gift = target.voucher_template.get("gift") or {}
    value = clean_amount(amount, "amount", minimum=0) if amount is not None else template_gift.get("amount", 0)
    price = clean_sold_price(sold_price, value)
    partner = clean_text(partner, "partner", 255)
    label = clean_text(label, "label", 255)
    spec = codes.CodeSpec.from_config(target.voucher_template.get("code_config"))
    codes.check_code_space(spec, count, per_code=GIFT_CODE_SPACE_PER_CODE)
    payload = {"campaign": target.pk, "count": count, "amount": value, "sold_price": price, "partner": partner,
               "label": label}
    with transaction.atomic():
        return async_action_start(action_type=BULK_ACTION, payload=payload, api_key=actor.api_key, user=actor.user)


GIFT_CODE_SPACE_PER_CODE = 10**12  # stored value is worth guessing: a trillion possible codes per card


@register_async_handler(BULK_ACTION)
def bulk_issue_run(action: AsyncAction, progress) -> dict:
    """Resumable: each batch of codes, their cards and the progress count commit together."""
    from promo.campaigns import voucher_defaults

    payload = action.payload
    campaign = Campaign.objects.filter(pk=payload["campaign"], deleted_at__isnull=True).first()
    if campaign is None:
        raise NotFound("The campaign was deleted before the cards were issued")
    count, value = int(payload["count"]), int(payload["amount"])
    metadata = {"gift_batch": action.public_id}
    for key in ("partner", "label"):
        if payload.get(key):
            metadata[key] = payload[key]
    defaults = voucher_defaults(campaign, {"gift": {"amount": value, "subtracted_amount": 0, "balance": value,
                                                    "effect": (campaign.voucher_template.get("gift") or {}).get(
                                                        "effect") or GiftCard.Effect.APPLY_TO_ORDER},
                                           "metadata": metadata})
    spec = codes.CodeSpec.from_config(campaign.voucher_template.get("code_config"))
    actor = Actor(label=f"bulk:{action.public_id}", channel="API" if action.api_key_id else "USER",
                  api_key=action.api_key, user=action.user)
    batch = Voucher.objects.filter(campaign=campaign, metadata__gift_batch=action.public_id)

    def on_batch(inserted: int) -> None:
        cards_for_new_vouchers(batch, origin="bulk", sold_price=payload.get("sold_price"), actor=actor,
                               reason=f"Bulk issue {action.public_id}" + (f" for {payload['partner']}"
                                                                         if payload.get("partner") else ""))
        if not AsyncAction.objects.filter(pk=action.pk, processed__lte=count - inserted).update(
                processed=F("processed") + inserted, total=count):
            raise Conflict("Another worker is running this action")

    action.refresh_from_db(fields=["processed"])
    try:
        codes.generate(spec, count, codes.shared_values(defaults), done=action.processed, on_batch=on_batch,
                       batch_size=5000)
    except Conflict:
        return {"message": "Superseded by another run of the same action"}
    progress(count, count)
    return {"campaign_id": campaign.public_id, "count": count, "amount": value, "sold_price": payload.get("sold_price"),
            "partner": payload.get("partner") or None, "batch": action.public_id,
            "export_url": f"/v1/gift-cards/batches/{action.public_id}/export.csv"}


# ================================================================ birthday cards

def birthday_campaigns():
    return Campaign.objects.filter(campaign_type=Campaign.CampaignType.GIFT_VOUCHERS, active=True,
                                   deleted_at__isnull=True, metadata__birthday=True).order_by("pk")


def _birthdays_on(day: date) -> Q:
    query = Q(birthdate__month=day.month, birthdate__day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        query |= Q(birthdate__month=2, birthdate__day=29)  # leap-day birthdays are celebrated on the 28th
    return query


def issue_birthday_cards(today: date | None = None) -> dict:
    """The daily job: a card from the birthday campaign (a GIFT_VOUCHERS campaign with metadata
    `birthday: true`) for each customer whose birthday it is, at most once a year per customer
    (UNIQUE customer + year: a rerun, or two workers, issue nothing twice)."""
    today = today or timezone.localdate()
    campaign = birthday_campaigns().first()
    if campaign is None:
        return {"issued": 0, "message": "No active GIFT_VOUCHERS campaign has metadata birthday: true"}
    already = BirthdayGift.objects.filter(year=today.year).values("customer_id")
    customers = (Customer.objects.filter(_birthdays_on(today), deleted_at__isnull=True)
                 .exclude(pk__in=already).order_by("pk"))
    issued = 0
    actor = Actor.of(job="birthday_cards")
    for customer in customers.iterator(chunk_size=500):
        try:
            with transaction.atomic():
                card = new_card_for(customer, campaign=campaign.public_id, origin="birthday", actor=actor)
                BirthdayGift.objects.create(customer=customer, year=today.year, card=card)
        except IntegrityError:
            continue  # another run issued it first
        except ApiError as exc:
            logger.warning("Birthday card for %s not issued: %s", customer.public_id, exc.details or exc.message)
            continue
        issued += 1
    return {"issued": issued, "campaign_id": campaign.public_id, "date": today.isoformat()}


# ================================================================ the issue context (imports)

# Set around promo's voucher_create by the CSV import: the card's origin, the ledger's actor and reason.
_issue_var: ContextVar[dict | None] = ContextVar("giftcard_issue", default=None)


# ================================================================ CSV import into a gift campaign

IMPORT_ACTION = "GIFT_CARDS_IMPORT"
IMPORT_ROWS_PER_BATCH = 200
IMPORT_AMOUNT = ("amount", "gift_amount", "gift_balance", "value")
IMPORT_HOLDER = ("holder_id", "holder", "customer", "customer_id", "customer_source_id", "source_id")
IMPORT_EMAIL = ("email", "holder_email", "customer_email")
IMPORT_COLUMNS = {"code", "sold_price", "gift_sold_price", "metadata", *IMPORT_AMOUNT, *IMPORT_HOLDER, *IMPORT_EMAIL}


def import_csv_start(content: bytes, campaign: Campaign, *, api_key=None, user=None) -> AsyncAction:
    """POST /v1/campaigns/{id}/importCSV into a GIFT_VOUCHERS campaign (and the admin's Import CSV): the
    header is checked now (a clear 400); the rows are issued in the background, each through the same
    voucher create and card issue as the API (an issue row in the ledger), each bad row reported with
    its number. Columns: code (required), amount (or gift_amount; empty: the campaign's value), holder
    (holder_id / customer_source_id: a customer id or source_id; or email), sold_price; any other
    column becomes a metadata key."""
    from promo.campaigns import _csv_reader

    if campaign.campaign_type != Campaign.CampaignType.GIFT_VOUCHERS:
        raise InvalidPayload(f"Campaign {campaign.name} is not a GIFT_VOUCHERS campaign")
    _csv_reader(content)
    with transaction.atomic():
        return async_action_start(action_type=IMPORT_ACTION, attachment=content, api_key=api_key, user=user,
                                  payload={"campaign": campaign.pk, "size": len(content)})


def _import_row(columns: list[str], cells: list[str]) -> dict:
    """One CSV row -> voucher create data (raises InvalidPayload with the reason)."""
    from promo.campaigns import resolve_customer

    if len(cells) > len(columns):
        raise InvalidPayload(f"the row has {len(cells)} cells but the header names {len(columns)} columns")
    row = {name: raw.strip() for name, raw in zip(columns, cells, strict=False) if raw.strip()}
    if not row.get("code"):
        raise InvalidPayload("code is empty")
    gift: dict = {}
    amount = next((row[c] for c in IMPORT_AMOUNT if c in row), None)
    if amount is not None:
        gift["amount"] = _csv_amount(amount, "amount")
    sold = row.get("sold_price") or row.get("gift_sold_price")
    if sold is not None:
        gift["sold_price"] = _csv_amount(sold, "sold_price")
    data: dict = {"type": Voucher.Type.GIFT_VOUCHER, "code": row["code"], "gift": gift}
    holder = next((row[c] for c in IMPORT_HOLDER if c in row), None)
    email = next((row[c] for c in IMPORT_EMAIL if c in row), None)
    if holder is not None:
        data["holder_id"] = resolve_customer(holder, "holder").public_id
    elif email is not None:
        found = Customer.objects.filter(email__iexact=email, deleted_at__isnull=True).order_by("pk").first()
        if found is None:
            raise NotFound(f"Cannot find customer with email {email}")
        data["holder_id"] = found.public_id
    metadata = {}
    if "metadata" in row:
        metadata = csv_import.json_object_cell(row["metadata"])
    metadata.update({name.removeprefix("metadata_"): text for name, text in row.items()
                     if name not in IMPORT_COLUMNS})
    if metadata:
        data["metadata"] = metadata
    return data


def _csv_amount(text: str, path: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidPayload(f"{path} must be a whole number in minor units (1000 is 10.00), not {text!r}")
    return clean_amount(value, path, minimum=0)


@register_async_handler(IMPORT_ACTION)
def import_csv_run(action: AsyncAction, progress) -> dict:
    """Rows are numbered as in the file (the header is row 1); a rerun resumes after the last committed
    batch. Each row is its own savepoint: a bad row (an existing code, an unknown holder, a bad amount)
    is reported and the others are issued."""

    from promo import campaigns as promo_campaigns

    campaign = Campaign.objects.filter(pk=action.payload["campaign"], deleted_at__isnull=True).first()
    if campaign is None:
        raise NotFound("The campaign was deleted before the import ran")
    columns, reader = promo_campaigns._csv_reader(action.attachment)
    rows = csv_import.data_rows(reader)
    actor = Actor(label=f"import:{action.public_id}", channel="API" if action.api_key_id else "USER",
                  api_key=action.api_key, user=action.user)
    context = {"origin": "import", "actor": actor, "reason": f"CSV import {action.public_id}"}

    def process(batch, _start, tally) -> None:
        for line, cells in batch:
            code = cells[columns.index("code")].strip() if columns.index("code") < len(cells) else None
            token = _issue_var.set(context)
            try:
                with transaction.atomic():
                    promo_campaigns.voucher_create(_import_row(columns, cells), campaign=campaign)
            except ApiError as exc:
                tally.fail(line, code, exc.details or exc.message)
                continue
            finally:
                _issue_var.reset(token)
            tally.done_count += 1

    return promo_campaigns.run_in_batches(action, rows, process, batch_size=IMPORT_ROWS_PER_BATCH)


# ================================================================ write-off of balances on expired cards

def card_expiry_expression():
    """The database's version of card_expiration(): the voucher's own date; the campaign's end only when
    no expiry law replaced it."""
    from django.db.models import Case, When
    from django.db.models.functions import Coalesce

    return Case(When(law_sets_expiry=True, then=F("voucher__expiration_date")),
                default=Coalesce(F("voucher__expiration_date"), F("voucher__campaign__expiration_date")))


def law_forbids_expiry(card: GiftCard) -> ExpiryLaw | None:
    """The law (of the country recorded at issue, or the holder's current one) that forbids the card to
    expire, if any: such a card's balance is never written off."""
    countries = {card.country}
    if card.voucher.holder_id:
        countries.add(card.voucher.holder.address_country)
    for country in filter(None, countries):
        law = expiry_law_for(country)
        if law is not None and law.no_expiry:
            return law
    return None


def write_off_grace_days() -> int:
    return int(getattr(settings, "GIFTCARD_EXPIRY_WRITE_OFF_DAYS", 0) or 0)


def write_off_expired(now: datetime | None = None, *, grace_days: int | None = None) -> dict:
    """The scheduled breakage job: the balance of every card expired more than `grace_days` ago
    (GIFTCARD_EXPIRY_WRITE_OFF_DAYS; 0 disables the job) goes to zero with an `expiry` ledger row
    (details.write_off), except on cards whose country's law forbids expiry. Idempotent: a card with
    nothing left is not touched again."""
    now = now or timezone.now()
    days = write_off_grace_days() if grace_days is None else grace_days
    if days <= 0:
        return {"cards": 0, "written_off": 0, "skipped_by_law": 0,
                "message": "Disabled: set GIFTCARD_EXPIRY_WRITE_OFF_DAYS to a number of days"}
    cutoff = now - timedelta(days=days)
    due = (GiftCard.objects.annotate(expires=card_expiry_expression())
           .filter(balance__gt=0, expires__isnull=False, expires__lte=cutoff)
           .select_related("voucher", "voucher__holder").order_by("pk"))
    actor = Actor.of(job="write_off_expired")
    cards = total = skipped = 0
    for card in due.iterator(chunk_size=500):
        if law_forbids_expiry(card) is not None:
            skipped += 1
            continue
        amount = write_off_card(card, now, actor=actor, grace_days=days,
                                expired_at=card.expires)
        if amount:
            cards += 1
            total += amount
    return {"cards": cards, "written_off": total, "skipped_by_law": skipped, "grace_days": days}


def write_off_card(card: GiftCard, now: datetime, *, actor: Actor, grace_days: int,
                   expired_at: datetime | None = None) -> int:
    """Zero one expired card: its temporary credit closes, its session reservations go, and one expiry row
    takes the whole balance. Under the voucher lock, so nothing spends meanwhile."""
    with transaction.atomic():
        _lock_voucher(card.pk)
        balance = GiftCard.objects.values_list("balance", flat=True).get(pk=card.pk)
        if balance <= 0:
            return 0
        open_credit = GiftCardCredit.objects.filter(card_id=card.pk, expired_at__isnull=True)
        temporary = open_credit.aggregate(total=Sum("remaining"))["total"] or 0
        open_credit.update(remaining=0, expired_at=now)
        GiftCardReservation.objects.filter(card_id=card.pk).delete()
        GiftCard.objects.filter(pk=card.pk).update(locked_amount=0)
        when = f"{expired_at:%Y-%m-%d}" if expired_at else "its expiry"
        _move(card, Kind.EXPIRY, -balance, actor, lock=False, temporary_amount=-temporary,
              reason=f"Card expired on {when}: balance written off after {grace_days} days' grace",
              details={"write_off": True, "expired_at": expired_at.isoformat() if expired_at else None,
                       "grace_days": grace_days})
    return balance
