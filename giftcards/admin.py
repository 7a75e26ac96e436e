"""Back office for gift cards: cards and their ledgers are read-only (money moves only through
giftcards.services); staff refund, top up, correct or add temporary credit through one form per card
(the "Move money" button, or the list action), each movement a ledger row naming the staff user."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import ApiError
from core.models import AsyncAction
from giftcards import models as giftcard_models
from giftcards import refunds, services, tasks
from giftcards.models import (
    BirthdayGift,
    ExpiryLaw,
    GiftCard,
    GiftCardCredit,
    GiftCardTransaction,
    OrderRefund,
    RefundRequest,
)
from promo.models import Campaign

ASYNC_ACTION_TYPES = tasks.ASYNC_ACTION_TYPES  # importing tasks registers the bulk-issue handler


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TransactionInline(ReadOnlyMixin, admin.TabularInline):
    model = GiftCardTransaction
    fk_name = "card"
    fields = ["created_at", "kind", "amount", "balance_after", "temporary_amount", "reason", "actor", "source_id",
              "redemption_id", "order_source_id"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    max_num = 0


class CreditInline(ReadOnlyMixin, admin.TabularInline):
    model = GiftCardCredit
    fields = ["amount", "remaining", "expires_at", "expired_at", "reason"]
    readonly_fields = fields
    extra = 0
    max_num = 0


class ReservationInline(ReadOnlyMixin, admin.TabularInline):
    model = giftcard_models.GiftCardReservation
    fields = ["session_key", "amount", "expires_at", "created_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    verbose_name_plural = "credits reserved by validation sessions"


class ImportForm(forms.Form):
    campaign = forms.ModelChoiceField(queryset=None, help_text="The GIFT_VOUCHERS campaign the cards join.")
    file = forms.FileField(help_text="CSV with a header row: code, amount (minor units; empty: the campaign's "
                                     "value), holder (customer id or source_id) or email, sold_price.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.filter(
            campaign_type=Campaign.CampaignType.GIFT_VOUCHERS, deleted_at__isnull=True).order_by("name")


class MoveForm(forms.Form):
    KINDS = [("refund", "Refund (an order refunded onto the card)"), ("top_up", "Top up"),
             ("adjustment", "Correction (+ adds, - removes)"), ("temporary", "Temporary credit (expires)")]
    kind = forms.ChoiceField(choices=KINDS)
    amount = forms.IntegerField(help_text="Minor units: 1250 is 12.50. Negative only for a correction.")
    order = forms.CharField(required=False, max_length=255, help_text="Order id or number (refunds).")
    expires_at = forms.DateTimeField(required=False, help_text="Temporary credit: when it expires.")
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(GiftCard)
class GiftCardAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["code", "balance", "locked_amount", "amount", "redeemed_amount", "subtracted_amount", "face_value",
                    "sold_price", "campaign", "expires", "origin", "country", "created_at"]
    list_filter = ["origin", "voucher__campaign"]
    search_fields = ["voucher__code", "voucher__public_id", "voucher__holder__source_id", "voucher__holder__email"]
    list_select_related = ["voucher", "voucher__campaign"]
    readonly_fields = ["voucher_link", "balance", "locked_amount", "amount", "redeemed_amount", "subtracted_amount",
                       "face_value", "sold_price", "effect", "origin", "expires", "country", "expiry_rule",
                       "law_sets_expiry", "created_at", "updated_at", "move_link"]
    fields = readonly_fields
    inlines = [CreditInline, ReservationInline, TransactionInline]
    actions = ["move_money"]
    change_list_template = "admin/giftcards/giftcard/change_list.html"

    @admin.display(description="Expires")
    def expires(self, card):
        """What redemptions enforce (an expiry law may replace the campaign's end), with the law's reason."""
        when = services.card_expiration(card.voucher, card.law_sets_expiry)
        shown = f"{when:%Y-%m-%d %H:%M} UTC" if when else "Never"
        if card.expiry_rule:
            return format_html('{} <span title="{}">({})</span>', shown, card.expiry_rule,
                               "expiry law" if card.law_sets_expiry else "see expiry rule")
        return shown

    @admin.display(ordering="voucher__code")
    def code(self, card):
        return card.voucher.code

    @admin.display(ordering="voucher__campaign__name")
    def campaign(self, card):
        return card.voucher.campaign.name if card.voucher.campaign_id else "-"

    @admin.display(description="Voucher")
    def voucher_link(self, card):
        url = reverse("admin:promo_voucher_change", args=[card.voucher_id])
        return format_html('<a href="{}">{}</a>', url, card.voucher.code)

    @admin.display(description="Money")
    def move_link(self, card):
        return format_html('<a class="button" href="{}">Move money</a>',
                           reverse("admin:giftcards_giftcard_move", args=[card.pk]))

    @admin.action(description="Refund, top up or correct the selected card")
    def move_money(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one card.", messages.WARNING)
            return None
        return redirect("admin:giftcards_giftcard_move", queryset.get().pk)

    def get_urls(self):
        return [path("<int:pk>/move/", self.admin_site.admin_view(self.move_view), name="giftcards_giftcard_move"),
                path("import/", self.admin_site.admin_view(self.import_view), name="giftcards_giftcard_import"),
                path("import/<str:action_id>/", self.admin_site.admin_view(self.import_status_view),
                     name="giftcards_giftcard_import_status"),
                *super().get_urls()]

    def import_view(self, request):
        """Import CSV: the same async action as POST /v1/campaigns/{id}/importCSV."""
        if not request.user.has_perm("giftcards.change_giftcard") or not request.user.has_perm("promo.add_voucher"):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                action = services.import_csv_start(form.cleaned_data["file"].read(), form.cleaned_data["campaign"],
                                                   user=request.user)
            except ApiError as exc:
                form.add_error("file", exc.details or exc.message)
            else:
                return redirect("admin:giftcards_giftcard_import_status", action.public_id)
        context = {**self.admin_site.each_context(request), "title": "Import gift cards from CSV", "form": form,
                   "opts": self.model._meta}
        return render(request, "admin/giftcards/import.html", context)

    def import_status_view(self, request, action_id: str):
        if not request.user.has_perm("giftcards.view_giftcard"):
            raise PermissionDenied
        action = get_object_or_404(AsyncAction, public_id=action_id, type=services.IMPORT_ACTION)
        context = {**self.admin_site.each_context(request), "title": f"Gift card import {action.public_id}",
                   "action": action, "result": action.result or {}, "opts": self.model._meta}
        return render(request, "admin/giftcards/import_status.html", context)

    def move_view(self, request, pk: int):
        if not request.user.has_perm("giftcards.change_giftcard"):
            raise PermissionDenied
        card = get_object_or_404(GiftCard.objects.select_related("voucher"), pk=pk)
        form = MoveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                self._move(request, card, form.cleaned_data)
            except ApiError as exc:
                form.add_error(None, exc.details or exc.message)
            else:
                self.message_user(request, f"Done: card {card.voucher.code} updated.", messages.SUCCESS)
                return redirect("admin:giftcards_giftcard_change", card.pk)
        context = {**self.admin_site.each_context(request), "title": f"Move money on {card.voucher.code}",
                   "form": form, "card": card, "opts": self.model._meta}
        return render(request, "admin/giftcards/move.html", context)

    @staticmethod
    def _move(request, card: GiftCard, data: dict) -> None:
        actor = services.Actor.of(user=request.user)
        kind, amount, reason = data["kind"], data["amount"], data["reason"]
        if kind == "refund":
            made = refunds.refund_to_card(amount=amount, order=data["order"], code=card.voucher.code, actor=actor,
                                          reason=reason)
            if isinstance(made, RefundRequest):
                raise ApiError(f"The refund waits for approval by a Marketer or Admin ({made.public_id}); the card "
                               "changes when it is approved", key="refund_pending")
        elif kind == "top_up":
            services.adjust_balance(card.voucher.code, abs(amount), actor=actor, reason=reason)
        elif kind == "adjustment":
            services.staff_adjustment(card, amount, actor=actor, reason=reason)
        else:
            if data["expires_at"] is None:
                raise services.InvalidPayload("Temporary credit needs an expiry")
            services.add_temporary_credit(card.voucher.code, amount, data["expires_at"], actor=actor, reason=reason)


@admin.register(GiftCardTransaction)
class GiftCardTransactionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["public_id", "card", "kind", "amount", "balance_after", "actor", "reason", "order_source_id",
                    "redemption_id", "created_at"]
    list_filter = ["kind", "channel"]
    search_fields = ["public_id", "card__voucher__code", "redemption_id", "order_source_id", "source_id"]
    list_select_related = ["card"]


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Refunds waiting for approval (decided in the customer-service console) and their outcome."""

    list_display = ["public_id", "status", "amount", "order_ref", "card", "customer", "requested_by", "api_key",
                    "decided_by", "decided_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["public_id", "order_ref", "card__voucher__code", "customer__source_id", "customer__public_id"]
    list_select_related = ["card__voucher", "customer", "requested_by", "api_key", "decided_by"]


@admin.register(OrderRefund)
class OrderRefundAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["order", "refunded_amount", "refunds", "updated_at"]
    search_fields = ["order__public_id", "order__source_id"]
    list_select_related = ["order"]


@admin.register(ExpiryLaw)
class ExpiryLawAdmin(admin.ModelAdmin):
    list_display = ["country", "aliases", "no_expiry", "min_validity_years", "note"]
    search_fields = ["country", "aliases", "note"]


@admin.register(BirthdayGift)
class BirthdayGiftAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["customer", "year", "card", "created_at"]
    list_filter = ["year"]
