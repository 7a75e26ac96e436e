"""Gift card API: Voucherify's balance and transactions endpoints on /v1/vouchers/{code}/..., and the
project's own under /v1/gift-cards/ (refunds to a card, temporary credit, bulk issue, liability,
reconciliation). Views parse, call giftcards.services / selectors, and answer."""

from __future__ import annotations

from django.core import signing
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import dates
from core.api.pagination import int_param
from core.auth import IsApiClientOrStaff
from core.errors import InvalidPayload
from core.fields import new_public_id
from core.idempotency import run_idempotent
from giftcards import refunds, selectors, services
from giftcards.models import RefundRequest

TAGS = ["gift cards"]
EXPORT_SALT = "giftcards.transactions.export"
EXPORT_MAX_AGE = 24 * 3600


def _shape(name: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.OBJECT, description=f"Voucherify v1 `{name}` shape; amounts in minor units.")


ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="Error: {code, key, message, details, request_id}")
IDEMPOTENCY = OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                               description="Same key and body replays the first answer.")
CSV = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV file")}


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise InvalidPayload("The body must be a JSON object")
    return {k: v for k, v in request.data.items() if v is not None}


def _actor(request) -> services.Actor:
    return services.Actor.of(api_key=request.auth, user=request.user if request.auth is None else None)


def _idempotent(request, what: str, produce) -> Response:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, body = produce()
    else:
        principal = f"key:{request.auth.pk}" if request.auth is not None else f"user:{request.user.pk}"
        status, body = run_idempotent(scope=f"{principal}:{what}", key=key, payload=request.data, produce=produce)
    return Response(body, status=status)


def _balance_json(row, card) -> dict:
    return {"amount": row.amount, "total": row.balance_after, "balance": row.balance_after, "type": "gift_voucher",
            "operation_type": "MANUAL", "object": "balance",
            "related_object": {"type": "voucher", "id": card.voucher.public_id},
            "transaction_id": row.public_id, "kind": row.kind}


