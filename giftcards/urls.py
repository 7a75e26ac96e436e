"""Staff pages (mounted at /backoffice/gift-cards/)."""

from django.urls import path

from giftcards import views

app_name = "giftcards"

urlpatterns = [
    path("till", views.in_store, name="in_store"),
    path("liability", views.liability, name="liability"),
]
