"""Gift cards: stored value the merchant owes.

A gift card is a promo.Voucher of type GIFT_VOUCHER; its money lives here:

- GiftCard (one row per voucher, same primary key): lifetime `amount` credited, `redeemed_amount`
  (spends net of rollbacks), `subtracted_amount` (removals and expiries) and the spendable `balance`,
  tied by CHECK balance = amount - subtracted_amount - redeemed_amount and CHECK balance >= 0.
  Temporary credit counts in the balance while it lasts.
- GiftCardCredit: a bucket of temporary credit ("spend it by midnight"), spent before the rest and
  removed by the expiry job; CHECK 0 <= remaining <= amount.
- GiftCardTransaction: the ledger, one immutable row per movement. The balance always equals the
  sum of the card's movements (giftcards.selectors.reconciliation checks it).
- OrderRefund: what has been refunded to gift cards against an order, the counter that caps refunds at
  what the order was paid; RefundRequest: a refund waiting for a second person's approval.

Every change goes through giftcards.services: one conditional UPDATE per movement and its ledger
row in the same transaction.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.fields import PublicIdField


class GiftCard(models.Model):
    class Effect(models.TextChoices):
        APPLY_TO_ORDER = "APPLY_TO_ORDER"
        APPLY_TO_ITEMS = "APPLY_TO_ITEMS"

    voucher = models.OneToOneField("promo.Voucher", primary_key=True, on_delete=models.PROTECT,
                                   related_name="gift_card")
    face_value = models.BigIntegerField(help_text="Credit the card was issued with, minor units.")
    sold_price = models.BigIntegerField(null=True, blank=True,
                                        help_text="What the buyer paid (below face value for promotions and "
                                                  "partner sales); empty: face value.")
    amount = models.BigIntegerField(default=0, help_text="Lifetime credit: issue, top-ups, refunds.")
    redeemed_amount = models.BigIntegerField(default=0, help_text="Spent in redemptions, net of rollbacks.")
    subtracted_amount = models.BigIntegerField(default=0, help_text="Removed by staff or the API, and expired.")
    balance = models.BigIntegerField(default=0, help_text="Spendable now (temporary credit included).")
    locked_amount = models.BigIntegerField(default=0, help_text="Part of the balance reserved by validation "
                                                                "sessions (GiftCardReservation rows, incl. expired "
                                                                "ones not yet released).")
    effect = models.CharField(max_length=20, choices=Effect.choices, default=Effect.APPLY_TO_ORDER)
    country = models.CharField(max_length=120, blank=True, help_text="Country whose expiry law was applied.")
    expiry_rule = models.TextField(blank=True, help_text="Why the card expires when it does (or never).")
    law_sets_expiry = models.BooleanField(default=False, help_text="The expiry law overrides the campaign's end.")
    origin = models.CharField(max_length=40, blank=True,
                              help_text="campaign, standalone, bulk, refund, birthday ...")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="giftcard_balance_gte_0"),
            models.CheckConstraint(condition=Q(redeemed_amount__gte=0) & Q(subtracted_amount__gte=0)
                                   & Q(amount__gte=0), name="giftcard_totals_gte_0"),
            models.CheckConstraint(condition=Q(balance=F("amount") - F("subtracted_amount") - F("redeemed_amount")),
                                   name="giftcard_balance_is_income_less_outgoings"),
            models.CheckConstraint(condition=Q(locked_amount__gte=0), name="giftcard_locked_amount_gte_0"),
        ]
        # Customer Service refunds onto cards without being allowed to change them otherwise.
        permissions = [("refund_giftcard", "Can refund to a gift card"),
                       ("issue_giftcard", "Can issue gift cards for a partner or event"),
                       ("approve_refund", "Can approve a refund to a gift card above the approval threshold")]

    def __str__(self) -> str:
        return f"gift card {self.voucher_id}"

    @property
    def paid(self) -> int:
        return self.face_value if self.sold_price is None else self.sold_price


class GiftCardCredit(models.Model):
    """Temporary credit on a card: spent first, removed at `expires_at` by the expiry job (an expiry
    row in the ledger)."""

    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="credits")
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    expires_at = models.DateTimeField(db_index=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                                   name="giftcard_credit_remaining_within_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.amount} until {self.expires_at:%Y-%m-%d %H:%M}"


class GiftCardReservation(models.Model):
    """Credits a validation session (`session: {type: LOCK}`) reserved on a card until `expires_at`:
    counted in GiftCard.locked_amount, so no other checkout can spend them; the redemption with the same
    session key consumes the row, DELETE of the session or expiry releases it. The row is the claim
    ticket: whoever deletes it (once) moves locked_amount."""

    card = models.ForeignKey(GiftCard, on_delete=models.CASCADE, related_name="reservations")
    session_key = models.CharField(max_length=255)
    amount = models.BigIntegerField()
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["card", "session_key"], name="giftcard_reservation_once_per_session"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="giftcard_reservation_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} for {self.session_key} until {self.expires_at:%Y-%m-%d %H:%M}"


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Gift card ledger rows are immutable")

    def delete(self):
        raise TypeError("Gift card ledger rows are immutable")


class GiftCardTransaction(models.Model):
    """One movement of a card's balance. Never updated or deleted."""

    class Kind(models.TextChoices):
        ISSUE = "issue"
        TOP_UP = "top_up"
        SPEND = "spend"
        ROLLBACK = "rollback"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"
        EXPIRY = "expiry"

    public_id = PublicIdField(prefix="vtx_")
    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    amount = models.BigIntegerField(help_text="Signed: credit positive, debit negative.")
    balance_after = models.BigIntegerField()
    temporary_amount = models.BigIntegerField(default=0, help_text="Part of `amount` in temporary credit.")
    reason = models.TextField(blank=True)
    # Who: "api_key:<name>", "user:<username>" or "system:<job>"; channel API, USER or SYSTEM.
    actor = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=10, default="API")
    api_key = models.ForeignKey("core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    # Where from: the merchant's transaction id, a redemption, an order.
    source_id = models.CharField(max_length=255, blank=True)
    redemption_id = models.CharField(max_length=64, blank=True, db_index=True)
    order_id = models.CharField(max_length=64, blank=True)
    order_source_id = models.CharField(max_length=255, blank=True)
    related = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="The spend a rollback gives back.")
    credit = models.ForeignKey(GiftCardCredit, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="transactions", help_text="The temporary credit added or expired.")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["card"], condition=Q(kind="issue"), name="giftcard_issued_once"),
            models.UniqueConstraint(fields=["related"], condition=Q(kind="rollback"),
                                    name="giftcard_spend_rolled_back_once"),
        ]
        indexes = [models.Index(fields=["card", "id"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Gift card ledger rows are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Gift card ledger rows are immutable")


class ExpiryLaw(models.Model):
    """What a country's law says about gift card expiry, applied when a card is issued to a customer
    of that country (the customer's address country, matched case-insensitively on code or name)."""

    country = models.CharField(max_length=120, unique=True, help_text="ISO code or name as customers store it.")
    aliases = models.CharField(max_length=255, blank=True, help_text="Other spellings, comma-separated.")
    no_expiry = models.BooleanField(default=False, help_text="Gift cards may not expire.")
    min_validity_years = models.PositiveSmallIntegerField(null=True, blank=True,
                                                          help_text="Minimum validity from issue, in years.")
    note = models.CharField(max_length=255, blank=True, help_text="The law's name, shown in the explanation.")

    class Meta:
        ordering = ["country"]
        verbose_name_plural = "expiry laws"

    def __str__(self) -> str:
        return self.country


class BirthdayGift(models.Model):
    """A birthday card issued to a customer: UNIQUE (customer, year), so once per year."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    card = models.OneToOneField(GiftCard, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "year"], name="birthday_gift_once_a_year")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.year}"


class OrderRefund(models.Model):
    """What has been refunded to gift cards against one order. Raised by one conditional UPDATE within what
    the order can still refund (giftcards.refunds), so concurrent refunds of an order never pass it."""

    order = models.OneToOneField("customers.Order", primary_key=True, on_delete=models.CASCADE, related_name="+")
    refunded_amount = models.BigIntegerField(default=0)
    refunds = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="order_refund_amount_gte_0")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.refunded_amount} refunded"


class RefundRequest(models.Model):
    """A refund to a gift card above GIFTCARD_REFUND_APPROVAL_ABOVE, waiting for someone other than its
    requester with `giftcards.approve_refund`; approving it makes the refund (giftcards.refunds)."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        APPROVED = "APPROVED"
        REJECTED = "REJECTED"

    public_id = PublicIdField(prefix="gcrr_")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    amount = models.BigIntegerField()
    order = models.ForeignKey("customers.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    order_ref = models.CharField(max_length=255, help_text="The order as the requester named it.")
    card = models.ForeignKey(GiftCard, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                             help_text="An existing card; empty: a new card for the customer.")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", help_text="Whose refund it is (the new card's holder).")
    campaign = models.CharField(max_length=255, blank=True, help_text="The new card's GIFT_VOUCHERS campaign.")
    reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    api_key = models.ForeignKey("core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    transaction = models.OneToOneField(GiftCardTransaction, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+", help_text="The refund made when it was approved.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_request_amount_gt_0")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} for {self.order_ref} ({self.status})"
