from django.urls import path

from catalog.api import views

urlpatterns = [
    path("products", views.ProductListView.as_view()),
    path("products/importCSV", views.ProductImportView.as_view()),
    path("products/<str:product_id>", views.ProductDetailView.as_view()),
    path("products/<str:product_id>/skus", views.ProductSkuListView.as_view()),
    path("products/<str:product_id>/skus/<str:sku_id>", views.ProductSkuDetailView.as_view()),
    path("skus/importCSV", views.SkuImportView.as_view()),
    path("skus/<str:sku_id>", views.SkuDetailView.as_view()),
    path("product-collections", views.ProductCollectionListView.as_view()),
    path("product-collections/<str:collection_id>", views.ProductCollectionDetailView.as_view()),
    path("product-collections/<str:collection_id>/products", views.ProductCollectionProductsView.as_view()),
]
