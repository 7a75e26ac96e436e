"""Reads of customers, orders, custom events and the customer timeline.

Lookups accept the public id (`cust_...`, `ord_...`) or the merchant's source_id, as Voucherify does.
Hidden (deleted) customers are invisible to every read except the permanent-deletion lookup.
"""

from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet

from core.errors import NotFound
from core.permissions import restrict
from customers.models import (
    Consent,
    Customer,
    CustomerActivity,
    CustomerConsent,
    CustomerConsentEvent,
    CustomEvent,
    Order,
    OrderItem,
)

CUSTOMER_ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at", "source_id", "-source_id")
ORDER_ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at")


def _usable_ref(ref) -> bool:
    # PostgreSQL text cannot hold NUL; such a reference can match nothing, so it must not reach the query.
    return isinstance(ref, str) and bool(ref) and "\x00" not in ref


# ---------------------------------------------------------------- customers

def live_customers() -> QuerySet[Customer]:
    return Customer.objects.filter(deleted_at__isnull=True)


def customer_find(ref: str | None) -> Customer | None:
    """The live customer with this public id or source_id, or None."""
    if not _usable_ref(ref):
        return None
    customers = live_customers()
    if ref.startswith("cust_"):
        found = customers.filter(public_id=ref).first()
        if found:
            return found
    return customers.filter(source_id=ref).first()


def customer_get(ref: str | None) -> Customer:
    customer = customer_find(ref)
    if customer is None:
        raise NotFound.for_object("customer", ref)
    return customer


def customer_get_for_erasure(ref: str) -> Customer:
    """A customer that may still be erased: live or hidden, not yet anonymised.

    A hidden customer's source_id was moved to system_metadata when it was deleted, so it is looked up there too.
    """
    if _usable_ref(ref):
        candidates = Customer.objects.filter(anonymized_at__isnull=True)
        match = Q(public_id=ref) | Q(source_id=ref) | Q(system_metadata__deleted_source_id=ref)
        live_first = F("deleted_at").asc(nulls_first=True)
        found = candidates.filter(match).order_by(live_first, "-id").first()
        if found:
            return found
    raise NotFound.for_object("customer", ref)


def customer_list(*, email: str | None = None, city: str | None = None, name: str | None = None,
                  created_before: datetime | None = None, created_after: datetime | None = None,
                  updated_before: datetime | None = None, updated_after: datetime | None = None,
                  starting_after: datetime | None = None, order: str = "-created_at") -> QuerySet[Customer]:
    """Live customers filtered as GET /v1/customers allows. `starting_after` is a created_at cursor that
    follows the sort direction (older ones for a descending list, newer ones for an ascending one)."""
    customers = live_customers()
    if email:
        customers = customers.filter(email__iexact=email)
    if city:
        customers = customers.filter(address_city__iexact=city)
    if name:
        customers = customers.filter(name__icontains=name)
    for lookup, value in (("created_at__lt", created_before), ("created_at__gt", created_after),
                          ("updated_at__lt", updated_before), ("updated_at__gt", updated_after)):
        if value is not None:
            customers = customers.filter(**{lookup: value})
    if starting_after is not None:
        lookup = "created_at__gt" if order == "created_at" else "created_at__lt"
        customers = customers.filter(**{lookup: starting_after})
    tie_breaker = "id" if not order.startswith("-") else "-id"
    return customers.order_by(order, tie_breaker)


# The parts of a customer object that other apps fill in (redemptions, loyalty, referrals). Each takes a
# list of customers and answers per primary key, so a page of customers costs one query per part, not per row.

# Apps that record redemptions register a provider: provider(customer_pks) -> {pk: {counter: value}}
# whose values are added into the redemption summary (promo: counts; gift cards, loyalty: amounts).
_REDEMPTION_SUMMARY_PROVIDERS: list = []


def register_redemption_summary(provider) -> None:
    if provider not in _REDEMPTION_SUMMARY_PROVIDERS:
        _REDEMPTION_SUMMARY_PROVIDERS.append(provider)


def customer_summaries(customers: list[Customer]) -> dict[int, dict]:
    """The spec's CustomerSummary for each customer: redemption counters (from the registered providers,
    one query each for the whole page) and order aggregates (kept on Customer: PAID and FULFILLED orders)."""
    summaries = {customer.pk: {"redemptions": _empty_redemption_summary(), "orders": _order_summary(customer)}
                 for customer in customers}
    pks = list(summaries)
    for provider in _REDEMPTION_SUMMARY_PROVIDERS:
        for pk, counters in provider(pks).items():
            _merge(summaries[pk]["redemptions"], counters)
    return summaries


def _merge(into: dict, counters: dict) -> None:
    for key, value in counters.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


def customer_summary(customer: Customer) -> dict:
    return customer_summaries([customer])[customer.pk]


def _empty_redemption_summary() -> dict:
    return {
        "total_redeemed": 0, "total_failed": 0, "total_succeeded": 0, "total_rolled_back": 0,
        "total_rollback_failed": 0, "total_rollback_succeeded": 0,
        "gift": {"redeemed_amount": 0, "amount_to_go": 0},
        "loyalty_card": {"redeemed_points": 0, "points_to_go": 0},
    }


