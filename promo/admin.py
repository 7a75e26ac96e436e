"""Back-office screens for categories, campaigns, vouchers and the redemption history.

Thin on purpose: edits and actions go through promo.campaigns (the API's rules and its
column-limited UPDATEs), so the admin never saves a voucher whole over its redemption counters.
Campaigns are created through the API or the back-office wizard (code generation is an async
action); redemptions and rollbacks are read-only history; a session lock is released through
promo.locks so the voucher's reserved count follows.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from core import audit
from core.admin_mixins import (
    AuditedAdminMixin,
    AuditHistoryMixin,
    ImportExportPermissionsMixin,
    ObjectPermissionsAdminMixin,
    ReadOnlyAdminMixin,
    RestrictedAdminMixin,
)
from core.errors import ApiError
from core.permissions import has_perm, restrict
from promo import admin_bulk, admin_promotions, approvals, codes, duplication, locks, tasks
from promo import campaigns as services
from promo.models import (
    Campaign,
    CampaignEvent,
    Category,
    FailedAttempt,
    Lockout,
    PromotionStack,
    PromotionTier,
    Redemption,
    RedemptionRollback,
    SessionLock,
    Voucher,
)
from promo.resources import VoucherResource

# Importing promo.tasks registers the async action handlers; admin autodiscovery imports this module in
# every process (Celery workers included).
ASYNC_ACTION_TYPES = tasks.ASYNC_ACTION_TYPES


def _as_form_error(exc: ApiError) -> ValidationError:
    return ValidationError(exc.details or exc.message)


@admin.register(Category)
class CategoryAdmin(RestrictedAdminMixin, AuditedAdminMixin, ObjectPermissionsAdminMixin, admin.ModelAdmin):
    """Categories; "Object permissions" gives users and groups read-write, read-only or no access to the
    category's campaigns (core.permissions)."""

    list_display = ["name", "hierarchy", "public_id", "created_at"]
    search_fields = ["name", "public_id"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    ordering = ["hierarchy", "name"]


# ---------------------------------------------------------------- campaigns

class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "description", "category", "start_date", "expiration_date", "active", "join_once",
                  "auto_join", "sorry_coupons", "metadata"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            try:
                services.clean_campaign_fields(self.instance, {f: cleaned.get(f) for f in self.changed_data})
            except ApiError as exc:
                raise _as_form_error(exc)
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(RestrictedAdminMixin, AuditHistoryMixin, ObjectPermissionsAdminMixin, admin.ModelAdmin):
    form = CampaignForm
    list_display = ["name", "campaign_type", "type", "category", "active", "approval_status", "codes",
                    "vouchers_generation_status", "start_date", "expiration_date", "created_at", "deleted_at"]
    list_filter = ["approval_status", "campaign_type", "active", "sorry_coupons", "type", "vouchers_generation_status",
                   "category", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=public_id"]
    list_select_related = ["category"]
    readonly_fields = ["public_id", "campaign_type", "type", "voucher_template", "codes", "approval_status",
                       "approval_note", "created_by", "approved_by", "approved_at", "creation_status",
                       "vouchers_generation_status", "created_at", "updated_at", "deleted_at", "promotion_tiers"]
    actions = ["enable", "disable", "schedule", "duplicate", "approve", "reject", "export_codes"]

    @admin.display(description="promotion tiers")
    def promotion_tiers(self, obj):
        if obj is None or obj.campaign_type != Campaign.CampaignType.PROMOTION:
            return "-"
        url = reverse("admin:promo_promotiontier_changelist") + f"?campaign__id__exact={obj.pk}"
        return format_html('<a href="{}">{} tier(s)</a>', url, obj.promotion_tiers.count())

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(codes_total=Count("vouchers"))

    def has_approve_permission(self, request):
        return has_perm(request.user, approvals.APPROVE_PERMISSION)

    @admin.display(description="codes", ordering="codes_total")
    def codes(self, obj):
        return getattr(obj, "codes_total", None)

    def has_add_permission(self, request):
        return False  # created through the API or the back-office wizard (codes are generated asynchronously)

    def save_model(self, request, obj, form, change):
        services.campaign_set_fields(obj, {f: form.cleaned_data.get(f) for f in form.changed_data})

    def delete_model(self, request, obj):
        services.campaign_delete(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for campaign in queryset:
            services.campaign_delete(campaign, user=request.user)

    @admin.action(description="Enable the selected campaigns", permissions=["change"])
    def enable(self, request, queryset):
        self._each(request, restrict(queryset, request.user, "change"),
                   lambda campaign: services.campaign_set_active(campaign, True), "Enabled")

    @admin.action(description="Disable the selected campaigns", permissions=["change"])
    def disable(self, request, queryset):
        self._each(request, restrict(queryset, request.user, "change"),
                   lambda campaign: services.campaign_set_active(campaign, False), "Disabled")

    @admin.action(description="Schedule the selected campaigns (start and expiry dates)", permissions=["change"])
    def schedule(self, request, queryset):
        changeable = restrict(queryset, request.user, "change")
        form = ScheduleForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            dates = {key: form.cleaned_data.get(key) for key in ("start_date", "expiration_date")}
            self._each(request, changeable, lambda campaign: services.campaign_set_fields(campaign, dates),
                       "Scheduled")
            return None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": "Schedule campaigns", "campaigns": list(changeable[:50]),
                   "action": request.POST.get("action", ""), "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                   "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                   "select_across": request.POST.get("select_across", "0")}
        return TemplateResponse(request, "admin/promo/campaign/schedule.html", context)

    def has_duplicate_permission(self, request):
        return has_perm(request.user, "promo.add_campaign")

    @admin.action(description="Duplicate the selected campaigns (settings, rules and tiers; no codes)",
                  permissions=["duplicate"])
    def duplicate(self, request, queryset):
        copies = []
        for campaign in restrict(queryset, request.user, "view").select_related("category"):
            try:
                copies.append(duplication.campaign_duplicate(campaign, user=request.user))
            except ApiError as exc:
                messages.error(request, f"{campaign.name}: {exc.details or exc.message}")
        for copy in copies:
            pending = " It waits for approval." if copy.approval_status == Campaign.Approval.PENDING else ""
            messages.success(request, f"Created {copy.name} ({copy.public_id}).{pending}")
        if len(copies) == 1:
            return HttpResponseRedirect(reverse("admin:promo_campaign_change", args=[copies[0].pk]))
        return None

    @admin.action(description="Approve the selected campaigns (they go live)", permissions=["approve"])
    def approve(self, request, queryset):
        self._each(request, queryset, lambda campaign: approvals.approve(campaign, request.user), "Approved")

    @admin.action(description="Reject the selected campaigns", permissions=["approve"])
    def reject(self, request, queryset):
        self._each(request, queryset, lambda campaign: approvals.reject(campaign, request.user), "Rejected")

    @staticmethod
    def _each(request, queryset, do, verb: str) -> None:
        done = 0
        for campaign in queryset:
            try:
                do(campaign)
                done += 1
            except ApiError as exc:
                messages.error(request, f"{campaign.name}: {exc.details or exc.message}")
        if done:
            messages.success(request, f"{verb}: {done} campaign(s).")

    @admin.action(description="Export the codes of the selected campaign as CSV")
    def export_codes(self, request, queryset):
        if queryset.count() != 1:
            messages.error(request, "Select exactly one campaign to export its codes.")
            return None
        campaign = queryset.first()
        response = StreamingHttpResponse(codes.export_csv(campaign.pk), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{campaign.public_id}-codes.csv"'
        return response


# ---------------------------------------------------------------- vouchers

VOUCHER_FORM_FIELDS = ["code", "campaign", "category", "type", "discount", "start_date", "expiration_date",
                       "validity_timeframe", "validity_day_of_week", "validity_hours", "active", "additional_info",
                       "metadata", "holder", "redemption_quantity"]


class VoucherForm(forms.ModelForm):
    class Meta:
        model = Voucher
        fields = VOUCHER_FORM_FIELDS

    def clean(self):
        cleaned = super().clean()
        try:
            if self.instance.pk:
                editable = [f for f in self.changed_data if f in services.VOUCHER_ADMIN_FIELDS]
                services.clean_voucher_fields(self.instance, {f: cleaned.get(f) for f in editable})
            else:
                services.clean_voucher_fields(Voucher(), {f: cleaned.get(f) for f in services.VOUCHER_ADMIN_FIELDS
                                                          if f in cleaned})
                problem = codes.code_problem(cleaned.get("code"))
                if problem:
                    raise ValidationError({"code": problem})
        except ApiError as exc:
            raise _as_form_error(exc)
        return cleaned


class ScheduleForm(forms.Form):
    start_date = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     help_text="Empty: from now on")
    expiration_date = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                          help_text="Empty: no end")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("expiration_date")
        if start and end and end <= start:
            raise ValidationError("The expiry must be after the start.")
        return cleaned


@admin.register(Voucher)
class VoucherAdmin(RestrictedAdminMixin, AuditHistoryMixin, ImportExportPermissionsMixin, ImportExportModelAdmin):
    """Codes; bulk actions (enable, disable, extend expiry, metadata) run in the background with a progress
    page (promo.admin_bulk); CSV/XLSX import and export matched by code (promo.resources)."""

    form = VoucherForm
    resource_classes = [VoucherResource]
    formats = [CSV, XLSX]
    list_display = ["code", "campaign", "type", "active", "redemption_quantity", "redeemed_quantity",
                    "locked_quantity", "holder", "expiration_date", "created_at"]
    list_filter = ["active", "type", "campaign"]
    search_fields = ["code"]
    search_help_text = "An exact code or voucher id, or the beginning of a code."
    list_select_related = ["campaign", "holder"]
    raw_id_fields = ["campaign", "holder"]
    readonly_fields = ["public_id", "redeemed_quantity", "locked_quantity", "created_at", "updated_at"]
    show_full_result_count = False  # campaigns hold millions of codes
    actions = ["enable", "disable", "extend_expiry", "change_metadata"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["code", "campaign", "type"] if obj is not None else fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or "\x00" in term:
            return queryset, False
        return queryset.filter(Q(code=term) | Q(public_id=term) | Q(code__startswith=term)), False

    def save_model(self, request, obj, form, change):
        if change:
            editable = [f for f in form.changed_data if f in services.VOUCHER_ADMIN_FIELDS]
            services.voucher_set_fields(obj, {f: form.cleaned_data.get(f) for f in editable})
            return
        super().save_model(request, obj, form, change)  # a new row: its counters start at zero
        audit.record_create(obj, extra={"via": "admin"})

    def has_toggle_permission(self, request):
        """Enable / disable: whoever may change vouchers, and customer service (promo.disable_voucher)."""
        return self.has_change_permission(request) or has_perm(request.user, "promo.disable_voucher")

    @admin.action(description="Enable the selected vouchers", permissions=["toggle"])
    def enable(self, request, queryset):
        return admin_bulk.toggle(self, request, queryset, True)

    @admin.action(description="Disable the selected vouchers", permissions=["toggle"])
    def disable(self, request, queryset):
        return admin_bulk.toggle(self, request, queryset, False)

    @admin.action(description="Extend the expiry date of the selected vouchers", permissions=["change"])
    def extend_expiry(self, request, queryset):
        return admin_bulk.bulk_action(self, request, queryset, admin_bulk.form_for(request, admin_bulk.ExpiryForm),
                                      title="Extend the expiry date of codes", button="Set the new expiry date")

    @admin.action(description="Change the metadata of the selected vouchers", permissions=["change"])
    def change_metadata(self, request, queryset):
        return admin_bulk.bulk_action(self, request, queryset, admin_bulk.form_for(request, admin_bulk.MetadataForm),
                                      title="Change the metadata of codes", button="Set the metadata")

    def get_urls(self):
        own = [
            path("bulk-progress/<str:action_id>/", self.admin_site.admin_view(self.bulk_progress_view),
                 name="promo_voucher_bulk_progress"),
            path("bulk-progress/<str:action_id>.json", self.admin_site.admin_view(self.bulk_progress_json_view),
                 name="promo_voucher_bulk_progress_json"),
        ]
        return own + super().get_urls()

    def bulk_progress_view(self, request, action_id: str):
        return admin_bulk.progress_view(self, request, action_id)

    def bulk_progress_json_view(self, request, action_id: str):
        return admin_bulk.progress_json_view(self, request, action_id)


# ---------------------------------------------------------------- history (read-only)

class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "created_at", "result", "status", "failure_code", "related_object_type",
                    "voucher", "campaign", "customer", "amount"]
    list_filter = ["result", "status", "failure_code", "related_object_type"]
    search_fields = ["=public_id", "=voucher__code", "=customer__source_id", "=customer__public_id", "=tracking_id"]
    search_help_text = "A redemption id, a code, or a customer's id or source_id (exact)."
    list_select_related = ["voucher", "campaign", "customer"]
    raw_id_fields = ["parent", "voucher", "campaign", "customer", "order", "api_key"]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return restrict(super().get_queryset(request), request.user, "view")


@admin.register(Lockout)
class LockoutAdmin(ReadOnlyAdmin):
    """Episodes of too many invalid codes (promo.abuse): who, how many, which codes, when; each sent one
    `redemption.fraud_suspected` webhook event."""

    list_display = ["started_at", "subject_type", "subject", "invalid_codes", "refused_attempts", "codes_tried",
                    "locked_until", "locked_now", "customer", "api_key"]
    list_filter = ["subject_type"]
    search_fields = ["=subject", "=public_id", "=customer__source_id", "=customer__public_id", "=api_key__app_id"]
    search_help_text = "A customer's id or source_id as sent, an IP address, an API key's app id (exact)."
    list_select_related = ["customer", "api_key"]
    raw_id_fields = ["customer", "api_key"]
    date_hierarchy = "started_at"
    show_full_result_count = False

    @admin.display(description="codes tried")
    def codes_tried(self, obj: Lockout) -> str:
        shown = ", ".join(obj.codes[:5])
        return f"{shown} (+{len(obj.codes) - 5} more)" if len(obj.codes) > 5 else shown

    @admin.display(description="locked now", boolean=True)
    def locked_now(self, obj: Lockout) -> bool:
        return obj.locked_until > timezone.now()


@admin.register(FailedAttempt)
class FailedAttemptAdmin(ReadOnlyAdmin):
    """Validations and redemptions through the API in which a code was refused, with who tried it."""

    list_display = ["created_at", "kind", "failure_code", "invalid_codes", "codes", "customer_ref", "customer",
                    "api_key", "ip", "redemption"]
    list_filter = ["kind", "failure_code"]
    search_fields = ["=customer_ref", "=customer__source_id", "=customer__public_id", "^ip", "=request_id"]
    search_help_text = "A customer's id or source_id as sent, the start of an IP address, a request id."
    list_select_related = ["customer", "api_key", "redemption"]
    raw_id_fields = ["customer", "api_key", "redemption"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="codes")
    def codes(self, obj: FailedAttempt) -> str:
        return ", ".join(f"{r.get('id')} ({r.get('failure') or 'ok'})" for r in obj.redeemables[:5])


@admin.register(RedemptionRollback)
class RedemptionRollbackAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "created_at", "result", "redemption", "amount", "reason"]
    list_filter = ["result"]
    search_fields = ["=public_id", "=redemption__public_id"]
    list_select_related = ["redemption"]
    raw_id_fields = ["redemption", "parent"]


@admin.register(SessionLock)
class SessionLockAdmin(ReadOnlyAdmin):
    list_display = ["session_key", "voucher", "customer", "expires_at", "created_at"]
    search_fields = ["=session_key", "=voucher__code"]
    list_select_related = ["voucher", "customer"]
    raw_id_fields = ["voucher", "customer"]
    actions = ["release"]

    def has_delete_permission(self, request, obj=None):
        return False  # a lock is released (its reserved use handed back), never just deleted

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Release the selected session locks")
    def release(self, request, queryset):
        released = sum(1 for lock in queryset.select_related("voucher") if locks.release(lock.session_key,
                                                                                         lock.voucher))
        messages.success(request, f"Released {released} lock(s).")


@admin.register(CampaignEvent)
class CampaignEventAdmin(admin.ModelAdmin):
    """What happened to campaigns by themselves (e.g. disabled when their budget ran out). Read-only."""

    list_display = ["created_at", "type", "campaign", "data"]
    list_filter = ["type"]
    search_fields = ["campaign__name", "campaign__public_id"]
    readonly_fields = ["campaign", "type", "data", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(PromotionTier, admin_promotions.PromotionTierAdmin)
admin.site.register(PromotionStack, admin_promotions.PromotionStackAdmin)
