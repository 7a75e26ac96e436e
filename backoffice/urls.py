"""Back-office pages (mounted at /backoffice/)."""

from django.urls import path

from backoffice import views

app_name = "backoffice"

urlpatterns = [
    path("customers/", views.console, name="console"),
    path("customers/<str:ref>/", views.customer, name="customer"),
    path("customers/<str:ref>/sorry-coupon", views.sorry_coupon, name="sorry_coupon"),
    path("customers/<str:ref>/codes/toggle", views.toggle_code, name="toggle_code"),
    path("customers/<str:ref>/refund", views.refund, name="refund"),
    path("campaigns/new", views.campaign_wizard, name="campaign_wizard"),
    path("campaigns/new/preview", views.wizard_preview, name="wizard_preview"),
    path("campaigns/<str:campaign_id>/codes", views.campaign_codes, name="campaign_codes"),
    path("async-actions/<str:action_id>", views.async_action_progress, name="async_action"),
]
