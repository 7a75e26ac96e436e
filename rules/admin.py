"""Back-office screens for validation rules (with their assignments) and the limit counters.

Thin: rule definitions and new assignments are checked by rules.services (the same checks as the API);
limit counters only move through rules.counters, so they are read-only here.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from core import audit
from core.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin
from core.errors import ApiError
from rules import services
from rules.models import LimitCounter, ValidationRule, ValidationRuleAssignment


class ValidationRuleForm(forms.ModelForm):
    class Meta:
        model = ValidationRule
        fields = ["name", "type", "context_type", "rules", "bundle_rules", "applicable_to", "inapplicable_to",
                  "included_all", "error_message"]

    def clean(self):
        data = super().clean()
        checks = [("rules", lambda v: services.clean_rules(v)),
                  ("bundle_rules", lambda v: services.clean_bundle_rules(v)),
                  ("applicable_to", lambda v: services.clean_applicable_items(v, "applicable_to")),
                  ("inapplicable_to", lambda v: services.clean_applicable_items(v, "inapplicable_to"))]
        for field, check in checks:
            if field in data:
                try:
                    data[field] = check(data[field])
                except ApiError as exc:
                    self.add_error(field, exc.details)
        if data.get("context_type") and data["context_type"] not in services.CONTEXT_TYPES:
            self.add_error("context_type", "Not a known context type")
        return data


class AssignmentForm(forms.ModelForm):
    related_object_type = forms.ChoiceField(choices=[(t, t) for t in services.RELATED_OBJECT_TYPES])

    class Meta:
        model = ValidationRuleAssignment
        fields = ["related_object_type", "related_object_id"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and data.get("related_object_type") and data.get("related_object_id"):
            try:
                data["related_object_type"], data["related_object_id"] = services.resolve_related_object(
                    data["related_object_type"], data["related_object_id"])
            except ApiError as exc:
                raise ValidationError(exc.details)
            self.instance.related_object_id = data["related_object_id"]
        return data


class AssignmentInline(admin.TabularInline):
    """Existing assignments are listed read-only; new ones are checked like POST .../assignments."""

    model = ValidationRuleAssignment
    form = AssignmentForm
    extra = 0
    fields = ["public_id", "related_object_type", "related_object_id", "created_at"]
    readonly_fields = ["public_id", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ValidationRule)
class ValidationRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ValidationRuleForm
    inlines = [AssignmentInline]
    list_display = ["name", "public_id", "type", "context_type", "created_at", "updated_at"]
    list_filter = ["type", "context_type", "included_all"]
    search_fields = ["name", "public_id", "assignments__related_object_id"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    date_hierarchy = "created_at"

    def save_formset(self, request, form, formset, change):
        """Assignments added or removed on the rule's page are in the audit log too."""
        for deleted in formset.deleted_forms:
            if deleted.instance.pk is not None:
                audit.record_delete(deleted.instance, extra={"via": "admin"})
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            audit.record_create(obj, extra={"via": "admin"})


@admin.register(ValidationRuleAssignment)
class ValidationRuleAssignmentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["public_id", "rule", "related_object_type", "related_object_id", "created_at"]
    list_filter = ["related_object_type"]
    search_fields = ["public_id", "related_object_id", "rule__name", "rule__public_id"]
    list_select_related = ["rule"]

    def has_add_permission(self, request):
        return False  # add assignments on the rule's page, where they are checked

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LimitCounter)
class LimitCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: counters move only through one conditional UPDATE in rules.counters."""

    list_display = ["key", "used", "limit", "updated_at"]
    search_fields = ["key"]
    readonly_fields = ["key", "used", "limit", "updated_at"]
