from django.urls import path

from segments.api import views

# No trailing slashes, exactly as the Voucherify SDKs call them.
urlpatterns = [
    path("segments", views.SegmentListView.as_view()),
    path("segments/<str:segment_id>", views.SegmentDetailView.as_view()),
    path("customers/<str:customer_id>/segments", views.CustomerSegmentsView.as_view()),
]
