from django.urls import path

from backoffice.api import views

urlpatterns = [
    path("campaigns/<str:campaign_id>/approve", views.CampaignApproveView.as_view()),
    path("campaigns/<str:campaign_id>/reject", views.CampaignRejectView.as_view()),
]
