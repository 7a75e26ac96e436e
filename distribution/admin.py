"""Webhooks in the admin: endpoints (the secret is shown once, on creation or rotation; "Send test event"),
and their deliveries (read-only, with a "Retry now" action). Writes go through distribution.services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from core.admin_mixins import AuditHistoryMixin
from core.errors import ApiError
from distribution import events, services
from distribution.models import WebhookDelivery, WebhookEndpoint


def _types(text: str) -> list[str]:
    return [part for part in (item.strip() for item in (text or "").replace(",", "\n").splitlines()) if part]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https",
                         help_text="Where events are POSTed; https (http only for localhost in development).")
    event_types_text = forms.CharField(
        label="Event types", initial="*", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text='One per line (or comma separated): "*" for all, "campaign.*", or names among: '
                  + ", ".join(sorted(events.EVENT_TYPES)) + ".")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["event_types_text"] = "\n".join(self.instance.event_types)

    def clean_url(self):
        try:
            return services.validate_url(self.cleaned_data["url"])
        except ApiError as exc:
            raise ValidationError(exc.details or exc.message)

    def clean_event_types_text(self):
        try:
            return services.validate_event_types(_types(self.cleaned_data["event_types_text"]))
        except ApiError as exc:
            raise ValidationError(exc.details or exc.message)


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["public_id", "event_type", "status", "attempts", "last_response_status", "next_attempt_at",
              "created_at"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    extra = 0
    max_num = 0
    show_change_link = True
    can_delete = False

    def get_queryset(self, request):
        # The newest few; the deliveries list has them all.
        ids = list(super().get_queryset(request).order_by("-created_at", "-id").values_list("pk", flat=True)[:20])
        return super().get_queryset(request).filter(pk__in=ids)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "public_id", "subscribed", "active", "description", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "public_id", "description"]
    readonly_fields = ["public_id", "secret_hint", "created_at", "updated_at"]
    actions = ["send_test_event", "rotate_secret"]
    inlines = [DeliveryInline]

    def get_fields(self, request, obj=None):
        editable = ["url", "event_types_text", "description", "active"]
        return editable + (["public_id", "secret_hint", "created_at", "updated_at"] if obj else [])

    @admin.display(description="event types")
    def subscribed(self, obj) -> str:
        return ", ".join(obj.event_types)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {"url": data["url"], "event_types": data["event_types_text"], "description": data["description"],
                  "active": data["active"]}
        if change:
            services.endpoint_update(WebhookEndpoint.objects.get(pk=obj.pk), **fields)  # audited from the stored row
            return
        created = services.endpoint_create(**fields)
        obj.pk, obj.public_id, obj.secret = created.pk, created.public_id, created.secret
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        self._show_secret(request, created)

    def delete_model(self, request, obj):
        services.endpoint_delete(obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_delete(endpoint)

    def _show_secret(self, request, endpoint):
        messages.warning(request, format_html(
            "Signing secret of {}: <code class=\"webhook-secret\">{}</code> - copy it now, it is not shown again.",
            endpoint.url, endpoint.secret))

    @admin.action(description="Send test event", permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            delivery = services.endpoint_send_test(endpoint)
            delivery.refresh_from_db()
            level = messages.SUCCESS if delivery.status == WebhookDelivery.Status.SUCCEEDED else messages.WARNING
            outcome = delivery.status if delivery.attempts else "queued"
            detail = f" ({delivery.last_response_status or delivery.last_error})" \
                if delivery.attempts and delivery.status != WebhookDelivery.Status.SUCCEEDED else ""
            self.message_user(request, f"Test event to {endpoint.url}: {outcome}{detail}", level)

    @admin.action(description="Rotate signing secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            self._show_secret(request, services.endpoint_rotate_secret(endpoint))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["public_id", "event_type", "endpoint", "status", "attempts", "last_response_status",
                    "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["public_id", "event_id", "endpoint__url", "endpoint__public_id"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", "endpoint", "event_id", "event_type", "campaign", "status", "attempts",
                       "next_attempt_at", "last_attempt_at", "last_response_status", "last_error", "delivered_at",
                       "payload", "created_at", "updated_at"]
    fields = readonly_fields
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("distribution.change_webhookendpoint")

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        done, busy = 0, 0
        for delivery in queryset.select_related("endpoint"):
            try:
                services.delivery_retry(delivery)
                done += 1
            except ApiError:
                busy += 1
        self.message_user(request, f"{done} deliveries sent again" + (f", {busy} skipped (in progress)" if busy
                                                                        else "") + ".")
