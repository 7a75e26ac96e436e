"""Categories, campaigns and vouchers under /v1/ (included after the redemption API's paths).

Fixed paths come before the `<code>` ones they would otherwise match (vouchers/importCSV,
campaigns/{id}/vouchers/export.csv)."""

from django.urls import path

from promo import tasks  # noqa: F401  (registers the async action handlers in this process)
from promo.api import campaigns as views

urlpatterns = [
    path("categories", views.CategoryListView.as_view()),
    path("categories/<str:category_id>", views.CategoryDetailView.as_view()),
    path("campaigns", views.CampaignListView.as_view()),
    path("campaigns/<str:campaign_id>", views.CampaignDetailView.as_view()),
    path("campaigns/<str:campaign_id>/enable", views.CampaignEnableView.as_view()),
    path("campaigns/<str:campaign_id>/disable", views.CampaignDisableView.as_view()),
    path("campaigns/<str:campaign_id>/summary", views.CampaignSummaryView.as_view()),
    path("campaigns/<str:campaign_id>/importCSV", views.CampaignImportCsvView.as_view()),
    path("campaigns/<str:campaign_id>/vouchers", views.CampaignVouchersView.as_view()),
    path("campaigns/<str:campaign_id>/vouchers/export.csv", views.CampaignVouchersExportView.as_view()),
    path("campaigns/<str:campaign_id>/vouchers/<str:code>", views.CampaignVoucherCodeView.as_view()),
    path("vouchers", views.VoucherListView.as_view()),
    path("vouchers/importCSV", views.VouchersImportCsvView.as_view()),
    path("vouchers/bulk/async", views.VouchersBulkUpdateView.as_view()),
    path("vouchers/metadata/async", views.VouchersMetadataUpdateView.as_view()),
    path("vouchers/<str:code>", views.VoucherDetailView.as_view()),
    path("vouchers/<str:code>/enable", views.VoucherEnableView.as_view()),
    path("vouchers/<str:code>/disable", views.VoucherDisableView.as_view()),
    path("vouchers/<str:code>/qr.png", views.asset_view("qr", "png")),
    path("vouchers/<str:code>/qr.svg", views.asset_view("qr", "svg")),
    path("vouchers/<str:code>/barcode.png", views.asset_view("barcode", "png")),
    path("vouchers/<str:code>/barcode.svg", views.asset_view("barcode", "svg")),
]
