from django.urls import include, path

from promo.api import promotions, qualifications, redemptions

urlpatterns = [
    path("validations", redemptions.ValidationsView.as_view()),
    path("redemptions", redemptions.RedemptionsView.as_view()),
    path("redemptions/<str:redemption_id>", redemptions.RedemptionDetailView.as_view()),
    path("redemptions/<str:redemption_id>/rollback", redemptions.RollbackView.as_view()),
    path("redemptions/<str:redemption_id>/rollbacks", redemptions.RollbacksView.as_view()),
    path("vouchers/<str:code>/redemption", redemptions.VoucherRedemptionsView.as_view()),
    path("vouchers/<str:code>/sessions/<str:session_key>", redemptions.SessionReleaseView.as_view()),
    path("qualifications", qualifications.QualificationsView.as_view()),
    path("promotions/tiers", promotions.TierListView.as_view()),
    path("promotions/stacks", promotions.StackListView.as_view()),
    path("promotions/tiers/<str:tier_id>", promotions.TierDetailView.as_view()),
    path("promotions/tiers/<str:tier_id>/enable", promotions.TierEnableView.as_view()),
    path("promotions/tiers/<str:tier_id>/disable", promotions.TierDisableView.as_view()),
    path("promotions/<str:campaign_id>/tiers", promotions.CampaignTiersView.as_view()),
    path("promotions/<str:campaign_id>/stacks", promotions.CampaignStacksView.as_view()),
    path("promotions/<str:campaign_id>/stacks/<str:stack_id>", promotions.StackDetailView.as_view()),
    path("", include("promo.api.campaign_urls")),
]