def _csv_response(chunks, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    # Django quotes the name and encodes what is not plain ASCII (RFC 6266): a code may hold anything
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "no-store"
    return response


class BalanceRequest(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Minor units: positive adds credit, negative removes it.")
    reason = serializers.CharField(required=False, allow_null=True)
    source_id = serializers.CharField(required=False, allow_null=True)


class BalanceView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardTransaction")

    @extend_schema(tags=TAGS, operation_id="update-voucher-balance", summary="Add or remove gift card credit",
                   request=BalanceRequest, parameters=[IDEMPOTENCY],
                   description="A positive amount tops the card up, a negative one debits it (never below zero: "
                               "400 gift_amount_exceeded). Each is a row in the card's ledger with the reason.",
                   responses={200: _shape("VouchersBalanceUpdateResponseBody"), 400: ERROR, 404: ERROR})
    def post(self, request, code: str):
        data = _body(request)
        actor = _actor(request)

        def produce():
            row = services.adjust_balance(code, data.get("amount"), actor=actor, reason=data.get("reason"),
                                          source_id=data.get("source_id"))
            return 200, _balance_json(row, row.card)

        return _idempotent(request, f"BALANCE {code}", produce)


ORDER_PARAM = OpenApiParameter("order", OpenApiTypes.STR, enum=["id", "-id"])


class TransactionsView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardTransaction")

    @extend_schema(tags=TAGS, operation_id="list-voucher-transactions", summary="A gift card's ledger",
                   parameters=[OpenApiParameter("limit", OpenApiTypes.INT), ORDER_PARAM,
                               OpenApiParameter("starting_after_id", OpenApiTypes.STR)],
                   responses={200: _shape("VouchersTransactionsListResponseBody"), 404: ERROR})
    def get(self, request, code: str):
        card = services.card_get(code)
        order = request.query_params.get("order") or "-id"
        if order not in ("id", "-id"):
            raise InvalidPayload("Query parameter order must be id or -id")
        return Response(selectors.transactions_page(
            card, limit=int_param(request, "limit", 10, 1, 100), order=order,
            starting_after=request.query_params.get("starting_after_id") or None))


class ExportRequest(serializers.Serializer):
    parameters = inline_serializer("VoucherTransactionsExportParameters", {
        "order": serializers.ChoiceField(choices=["created_at", "-created_at"], required=False),
        "fields": serializers.ListField(child=serializers.CharField(), required=False)}, required=False)


class TransactionsExportView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardTransaction")

    @extend_schema(tags=TAGS, operation_id="export-voucher-transactions", summary="Export a gift card's ledger",
                   request=ExportRequest,
                   description="Answers the export at once; `result.url` downloads the CSV for 24 hours "
                               "(signed: no API key needed).",
                   responses={200: _shape("VouchersTransactionsExportCreateResponseBody"), 404: ERROR})
    def post(self, request, code: str):
        card = services.card_get(code)
        parameters = _body(request).get("parameters") or {}
        if not isinstance(parameters, dict):
            raise InvalidPayload("parameters must be a JSON object")
        order = parameters.get("order") or "-created_at"
        if order not in ("created_at", "-created_at"):
            raise InvalidPayload("parameters.order must be created_at or -created_at")
        fields = selectors.clean_export_fields(parameters.get("fields"))
        token = signing.dumps({"code": card.voucher.code, "fields": fields, "order": order}, salt=EXPORT_SALT)
        return Response({
            "id": new_public_id("exp_"), "object": "export", "created_at": selectors._iso(timezone.now()),
            "status": "SCHEDULED", "channel": "API", "exported_object": "voucher_transactions",
            # (The spec's voucher_id filter allows one-character ids only: the card is in the path instead.)
            "parameters": {"order": order, "fields": fields, "filters": {}},
            "result": {"url": request.build_absolute_uri(
                f"/v1/vouchers/{card.voucher.code}/transactions/export.csv?token={token}")},
        })


class SignedExportOrApiClient(IsApiClientOrStaff):
    def has_permission(self, request, view):
        if view.signed_payload(request) is not None:
            return True
        return super().has_permission(request, view)


class TransactionsCsvView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardTransaction")
    permission_classes = [SignedExportOrApiClient]

    @staticmethod
    def signed_payload(request) -> dict | None:
        token = request.query_params.get("token")
        if not token:
            return None
        try:
            return signing.loads(token, salt=EXPORT_SALT, max_age=EXPORT_MAX_AGE)
        except signing.BadSignature:
            return None

    @extend_schema(tags=TAGS, operation_id="download-voucher-transactions-csv",
                   summary="A gift card's ledger as CSV (project extension)",
                   parameters=[OpenApiParameter("token", OpenApiTypes.STR),
                               OpenApiParameter("fields", OpenApiTypes.STR),
                               OpenApiParameter("order", OpenApiTypes.STR, enum=["created_at", "-created_at"])],
                   responses=CSV)
    def get(self, request, code: str):
        signed = self.signed_payload(request)
        if signed is not None and signed.get("code") == code:
            fields, order = signed["fields"], signed["order"]
        else:
            if not IsApiClientOrStaff().has_permission(request, self):
                raise InvalidPayload("The token is not valid for this card", key="invalid_token")
            fields = selectors.clean_export_fields(request.query_params.get("fields"))
            order = request.query_params.get("order") or "created_at"
        card = services.card_get(code)
        return _csv_response(selectors.export_csv(card, fields, order), f"{card.voucher.code}-transactions.csv")


class RefundBody(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Minor units; at most what the order can still refund.")
    order = serializers.CharField(help_text="The refunded order's id or source_id.")
    voucher = serializers.CharField(required=False, help_text="An existing card's code ...")
    customer = serializers.CharField(required=False, help_text="... or a customer (id or source_id): a new card.")
    campaign = serializers.CharField(required=False, help_text="GIFT_VOUCHERS campaign of the new card.")
    reason = serializers.CharField(required=False, help_text="Required for an order the engine does not know.")


class RefundView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardTransaction", "promo.Campaign")

    @extend_schema(tags=TAGS, operation_id="refund-to-gift-card", summary="Refund an amount to a gift card",
                   request=RefundBody, parameters=[IDEMPOTENCY],
                   description="Onto an existing card (`voucher`) or a new card for `customer`; the ledger row "
                               "records the order. At most what the order can still refund (its paid amount "
                               "less earlier refunds: `refund_exceeds_order`); an unknown order is refused "
                               "(`order_not_found`) unless GIFTCARD_REFUND_WITHOUT_ORDER_MAX allows it. 201: the "
                               "transaction, the card's balance and what the order can still refund. 202: above "
                               "GIFTCARD_REFUND_APPROVAL_ABOVE the refund waits for approval in the back office "
                               "(a `gift_card_refund_request`).",
                   responses={201: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT, 400: ERROR, 404: ERROR})
    def post(self, request):
        data = _body(request)
        actor = _actor(request)

        def produce():
            made = refunds.refund_to_card(amount=data.get("amount"), order=data.get("order"), actor=actor,
                                          code=data.get("voucher"), customer=data.get("customer"),
                                          campaign=data.get("campaign"), reason=data.get("reason"))
            if isinstance(made, RefundRequest):
                return 202, selectors.refund_request_json(made)
            card = made.card
            return 201, {"object": "gift_card_refund", "voucher": {"id": card.voucher.public_id,
                                                                  "code": card.voucher.code,
                                                                  "gift": services.gift_json(card)},
                         "transaction": selectors.transaction_json(made, card),
                         "order": selectors.order_refundable_json(made.order_id)}

        return _idempotent(request, "POST /v1/gift-cards/refunds", produce)


class TemporaryCreditRequest(serializers.Serializer):
    amount = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    reason = serializers.CharField(required=False)


class TemporaryCreditView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardCredit")

    @extend_schema(tags=TAGS, operation_id="add-temporary-gift-credit", summary="Add credit that expires",
                   request=TemporaryCreditRequest,
                   description="Spent before the rest of the balance; what is left at expires_at is removed "
                               "by the expiry job with an expiry row in the ledger.",
                   responses={201: OpenApiTypes.OBJECT, 400: ERROR, 404: ERROR})
    def post(self, request, code: str):
        data = _body(request)
        expires_at = dates.clean_moment(data.get("expires_at"), "expires_at", zone_required=True)
        bucket = services.add_temporary_credit(code, data.get("amount"), expires_at, actor=_actor(request),
                                               reason=data.get("reason"))
        card = services.card_get(code)
        return Response({"object": "temporary_credit", "id": bucket.pk, "amount": bucket.amount,
                         "remaining": bucket.remaining, "expires_at": selectors._iso(bucket.expires_at),
                         "voucher": {"code": card.voucher.code, "gift": services.gift_json(card)}}, status=201)


class BulkIssueRequest(serializers.Serializer):
    campaign = serializers.CharField(help_text="GIFT_VOUCHERS campaign id or name.")
    count = serializers.IntegerField()
    amount = serializers.IntegerField(required=False, help_text="Face value (default: the campaign's).")
    sold_price = serializers.IntegerField(required=False, help_text="What the partner pays per card.")
    partner = serializers.CharField(required=False)
    label = serializers.CharField(required=False, help_text="Event or batch name.")


class BulkIssueView(APIView):
    scoped = ("promo.Campaign", "core.AsyncAction")

    @extend_schema(tags=TAGS, operation_id="bulk-issue-gift-cards", summary="Issue N cards for a partner or event",
                   request=BulkIssueRequest,
                   description="An async action (progress at /v1/async-actions/{id}); when DONE its result has "
                               "`export_url`, the cards as CSV.",
                   responses={202: inline_serializer("GiftBulkAccepted", {"async_action_id": serializers.CharField(),
                                                                          "export_url": serializers.CharField()})})
    def post(self, request):
        data = _body(request)
        action = services.bulk_issue_start(campaign=data.get("campaign"), count=data.get("count"),
                                           amount=data.get("amount"), sold_price=data.get("sold_price"),
                                           partner=data.get("partner"), label=data.get("label"),
                                           actor=_actor(request))
        return Response({"async_action_id": action.public_id,
                         "export_url": f"/v1/gift-cards/batches/{action.public_id}/export.csv"}, status=202)


class BatchExportView(APIView):
    scoped = ("core.AsyncAction", "giftcards.GiftCard")

    @extend_schema(tags=TAGS, operation_id="export-gift-card-batch", summary="A bulk issue's cards as CSV",
                   description=f"Columns: {', '.join(selectors.BATCH_COLUMNS)}.", responses=CSV)
    def get(self, request, batch_id: str):
        batch = selectors.batch_get(batch_id)
        return _csv_response(selectors.batch_csv(batch), f"{batch.public_id}-gift-cards.csv")


class LiabilityView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardCredit", "giftcards.GiftCardTransaction")

    @extend_schema(tags=TAGS, operation_id="get-gift-card-liability", summary="Gift card liability",
                   description="Outstanding balance overall, per campaign and by expiry month; sold vs spent.",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(selectors.liability())


class ReconciliationView(APIView):
    scoped = ("giftcards.GiftCard", "giftcards.GiftCardTransaction")

    @extend_schema(tags=TAGS, operation_id="get-gift-card-reconciliation", summary="Balances vs ledgers",
                   description="Cards whose balance is not the sum of their ledger (there should be none).",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(selectors.reconciliation())
