from django.urls import path

from core.api import views

urlpatterns = [
    path("health", views.HealthView.as_view()),
    path("async-actions", views.AsyncActionListView.as_view()),
    path("async-actions/<str:action_id>", views.AsyncActionDetailView.as_view()),
    path("metadata-schemas", views.MetadataSchemaListView.as_view()),
    path("metadata-schemas/<str:resource>", views.MetadataSchemaDetailView.as_view()),
]
