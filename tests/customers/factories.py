"""factory_boy factories for the customers app."""

import factory
from django.utils import timezone

from customers.models import Customer, CustomEvent, Order, OrderItem


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    source_id = factory.Sequence(lambda n: f"customer-{n}")
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    address_city = "Berlin"
    address_country = "DE"


class OrderFactory(factory.django.DjangoModelFactory):
    """A bare order row; use the services to get aggregates counted."""

    class Meta:
        model = Order

    source_id = factory.Sequence(lambda n: f"order-{n}")
    customer = factory.SubFactory(CustomerFactory)
    amount = 1000
    ordered_at = factory.LazyFunction(timezone.now)


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    source_id = factory.Sequence(lambda n: f"sku-{n}")
    quantity = 1
    price = 1000
    amount = 1000


class CustomEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomEvent

    name = "signed_up"
    customer = factory.SubFactory(CustomerFactory)
