"""Catalog endpoints, Voucherify-compatible: products, SKUs, product collections, CSV imports.

Views only parse parameters, call catalog.services / catalog.selectors and serialise.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.api.serializers import (
    CollectionMemberSerializer,
    ProductCollectionCreateSerializer,
    ProductCollectionSerializer,
    ProductCreateSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
    SkuCreateSerializer,
    SkuSerializer,
    SkuUpdateSerializer,
)
from core import dates
from core.api.pagination import LIST_PARAMETERS, paginate
from core.api.parsers import UPLOAD_PARSERS
from core.errors import InvalidPayload

TIME_ORDERS = ("created_at", "-created_at", "updated_at", "-updated_at")
COLLECTION_ORDERS = (*TIME_ORDERS, "type", "-type", "name", "-name")

ORDER_PARAMETER = OpenApiParameter("order", OpenApiTypes.STR, enum=TIME_ORDERS,
                                   description="Sort order; a leading dash sorts descending (default -created_at).")
DATE_PARAMETERS = [
    OpenApiParameter("start_date", OpenApiTypes.DATETIME, description="Only objects created at or after (ISO 8601)."),
    OpenApiParameter("end_date", OpenApiTypes.DATETIME, description="Only objects created at or before (ISO 8601)."),
]
FORCE_PARAMETER = OpenApiParameter(
    "force", OpenApiTypes.BOOL,
    description="Accepted for compatibility; deletion is always permanent (there is no bin yet).")
ASYNC_ACTION_ID = {"async_action_id": serializers.CharField()}
CSV_REQUEST = {"multipart/form-data": inline_serializer("CsvFileUpload", {"file": serializers.FileField()})}

# What these views serve belongs to no campaign category (core.api.scope).
SHARED = "The catalog (products, SKUs, collections) is shared by every campaign category."


def order_param(request, allowed: tuple[str, ...] = TIME_ORDERS, default: str = "-created_at") -> str:
    order = request.query_params.get("order") or default
    if order not in allowed:
        raise InvalidPayload(f"Query parameter order must be one of {', '.join(allowed)}")
    return order


def date_param(request, name: str):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    moment = dates.parse_moment(raw)
    if moment is None:
        raise InvalidPayload(f"Query parameter {name} must be an ISO 8601 date or date-time")
    return moment


def force_param(request) -> bool:
    raw = (request.query_params.get("force") or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidPayload("Query parameter force must be true or false")
    return raw in ("true", "1")


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _product_response(product, status: int = 200) -> Response:
    return Response(ProductSerializer(selectors.product_detail(product.pk)).data, status=status)


# ---------------------------------------------------------------- products


class ProductListView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="list-products", tags=["products"], summary="List products",
        parameters=[*LIST_PARAMETERS, ORDER_PARAMETER, *DATE_PARAMETERS],
        responses=inline_serializer("ProductsList", {
            "object": serializers.CharField(), "data_ref": serializers.CharField(),
            "products": ProductSerializer(many=True), "total": serializers.IntegerField(),
            "has_more": serializers.BooleanField()}))
    def get(self, request):
        queryset = selectors.product_list(order=order_param(request), start_date=date_param(request, "start_date"),
                                          end_date=date_param(request, "end_date"))
        return Response(paginate(request, queryset, "products",
                                 lambda rows: ProductSerializer(rows, many=True).data))

    @extend_schema(
        operation_id="create-product", tags=["products"], summary="Create a product (upsert by id or source_id)",
        request=ProductCreateSerializer, responses={201: ProductSerializer, 200: ProductSerializer})
    def post(self, request):
        product, created = services.product_upsert(_validated(ProductCreateSerializer, request))
        return _product_response(product, 201 if created else 200)


class ProductDetailView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="get-product", tags=["products"],
        summary="Get a product by id or source_id", responses=ProductSerializer)
    def get(self, request, product_id: str):
        return _product_response(selectors.product_get(product_id))

    @extend_schema(
        operation_id="update-product", tags=["products"], summary="Update a product", request=ProductUpdateSerializer,
        responses=ProductSerializer)
    def put(self, request, product_id: str):
        product = selectors.product_get(product_id)
        return _product_response(services.product_update(product, _validated(ProductUpdateSerializer, request)))

    @extend_schema(
        operation_id="delete-product", tags=["products"],
        summary="Delete a product and its SKUs", parameters=[FORCE_PARAMETER],
        responses={204: None})
    def delete(self, request, product_id: str):
        force = force_param(request)
        services.product_delete(selectors.product_get(product_id), force=force)
        return Response(status=204)


class ProductImportView(APIView):
    unscoped = SHARED
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        operation_id="import-products-using-csv", tags=["products"],
        summary="Import products from a CSV file (async action)",
        request=CSV_REQUEST, responses={202: inline_serializer("ProductsImportCsvCreateResponseBody", ASYNC_ACTION_ID)})
    def post(self, request):
        content, filename = _uploaded_csv(request)
        action = services.products_import_start(content=content, filename=filename, api_key=request.auth,
                                                user=request.user)
        return Response({"async_action_id": action.public_id}, status=202)


def _uploaded_csv(request) -> tuple[bytes, str]:
    upload = request.FILES.get("file")
    if upload is None:
        raise InvalidPayload("Send the CSV file in the multipart form field 'file'")
    return upload.read(), upload.name or ""


# ---------------------------------------------------------------- SKUs


class ProductSkuListView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="list-SKUs-in-product", tags=["products"], summary="List the SKUs of a product",
        parameters=[*LIST_PARAMETERS, ORDER_PARAMETER, *DATE_PARAMETERS],
        responses=inline_serializer("ProductSkusList", {
            "object": serializers.CharField(), "data_ref": serializers.CharField(),
            "skus": SkuSerializer(many=True), "total": serializers.IntegerField(),
            "has_more": serializers.BooleanField()}))
    def get(self, request, product_id: str):
        product = selectors.product_get(product_id)
        queryset = selectors.sku_list(product, order=order_param(request),
                                      start_date=date_param(request, "start_date"),
                                      end_date=date_param(request, "end_date"))
        return Response(paginate(request, queryset, "skus", lambda rows: SkuSerializer(rows, many=True).data))

    @extend_schema(
        operation_id="create-sku", tags=["products"],
        summary="Create a SKU (upsert by id or source_id)", request=SkuCreateSerializer,
        responses={201: SkuSerializer, 200: SkuSerializer})
    def post(self, request, product_id: str):
        product = selectors.product_get(product_id)
        sku, created = services.sku_upsert(product, _validated(SkuCreateSerializer, request))
        return Response(SkuSerializer(sku).data, status=201 if created else 200)


class ProductSkuDetailView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="update-sku", tags=["products"],
        summary="Update a SKU", request=SkuUpdateSerializer, responses=SkuSerializer)
    def put(self, request, product_id: str, sku_id: str):
        sku = selectors.product_sku_get(selectors.product_get(product_id), sku_id)
        return Response(SkuSerializer(services.sku_update(sku, _validated(SkuUpdateSerializer, request))).data)

    @extend_schema(
        operation_id="delete-sku", tags=["products"],
        summary="Delete a SKU", parameters=[FORCE_PARAMETER], responses={204: None})
    def delete(self, request, product_id: str, sku_id: str):
        force = force_param(request)
        services.sku_delete(selectors.product_sku_get(selectors.product_get(product_id), sku_id), force=force)
        return Response(status=204)


class SkuDetailView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="get-sku", tags=["products"], summary="Get a SKU by id or source_id", responses=SkuSerializer)
    def get(self, request, sku_id: str):
        return Response(SkuSerializer(selectors.sku_get(sku_id)).data)


class SkuImportView(APIView):
    unscoped = SHARED
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        operation_id="import-SKUs-using-csv", tags=["products"], summary="Import SKUs from a CSV file (async action)",
        request=CSV_REQUEST, responses={202: inline_serializer("SkusImportCsvCreateResponseBody", ASYNC_ACTION_ID)})
    def post(self, request):
        content, filename = _uploaded_csv(request)
        action = services.skus_import_start(content=content, filename=filename, api_key=request.auth,
                                            user=request.user)
        return Response({"async_action_id": action.public_id}, status=202)


# ---------------------------------------------------------------- product collections


class ProductCollectionListView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="list-product-collections", tags=["product collections"], summary="List product collections",
        parameters=[*LIST_PARAMETERS, OpenApiParameter("order", OpenApiTypes.STR, enum=COLLECTION_ORDERS)],
        responses=inline_serializer("ProductCollectionsList", {
            "object": serializers.CharField(), "data_ref": serializers.CharField(),
            "data": ProductCollectionSerializer(many=True), "total": serializers.IntegerField(),
            "has_more": serializers.BooleanField()}))
    def get(self, request):
        queryset = selectors.collection_list(order=order_param(request, COLLECTION_ORDERS))
        return Response(paginate(request, queryset, "data",
                                 lambda rows: ProductCollectionSerializer(rows, many=True).data))

    @extend_schema(
        operation_id="create-product-collection", tags=["product collections"],
        summary="Create a product collection (STATIC or AUTO_UPDATE)",
        request=ProductCollectionCreateSerializer, responses={201: ProductCollectionSerializer})
    def post(self, request):
        collection = services.collection_create(_validated(ProductCollectionCreateSerializer, request))
        return Response(ProductCollectionSerializer(collection).data, status=201)


class ProductCollectionDetailView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="get-product-collection", tags=["product collections"], summary="Get a product collection",
        responses=ProductCollectionSerializer)
    def get(self, request, collection_id: str):
        return Response(ProductCollectionSerializer(selectors.collection_get(collection_id)).data)

    @extend_schema(
        operation_id="delete-product-collection", tags=["product collections"],
        summary="Delete a product collection", responses={204: None})
    def delete(self, request, collection_id: str):
        services.collection_delete(selectors.collection_get(collection_id))
        return Response(status=204)


class ProductCollectionProductsView(APIView):
    unscoped = SHARED

    @extend_schema(
        operation_id="list-products-in-collection", tags=["product collections"],
        summary="List the products and SKUs in a collection",
        parameters=[*LIST_PARAMETERS, ORDER_PARAMETER,
                    OpenApiParameter("starting_after", OpenApiTypes.DATETIME,
                                     description="Cursor: rows after this created_at in list order.")],
        responses=inline_serializer("ProductCollectionProductsList", {
            "object": serializers.CharField(), "data_ref": serializers.CharField(),
            "data": CollectionMemberSerializer(many=True), "total": serializers.IntegerField(),
            "has_more": serializers.BooleanField()}))
    def get(self, request, collection_id: str):
        collection = selectors.collection_get(collection_id)
        queryset = selectors.collection_members(collection, order=order_param(request),
                                                starting_after=date_param(request, "starting_after"))
        return Response(paginate(request, queryset, "data",
                                 lambda rows: CollectionMemberSerializer(rows, many=True).data))
