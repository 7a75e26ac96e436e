"""Segments in the admin: an editor that shows how many customers a filter matches before saving, the
members, and a "Recompute now" action with a progress bar. Writes go through segments.services."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from core.errors import ApiError
from core.models import AsyncAction
from segments import selectors, services
from segments.filters import normalize_segment_filter
from segments.models import Segment, SegmentEvent, SegmentMembership

MEMBERS_SHOWN = 20


def _refs(text: str) -> list[str]:
    return [ref for ref in (part.strip() for part in (text or "").replace(",", "\n").splitlines()) if ref]


class SegmentForm(forms.ModelForm):
    filter = forms.JSONField(required=False, widget=forms.Textarea(attrs={"rows": 12, "cols": 80,
                                                                          "spellcheck": "false"}),
                             help_text='Auto-update and passive segments, e.g. {"junction": "and", '
                                       '"address.city": {"conditions": {"$is": ["London"]}}}. See docs/segments.md.')
    add_customers = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
                                    help_text="Static segments: customer ids or source ids to add, one per line.")
    remove_customers = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
                                       help_text="Static segments: customer ids or source ids to remove.")

    class Meta:
        model = Segment
        fields = ["name", "type", "filter"]

    def clean(self):
        data = super().clean()
        kind = data.get("type") or (self.instance.type if self.instance.pk else None)
        if kind in Segment.DYNAMIC_TYPES:
            if data.get("filter") in (None, ""):
                raise ValidationError({"filter": "A filter is required for auto-update and passive segments."})
            try:
                normalize_segment_filter(data["filter"])
            except ApiError as exc:
                raise ValidationError({"filter": exc.details or exc.message})
        elif data.get("filter"):
            raise ValidationError({"filter": "A static segment takes customers, not a filter."})
        return data


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    change_form_template = "admin/segments/segment/change_form.html"
    list_display = ["name", "public_id", "type", "members", "initial_sync_status", "scheduled_recompute",
                    "last_computed_at", "created_at"]
    list_filter = ["type", "initial_sync_status"]
    search_fields = ["name", "public_id"]
    readonly_fields = ["public_id", "initial_sync_status", "depends_on", "scheduled_recompute", "last_computed_at",
                       "created_at", "updated_at", "member_list"]
    actions = ["recompute_now"]

    def get_queryset(self, request):
        return selectors.with_member_counts(super().get_queryset(request))

    def get_fields(self, request, obj=None):
        editable = ["name", "type", "filter", "add_customers"] + (["remove_customers"] if obj else [])
        return editable + (self.readonly_fields if obj else [])

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "type"] if obj else self.readonly_fields

    @admin.display(description="members", ordering="members_count")
    def members(self, obj) -> int:
        return obj.members_count

    @admin.display(description="members (most recent)")
    def member_list(self, obj):
        customers = list(selectors.members(obj)[:MEMBERS_SHOWN])
        all_url = reverse("admin:segments_segmentmembership_changelist") + f"?segment__id__exact={obj.pk}&left=open"
        items = format_html("".join("<li>{}</li>" for _ in customers), *customers) if customers else "none yet"
        return format_html('<ul id="segment-members">{}</ul><a href="{}">All {} members and past members</a>',
                           items, all_url, selectors.members_count(obj))

    # ---------------------------------------------------------------- writes through the services

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                created = services.segment_create({"name": data["name"], "type": data["type"],
                                                   "filter": data.get("filter") or None,
                                                   "customers": _refs(data.get("add_customers")) or None
                                                   if data["type"] == Segment.Type.STATIC else None}, user=request.user)
                obj.pk, obj.public_id = created.pk, created.public_id
                return
            filter_changed = "filter" in form.changed_data and obj.is_dynamic
            services.segment_update(obj, name=data["name"], raw_filter=data["filter"] if filter_changed else None,
                                    user=request.user)
            if obj.type == Segment.Type.STATIC:
                added = services.segment_add_customers(obj, _refs(data.get("add_customers")))
                removed = services.segment_remove_customers(obj, _refs(data.get("remove_customers")))
                if added or removed:
                    messages.info(request, f"{added} customers added, {removed} removed.")
        except ApiError as exc:
            messages.error(request, exc.details or exc.message)

    def delete_model(self, request, obj):
        services.segment_delete(obj)

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            services.segment_delete(segment)

    @admin.action(description="Recompute now")
    def recompute_now(self, request, queryset):
        actions = [services.segment_recompute_start(segment, user=request.user) for segment in queryset]
        if len(actions) == 1:
            return redirect("admin:segments_segment_progress", queryset.first().pk, actions[0].public_id)
        messages.success(request, f"Recomputing {len(actions)} segments (see Async actions for progress).")
        return None

    # ---------------------------------------------------------------- staff-only pages and JSON

    def get_urls(self):
        own = [
            path("preview-count/", self.admin_site.admin_view(self.preview_count_view),
                 name="segments_segment_preview_count"),
            path("<int:pk>/recompute/", self.admin_site.admin_view(self.recompute_view),
                 name="segments_segment_recompute"),
            path("<int:pk>/progress/<str:action_id>/", self.admin_site.admin_view(self.progress_view),
                 name="segments_segment_progress"),
            path("progress/<str:action_id>.json", self.admin_site.admin_view(self.progress_json_view),
                 name="segments_segment_progress_json"),
        ]
        return own + super().get_urls()

    def preview_count_view(self, request):
        """POST {"filter": {...}} -> {"count": n}: how many customers the filter matches now."""
        if request.method != "POST" or not self.has_view_or_change_permission(request):
            return JsonResponse({"error": "POST a filter"}, status=405 if request.method != "POST" else 403)
        try:
            payload = json.loads(request.body or b"{}")
            raw = payload.get("filter") if isinstance(payload, dict) else None
            if isinstance(raw, str):
                raw = json.loads(raw) if raw.strip() else None
            if raw is None:
                return JsonResponse({"error": "Enter a filter first."}, status=400)
            return JsonResponse({"count": selectors.preview_count(raw)})
        except ValueError:
            return JsonResponse({"error": "The filter is not valid JSON."}, status=400)
        except ApiError as exc:
            return JsonResponse({"error": exc.details or exc.message}, status=400)

    def recompute_view(self, request, pk: int):
        if not self.has_change_permission(request):
            return JsonResponse({"error": "forbidden"}, status=403)
        return require_POST(self._recompute)(request, pk)

    def _recompute(self, request, pk: int):
        segment = get_object_or_404(Segment, pk=pk)
        action = services.segment_recompute_start(segment, user=request.user)
        return redirect("admin:segments_segment_progress", segment.pk, action.public_id)

    def progress_view(self, request, pk: int, action_id: str):
        segment = get_object_or_404(Segment, pk=pk)
        action = get_object_or_404(AsyncAction, public_id=action_id, type=services.RECOMPUTE_ACTION)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "segment": segment,
                   "action": action, "title": f"Recomputing {segment.name}",
                   "status_url": reverse("admin:segments_segment_progress_json", args=[action.public_id]),
                   "segment_url": reverse("admin:segments_segment_change", args=[segment.pk])}
        return TemplateResponse(request, "admin/segments/segment/progress.html", context)

    def progress_json_view(self, request, action_id: str):
        action = get_object_or_404(AsyncAction, public_id=action_id, type=services.RECOMPUTE_ACTION)
        return JsonResponse({"status": action.status, "progress": action.progress, "processed": action.processed,
                             "total": action.total, "result": action.result})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **self._editor_context(object_id)}
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, {**(extra_context or {}), **self._editor_context(None)})

    def _editor_context(self, object_id) -> dict:
        context = {"preview_url": reverse("admin:segments_segment_preview_count")}
        if object_id is not None and str(object_id).isdigit():
            context["recompute_url"] = reverse("admin:segments_segment_recompute", args=[object_id])
        return context


class OpenFilter(admin.SimpleListFilter):
    title, parameter_name = "membership", "left"

    def lookups(self, request, model_admin):
        return [("open", "Current members"), ("closed", "Past members")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(left_at__isnull=True)
        if self.value() == "closed":
            return queryset.filter(left_at__isnull=False)
        return queryset


class ReadOnly(admin.ModelAdmin):
    """Rows written by the services only."""

    def has_add_permission(self, request):
        return False

    has_change_permission = has_delete_permission = lambda self, request, obj=None: False  # noqa: E731


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(ReadOnly):
    list_display = ["customer", "segment", "entered_at", "left_at"]
    list_filter = [OpenFilter, "segment"]
    list_select_related = ["customer", "segment"]
    search_fields = ["customer__source_id", "customer__email", "customer__public_id"]
    show_full_result_count = False


@admin.register(SegmentEvent)
class SegmentEventAdmin(ReadOnly):
    list_display = ["type", "customer", "segment", "created_at"]
    list_filter = ["type", "segment"]
    list_select_related = ["customer", "segment"]
    search_fields = ["customer__source_id", "customer__public_id"]
    show_full_result_count = False
