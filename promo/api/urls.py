from django.urls import include, path

from promo.api import redemptions

urlpatterns = [
    path("validations", redemptions.ValidationsView.as_view()),
    path("redemptions", redemptions.RedemptionsView.as_view()),
    path("redemptions/<str:redemption_id>", redemptions.RedemptionDetailView.as_view()),
    path("redemptions/<str:redemption_id>/rollback", redemptions.RollbackView.as_view()),
    path("redemptions/<str:redemption_id>/rollbacks", redemptions.RollbacksView.as_view()),
    path("vouchers/<str:code>/redemption", redemptions.VoucherRedemptionsView.as_view()),
    path("vouchers/<str:code>/sessions/<str:session_key>", redemptions.SessionReleaseView.as_view()),
    path("", include("promo.api.campaign_urls")),
]
