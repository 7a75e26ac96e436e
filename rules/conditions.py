"""Condition strategies: one class per rule name (`order.amount`, `customer.metadata`, ...).

Add a condition by subclassing Condition and decorating it with @register; the evaluator needs
no change. A condition reads one value from the context; `LimitCondition`s are also backed by a
database counter so that their limit holds under concurrent redemptions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

CONDITIONS: dict[str, Condition] = {}


def _prop(rule: dict) -> str | None:
    """The rule's `property` as a lookup key: the API accepts only strings, but a rule stored another way
    (admin JSON, an older row) must not break every validation that reaches it."""
    prop = rule.get("property")
    return prop if isinstance(prop, str) else None


def register(cls):
    CONDITIONS[cls.name] = cls()
    return cls


class Condition:
    name = ""
    # The error key when this condition fails: customer_rules_violated, order_rules_violated ...
    error_key = "redemption_rules_violated"
    needs_property = False
    # The value depends only on the request (order as sent, customer, context) and the rule's property:
    # rules.evaluation.quick_verdict reads it once per request however many rules name it.
    cacheable = False

    def value(self, ctx, rule: dict, scope):
        raise NotImplementedError  # each registered subclass reads its own value

    def describe(self) -> str:
        return self.name


class CustomerCondition(Condition):
    error_key = "customer_rules_violated"


class OrderCondition(Condition):
    error_key = "order_rules_violated"


# ---------------------------------------------------------------- order

@register
class OrderAmount(OrderCondition):
    cacheable = True
    name = "order.amount"

    def value(self, ctx, rule, scope):
        return ctx.state.amount


@register
class OrderInitialAmount(OrderCondition):
    cacheable = True
    name = "order.initial_amount"

    def value(self, ctx, rule, scope):
        return ctx.initial_amount


@register
class OrderTotalAmount(OrderCondition):
    """The total after the discounts applied so far in this request."""
    cacheable = True

    name = "order.total_amount"

    def value(self, ctx, rule, scope):
        return ctx.state.total_amount


@register
class OrderItemsCount(OrderCondition):
    cacheable = True
    name = "order.items.count"

    def value(self, ctx, rule, scope):
        return sum(line.quantity for line in ctx.state.lines)


@register
class OrderMetadata(OrderCondition):
    cacheable = True
    name = "order.metadata"
    needs_property = True

    def value(self, ctx, rule, scope):
        return (ctx.order_input.get("metadata") or {}).get(_prop(rule))


def _delivery_address(ctx) -> dict:
    """The order's delivery address: order metadata `delivery_address` ({city, country, postal_code,
    line_1 ...}) as sent with the request, else that of the stored order the request names."""
    for metadata in ((ctx.order_input or {}).get("metadata"), getattr(ctx.existing_order, "metadata", None)):
        address = (metadata or {}).get("delivery_address") if isinstance(metadata, dict) else None
        if isinstance(address, dict):
            return address
    return {}


class _DeliveryAddressCondition(OrderCondition):
    cacheable = True
    field = ""

    def value(self, ctx, rule, scope):
        return _delivery_address(ctx).get(self.field)


for _part in ("city", "country", "postal_code"):
    register(type(f"OrderDelivery_{_part}", (_DeliveryAddressCondition,),
                  {"name": f"order.delivery_address.{_part}", "field": _part}))


# ---------------------------------------------------------------- customer

def _customer_field(ctx, name):
    given = (ctx.customer_input or {}).get(name)
    if given is not None:
        return given
    return getattr(ctx.customer, name, None) if ctx.customer is not None else None


@register
class CustomerMetadata(CustomerCondition):
    cacheable = True
    name = "customer.metadata"
    needs_property = True

    def value(self, ctx, rule, scope):
        metadata = dict(getattr(ctx.customer, "metadata", None) or {})
        metadata.update((ctx.customer_input or {}).get("metadata") or {})
        return metadata.get(_prop(rule))


class _AddressCondition(CustomerCondition):
    cacheable = True
    field = ""

    def value(self, ctx, rule, scope):
        given = ((ctx.customer_input or {}).get("address") or {}).get(self.field)
        if given:
            return given
        return getattr(ctx.customer, f"address_{self.field}", None) or None if ctx.customer else None


@register
class CustomerCity(_AddressCondition):
    name, field = "customer.address.city", "city"


@register
class CustomerCountry(_AddressCondition):
    name, field = "customer.address.country", "country"


@register
class CustomerPostalCode(_AddressCondition):
    name, field = "customer.address.postal_code", "postal_code"


@register
class CustomerOrdersAmount(CustomerCondition):
    """Total spent (PAID and FULFILLED orders), minor units."""
    cacheable = True

    name = "customer.orders.amount"

    def value(self, ctx, rule, scope):
        return ctx.customer.orders_total_amount if ctx.customer else 0


@register
class CustomerOrdersCount(CustomerCondition):
    cacheable = True
    name = "customer.orders.count"

    def value(self, ctx, rule, scope):
        return ctx.customer.orders_total_count if ctx.customer else 0


@register
class CustomerOrdersAverageAmount(CustomerCondition):
    """Average order value (PAID and FULFILLED orders), minor units rounded down; 0 without orders."""
    cacheable = True

    name = "customer.orders.average_amount"

    def value(self, ctx, rule, scope):
        if ctx.customer is None or not ctx.customer.orders_total_count:
            return 0
        return ctx.customer.orders_total_amount // ctx.customer.orders_total_count


@register
class CustomerLastOrderDate(CustomerCondition):
    cacheable = True
    name = "customer.last_order_date"

    def value(self, ctx, rule, scope):
        return ctx.customer.last_order_date if ctx.customer else None


@register
class CustomerCreatedAt(CustomerCondition):
    cacheable = True
    name = "customer.created_at"

    def value(self, ctx, rule, scope):
        return ctx.customer.created_at if ctx.customer else None


@register
class CustomerEmail(CustomerCondition):
    cacheable = True
    name = "customer.email"

    def value(self, ctx, rule, scope):
        return _customer_field(ctx, "email")


@register
class CustomerMarketingPermissions(CustomerCondition):
    """Whether the customer has granted the consent named in `property` (its name or `cnst_` id):
    `{"$is": [true]}`. False when withdrawn, never asked, or without a known customer. One query per
    request however many consent conditions the rules name (cached in ctx.scratch)."""

    cacheable = True
    name = "customer.marketing_permissions"
    needs_property = True

    def value(self, ctx, rule, scope):
        grants = ctx.scratch.get("consent_grants")
        if grants is None:
            from customers.selectors import customer_consent_grants

            grants = ctx.scratch["consent_grants"] = customer_consent_grants(ctx.customer)
        return grants.get(_prop(rule), False)


# ---------------------------------------------------------------- redemption (counter-backed limits)

class LimitCondition(Condition):
    """A count or amount bounded from above and enforced by a LimitCounter at redemption time."""

    error_key = "redemption_rules_violated"
    needs_customer = False
    period = ""  # "", "daily", "weekly", "monthly"

    @property
    def is_budget(self) -> bool:
        """A lifetime total of the object the rule is assigned to (not per customer, not per period):
        when it runs out, that object can never be redeemed again."""
        return not self.needs_customer and not self.period

    def counter_key(self, ctx, scope) -> str | None:
        """The counter this condition reads and takes; None when it does not apply (no customer)."""
        parts = [scope]
        if self.needs_customer:
            if ctx.customer is None:
                return None
            parts.append(f"customer:{ctx.customer.pk}")
        parts.append(self.name)
        if self.period:
            parts.append(period_bucket(self.period, ctx.now))
        return "|".join(parts)

    def increment(self, ctx, amount: int) -> int:
        """How much one redemption adds (1 for counts; the discount or order amount for budgets)."""
        return 1

    def value(self, ctx, rule, scope):
        from rules.counters import used

        increment = self.increment(ctx, ctx.scratch.get("pending_amount", 0))
        key = self.counter_key(ctx, scope)
        if key is not None:
            return used(key) + increment
        # A customer named by source_id who is not stored yet has used nothing; no customer at all fails.
        return increment if (ctx.customer_input or {}).get("source_id") else None


def period_bucket(period: str, now: datetime) -> str:
    local = timezone.localtime(now)
    if period == "daily":
        return local.strftime("%Y-%m-%d")
    if period == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def _limit(name, *, customer=False, period="", increment=None):
    attrs = {"name": name, "needs_customer": customer, "period": period}
    if increment:
        attrs["increment"] = increment
    return register(type(name.replace(".", "_"), (LimitCondition,), attrs))


for _period in ("", "daily", "weekly", "monthly"):
    _suffix = f".{_period}" if _period else ""
    _limit(f"redemption.count.per_customer{_suffix}", customer=True, period=_period)
    _limit(f"campaign.redemptions.count{_suffix}", period=_period)
    if _period:
        _limit(f"redemption.count{_suffix}", period=_period)

_limit("campaign.orders.amount_discounted", increment=lambda self, ctx, amount: amount)
_limit("campaign.orders.amount", increment=lambda self, ctx, amount: ctx.state.amount)


# ---------------------------------------------------------------- order items (products, SKUs, collections)

def _ref(entry) -> str | None:
    return entry.get("id") or entry.get("source_id") if isinstance(entry, dict) else entry


class _ItemsCondition(OrderCondition):
    """`{"$is": [{"object": "product"|"sku"|"products_collection", "id": ...}, ...]}` over the order's items.

    The value is the list of named references when the condition holds (any / every / none of the items
    match one of them) and [] when it does not, so `$is` / `$in` test it and `$is_not` / `$not_in` negate it.
    With nested `rules` (item sub-rules, see ItemCondition), a line counts as matching only if it is one
    of the references AND passes the sub-rules: "at least 2 units of product X", "an item of collection C
    priced 10.00 or more", "items of C worth 50.00 together".
    """

    def value(self, ctx, rule, scope):
        expected = [e for values in (rule.get("conditions") or {}).values() for e in
                    (values if isinstance(values, list) else [values])]
        refs = [r for r in map(_ref, expected) if r]
        matches = _item_matches(ctx, refs)
        if _numbered(rule.get("rules")):  # item sub-rules: quantity, price, amount of the matched items
            matches = _item_rules_matches(ctx, matches, rule["rules"])
        return expected if self.holds(matches) else []

    def holds(self, matches: list[bool]) -> bool:
        raise NotImplementedError  # each registered subclass says how the items combine


def _item_matches(ctx, refs: list[str]) -> list[bool]:
    """For each order line: does it match one of the references (product, SKU or collection)?"""
    from catalog.models import ProductCollection
    from catalog.selectors import collections_contain_many

    wanted = set(refs)
    collection_refs = [r for r in refs if r.startswith("pc_")]  # no query (or query compile) without any
    collections = list(ProductCollection.objects.filter(public_id__in=collection_refs)) if collection_refs else []
    pairs = [(info.product.pk if info.product else None, info.sku.pk if info.sku else None) for info in ctx.items]
    inside = collections_contain_many(collections, pairs) if collections else {}
    matches = []
    for index, info in enumerate(ctx.items):
        names = {info.source_id}
        if info.product is not None:
            names |= {info.product.public_id, info.product.source_id}
        if info.sku is not None:
            names |= {info.sku.public_id, info.sku.source_id}
        in_collection = any(found[index] for found in inside.values())
        matches.append(bool(names & wanted) or in_collection)
    return matches


@register
class OrderItemsAny(_ItemsCondition):
    name = "order.items.any"

    def holds(self, matches):
        return any(matches)


@register
class OrderItemsEvery(_ItemsCondition):
    name = "order.items.every"

    def holds(self, matches):
        return bool(matches) and all(matches)


@register
class OrderItemsNone(_ItemsCondition):
    name = "order.items.none"

    def holds(self, matches):
        return not any(matches)


# ---------------------------------------------------------------- item sub-rules

def _numbered(rules) -> dict:
    if not isinstance(rules, dict):
        return {}
    return {k: v for k, v in rules.items() if isinstance(k, str) and k.isdigit() and isinstance(v, dict)}


def _order_lines(ctx) -> list:
    """(Line, ItemInfo) of each order line as sent (lines added by UNIT discounts have no ItemInfo)."""
    return list(zip(ctx.state.lines, ctx.items, strict=False))


class ItemCondition(Condition):
    """A condition on order items, used as a sub-rule of order.items.any / every / none: per matched line
    (quantity, price, amount, metadata) or aggregated over all the matched lines (aggregated_quantity,
    aggregated_amount). Used on its own, the whole order is the matched group and a per-line condition
    holds when some line passes (its value is then the first line's value that passes)."""

    error_key = "order_rules_violated"
    aggregated = False

    def item_value(self, line, info, matched: list, rule: dict):
        raise NotImplementedError  # each registered subclass reads its own value

    def value(self, ctx, rule, scope):
        lines = _order_lines(ctx)
        if self.aggregated:
            return self.item_value(None, None, lines, rule)
        values = [self.item_value(line, info, lines, rule) for line, info in lines]
        return _first_passing(values, rule.get("conditions") or {}, every=False)


def _passes(actual, conditions: dict) -> bool:
    from rules.operators import apply_operator

    try:
        return all(apply_operator(op, actual, expected) for op, expected in conditions.items())
    except KeyError:  # an unknown operator never passes
        return False


def _first_passing(values: list, conditions: dict, *, every: bool):
    """One value standing for a list, so that the evaluator's operators decide "any" / "every": the first
    value that passes (any) or fails (every), else the first value; None for no value at all."""
    for value in values:
        if _passes(value, conditions) != every:
            return value
    return values[0] if values else None


def _item_rules_matches(ctx, matches: list[bool], rules: dict) -> list[bool]:
    """Which lines match the references and pass the sub-rules; aggregated sub-rules see every line that
    matches the references."""
    from rules import logic

    numbered = _numbered(rules)
    lines = _order_lines(ctx)
    matched = [pair for pair, hit in zip(lines, matches, strict=False) if hit]
    try:
        tree = logic.parse(rules.get("logic") or logic.default_logic(list(numbered)))
    except logic.LogicError:
        return [False] * len(matches)

    def line_passes(line, info) -> bool:
        def value_of(number: str) -> bool:
            definition = numbered.get(number)
            condition = CONDITIONS.get((definition or {}).get("name"))
            if not isinstance(condition, ItemCondition):
                return False  # not an item condition: the sub-rule cannot pass
            actual = condition.item_value(line, info, matched, definition)
            return _passes(actual, definition.get("conditions") or {})

        try:
            return logic.evaluate(tree, value_of)
        except logic.LogicError:
            return False

    return [hit and index < len(lines) and line_passes(*lines[index]) for index, hit in enumerate(matches)]


def _item(name: str, read, *, aggregated: bool = False, needs_property: bool = False, doc: str = ""):
    attrs = {"name": name, "aggregated": aggregated, "needs_property": needs_property, "__doc__": doc,
             "item_value": lambda self, line, info, matched, rule: read(line, info, matched, rule)}
    return register(type(name.replace(".", "_"), (ItemCondition,), attrs))


_item("order.items.quantity", lambda line, info, matched, rule: line.quantity, doc="units of the line")
_item("order.items.price", lambda line, info, matched, rule: line.price, doc="unit price of the line")
_item("order.items.amount", lambda line, info, matched, rule: line.amount, doc="line amount (price x quantity)")
_item("order.items.subtotal_amount", lambda line, info, matched, rule: line.subtotal,
      doc="line amount less the item discounts applied so far in this request")
_item("order.items.metadata", lambda line, info, matched, rule: (info.metadata or {}).get(_prop(rule)),
      needs_property=True, doc="the line's metadata[property]")
_item("order.items.aggregated_quantity", lambda line, info, matched, rule: sum(pair[0].quantity for pair in matched),
      aggregated=True, doc="units of all the matched lines together")
_item("order.items.aggregated_amount", lambda line, info, matched, rule: sum(pair[0].amount for pair in matched),
      aggregated=True, doc="amount of all the matched lines together")


@register
class OrderItemsPriceAny(OrderCondition):
    """Voucherify's `order.items.price_any`: the price of some item (e.g. `$more_than_or_equal: [150000]`)."""

    name = "order.items.price_any"

    def value(self, ctx, rule, scope):
        return _first_passing([line.price for line, _info in _order_lines(ctx)], rule.get("conditions") or {},
                              every=False)


@register
class OrderItemsPriceEach(OrderCondition):
    """`order.items.price_each`: the price of every item (the value shown is the first price that fails)."""

    name = "order.items.price_each"

    def value(self, ctx, rule, scope):
        return _first_passing([line.price for line, _info in _order_lines(ctx)], rule.get("conditions") or {},
                              every=True)


# ---------------------------------------------------------------- purchase history and custom events

def _period_number(rule: dict, default: int) -> int:
    try:
        return max(1, int(str(rule.get("property") or default).split(":")[-1]))
    except ValueError:
        return default


def _counted_orders(ctx, since):
    from django.db.models.functions import Coalesce

    from customers.models import Order

    return (Order.objects.filter(counted_customer=ctx.customer)
            .annotate(placed=Coalesce("ordered_at", "created_at")).filter(placed__gte=since))


@register
class CustomerOrdersAmountInPeriod(CustomerCondition):
    """Amount spent (PAID and FULFILLED orders) in the last N days; `property` is N (default 365)."""
    cacheable = True

    name = "customer.orders.amount_in_period"

    def value(self, ctx, rule, scope):
        from django.db.models import Sum

        if ctx.customer is None:
            return 0
        since = ctx.now - timedelta(days=_period_number(rule, 365))
        return _counted_orders(ctx, since).aggregate(total=Sum("counted_amount"))["total"] or 0


@register
class CustomerOrdersCountInPeriod(CustomerCondition):
    """Number of PAID and FULFILLED orders in the last N days; `property` is N (default 365)."""
    cacheable = True

    name = "customer.orders.count_in_period"

    def value(self, ctx, rule, scope):
        if ctx.customer is None:
            return 0
        return _counted_orders(ctx, ctx.now - timedelta(days=_period_number(rule, 365))).count()


@register
class CustomerMonthsWithOrders(CustomerCondition):
    """In how many of the last N calendar months (this one included) the customer ordered; `property` is N
    (default 12). "At least one purchase every month for a year": `$more_than_or_equal: [12]`."""
    cacheable = True

    name = "customer.orders.months_with_orders"

    def value(self, ctx, rule, scope):
        from django.db.models.functions import TruncMonth

        if ctx.customer is None:
            return 0
        months = _period_number(rule, 12)
        local = timezone.localtime(ctx.now)
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        for _ in range(months - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        return (_counted_orders(ctx, first).annotate(month=TruncMonth("placed")).values("month").distinct().count())


@register
class CustomEventCount(CustomerCondition):
    """How many times the customer sent the custom event named in `property` ("name", or "name:days" for
    the last days only)."""
    cacheable = True

    name = "custom_event.count"
    needs_property = True

    def value(self, ctx, rule, scope):
        from customers.selectors import custom_event_count

        if ctx.customer is None:
            return 0
        event, _, days = str(rule.get("property") or "").partition(":")
        since = ctx.now - timedelta(days=int(days)) if days.isdigit() else None
        return custom_event_count(ctx.customer, event, since=since)


# ---------------------------------------------------------------- context: where and when

@register
class RedemptionMetadata(Condition):
    cacheable = True
    name = "redemption.metadata"
    needs_property = True

    def value(self, ctx, rule, scope):
        return (ctx.metadata or {}).get(_prop(rule))


def _context_value(ctx, key: str):
    """A context fact sent with the request: top-level (channel), else request metadata, else order metadata."""
    if key == "channel" and ctx.channel:
        return ctx.channel
    return (ctx.metadata or {}).get(key) or (ctx.order_input.get("metadata") or {}).get(key)


class ContextFact(Condition):
    """A context fact of the request (see _context_value): channel (web, app, pos ...), device (ios,
    android, desktop ...) or store (the shop or till the redemption happens in)."""
    cacheable = True

    fact = ""

    def value(self, ctx, rule, scope):
        return _context_value(ctx, self.fact)


for _fact in ("channel", "device", "store"):
    register(type(f"Context{_fact.title()}", (ContextFact,), {"name": f"context.{_fact}", "fact": _fact}))


@register
class ContextDayOfWeek(Condition):
    """Today in the project's time zone, 0 = Sunday ... 6 = Saturday (e.g. `$in: [0, 6]` for weekends)."""
    cacheable = True

    name = "context.day_of_week"

    def value(self, ctx, rule, scope):
        return timezone.localtime(ctx.now).isoweekday() % 7


@register
class ContextTime(Condition):
    """The time of day in the project's time zone as "HH:MM", for windows such as
    `{"$more_than_or_equal": ["17:00"], "$less_than": ["19:00"]}` (compared as text, which orders correctly)."""
    cacheable = True

    name = "context.time"

    def value(self, ctx, rule, scope):
        return timezone.localtime(ctx.now).strftime("%H:%M")


@register
class RedeemableByLinkedCustomer(CustomerCondition):
    """Voucherify's `publication.redeemable_by_linked_customer`: true when the code has no holder or the
    redeeming customer is its holder. Assign `{"$is": [true]}` to make unique codes personal."""

    name = "publication.redeemable_by_linked_customer"

    def value(self, ctx, rule, scope):
        holder_id = getattr(ctx.scratch.get("redeemable"), "holder_id", None)
        if holder_id is None:
            return True
        if ctx.customer is not None:
            return ctx.customer.pk == holder_id
        return False
