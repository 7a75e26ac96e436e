"""Validate, redeem, roll back: the checkout API."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import dates
from core.api.pagination import LIST_PARAMETERS, int_param, paginate
from core.errors import error_body
from core.idempotency import run_idempotent
from promo import presenters, selectors, services
from promo.api.payload import parse_stacked_request
from promo.api.serializers import RollbackSerializer, StackedRequestSerializer


def _shape(name: str) -> OpenApiResponse:
    """Responses follow Voucherify's published schemas (named here) rather than a serializer of ours."""
    return OpenApiResponse(OpenApiTypes.OBJECT, description=f"Voucherify v1 `{name}` shape; amounts in minor units.")


ERROR_RESPONSE = OpenApiResponse(OpenApiTypes.OBJECT, description="Error: {code, key, message, details, request_id}")
TOO_MANY_REQUESTS = OpenApiResponse(OpenApiTypes.OBJECT, description=(
    "Error `too_many_requests` (a rate limit; X-RateLimit-* headers) or `too_many_invalid_codes` (a lockout after "
    "invalid codes); Retry-After says when to try again."))

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="Same key and body replays the first answer; another body gets 422; a retry in flight gets 409.")


def _scope(request, what: str) -> str:
    principal = f"key:{request.auth.pk}" if request.auth is not None else f"user:{request.user.pk}"
    return f"{principal}:{what}"


def _idempotent(request, what: str, produce):
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, body = produce()
    else:
        status, body = run_idempotent(scope=_scope(request, what), key=key, payload=request.data, produce=produce)
    return Response(body, status=status)


def _as_answer(call):
    """Run a write and turn a refusal into its (status, error body), so idempotent replays repeat refusals too."""
    try:
        return 200, call()
    except services.RedemptionFailed as failed:
        return failed.status, error_body(failed.status, failed.key, failed.message, failed.details, **failed.extra)


class ValidationsView(APIView):
    scoped = ("promo.Voucher", "promo.PromotionTier", "promo.PromotionStack")
    redemption_scope = True
    throttle_scope = "validations"  # rate limits per key, IP and customer (core.throttling)

    @extend_schema(tags=["validations"], request=StackedRequestSerializer, operation_id="validate-stacked-discounts",
                   responses={200: _shape("ValidationsValidateResponseBody"), 400: ERROR_RESPONSE,
                              429: TOO_MANY_REQUESTS},
                   summary="Validate stackable discounts",
                   description="What applies to this cart and customer and what it is worth; with "
                               "`session{type: LOCK}` one use of each limited code is reserved for the session.")
    def post(self, request):
        return Response(services.validate(parse_stacked_request(request.data), api_key=request.auth, guarded=True))


class RedemptionsView(APIView):
    scoped = ("promo.Voucher", "promo.PromotionTier", "promo.PromotionStack", "promo.Redemption")
    redemption_scope = True
    throttle_scope = "redemptions"

    def get_throttles(self):  # redeeming is limited; listing redemptions is not
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(tags=["redemptions"], request=StackedRequestSerializer, parameters=[IDEMPOTENCY_HEADER],
                   operation_id="redeem-stacked-discounts",
                   responses={200: _shape("RedemptionsRedeemResponseBody"), 400: ERROR_RESPONSE,
                              429: TOO_MANY_REQUESTS},
                   summary="Redeem stackable discounts",
                   description="One transaction: every counter and limit is taken atomically. A refused "
                               "redemption answers 400 with the reasons and is recorded as a failed attempt.")
    def post(self, request):
        payload = parse_stacked_request(request.data)
        return _idempotent(request, "POST /v1/redemptions",
                           lambda: _as_answer(lambda: services.redeem(payload, api_key=request.auth, guarded=True)))

    @extend_schema(tags=["redemptions"], operation_id="list-redemptions", summary="List redemptions",
                   responses={200: _shape("RedemptionsListResponseBody")},
                   parameters=[*LIST_PARAMETERS, *[OpenApiParameter(n, OpenApiTypes.STR) for n in (
                       "campaign", "voucher", "customer", "result", "order")],
                               OpenApiParameter("created_at[after]", OpenApiTypes.DATETIME),
                               OpenApiParameter("created_at[before]", OpenApiTypes.DATETIME)])
    def get(self, request):
        params = request.query_params
        queryset = selectors.redemption_list(
            campaign=params.get("campaign"), voucher=params.get("voucher"), customer=params.get("customer"),
            result=params.get("result"), order=params.get("order"),
            created_after=_datetime(params, "created_at[after]"),
            created_before=_datetime(params, "created_at[before]"))
        return Response(paginate(request, queryset, "redemptions",
                                 lambda rows: [presenters.redemption_json(r) for r in rows]))


