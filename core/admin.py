from django.contrib import admin, messages
from import_export import resources
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from core import services
from core.admin_mixins import AuditedAdminMixin, AuditHistoryMixin, ReadOnlyAdminMixin
from core.models import ApiKey, AsyncAction, AuditEntry, IdempotencyRecord, MetadataSchema


@admin.register(ApiKey)
class ApiKeyAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["name", "app_id", "token_hint", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "app_id"]
    readonly_fields = ["app_id", "token_hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    filter_horizontal = ["categories"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return ["name", "scope", "categories"] if obj is None else super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        categories = list(form.cleaned_data.get("categories") or [])
        if change:
            services.api_key_update(obj, name=obj.name, scope=obj.scope, categories=categories)
            return
        issued = services.api_key_create(name=obj.name, scope=obj.scope, created_by=request.user,
                                         categories=categories)
        obj.pk, obj.app_id = issued.api_key.pk, issued.app_id
        messages.warning(request, f"X-App-Id: {issued.app_id} — X-App-Token: {issued.app_token} "
                                  "(copy the token now: it is stored hashed and cannot be shown again)")

    def save_related(self, request, form, formsets, change):
        pass  # categories are set by the service, with the audit row and the cache cleared

    def delete_model(self, request, obj):
        services.api_key_delete(obj)

    def delete_queryset(self, request, queryset):
        for key in queryset:
            services.api_key_delete(key)

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key)
        messages.success(request, "Revoked.")


@admin.register(AsyncAction)
class AsyncActionAdmin(admin.ModelAdmin):
    list_display = ["public_id", "type", "status", "progress", "processed", "total", "created_at", "finished_at"]
    list_filter = ["status", "type"]
    search_fields = ["public_id", "request_id"]
    readonly_fields = [f.name for f in AsyncAction._meta.fields if f.name != "attachment"]
    exclude = ["attachment"]

    def has_add_permission(self, request):
        return False


@admin.register(MetadataSchema)
class MetadataSchemaAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["related_object", "allow_defined_only", "updated_at"]
    search_fields = ["related_object"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Read-only: which Idempotency-Keys were seen, and what was answered (for support)."""

    list_display = ["key", "scope", "state", "response_status", "created_at"]
    list_filter = ["state", "response_status"]
    search_fields = ["key", "scope"]
    readonly_fields = ["key", "scope", "request_hash", "state", "response_status", "response_body", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AuditEntryResource(resources.ModelResource):
    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "action", "actor", "user", "api_key", "object_type", "object_id",
                  "object_ref", "object_repr", "changes", "extra", "request_id"]
        export_order = fields


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, ExportMixin, admin.ModelAdmin):
    """The audit log: read-only, filterable by object, who and request id, exportable as CSV or XLSX."""

    resource_classes = [AuditEntryResource]
    formats = [CSV, XLSX]
    list_display = ["created_at", "action", "object_type", "object_ref", "object_repr", "actor", "request_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["=object_id", "=object_ref", "=request_id", "actor", "object_repr"]
    search_help_text = "An object id, public id or code, a request id (exact), or who."
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
