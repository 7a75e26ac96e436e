"""Every /v1 view declares what it serves (core.api.scope): the system check catches one that does not."""

import pytest
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.scope import api_views, check_api_views, declaration_problems
from core.auth import IsApiClientOrStaff


class Undeclared(APIView):
    def get(self, request):
        return Response({})


class Both(Undeclared):
    scoped = ("promo.Voucher",)
    unscoped = "and also not"


class UnknownModel(Undeclared):
    scoped = ("promo.Nothing",)


class NoReason(Undeclared):
    unscoped = " "


class PublicButScoped(Undeclared):
    scoped = ("promo.Voucher",)
    permission_classes: list = []


class SkipsKeyScopes(Undeclared):
    scoped = ("promo.Voucher",)
    permission_classes = [AllowAny]


class Fine(Undeclared):
    scoped = ("promo.Voucher", "giftcards.GiftCard")
    permission_classes = [IsApiClientOrStaff]


@pytest.mark.parametrize(("view", "problem"), [
    (Undeclared, "declares none"), (Both, "declares scoped and unscoped"), (UnknownModel, "not registered"),
    (NoReason, "must say why"), (PublicButScoped, "no permission class"), (SkipsKeyScopes, "skip core.auth"),
])
def test_a_view_without_a_proper_declaration_is_reported(view, problem):
    problems = declaration_problems(view)
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_proper_declaration_passes():
    assert declaration_problems(Fine) == []


def test_the_project_passes_the_check():
    assert check_api_views() == []
    assert len(list(api_views())) > 80


urlpatterns = [
    path("", include("promoengine.urls")),
    path("v1/new-thing", Undeclared.as_view()),
]


def test_a_route_added_without_a_declaration_fails_the_check(settings):
    settings.ROOT_URLCONF = __name__
    errors = check_api_views()
    assert [e.id for e in errors] == ["core.E102"]
    assert "/v1/new-thing (Undeclared) declares none" in errors[0].msg