def _datetime(params, name: str):
    raw = params.get(name)
    return dates.clean_moment(raw, name) if raw else None


class RedemptionDetailView(APIView):
    scoped = ("promo.Redemption",)

    @extend_schema(tags=["redemptions"], operation_id="get-redemption", summary="Get a redemption",
                   responses={200: _shape("RedemptionsGetResponseBody"), 404: ERROR_RESPONSE})
    def get(self, request, redemption_id: str):
        redemption = selectors.redemption_get(redemption_id)
        children = list(redemption.children.order_by("pk")) if redemption.parent_id is None else None
        rollback = getattr(redemption, "rollback", None)
        return Response(presenters.redemption_json(redemption, children=children or None, rollback=rollback))


class _RollbackBase(APIView):
    scoped = ("promo.Redemption",)
    redemption_scope = True
    parent_required: bool | None = None

    def post(self, request, redemption_id: str):
        serializer = RollbackSerializer(data=request.data if isinstance(request.data, dict) else {})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reason = request.query_params.get("reason") or data.get("reason") or ""
        tracking_id = request.query_params.get("tracking_id") or data.get("tracking_id") or ""

        def produce():
            return 200, services.rollback(redemption_id, reason=reason, tracking_id=tracking_id,
                                          metadata=data.get("metadata"), parent_required=self.parent_required)

        return _idempotent(request, f"ROLLBACK {redemption_id}", produce)


_ROLLBACK_PARAMS = [OpenApiParameter("reason", OpenApiTypes.STR), OpenApiParameter("tracking_id", OpenApiTypes.STR),
                    IDEMPOTENCY_HEADER]


class RollbackView(_RollbackBase):
    @extend_schema(tags=["redemptions"], request=RollbackSerializer, parameters=_ROLLBACK_PARAMS,
                   operation_id="rollback-redemption", summary="Roll back a redemption",
                   responses={200: _shape("RedemptionsRollbackCreateResponseBody"), 400: ERROR_RESPONSE})
    def post(self, request, redemption_id: str):
        return super().post(request, redemption_id)


class RollbacksView(_RollbackBase):
    parent_required = True

    @extend_schema(tags=["redemptions"], request=RollbackSerializer, parameters=_ROLLBACK_PARAMS,
                   operation_id="rollback-stacked-redemptions", summary="Roll back a stacked redemption",
                   responses={200: _shape("RedemptionsRollbacksCreateResponseBody"), 400: ERROR_RESPONSE})
    def post(self, request, redemption_id: str):
        return super().post(request, redemption_id)


class VoucherRedemptionsView(APIView):
    scoped = ("promo.Voucher", "promo.Redemption")

    @extend_schema(tags=["redemptions"], parameters=LIST_PARAMETERS, operation_id="get-voucher-redemptions",
                   responses={200: _shape("VouchersRedemptionGetResponseBody")},
                   summary="A voucher's redemptions")
    def get(self, request, code: str):
        voucher = selectors.voucher_get(code)
        rows = selectors.redemption_list(voucher=voucher.code)
        limit = int_param(request, "limit", 10, 1, 100)
        entries = [presenters.redemption_json(r) for r in rows[:limit]]
        return Response({"object": "list", "data_ref": "redemption_entries", "quantity": voucher.redemption_quantity,
                         "redeemed_quantity": voucher.redeemed_quantity, "redemption_entries": entries,
                         "total": rows.count(), "url": f"/v1/vouchers/{voucher.code}/redemptions?page=1&limit={limit}"})


class SessionReleaseView(APIView):
    scoped = ("promo.Voucher",)
    redemption_scope = True

    @extend_schema(tags=["validations"], responses={204: None}, operation_id="release-validation-session",
                   summary="Release a validation session lock")
    def delete(self, request, code: str, session_key: str):
        services.session_release(code, session_key)
        return Response(status=204)
