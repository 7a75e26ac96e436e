from django.db import models

from core.fields import PublicIdField, TimeStampedModel


class Customer(TimeStampedModel):
    public_id = PublicIdField(prefix="cust_")
    source_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    email = models.EmailField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=50, blank=True, db_index=True)
    birthdate = models.DateField(null=True, blank=True)
    address_city = models.CharField("city", max_length=120, blank=True, db_index=True)
    address_state = models.CharField("state", max_length=120, blank=True)
    address_line_1 = models.CharField("address line 1", max_length=255, blank=True)
    address_line_2 = models.CharField("address line 2", max_length=255, blank=True)
    address_country = models.CharField("country", max_length=120, blank=True, db_index=True)
    address_postal_code = models.CharField("postal code", max_length=40, blank=True, db_index=True)
    metadata = models.JSONField(default=dict, blank=True)
    system_metadata = models.JSONField(default=dict, blank=True)

    # Order aggregates kept for rules and segments. Only PAID and FULFILLED orders count; each
    # order's contribution is applied exactly once (see Order.counted_amount). None of them is indexed:
    # every counted order updates them, and an update that changes no indexed column is written in
    # place (PostgreSQL's HOT update, with the free space migration 0005 leaves in each page) instead
    # of adding an entry to each of the table's 17 indexes. Segments read them by ranges of ids.
    orders_total_count = models.PositiveBigIntegerField(default=0)
    orders_total_amount = models.BigIntegerField(default=0)
    last_order_amount = models.BigIntegerField(null=True, blank=True)
    last_order_date = models.DateTimeField(null=True, blank=True)
    first_order_date = models.DateTimeField(null=True, blank=True)

    # DELETE hides the customer; permanent deletion also erases personal data. Financial history
    # (orders, redemptions) stays, attached to the anonymised row.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    anonymized_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(orders_total_amount__gte=0), name="customer_orders_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.source_id or self.public_id

    @property
    def address(self) -> dict:
        return {"city": self.address_city or None, "state": self.address_state or None,
                "line_1": self.address_line_1 or None, "line_2": self.address_line_2 or None,
                "country": self.address_country or None, "postal_code": self.address_postal_code or None}


class Order(TimeStampedModel):
    class Status(models.TextChoices):
        CREATED = "CREATED"
        PAID = "PAID"
        CANCELED = "CANCELED"
        FULFILLED = "FULFILLED"

    COUNTED_STATUSES = (Status.PAID, Status.FULFILLED)

    public_id = PublicIdField(prefix="ord_")
    source_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    # No index on status (a handful of values): every index is written by each checkout's order.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    referrer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Amounts in minor units. `amount` is before discounts; the discount fields are filled by
    # redemptions (promo app) and follow the spec: total = amount - total_discount_amount.
    amount = models.BigIntegerField(default=0)
    initial_amount = models.BigIntegerField(null=True, blank=True)
    discount_amount = models.BigIntegerField(default=0)
    items_discount_amount = models.BigIntegerField(default=0)
    applied_discount_amount = models.BigIntegerField(default=0)
    items_applied_discount_amount = models.BigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    # What this order has added to its customer's aggregates (null: nothing). Changed by one
    # conditional UPDATE so a resent or concurrently updated order is counted exactly once.
    counted_amount = models.BigIntegerField(null=True, blank=True, editable=False)
    counted_customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+", editable=False, db_index=False)  # order_counted_by_date
    ordered_at = models.DateTimeField(null=True, blank=True, help_text="When the order was placed (default: created).")

    class Meta:
        ordering = ["-created_at", "-id"]
        # Recomputing a customer's last/first order date reads its counted orders by date.
        indexes = [models.Index(fields=["counted_customer", "ordered_at"], name="order_counted_by_date")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="order_amount_gte_0"),
            models.CheckConstraint(condition=models.Q(discount_amount__gte=0, items_discount_amount__gte=0),
                                   name="order_discounts_gte_0"),
        ]

    def __str__(self) -> str:
        return self.source_id or self.public_id

    @property
    def total_discount_amount(self) -> int:
        return self.discount_amount + self.items_discount_amount

    @property
    def total_amount(self) -> int:
        return self.amount - self.total_discount_amount

    @property
    def total_applied_discount_amount(self) -> int:
        return self.applied_discount_amount + self.items_applied_discount_amount


