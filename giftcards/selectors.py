"""Reads of gift cards: a card's ledger (spec-shaped), CSV exports, liability, reconciliation, and what an
order can still refund.

Cards, batches and the reports hold only what the current API key or staff user may see: the cards of
its campaign categories (core.permissions)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from core.errors import InvalidPayload, NotFound
from core.models import AsyncAction
from core.permissions import restrict
from customers.models import Customer, Order
from giftcards.models import GiftCard, GiftCardCredit, GiftCardTransaction, OrderRefund, RefundRequest
from giftcards.services import BULK_ACTION, card_expiration, card_expiry_expression
from promo.models import Campaign, Voucher

# Our movement kinds -> the spec's VoucherTransaction.type
SPEC_TYPES = {
    GiftCardTransaction.Kind.ISSUE: "CREDITS_ADDITION",
    GiftCardTransaction.Kind.TOP_UP: "CREDITS_ADDITION",
    GiftCardTransaction.Kind.REFUND: "CREDITS_ADDITION",
    GiftCardTransaction.Kind.SPEND: "CREDITS_REDEMPTION",
    GiftCardTransaction.Kind.ROLLBACK: "CREDITS_REFUND",
    GiftCardTransaction.Kind.EXPIRY: "CREDITS_REMOVAL",
}
EXPORT_FIELDS = ("id", "type", "source_id", "reason", "balance", "amount", "created_at", "voucher_id", "campaign_id",
                 "source", "details", "related_transaction_id")
DEFAULT_EXPORT_FIELDS = ("id", "type", "kind", "amount", "balance", "reason", "source", "created_at")


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def spec_type(row: GiftCardTransaction) -> str:
    if row.kind == GiftCardTransaction.Kind.ADJUSTMENT:
        return "CREDITS_ADDITION" if row.amount > 0 else "CREDITS_REMOVAL"
    return SPEC_TYPES[row.kind]


def transactions_of(card: GiftCard):
    return GiftCardTransaction.objects.filter(card=card).select_related("related")


def transaction_json(row: GiftCardTransaction, card: GiftCard) -> dict:
    """The spec's VoucherTransaction, plus `kind` and `actor` (project extensions)."""
    voucher = card.voucher
    details: dict = {"balance": {"type": "gift_voucher", "total": row.balance_after, "object": "balance",
                                 "amount": row.amount, "balance": row.balance_after,
                                 "operation_type": "AUTOMATIC" if row.kind in ("spend", "rollback", "expiry")
                                 else "MANUAL",
                                 "related_object": {"id": voucher.public_id, "type": "voucher"}}}
    if row.order_id or row.order_source_id:
        details["order"] = {"id": row.order_id or None, "source_id": row.order_source_id or None}
    if row.redemption_id:
        key = "rollback" if row.kind == GiftCardTransaction.Kind.ROLLBACK else "redemption"
        details["redemption"] = {"id": row.redemption_id}
        if key == "rollback":
            details["rollback"] = {"id": row.redemption_id}
    if row.temporary_amount:
        details["temporary_amount"] = row.temporary_amount
    if row.details:
        details["extra"] = row.details
    return {
        "id": row.public_id, "source_id": row.source_id or None, "voucher_id": voucher.public_id,
        "campaign_id": voucher.campaign.public_id if voucher.campaign_id else None,
        "source": row.channel, "reason": row.reason or None,
        "related_transaction_id": row.related.public_id if row.related_id else None,
        "created_at": _iso(row.created_at), "type": spec_type(row), "details": details,
        "kind": row.kind, "actor": row.actor or None,
    }


def transactions_page(card: GiftCard, *, limit: int, order: str, starting_after: str | None) -> dict:
    """GET /v1/vouchers/{code}/transactions: cursor paging on the transaction id (`starting_after_id`)."""
    rows = transactions_of(card).order_by("-id" if order == "-id" else "id")
    if starting_after:
        anchor = GiftCardTransaction.objects.filter(card=card, public_id=starting_after).values_list("pk", flat=True)
        anchor = list(anchor)
        if not anchor:
            raise NotFound(f"Cannot find transaction with id {starting_after}")
        rows = rows.filter(pk__lt=anchor[0]) if order == "-id" else rows.filter(pk__gt=anchor[0])
    page = list(rows[:limit + 1])
    more = len(page) > limit
    page = page[:limit]
    body = {"object": "list", "data_ref": "data", "data": [transaction_json(r, card) for r in page], "has_more": more}
    if more:
        body["more_starting_after"] = page[-1].public_id
    return body


