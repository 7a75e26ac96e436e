"""Back-office screens for the tiers and stacks of PROMOTION campaigns (registered by promo.admin).

The tier editor asks for the discount in plain fields (type, value, effect, cap) rather than JSON; every
write goes through promo.promotions (the API's checks, column-limited UPDATEs that never touch the tier's
counters, the audit log). Rows are restricted like their campaign (core.permissions).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from core.admin_mixins import AuditHistoryMixin, RestrictedAdminMixin
from core.errors import ApiError
from core.permissions import restrict
from promo import discounts, promotions
from promo.models import Campaign, PromotionStack, PromotionTier

PLAIN_TYPES = [(discounts.PERCENT, "Percent off"), (discounts.AMOUNT, "Amount off"),
               (discounts.FIXED, "Fixed price (the customer pays this)")]
PLAIN_EFFECTS = sorted(discounts.EFFECTS_BY_TYPE[discounts.AMOUNT] | discounts.EFFECTS_BY_TYPE[discounts.PERCENT])
VALUE_KEYS = {discounts.PERCENT: "percent_off", discounts.AMOUNT: "amount_off", discounts.FIXED: "fixed_amount"}
MONEY = {"max_digits": 15, "decimal_places": 2}


def to_minor(amount: Decimal | None) -> int | None:
    return None if amount is None else int((Decimal(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(minor) -> Decimal | None:
    return None if minor is None else (Decimal(int(minor)) / 100).quantize(Decimal("0.01"))


def _error(exc: ApiError) -> ValidationError:
    return ValidationError(exc.details or exc.message)


def promotion_campaigns(request):
    return restrict(Campaign.objects.filter(campaign_type=Campaign.CampaignType.PROMOTION, deleted_at__isnull=True),
                    request.user, "change")


class DiscountFieldsMixin(forms.Form):
    """The tier's `action.discount` as plain fields; keys the form does not show (product targets ...) are
    kept when the type stays the same."""

    discount_type = forms.ChoiceField(choices=PLAIN_TYPES, label="Discount type")
    discount_value = forms.DecimalField(min_value=Decimal("0"), label="Value", **MONEY,
                                        help_text="Percent off (e.g. 15), or an amount in currency units (e.g. 12.50)")
    discount_effect = forms.ChoiceField(choices=[("", "On the whole order")] + [(e, e) for e in PLAIN_EFFECTS],
                                        required=False, label="Applies to")
    discount_limit = forms.DecimalField(required=False, min_value=Decimal("0"), label="At most", **MONEY,
                                        help_text="Optional cap on a percent discount, in currency units")

    def discount_initial(self, discount: dict | None) -> None:
        discount = discount or {}
        kind = discount.get("type")
        if kind not in VALUE_KEYS:
            if kind:  # e.g. UNIT: edited through the API, shown here read-only
                for name in ("discount_type", "discount_value", "discount_effect", "discount_limit"):
                    self.fields[name].disabled = True
                    self.fields[name].required = False
                self.fields["discount_type"].help_text = f"A {kind} discount: change it through the API."
            return
        value = discount.get(VALUE_KEYS[kind])
        self.initial.update(discount_type=kind, discount_effect=discount.get("effect") or "",
                            discount_value=value if kind == discounts.PERCENT else from_minor(value),
                            discount_limit=from_minor(discount.get("amount_limit")))

    def discount_from_fields(self, current: dict | None) -> dict | None:
        """The discount the fields describe (None: unchanged, for a discount the form cannot show)."""
        data = self.cleaned_data
        if self.fields["discount_type"].disabled:
            return None
        kind, value = data.get("discount_type"), data.get("discount_value")
        if not kind or value is None:
            return None
        kept = {k: v for k, v in (current or {}).items() if k in ("product", "sku")} \
            if (current or {}).get("type") == kind else {}
        discount = {**kept, "type": kind, "effect": data.get("discount_effect") or discounts.APPLY_TO_ORDER}
        if kind == discounts.PERCENT:
            discount["percent_off"] = int(value) if value == value.to_integral_value() else float(value)
            if data.get("discount_limit") is not None:
                discount["amount_limit"] = to_minor(data["discount_limit"])
        else:
            discount[VALUE_KEYS[kind]] = to_minor(value)
        return discount


class PromotionTierForm(DiscountFieldsMixin, forms.ModelForm):
    class Meta:
        model = PromotionTier
        fields = ["campaign", "name", "banner", "hierarchy", "active", "category", "start_date", "expiration_date",
                  "redemption_quantity", "metadata"]
        help_texts = {"hierarchy": "Lower applies first (within one stacking category); empty: after the "
                                   "campaign's last tier",
                      "redemption_quantity": "How many times the tier may apply in all (empty: no limit)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.discount_initial(self.instance.discount)
        if "hierarchy" in self.fields:
            self.fields["hierarchy"].required = False
            if not self.instance.pk:  # empty: after the campaign's last tier (promotions.tiers_create)
                self.initial["hierarchy"] = None

    def clean(self):
        cleaned = super().clean()
        current = self.instance.discount if self.instance.pk else None
        discount = self.discount_from_fields(current)
        cleaned["action"] = {"discount": discount} if discount is not None else None
        if self.errors:
            return cleaned
        try:
            if self.instance.pk:
                promotions.clean_tier_fields(self.instance, self.tier_changes())
            elif discount is not None:
                given = {name: cleaned.get(name) for name in promotions.TIER_ADMIN_FIELDS
                         if cleaned.get(name) is not None}
                promotions.clean_tier_fields(PromotionTier(), given)
        except ApiError as exc:
            raise _error(exc)
        return cleaned

    def tier_changes(self) -> dict:
        """Model field values that changed (and the discount, when its fields changed)."""
        names = [f for f in self.changed_data if f in promotions.TIER_ADMIN_FIELDS]
        changes = {name: self.cleaned_data.get(name) for name in names}
        if changes.get("hierarchy") is None:
            changes.pop("hierarchy", None)
        if self.cleaned_data.get("action") and any(f.startswith("discount_") for f in self.changed_data):
            changes["action"] = self.cleaned_data["action"]
        return changes

    def create_request(self) -> dict:
        """The API-shaped body for promotions.tier_create."""
        data = self.cleaned_data
        body = {"name": data["name"], "banner": data.get("banner") or "", "action": data["action"],
                "active": data.get("active", True), "metadata": data.get("metadata") or {}}
        if data.get("hierarchy") is not None:
            body["hierarchy"] = data["hierarchy"]
        if data.get("category") is not None:
            body["category_id"] = data["category"].public_id
        for key in ("start_date", "expiration_date"):
            if data.get(key):
                body[key] = data[key]
        if data.get("redemption_quantity"):
            body["redemption"] = {"quantity": data["redemption_quantity"]}
        return body


@admin.display(description="discount")
def discount_text(obj) -> str:
    discount = obj.discount or {}
    kind = discount.get("type")
    if kind == discounts.PERCENT:
        cap = f", at most {from_minor(discount['amount_limit'])}" if discount.get("amount_limit") else ""
        return f"{discount.get('percent_off')}% off{cap}"
    if kind == discounts.AMOUNT:
        return f"{from_minor(discount.get('amount_off'))} off"
    if kind == discounts.FIXED:
        return f"pay {from_minor(discount.get('fixed_amount'))}"
    return kind or "-"


class PromotionTierAdmin(RestrictedAdminMixin, AuditHistoryMixin, admin.ModelAdmin):
    form = PromotionTierForm
    list_display = ["name", "campaign", discount_text, "hierarchy", "active", "start_date", "expiration_date",
                    "redeemed_quantity", "redemption_quantity", "public_id"]
    list_filter = ["active", "campaign", "category"]
    search_fields = ["name", "=public_id", "campaign__name", "=campaign__public_id"]
    list_select_related = ["campaign", "category"]
    readonly_fields = ["public_id", "redeemed_quantity", "discounted_amount", "orders_amount", "created_at",
                       "updated_at"]
    fieldsets = [
        (None, {"fields": ["campaign", "name", "banner", "hierarchy", "active", "category"]}),
        ("Discount", {"fields": ["discount_type", "discount_value", "discount_effect", "discount_limit"]}),
        ("Schedule and limits", {"fields": ["start_date", "expiration_date", "redemption_quantity"]}),
        ("Metadata", {"fields": ["metadata"]}),
        ("Counters", {"fields": ["public_id", "redeemed_quantity", "discounted_amount", "orders_amount",
                                 "created_at", "updated_at"]}),
    ]
    actions = ["enable", "disable"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(campaign__deleted_at__isnull=True)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["campaign"] if obj is not None else fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "campaign":
            kwargs["queryset"] = promotion_campaigns(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and promotion_campaigns(request).exists()

    def save_model(self, request, obj, form, change):
        try:
            if change:
                saved = promotions.tier_set_fields(obj, form.tier_changes())
            else:
                saved = promotions.tier_create(form.cleaned_data["campaign"], form.create_request())
        except ApiError as exc:  # checked in the form; a concurrent change may still refuse it
            raise ValidationError(exc.details or exc.message) from exc
        obj.pk, obj.public_id = saved.pk, saved.public_id

    def save_related(self, request, form, formsets, change):
        pass  # no many-to-many fields; the service saved everything

    def delete_model(self, request, obj):
        promotions.tier_delete(obj)

    def delete_queryset(self, request, queryset):
        for tier in restrict(queryset, request.user, "delete"):
            promotions.tier_delete(tier)

    @admin.action(description="Enable the selected promotion tiers", permissions=["change"])
    def enable(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Disable the selected promotion tiers", permissions=["change"])
    def disable(self, request, queryset):
        self._set_active(request, queryset, False)

    def _set_active(self, request, queryset, active: bool) -> None:
        done = 0
        for tier in restrict(queryset, request.user, "change"):
            promotions.tier_set_active(tier, active)
            done += 1
        messages.success(request, f"{'Enabled' if active else 'Disabled'}: {done} promotion tier(s).")


# ---------------------------------------------------------------- stacks

class PromotionStackForm(forms.ModelForm):
    tiers = forms.ModelMultipleChoiceField(queryset=PromotionTier.objects.none(), required=True,
                                           widget=forms.CheckboxSelectMultiple,
                                           help_text="Tiers of the campaign that apply together, in the order of "
                                                     "their hierarchy")

    class Meta:
        model = PromotionStack
        fields = ["campaign", "name", "category"]

    def __init__(self, *args, campaigns=None, **kwargs):
        super().__init__(*args, **kwargs)
        tiers = PromotionTier.objects.filter(campaign__deleted_at__isnull=True,
                                             campaign__campaign_type=Campaign.CampaignType.PROMOTION)
        if self.instance.pk:
            tiers = tiers.filter(campaign_id=self.instance.campaign_id)
            self.initial["tiers"] = list(tiers.filter(public_id__in=self.instance.tier_ids or [])
                                         .values_list("pk", flat=True))
        elif campaigns is not None:
            tiers = tiers.filter(campaign__in=campaigns)
        self.fields["tiers"].queryset = tiers.select_related("campaign").order_by("campaign__name", "hierarchy")
        self.fields["tiers"].label_from_instance = lambda tier: f"{tier.campaign.name} › {tier.name} ({tier.public_id})"

    def stack_request(self, campaign) -> dict:
        tiers = sorted(self.cleaned_data["tiers"], key=lambda t: (t.hierarchy, t.created_at, t.pk))
        outside = [t.name for t in tiers if t.campaign_id != campaign.pk]
        if outside:
            raise ValidationError(f"These tiers belong to another campaign: {', '.join(outside)}")
        category = self.cleaned_data.get("category")
        return {"name": self.cleaned_data["name"], "tiers": {"ids": [t.public_id for t in tiers]},
                "category_id": category.public_id if category else ""}

    def clean(self):
        cleaned = super().clean()
        campaign = self.instance.campaign if self.instance.pk else cleaned.get("campaign")
        if campaign is not None and cleaned.get("tiers") is not None and cleaned.get("name"):
            self.stack_request(campaign)
        return cleaned


class PromotionStackAdmin(RestrictedAdminMixin, AuditHistoryMixin, admin.ModelAdmin):
    form = PromotionStackForm
    list_display = ["name", "campaign", "tier_names", "category", "public_id", "created_at"]
    list_filter = ["campaign", "category"]
    search_fields = ["name", "=public_id", "campaign__name"]
    list_select_related = ["campaign", "category"]
    readonly_fields = ["public_id", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(campaign__deleted_at__isnull=True)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["campaign"] if obj is not None else fields

    def get_fields(self, request, obj=None):
        fields = ["campaign", "name", "category", "tiers", "public_id", "created_at", "updated_at"]
        return fields + (["audit_history"] if obj is not None else [])

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        campaigns = promotion_campaigns(request)

        class RequestStackForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, campaigns=campaigns, **inner)

        return RequestStackForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "campaign":
            kwargs["queryset"] = promotion_campaigns(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="tiers")
    def tier_names(self, obj) -> str:
        return ", ".join(t.name for t in promotions.stack_tiers(obj))

    def save_model(self, request, obj, form, change):
        campaign = obj.campaign
        try:
            saved = (promotions.stack_update(obj, form.stack_request(campaign)) if change
                     else promotions.stack_create(campaign, form.stack_request(campaign)))
        except ApiError as exc:
            raise ValidationError(exc.details or exc.message) from exc
        obj.pk, obj.public_id = saved.pk, saved.public_id

    def save_related(self, request, form, formsets, change):
        pass

    def delete_model(self, request, obj):
        promotions.stack_delete(obj)

    def delete_queryset(self, request, queryset):
        for stack in restrict(queryset, request.user, "delete"):
            promotions.stack_delete(stack)
