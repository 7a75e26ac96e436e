from django.urls import path

from giftcards.api import views

urlpatterns = [
    path("vouchers/<str:code>/balance", views.BalanceView.as_view()),
    path("vouchers/<str:code>/transactions", views.TransactionsView.as_view()),
    path("vouchers/<str:code>/transactions/export", views.TransactionsExportView.as_view()),
    path("vouchers/<str:code>/transactions/export.csv", views.TransactionsCsvView.as_view()),
    path("gift-cards/refunds", views.RefundView.as_view()),
    path("gift-cards/bulk-issues", views.BulkIssueView.as_view()),
    path("gift-cards/batches/<str:batch_id>/export.csv", views.BatchExportView.as_view()),
    path("gift-cards/liability", views.LiabilityView.as_view()),
    path("gift-cards/reconciliation", views.ReconciliationView.as_view()),
    path("gift-cards/<str:code>/temporary-credits", views.TemporaryCreditView.as_view()),
]
