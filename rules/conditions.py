"""Condition strategies: one class per rule name (`order.amount`, `customer.metadata`, ...).

Add a condition by subclassing Condition and decorating it with @register; the evaluator needs
no change. A condition reads one value from the context; `LimitCondition`s are also backed by a
database counter so that their limit holds under concurrent redemptions.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

CONDITIONS: dict[str, Condition] = {}


def register(cls):
    CONDITIONS[cls.name] = cls()
    return cls


class Condition:
    name = ""
    # The error key when this condition fails: customer_rules_violated, order_rules_violated ...
    error_key = "redemption_rules_violated"
    needs_property = False

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
    name = "order.amount"

    def value(self, ctx, rule, scope):
        return ctx.state.amount


@register
class OrderInitialAmount(OrderCondition):
    name = "order.initial_amount"

    def value(self, ctx, rule, scope):
        return ctx.initial_amount


@register
class OrderTotalAmount(OrderCondition):
    """The total after the discounts applied so far in this request."""

    name = "order.total_amount"

    def value(self, ctx, rule, scope):
        return ctx.state.total_amount


@register
class OrderItemsCount(OrderCondition):
    name = "order.items.count"

    def value(self, ctx, rule, scope):
        return sum(line.quantity for line in ctx.state.lines)


@register
class OrderMetadata(OrderCondition):
    name = "order.metadata"
    needs_property = True

    def value(self, ctx, rule, scope):
        return (ctx.order_input.get("metadata") or {}).get(rule.get("property"))


# ---------------------------------------------------------------- customer

def _customer_field(ctx, name):
    given = (ctx.customer_input or {}).get(name)
    if given is not None:
        return given
    return getattr(ctx.customer, name, None) if ctx.customer is not None else None


@register
class CustomerMetadata(CustomerCondition):
    name = "customer.metadata"
    needs_property = True

    def value(self, ctx, rule, scope):
        metadata = dict(getattr(ctx.customer, "metadata", None) or {})
        metadata.update((ctx.customer_input or {}).get("metadata") or {})
        return metadata.get(rule.get("property"))


class _AddressCondition(CustomerCondition):
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

    name = "customer.orders.amount"

    def value(self, ctx, rule, scope):
        return ctx.customer.orders_total_amount if ctx.customer else 0


@register
class CustomerOrdersCount(CustomerCondition):
    name = "customer.orders.count"

    def value(self, ctx, rule, scope):
        return ctx.customer.orders_total_count if ctx.customer else 0


@register
class CustomerLastOrderDate(CustomerCondition):
    name = "customer.last_order_date"

    def value(self, ctx, rule, scope):
        return ctx.customer.last_order_date if ctx.customer else None


@register
class CustomerCreatedAt(CustomerCondition):
    name = "customer.created_at"

    def value(self, ctx, rule, scope):
        return ctx.customer.created_at if ctx.customer else None


@register
class CustomerEmail(CustomerCondition):
    name = "customer.email"

    def value(self, ctx, rule, scope):
        return _customer_field(ctx, "email")


# ---------------------------------------------------------------- redemption (counter-backed limits)

class LimitCondition(Condition):
    """A count or amount bounded from above and enforced by a LimitCounter at redemption time."""

    error_key = "redemption_rules_violated"
    needs_customer = False
    period = ""  # "", "daily", "weekly", "monthly"

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
