"""Bulk actions on vouchers in the admin: enable, disable, extend the expiry date and change metadata of many
codes at once, in the background with a progress page.

Thin: the work is the API's async bulk updates (promo.campaigns.vouchers_bulk_update_start, behind
POST /v1/vouchers/bulk/async, and vouchers_metadata_update_start, behind /v1/vouchers/metadata/async). They
run as the staff user who started them, restricted like the API, and write one audit row per code changed
with the async action's id. Small enable / disable selections are applied at once instead.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from core.errors import ApiError
from core.models import AsyncAction
from core.permissions import has_perm, restrict
from promo import campaigns as services

BULK_TYPES = (services.BULK_ACTION, services.METADATA_ACTION)
SYNC_TOGGLE_LIMIT = 100  # enable / disable of at most this many codes happens at once, more in the background
SAMPLE = 10


class ExpiryForm(forms.Form):
    expiration_date = forms.DateTimeField(
        label="New expiry date", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Every selected code expires at this moment (in the project's time zone).")

    def clean_expiration_date(self):
        value = self.cleaned_data["expiration_date"]
        if value <= timezone.now():
            raise forms.ValidationError("Choose a moment in the future.")
        return value

    def items(self, codes: list[str]) -> tuple[str, list[dict]]:
        moment = self.cleaned_data["expiration_date"].isoformat()
        return services.BULK_ACTION, [{"code": code, "expiration_date": moment} for code in codes]


class MetadataForm(forms.Form):
    metadata = forms.JSONField(
        label="Metadata to set", widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text='A JSON object merged into each code\'s metadata, e.g. {"batch": "spring", "printed": true}; '
                  "other keys stay as they are.")

    def clean_metadata(self):
        value = self.cleaned_data["metadata"]
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError("Enter a non-empty JSON object.")
        return value

    def items(self, codes: list[str]) -> tuple[str, dict]:
        return services.METADATA_ACTION, {"codes": codes, "metadata": self.cleaned_data["metadata"]}


class ActiveForm(forms.Form):
    def __init__(self, *args, active: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.active = active

    def items(self, codes: list[str]) -> tuple[str, list[dict]]:
        return services.BULK_ACTION, [{"code": code, "active": self.active} for code in codes]


def _codes(queryset) -> list[str]:
    return list(queryset.order_by("pk").values_list("code", flat=True)[:services.MAX_BULK_ITEMS + 1])


def start(request, kind: str, payload) -> AsyncAction:
    if kind == services.METADATA_ACTION:
        return services.vouchers_metadata_update_start(payload["codes"], payload["metadata"], user=request.user)
    return services.vouchers_bulk_update_start(payload, user=request.user)


def bulk_action(modeladmin, request, queryset, form, *, title: str, button: str):
    """One admin action in two steps: a page asking for the value (the form), then the async action and a
    redirect to its progress page. Only codes the user may change are included."""
    changeable = restrict(queryset, request.user, "change")
    if "apply" in request.POST and form.is_bound and form.is_valid():
        codes = _codes(changeable)
        if not codes:
            modeladmin.message_user(request, "None of the selected codes may be changed by you.", messages.ERROR)
            return None
        if len(codes) > services.MAX_BULK_ITEMS:
            modeladmin.message_user(request, f"Select at most {services.MAX_BULK_ITEMS} codes at once (filter the "
                                             "list first).", messages.ERROR)
            return None
        try:
            action = start(request, *form.items(codes))
        except ApiError as exc:
            modeladmin.message_user(request, exc.details or exc.message, messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:promo_voucher_bulk_progress", args=[action.public_id]))
    count = changeable.count()
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta, "title": title,
               "form": form, "button": button, "count": count,
               "sample": list(changeable.order_by("pk").values_list("code", flat=True)[:SAMPLE]),
               "too_many": count > services.MAX_BULK_ITEMS, "max_items": services.MAX_BULK_ITEMS,
               "action": request.POST.get("action", ""),
               "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
               "select_across": request.POST.get("select_across", "0"),
               "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME}
    return TemplateResponse(request, "admin/promo/voucher/bulk_form.html", context)


def form_for(request, form_class, **kwargs):
    return form_class(request.POST if "apply" in request.POST else None, **kwargs)


def toggle(modeladmin, request, queryset, active: bool):
    """Enable / disable: at once for a few codes (and for customer service, who may only toggle codes it
    sees), in the background with progress for many."""
    may_change = modeladmin.has_change_permission(request)
    if may_change:
        changeable = restrict(queryset, request.user, "change")
        if "apply" in request.POST or changeable[:SYNC_TOGGLE_LIMIT + 1].count() > SYNC_TOGGLE_LIMIT:
            verb = "Enable" if active else "Disable"
            return bulk_action(modeladmin, request, queryset, form_for(request, ActiveForm, active=active),
                               title=f"{verb} codes in the background", button=f"{verb} them")
    elif not has_perm(request.user, "promo.disable_voucher"):
        return None
    togglable = restrict(queryset, request.user, "change" if may_change else "view")
    done = 0
    for voucher in togglable:
        services.voucher_set_active(voucher, active)
        done += 1
    modeladmin.message_user(request, f"{'Enabled' if active else 'Disabled'}: {done} code(s).")
    return None


# ---------------------------------------------------------------- progress

def visible_action(request, action_id: str) -> AsyncAction:
    """The bulk action, for the user who started it or who may view async actions."""
    if not action_id or "\x00" in action_id:
        raise Http404
    rows = AsyncAction.objects.filter(public_id=action_id, type__in=BULK_TYPES)
    if not (request.user.is_superuser or has_perm(request.user, "core.view_asyncaction")):
        rows = rows.filter(user=request.user)
    return get_object_or_404(rows)


def progress_view(modeladmin, request, action_id: str):
    action = visible_action(request, action_id)
    result = action.result or {}
    context = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta,
               "title": "Bulk update of codes", "action": action, "result": result,
               "errors": (result.get("errors") or [])[:50],
               "status_url": reverse("admin:promo_voucher_bulk_progress_json", args=[action.public_id]),
               "changelist_url": reverse("admin:promo_voucher_changelist"),
               "audit_url": (reverse("admin:core_auditentry_changelist") + f"?q={action.request_id}"
                             if action.request_id else "")}
    return TemplateResponse(request, "admin/promo/voucher/bulk_progress.html", context)


def progress_json_view(modeladmin, request, action_id: str):
    action = visible_action(request, action_id)
    return JsonResponse({"id": action.public_id, "type": action.type, "status": action.status,
                         "progress": action.progress, "processed": action.processed, "total": action.total,
                         "result": action.result})
