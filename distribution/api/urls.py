from django.urls import path

from distribution.api import views

# No trailing slashes, like the rest of /v1. Delivery paths come first: "deliveries" is not a webhook id.
urlpatterns = [
    path("webhooks/deliveries/<str:delivery_id>", views.WebhookDeliveryView.as_view()),
    path("webhooks/deliveries/<str:delivery_id>/retry", views.WebhookDeliveryRetryView.as_view()),
    path("webhooks", views.WebhooksView.as_view()),
    path("webhooks/<str:webhook_id>", views.WebhookView.as_view()),
    path("webhooks/<str:webhook_id>/deliveries", views.WebhookDeliveriesView.as_view()),
    path("webhooks/<str:webhook_id>/test", views.WebhookTestView.as_view()),
]
