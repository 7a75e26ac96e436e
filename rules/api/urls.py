from django.urls import path

from rules.api import views

# No trailing slashes, exactly as the Voucherify SDKs call them.
urlpatterns = [
    path("validation-rules", views.RuleListView.as_view()),
    path("validation-rules/<str:rule_id>", views.RuleDetailView.as_view()),
    path("validation-rules/<str:rule_id>/assignments", views.RuleAssignmentListView.as_view()),
    path("validation-rules/<str:rule_id>/assignments/<str:assignment_id>", views.RuleAssignmentDetailView.as_view()),
    path("validation-rules-assignments", views.AssignmentListView.as_view()),
]
