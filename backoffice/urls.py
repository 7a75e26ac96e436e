"""Back-office pages (mounted at /backoffice/)."""

from django.urls import path

from backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("customers/", views.console, name="console"),
    path("customers/<str:ref>/", views.customer, name="customer"),
    path("customers/<str:ref>/export", views.customer_export, name="customer_export"),
    path("customers/<str:ref>/sorry-coupon", views.sorry_coupon, name="sorry_coupon"),
    path("customers/<str:ref>/codes/toggle", views.toggle_code, name="toggle_code"),
    path("customers/<str:ref>/refund", views.refund, name="refund"),
    path("customers/<str:ref>/refund-requests/<str:request_id>", views.refund_decision, name="refund_decision"),
    path("campaigns/new", views.campaign_wizard, name="campaign_wizard"),
    path("campaigns/new/preview", views.wizard_preview, name="wizard_preview"),
    path("campaigns/new/coupon", views.campaign_wizard, name="coupon_wizard"),
    path("campaigns/new/promotion", views.promotion_wizard, name="promotion_wizard"),
    path("campaigns/new/promotion/preview", views.promotion_preview, name="promotion_preview"),
    path("campaigns/new/gift-cards", views.giftcard_wizard, name="giftcard_wizard"),
    path("campaigns/new/gift-cards/preview", views.giftcard_preview, name="giftcard_preview"),
    path("campaigns/", views.campaign_chooser, name="campaign_chooser"),
    path("gift-cards/issue", views.partner_cards, name="partner_cards"),
    path("gift-cards/batches/<str:action_id>.csv", views.giftcard_batch_csv, name="giftcard_batch_csv"),
    path("gift-cards/batches/<str:action_id>", views.giftcard_batch, name="giftcard_batch"),
    path("campaigns/<str:campaign_id>/codes", views.campaign_codes, name="campaign_codes"),
    path("async-actions/<str:action_id>", views.async_action_progress, name="async_action"),
]
