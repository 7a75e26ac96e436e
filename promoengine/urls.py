from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.api.views import ApiNotFoundView

v1 = [
    path("", include("core.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("promo.api.urls")),
    path("", include("distribution.api.urls")),
    path("", include("rules.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("giftcards.api.urls")),
    path("", include("backoffice.api.urls")),
]

urlpatterns = [
    path("v1/", include(v1)),
    re_path(r"^v1(/.*)?$", ApiNotFoundView.as_view()),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("backoffice/gift-cards/", include("giftcards.urls")),
    path("backoffice/", include("backoffice.urls")),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