def clean_export_fields(fields) -> list[str]:
    if fields in (None, [], ""):
        return list(DEFAULT_EXPORT_FIELDS)
    if isinstance(fields, str):
        fields = [f for f in fields.split(",") if f]
    allowed = set(EXPORT_FIELDS) | {"kind", "actor", "order_id", "order_source_id", "redemption_id"}
    if not isinstance(fields, list) or not all(isinstance(f, str) and f in allowed for f in fields):
        raise InvalidPayload(f"fields must be a list of: {', '.join(sorted(allowed))}")
    return fields


def _cell(row: GiftCardTransaction, card: GiftCard, field: str, shown: dict) -> str:
    value = {"balance": row.balance_after, "amount": row.amount, "order_id": row.order_id,
             "order_source_id": row.order_source_id, "redemption_id": row.redemption_id}.get(field, shown.get(field))
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


def export_csv(card: GiftCard, fields: list[str], order: str = "created_at") -> Iterator[bytes]:
    """The card's ledger as CSV, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    rows = transactions_of(card).order_by("-id" if order == "-created_at" else "id")
    for n, row in enumerate(rows.iterator(chunk_size=1000), start=1):
        shown = transaction_json(row, card)
        writer.writerow([_cell(row, card, f, shown) for f in fields])
        if n % 1000 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


BATCH_COLUMNS = ("code", "id", "amount", "balance", "sold_price", "expiration_date", "partner", "label", "created_at")


def _visible(queryset):
    return restrict(queryset, action="view")


def batch_get(batch_id: str) -> AsyncAction:
    """A bulk issue the caller may see: an unlimited key or staff sees all, a key limited to categories the
    batches it started (core.permissions scopes async actions by who started them)."""
    batch = _visible(AsyncAction.objects.filter(type=BULK_ACTION, public_id=batch_id)).first() \
        if "\x00" not in batch_id else None
    if batch is None:
        raise NotFound.for_object("gift card batch", batch_id)
    return batch


def batch_rows(batch: AsyncAction) -> Iterable[tuple]:
    vouchers = _visible(Voucher.objects.filter(metadata__gift_batch=batch.public_id)
                        .select_related("gift_card", "campaign")).order_by("id")
    for voucher in vouchers.iterator(chunk_size=2000):
        card = getattr(voucher, "gift_card", None)
        expiration = card_expiration(voucher, card.law_sets_expiry if card else False)
        yield (voucher.code, voucher.public_id, card.face_value if card else "", card.balance if card else "",
               "" if card is None or card.sold_price is None else card.sold_price, _iso(expiration) or "",
               voucher.metadata.get("partner", ""), voucher.metadata.get("label", ""), _iso(voucher.created_at))


def batch_csv(batch: AsyncAction) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BATCH_COLUMNS)
    for n, row in enumerate(batch_rows(batch), start=1):
        writer.writerow(row)
        if n % 2000 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# ================================================================ liability

def _expiry():
    return card_expiry_expression()


def _written_off():
    """Expiry rows of the write-off job (not temporary credit expiring): -amount summed."""
    return _visible(GiftCardTransaction.objects.filter(kind=GiftCardTransaction.Kind.EXPIRY, details__write_off=True))


def liability(now=None) -> dict:
    """What the merchant owes on gift cards: outstanding balance overall, per campaign, by expiry month,
    and sold vs spent. Amounts in minor units."""
    now = now or timezone.now()
    cards = _visible(GiftCard.objects.all())
    totals = cards.aggregate(
        cards=Count("pk"), outstanding=Coalesce(Sum("balance"), Value(0)),
        face=Coalesce(Sum("face_value"), Value(0)),
        sold=Coalesce(Sum(Coalesce(F("sold_price"), F("face_value"))), Value(0)),
        credited=Coalesce(Sum("amount"), Value(0)), spent=Coalesce(Sum("redeemed_amount"), Value(0)),
        subtracted=Coalesce(Sum("subtracted_amount"), Value(0)),
        with_balance=Count("pk", filter=Q(balance__gt=0)))
    expired = cards.annotate(expires=_expiry()).filter(expires__lte=now).aggregate(
        total=Coalesce(Sum("balance"), Value(0)))["total"]
    temporary = _visible(GiftCardCredit.objects.filter(expired_at__isnull=True)).aggregate(
        total=Coalesce(Sum("remaining"), Value(0)))["total"]
    written_off = -(_written_off().aggregate(total=Coalesce(Sum("amount"), Value(0)))["total"])
    written_by_campaign = {row["card__voucher__campaign"]: -row["total"] for row in _written_off().values(
        "card__voucher__campaign").annotate(total=Sum("amount")).order_by()}
    per_campaign = []
    grouped = (cards.values("voucher__campaign").annotate(
        cards=Count("pk"), outstanding=Sum("balance"), sold=Sum(Coalesce(F("sold_price"), F("face_value"))),
        spent=Sum("redeemed_amount"), credited=Sum("amount")).order_by("-outstanding"))
    names = dict(Campaign.objects.filter(campaign_type=Campaign.CampaignType.GIFT_VOUCHERS)
                 .values_list("pk", "public_id"))
    labels = dict(Campaign.objects.filter(pk__in=list(names)).values_list("pk", "name"))
    for row in grouped:
        pk = row["voucher__campaign"]
        per_campaign.append({"campaign_id": names.get(pk), "campaign_name": labels.get(pk) or "(standalone cards)",
                             "cards": row["cards"], "outstanding_balance": row["outstanding"] or 0,
                             "sold_amount": row["sold"] or 0, "spent_amount": row["spent"] or 0,
                             "credited_amount": row["credited"] or 0,
                             "written_off_amount": written_by_campaign.get(pk, 0)})
    by_month = []
    months = (cards.filter(balance__gt=0).annotate(month=TruncMonth(_expiry())).values("month")
              .annotate(cards=Count("pk"), outstanding=Sum("balance")).order_by(F("month").asc(nulls_last=True)))
    for row in months:
        month = row["month"]
        by_month.append({"month": month.strftime("%Y-%m") if month else None, "cards": row["cards"],
                         "outstanding_balance": row["outstanding"] or 0})
    return {
        "object": "gift_card_liability", "currency": _currency(), "generated_at": _iso(now),
        "cards": totals["cards"], "cards_with_balance": totals["with_balance"],
        "outstanding_balance": totals["outstanding"], "expired_outstanding_balance": expired,
        "temporary_credit_outstanding": temporary,
        "face_value_total": totals["face"], "sold_total": totals["sold"],
        "discount_on_sale_total": totals["face"] - totals["sold"],
        "credited_total": totals["credited"], "spent_total": totals["spent"],
        "removed_total": totals["subtracted"], "written_off_total": written_off,
        "by_campaign": per_campaign, "by_expiry_month": by_month,
    }


def _currency() -> str:
    from django.conf import settings

    return getattr(settings, "CURRENCY", "USD")


# ================================================================ reconciliation

def reconciliation(limit: int = 100) -> dict:
    """Cards whose balance is not the sum of their ledger, or whose columns disagree (should be none)."""
    ledger = (GiftCardTransaction.objects.filter(card=OuterRef("pk")).order_by().values("card")
              .annotate(total=Sum("amount")).values("total"))
    temporary = (GiftCardCredit.objects.filter(card=OuterRef("pk"), expired_at__isnull=True).order_by()
                 .values("card").annotate(total=Sum("remaining")).values("total"))
    cards = _visible(GiftCard.objects.all()).annotate(ledger=Coalesce(Subquery(ledger), Value(0)),
                                                      temporary=Coalesce(Subquery(temporary), Value(0)))
    wrong = cards.filter(~Q(balance=F("ledger")) | Q(temporary__gt=F("balance"))).select_related("voucher")
    mismatches = [{"code": c.voucher.code, "balance": c.balance, "ledger_sum": c.ledger,
                   "temporary_credit": c.temporary} for c in wrong[:limit]]
    return {"object": "gift_card_reconciliation", "cards": _visible(GiftCard.objects.all()).count(),
            "mismatches": mismatches, "reconciled": not mismatches}


def customer_gift_summary(customer_pks: list[int]) -> dict[int, dict]:
    """For the customer summary: credits spent from, and left on, the cards each customer holds."""
    rows = (_visible(GiftCard.objects.filter(voucher__holder_id__in=customer_pks)).values("voucher__holder_id")
            .annotate(spent=Sum("redeemed_amount"), left=Sum("balance")).order_by())
    return {row["voucher__holder_id"]: {"gift": {"redeemed_amount": row["spent"] or 0,
                                                 "amount_to_go": row["left"] or 0}} for row in rows}


def cards_held_by(customer: Customer):
    """For the customer's data export (customers.export): every card they hold, of every category."""
    return GiftCard.objects.filter(voucher__holder=customer).order_by("pk")