def _order_summary(customer: Customer) -> dict:
    count, total = customer.orders_total_count, customer.orders_total_amount
    average = (total + count // 2) // count if count else 0  # integer minor units, rounded half up
    return {
        "total_amount": total, "total_count": count, "average_amount": average,
        "last_order_amount": customer.last_order_amount, "last_order_date": customer.last_order_date,
    }


def customer_loyalty_summaries(customers: list[Customer]) -> dict[int, dict]:
    """The spec's CustomerLoyalty; the loyalty and referral apps will fill it in."""
    return {customer.pk: {"points": 0, "referred_customers": 0, "campaigns": {}} for customer in customers}


def customer_referral_summaries(customers: list[Customer]) -> dict[int, dict]:
    """The spec's CustomerReferrals (this customer as a referee); the referrals app will fill it in."""
    return {customer.pk: {"total": 0, "campaigns": []} for customer in customers}


# ---------------------------------------------------------------- activity

def customer_activity_list(customer: Customer, *, type: str | None = None, start: datetime | None = None,
                           end: datetime | None = None, order: str = "-created_at") -> QuerySet[CustomerActivity]:
    # Entries naming a redemption, campaign or code the caller may not see are left out (promo.scoping).
    activities = restrict(CustomerActivity.objects.filter(customer=customer), action="view")
    if type:
        activities = activities.filter(type=type)
    if start is not None:
        activities = activities.filter(created_at__gte=start)
    if end is not None:
        activities = activities.filter(created_at__lte=end)
    return activities.order_by(order, "id" if order == "created_at" else "-id")


def customer_activity_after(activities: QuerySet[CustomerActivity], activity_id: str,
                            order: str) -> QuerySet[CustomerActivity]:
    """The activities that follow `activity_id` in the list's order (the starting_after_id cursor)."""
    cursor = activities.filter(public_id=activity_id).values("created_at", "id").first() \
        if _usable_ref(activity_id) else None
    if cursor is None:
        raise NotFound.for_object("customer activity", activity_id)
    if order == "created_at":
        later = Q(created_at__gt=cursor["created_at"]) | Q(created_at=cursor["created_at"], id__gt=cursor["id"])
    else:
        later = Q(created_at__lt=cursor["created_at"]) | Q(created_at=cursor["created_at"], id__lt=cursor["id"])
    return activities.filter(later)


# ---------------------------------------------------------------- orders

def _with_items(orders: QuerySet[Order]) -> QuerySet[Order]:
    items = OrderItem.objects.select_related("product", "sku").order_by("position", "id")
    return orders.select_related("customer", "referrer").prefetch_related(Prefetch("items", queryset=items))


def order_find(ref: str | None) -> Order | None:
    if not _usable_ref(ref):
        return None
    orders = _with_items(Order.objects.all())
    if ref.startswith("ord_"):
        found = orders.filter(public_id=ref).first()
        if found:
            return found
    return orders.filter(source_id=ref).first()


def order_get(ref: str | None) -> Order:
    order = order_find(ref)
    if order is None:
        raise NotFound.for_object("order", ref)
    return order


def order_list(*, order: str = "-created_at", customer: Customer | None = None) -> QuerySet[Order]:
    orders = Order.objects.all()
    if customer is not None:
        orders = orders.filter(customer=customer)
    return _with_items(orders).order_by(order, "id" if not order.startswith("-") else "-id")


# ---------------------------------------------------------------- custom events (for rules and segments)

def customer_events(customer: Customer, name: str | None = None,
                    since: datetime | None = None) -> QuerySet[CustomEvent]:
    """The customer's custom events, newest first, optionally of one name and from a moment on."""
    events = CustomEvent.objects.filter(customer=customer)
    if name is not None:
        events = events.filter(name=name)
    if since is not None:
        events = events.filter(created_at__gte=since)
    return events.order_by("-created_at", "-id")


def custom_event_count(customer: Customer, name: str, since: datetime | None = None) -> int:
    """How many events of this name the customer sent (since a moment): the `custom_event.count` condition."""
    return customer_events(customer, name=name, since=since).count()


# ---------------------------------------------------------------- consents (marketing permissions)

def consent_list() -> QuerySet[Consent]:
    return Consent.objects.order_by("name", "id")


def consent_find(ref) -> Consent | None:
    """A consent by its public id (`cnst_...`) or its name."""
    if not _usable_ref(ref):
        return None
    return Consent.objects.filter(Q(public_id=ref) | Q(name=ref)).order_by("-id").first()


def customer_consent_states(customer: Customer) -> dict[int, CustomerConsent]:
    """The customer's current consent states by consent pk (one query)."""
    return {state.consent_id: state for state in
            CustomerConsent.objects.filter(customer=customer).select_related("last_event").order_by()}


def customer_consent_grants(customer: Customer | None) -> dict[str, bool]:
    """{consent name and public id: granted} of the customer, for rules (one query; {} without a customer)."""
    if customer is None or customer.pk is None:
        return {}
    grants: dict[str, bool] = {}
    rows = CustomerConsent.objects.filter(customer=customer).values_list("consent__name", "consent__public_id",
                                                                         "granted")
    for name, public_id, granted in rows.order_by():
        grants[name] = grants[public_id] = granted
    return grants


def customer_consent_history(customer: Customer, consent: Consent | None = None) -> QuerySet[CustomerConsentEvent]:
    events = CustomerConsentEvent.objects.filter(customer=customer).select_related("consent")
    return events.filter(consent=consent) if consent is not None else events
