"""Admin building blocks every app uses: restricted querysets (core.permissions) and the audit log.

- RestrictedAdminMixin: the changelist shows only rows the user may view, and the change / delete
  permissions are checked per object (category and campaign grants), like the API.
- AuditHistoryMixin: the object's page shows its last changes from the audit log, and the admin's
  "History" button opens the full (exportable) audit log filtered to the object.
- AuditedAdminMixin: also records the admin's own saves and deletes, for models whose changes do not
  go through a service that records them (users, groups, rules, settings ...).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from guardian.admin import ReinforcedGuardedModelAdminMixin

from core import audit, permissions

HISTORY_ROWS = 10


class RestrictedAdminMixin:
    def get_queryset(self, request):
        return permissions.restrict(super().get_queryset(request), request.user, "view")

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return (permissions.has_model_permission(request.user, "view", self.model)
                    or self.has_change_permission(request))
        return permissions.can(request.user, "view", obj)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return permissions.has_model_permission(request.user, "change", self.model)
        return permissions.can(request.user, "change", obj)

    def has_delete_permission(self, request, obj=None):
        if obj is None:
            return permissions.has_model_permission(request.user, "delete", self.model)
        return permissions.can(request.user, "delete", obj)


def audit_log_url(obj=None, **filters) -> str:
    url = reverse("admin:core_auditentry_changelist")
    if obj is not None:
        filters = {"object_type": obj._meta.label_lower, "object_id": str(obj.pk), **filters}
    return f"{url}?{urlencode(filters)}" if filters else url


def _fields_text(row) -> str:
    if row.action in (audit.Action.CREATE, audit.Action.DELETE):
        return f"({row.get_action_display().lower()}d)"
    return ", ".join(row.changes) if isinstance(row.changes, dict) else ""


class AuditHistoryMixin:
    """Adds the read-only field `audit_history` (put it in readonly_fields / fieldsets where wanted; it is
    appended to the form automatically) and sends the "History" button to the audit log."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["audit_history"] if obj is not None and "audit_history" not in fields else fields

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if (obj is not None and "audit_history" not in fields
                and "audit_history" in self.get_readonly_fields(request, obj)):
            fields.append("audit_history")
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and self.fieldsets and not any("audit_history" in opts.get("fields", ())
                                                          for _name, opts in fieldsets):
            fieldsets.append(("Change history", {"fields": ["audit_history"]}))
        return fieldsets

    @admin.display(description="Change history")
    def audit_history(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        rows = list(audit.entries_for(obj)[:HISTORY_ROWS])
        if not rows:
            return format_html('No recorded changes. <a href="{}">Audit log</a>', audit_log_url(obj))
        lines = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            ((row.created_at.strftime("%Y-%m-%d %H:%M:%S"), row.action, row.actor or "system",
              _fields_text(row), row.request_id) for row in rows))
        return format_html('<table class="audit-history"><thead><tr><th>when</th><th>action</th><th>who</th>'
                           '<th>fields</th><th>request id</th></tr></thead><tbody>{}</tbody></table>'
                           '<a href="{}">All changes, with before and after (export as CSV there)</a>',
                           lines, audit_log_url(obj))

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, admin.utils.unquote(object_id))
        if obj is None:
            return super().history_view(request, object_id, extra_context)
        return HttpResponseRedirect(audit_log_url(obj))


class AuditedAdminMixin(AuditHistoryMixin):
    """Records create / update / delete done through this admin into the audit log."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            request._audit_before = getattr(request, "_audit_before", {})
            request._audit_before[(obj._meta.label_lower, str(obj.pk))] = audit.snapshot(obj)
        return obj

    def _before(self, request, obj) -> dict:
        return getattr(request, "_audit_before", {}).get((obj._meta.label_lower, str(obj.pk)), {})

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        extra = {"via": "admin"}
        related = {f.name: sorted(v.pk for v in form.cleaned_data[f.name]) for f in obj._meta.many_to_many
                   if f.name in form.cleaned_data and form.cleaned_data[f.name] is not None
                   and hasattr(form.cleaned_data[f.name], "__iter__")}
        if not change:
            audit.record(audit.Action.CREATE, obj, after={**audit.snapshot(obj), **related}, extra=extra)
            return
        before = self._before(request, obj)
        after = audit.snapshot(obj)
        changes = audit.diff(before, after)
        for name in form.changed_data:
            if name in related:
                changes[name] = ["(changed)", related[name]]
        audit.record(audit.Action.UPDATE, obj, changes=changes, extra=extra)

    def delete_model(self, request, obj):
        audit.record_delete(obj, extra={"via": "admin"})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit.record_delete(obj, extra={"via": "admin"})
        super().delete_queryset(request, queryset)


def _audited_form(form_class, principal_attr: str):
    class AuditedObjectPermissionsForm(form_class):
        def save_obj_perms(self):
            before = sorted(str(p) for p in self.get_obj_perms_field_initial())
            super().save_obj_perms()
            after = sorted(str(p) for p in self.cleaned_data[self.get_obj_perms_field_name()])
            principal = getattr(self, principal_attr)
            name = principal.get_username() if principal_attr == "user" else principal.name
            if before != after:
                audit.record(audit.Action.GRANT, self.obj, changes={f"{principal_attr}:{name}": [before, after]},
                             extra={"via": "admin"})
            if principal_attr == "user":
                permissions.reset_cached_access(principal)

    AuditedObjectPermissionsForm.__name__ = form_class.__name__
    return AuditedObjectPermissionsForm


class ObjectPermissionsAdminMixin(ReinforcedGuardedModelAdminMixin):
    """django-guardian's "Object permissions" pages for one object (which users and groups may read,
    change ... it), open to holders of guardian's own permissions, with every change in the audit log.
    On a category: `campaigns_read` = read-only, + `campaigns_write` = read-write, `campaigns_none` = no access."""

    def get_obj_perms_manage_user_form(self, request):
        return _audited_form(super().get_obj_perms_manage_user_form(request), "user")

    def get_obj_perms_manage_group_form(self, request):
        return _audited_form(super().get_obj_perms_manage_group_form(request), "group")


class ReadOnlyAdminMixin:
    """History and ledgers: shown, never added, edited or deleted in the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ImportExportPermissionsMixin:
    """django-import-export in the admin, guarded by the role: importing (which creates and updates rows)
    needs both the add and the change permission on the model, exporting the view permission. The import's
    confirm step is a dry run (settings.IMPORT_EXPORT_SKIP_ADMIN_CONFIRM is False) and each import runs in
    one transaction (IMPORT_EXPORT_USE_TRANSACTIONS): a failing row leaves nothing behind."""

    def has_import_permission(self, request):
        return all(permissions.has_model_permission(request.user, action, self.model) for action in ("add", "change"))

    def has_export_permission(self, request):
        return permissions.has_model_permission(request.user, "view", self.model)
