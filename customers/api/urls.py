from django.urls import path

from customers.api import views

# No trailing slashes, exactly as the Voucherify SDKs call them. Fixed paths come before <customer_id>.
urlpatterns = [
    path("customers", views.CustomerListView.as_view()),
    path("customers/importCSV", views.CustomerImportCsvView.as_view()),
    path("customers/bulk/async", views.CustomersBulkUpdateView.as_view()),
    path("customers/metadata/async", views.CustomersMetadataUpdateView.as_view()),
    path("customers/<str:customer_id>", views.CustomerDetailView.as_view()),
    path("customers/<str:customer_id>/permanent-deletion", views.CustomerPermanentDeletionView.as_view()),
    path("customers/<str:customer_id>/export", views.CustomerExportView.as_view()),
    path("customers/<str:customer_id>/export.zip", views.CustomerExportArchiveView.as_view()),
    path("customers/<str:customer_id>/activity", views.CustomerActivityView.as_view()),
    path("customers/<str:customer_id>/consents", views.CustomerConsentsView.as_view()),
    path("customers/<str:customer_id>/consents/history", views.CustomerConsentHistoryView.as_view()),
    path("consents", views.ConsentListView.as_view()),
    path("orders", views.OrderListView.as_view()),
    path("orders/<str:order_id>", views.OrderDetailView.as_view()),
    path("events", views.EventView.as_view()),
]
