"""Back-office screens for customers, orders, custom events and the customer timeline.

Thin on purpose: deleting a customer hides it and erasing one anonymises it through the services, and any
order saved here (form or import) has its customer aggregates brought in line by
services.order_sync_contribution, exactly once. Aggregates are read-only everywhere.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from core.admin_mixins import AuditedAdminMixin, ImportExportPermissionsMixin
from core.errors import ApiError
from core.metadata import validate_metadata
from customers import services
from customers.models import (
    Consent,
    Customer,
    CustomerActivity,
    CustomerConsent,
    CustomerConsentEvent,
    CustomEvent,
    Order,
    OrderItem,
)

AGGREGATES = ["orders_total_count", "orders_total_amount", "last_order_amount", "last_order_date",
              "first_order_date"]


def _metadata_problems(related_object: str, metadata) -> str | None:
    try:
        validate_metadata(related_object, metadata)
    except ApiError as exc:
        return exc.details
    return None


def _check_metadata(related_object: str, metadata) -> None:
    problems = _metadata_problems(related_object, metadata)
    if problems:
        raise ValidationError({"metadata": problems})


# ---------------------------------------------------------------- import / export resources

class CustomerResource(resources.ModelResource):
    """CSV/XLSX rows matched by source_id; ids and aggregates are exported but never imported."""

    id = fields.Field(attribute="public_id", column_name="id", readonly=True)
    orders_total_count = fields.Field(attribute="orders_total_count", column_name="orders_total_count",
                                      readonly=True)
    orders_total_amount = fields.Field(attribute="orders_total_amount", column_name="orders_total_amount",
                                       readonly=True)
    last_order_date = fields.Field(attribute="last_order_date", column_name="last_order_date", readonly=True)

    class Meta:
        model = Customer
        import_id_fields = ("source_id",)
        fields = ("id", "source_id", "name", "email", "phone", "birthdate", "description", "address_line_1",
                  "address_line_2", "address_city", "address_state", "address_postal_code", "address_country",
                  "metadata", "orders_total_count", "orders_total_amount", "last_order_date", "created_at")
        export_order = fields
        skip_unchanged = True
        clean_model_instances = True

    def get_queryset(self):
        return Customer.objects.filter(deleted_at__isnull=True)

    def before_save_instance(self, instance, row, **kwargs):
        if not instance.source_id:
            raise ValidationError({"source_id": "source_id is required (rows are matched by it)"})
        _check_metadata("customer", instance.metadata)

    def do_instance_save(self, instance, is_create):
        super().do_instance_save(instance, is_create)
        kind = "customer.created" if is_create else "customer.updated"
        services.customer_activity_create(instance, kind, {"source": "admin_import"})


class OrderResource(resources.ModelResource):
    """Orders matched by source_id, their customer by its source_id."""

    id = fields.Field(attribute="public_id", column_name="id", readonly=True)
    customer = fields.Field(attribute="customer", column_name="customer_source_id",
                            widget=widgets.ForeignKeyWidget(Customer, "source_id"))

    class Meta:
        model = Order
        import_id_fields = ("source_id",)
        fields = ("id", "source_id", "status", "amount", "discount_amount", "customer", "metadata", "ordered_at",
                  "created_at")
        export_order = fields
        skip_unchanged = True
        clean_model_instances = True

    def before_save_instance(self, instance, row, **kwargs):
        _check_metadata("order", instance.metadata)

    def after_save_instance(self, instance, row, **kwargs):
        services.order_sync_contribution(instance.pk)


# ---------------------------------------------------------------- customers

EDITABLE_CUSTOMER_FIELDS = ["source_id", "name", "email", "phone", "birthdate", "description", "address_line_1",
                            "address_line_2", "address_city", "address_state", "address_postal_code",
                            "address_country", "metadata"]


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = EDITABLE_CUSTOMER_FIELDS

    def clean_metadata(self):
        metadata = self.cleaned_data.get("metadata") or {}
        problems = _metadata_problems("customer", metadata)
        if problems:
            raise ValidationError(problems)
        return metadata


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CustomerConsentInline(_ReadOnlyInline):
    """The current consents; they change through PUT /v1/customers/{id}/consents, which keeps the history."""

    model = CustomerConsent
    fields = readonly_fields = ["consent", "granted", "updated_at", "last_event"]
    verbose_name_plural = "consents (current)"


class CustomerConsentEventInline(_ReadOnlyInline):
    model = CustomerConsentEvent
    fields = readonly_fields = ["created_at", "consent", "granted", "channel", "source", "request_id"]
    ordering = ["-created_at", "-id"]
    verbose_name_plural = "consent history"


@admin.register(Customer)
class CustomerAdmin(ImportExportPermissionsMixin, ImportExportModelAdmin):
    form = CustomerAdminForm
    inlines = [CustomerConsentInline, CustomerConsentEventInline]
    resource_classes = [CustomerResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    list_display = ["public_id", "source_id", "name", "email", "phone", "address_city", "address_country",
                    "orders_total_count", "orders_total_amount", "last_order_date", "created_at", "deleted_at"]
    search_fields = ["email", "phone", "name", "source_id", "public_id"]
    list_filter = ["address_country", "address_city", ("deleted_at", admin.EmptyFieldListFilter),
                   ("anonymized_at", admin.EmptyFieldListFilter), "created_at", "last_order_date"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", *AGGREGATES, "system_metadata", "deleted_at", "anonymized_at", "created_at",
                       "updated_at"]
    fieldsets = [
        (None, {"fields": ["public_id", "source_id", "name", "email", "phone", "birthdate", "description"]}),
        ("Address", {"fields": ["address_line_1", "address_line_2", "address_city", "address_state",
                                "address_postal_code", "address_country"]}),
        ("Metadata", {"fields": ["metadata", "system_metadata"]}),
        ("Orders (PAID and FULFILLED only)", {"fields": AGGREGATES}),
        ("Lifecycle", {"fields": ["created_at", "updated_at", "deleted_at", "anonymized_at"]}),
    ]
    actions = ["erase_personal_data"]

    def get_deleted_objects(self, objs, request):
        """Nothing is really deleted (orders PROTECT the row), so the confirmation lists only the customers."""
        return [str(obj) for obj in objs], {"customers": len(objs)}, set(), []

    def delete_model(self, request, obj):
        """Deleting hides the customer (orders and history stay), exactly like DELETE /v1/customers/{id}."""
        if obj.deleted_at is None:
            services.customer_delete(obj)

    def delete_queryset(self, request, queryset):
        for customer in queryset.filter(deleted_at__isnull=True):
            services.customer_delete(customer)

    @admin.action(description="Erase personal data (permanent deletion)")
    def erase_personal_data(self, request, queryset):
        erased = 0
        for customer in queryset.filter(anonymized_at__isnull=True):
            services.customer_erase(customer)
            erased += 1
        messages.success(request, f"Erased the personal data of {erased} customer(s).")


# ---------------------------------------------------------------- orders

class OrderItemInline(admin.TabularInline):
    """Items come from the integration with the order; shown, not edited (amounts must stay consistent)."""

    model = OrderItem
    extra = 0
    can_delete = False
    fields = ["position", "related_object", "source_id", "product", "sku", "quantity", "price", "amount",
              "discount_amount", "metadata"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ImportExportPermissionsMixin, ImportExportModelAdmin):
    resource_classes = [OrderResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    inlines = [OrderItemInline]
    list_display = ["public_id", "source_id", "status", "customer", "amount", "discount_amount", "ordered_at",
                    "created_at"]
    list_filter = ["status", "ordered_at", "created_at"]
    search_fields = ["public_id", "source_id", "customer__email", "customer__source_id", "customer__public_id"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "referrer"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", "counted_amount", "counted_customer", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.order_sync_contribution(obj.pk)


# ---------------------------------------------------------------- timeline (read-only)

class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CustomEvent)
class CustomEventAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "name", "customer", "created_at"]
    list_filter = ["name", "created_at"]
    search_fields = ["public_id", "name", "customer__source_id", "customer__email", "customer__public_id"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"


@admin.register(CustomerActivity)
class CustomerActivityAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "type", "customer", "group_id", "created_at"]
    list_filter = ["type", "created_at"]
    search_fields = ["public_id", "type", "group_id", "customer__source_id", "customer__email",
                     "customer__public_id"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"


# ---------------------------------------------------------------- consents (marketing permissions)

class ConsentAdminForm(forms.ModelForm):
    class Meta:
        model = Consent
        fields = ["name", "category", "description"]

    def clean_name(self):
        try:
            return services.clean_consent_name(self.cleaned_data.get("name") or "")
        except ApiError as exc:
            raise ValidationError(exc.details)


@admin.register(Consent)
class ConsentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ConsentAdminForm
    list_display = ["name", "public_id", "category", "created_at"]
    list_filter = ["category"]
    search_fields = ["name", "public_id", "description"]
    readonly_fields = ["public_id", "created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False  # customers' consent history refers to it


@admin.register(CustomerConsentEvent)
class CustomerConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "customer", "consent", "granted", "channel", "request_id", "created_at"]
    list_filter = ["consent", "granted", "channel", "created_at"]
    search_fields = ["public_id", "request_id", "customer__source_id", "customer__email", "customer__public_id"]
    list_select_related = ["customer", "consent"]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None):
        return False