def card_transactions_held_by(customer: Customer):
    """For the customer's data export: the ledgers of the cards they hold (one list, card by card)."""
    return GiftCardTransaction.objects.filter(card__voucher__holder=customer).order_by("card_id", "pk")


# ================================================================ what an order can still refund (giftcards.refunds)

@dataclass(frozen=True)
class Refundable:
    order: Order
    paid: int  # amount less discounts; gift card credits spent on the order count as paid
    refunded: int  # refunded to gift cards so far
    refunds: int  # in how many refunds

    @property
    def left(self) -> int:
        return max(0, self.paid - self.refunded)


def find_order(ref: str) -> Order | None:
    return Order.objects.filter(Q(public_id=ref) | Q(source_id=ref)).order_by("pk").first()


def gift_credits_spent(order_public_ids: list[str]) -> dict[str, int]:
    """Gift card credits spent on each order, net of rollbacks (spends are negative ledger rows)."""
    rows = (GiftCardTransaction.objects.filter(order_id__in=order_public_ids, kind__in=(
        GiftCardTransaction.Kind.SPEND, GiftCardTransaction.Kind.ROLLBACK)).values("order_id")
        .annotate(total=Sum("amount")).order_by())
    return {row["order_id"]: -row["total"] for row in rows}


def refundable_many(orders: list[Order]) -> dict[int, Refundable]:
    """What each order can still refund: two queries, whatever the number of orders."""
    if not orders:
        return {}
    credits = gift_credits_spent([order.public_id for order in orders])
    refunded = {row[0]: row[1:] for row in OrderRefund.objects.filter(order__in=orders).values_list(
        "order_id", "refunded_amount", "refunds")}
    return {order.pk: Refundable(order, max(0, order.total_amount + credits.get(order.public_id, 0)),
                                 *refunded.get(order.pk, (0, 0))) for order in orders}


def refundable(order: Order) -> Refundable:
    return refundable_many([order])[order.pk]


def order_refundable_json(order_public_id: str) -> dict | None:
    order = Order.objects.filter(public_id=order_public_id).first() if order_public_id else None
    if order is None:
        return None
    found = refundable(order)
    return {"id": order.public_id, "source_id": order.source_id, "paid_amount": found.paid,
            "refunded_amount": found.refunded, "refunds": found.refunds, "refundable_amount": found.left}


def pending_refunds(customer: Customer):
    return RefundRequest.objects.filter(customer=customer, status=RefundRequest.Status.PENDING).select_related(
        "card__voucher", "requested_by", "order").order_by("created_at", "id")


def refund_request_json(request: RefundRequest) -> dict:
    return {"object": "gift_card_refund_request", "id": request.public_id, "status": request.status,
            "amount": request.amount, "order": {"id": request.order.public_id if request.order_id else None,
                                                "source_id": request.order_ref},
            "voucher": {"code": request.card.voucher.code} if request.card_id else None,
            "customer_id": request.customer.public_id if request.customer_id else None,
            "reason": request.reason or None, "created_at": _iso(request.created_at)}
