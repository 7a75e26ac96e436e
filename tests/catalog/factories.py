import factory

from catalog.models import Product, ProductCollection, ProductCollectionItem, Sku


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    source_id = factory.Sequence(lambda n: f"prod-src-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = 1000
    attributes = factory.LazyFunction(list)
    metadata = factory.LazyFunction(dict)


class SkuFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sku

    product = factory.SubFactory(ProductFactory)
    source_id = factory.Sequence(lambda n: f"sku-src-{n}")
    sku = factory.Sequence(lambda n: f"SKU {n}")
    price = 1100
    currency = "USD"
    attributes = factory.LazyFunction(dict)
    metadata = factory.LazyFunction(dict)


class CollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductCollection

    name = factory.Sequence(lambda n: f"Collection {n}")
    type = ProductCollection.Type.STATIC


class CollectionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductCollectionItem

    collection = factory.SubFactory(CollectionFactory)
    product = factory.SubFactory(ProductFactory)
    sku = None