class OrderItem(models.Model):
    class RelatedObject(models.TextChoices):
        PRODUCT = "product"
        SKU = "sku"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)
    related_object = models.CharField(max_length=10, choices=RelatedObject.choices, default=RelatedObject.PRODUCT)
    source_id = models.CharField(max_length=255, blank=True)
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sku = models.ForeignKey("catalog.Sku", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    quantity = models.PositiveBigIntegerField(default=1)
    price = models.BigIntegerField(null=True, blank=True)
    amount = models.BigIntegerField(default=0)
    discount_amount = models.BigIntegerField(default=0)
    applied_discount_amount = models.BigIntegerField(default=0)
    discount_quantity = models.PositiveBigIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    # Name/price/metadata as sent with the order, so history survives catalog changes.
    product_snapshot = models.JSONField(default=dict, blank=True)
    sku_snapshot = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="order_item_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.source_id or self.product_id or self.sku_id}"

    @property
    def subtotal_amount(self) -> int:
        return self.amount - self.discount_amount


class CustomEvent(models.Model):
    """A custom event sent by an integration (POST /v1/events): drives earning rules, segments, triggers."""

    public_id = PublicIdField(prefix="evcus_")
    name = models.CharField(max_length=255, db_index=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "name", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"


class CustomerActivity(models.Model):
    """The customer's timeline (/v1/customers/{id}/activity), written explicitly by services."""

    public_id = PublicIdField(prefix="cact_")
    # db_index off: the timeline index (customer, created_at) serves lookups by customer; every redemption
    # writes timeline rows, and each index is one more entry per row.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="activities", db_index=False)
    type = models.CharField(max_length=80, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    # The request that caused it (the spec's group_id), to find it in the logs.
    group_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "customer activities"
        indexes = [models.Index(fields=["customer", "created_at"], name="customer_activity_timeline")]

    def __str__(self) -> str:
        return f"{self.type} ({self.customer_id})"


class Consent(TimeStampedModel):
    """A marketing permission customers may grant or withdraw ("newsletter", "sms", "profiling")."""

    public_id = PublicIdField(prefix="cnst_")
    name = models.CharField(max_length=100, unique=True,
                            help_text="How API requests, rules and segment filters name it, e.g. newsletter.")
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True, help_text="A grouping for forms and reports.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerConsentEvent(models.Model):
    """One statement of a customer about a consent (granted or withdrawn): an immutable history row."""

    public_id = PublicIdField(prefix="cnsev_")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="+")
    granted = models.BooleanField()
    # Where the statement came from: api, admin, erasure, or what the integration sends (web, pos ...).
    channel = models.CharField(max_length=50, blank=True)
    # Free text of the integration (the form, the campaign); blanked when the customer is erased.
    source = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "consent", "created_at"], name="consent_event_history")]

    def __str__(self) -> str:
        return f"{self.consent_id} {'granted' if self.granted else 'withdrawn'} ({self.customer_id})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Consent history rows are immutable")
        super().save(*args, **kwargs)


class CustomerConsent(models.Model):
    """The current state of one consent of one customer: the latest history row, written with it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="+")
    granted = models.BooleanField()
    last_event = models.ForeignKey(CustomerConsentEvent, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["customer", "consent"]
        constraints = [models.UniqueConstraint(fields=["customer", "consent"], name="customer_consent_once")]
        # Segment filters ("granted the newsletter") read the granted rows of one consent.
        indexes = [models.Index(fields=["consent", "granted"], name="customer_consent_granted")]

    def __str__(self) -> str:
        return f"{self.consent_id}={self.granted} ({self.customer_id})"
