"""Fast validation of the stacked request (validations and redemptions are the hot path).

StackedRequestSerializer documents the same shape in the OpenAPI schema; DRF's nested serializers
deep-copy every field on every request, which cost more than the engine itself. A test feeds both
the same payloads and checks they agree. Null means "not given" everywhere.
"""

from __future__ import annotations

from core import dates
from core.api.fields import MAX_AMOUNT
from core.errors import InvalidPayload

REDEEMABLE_OBJECTS = ("voucher", "promotion_tier", "promotion_stack")
ORDER_STATUSES = ("CREATED", "PAID", "CANCELED", "FULFILLED")
TTL_UNITS = ("DAYS", "HOURS", "MINUTES", "SECONDS", "MILLISECONDS")
MAX_ITEMS = 500


class _Errors:
    def __init__(self):
        self.messages: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.messages.append(f"{path}: {message}")


def _text(value, path: str, errors: _Errors, max_length: int = 255, blank: bool = False):
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(path, "Not a valid string.")
        return None
    if len(value) > max_length:
        errors.add(path, f"Ensure this field has no more than {max_length} characters.")
    if "\x00" in value:
        errors.add(path, "Null characters are not allowed.")
    if not value and not blank:
        errors.add(path, "This field may not be blank.")
    return value


def _int(value, path: str, errors: _Errors, minimum: int = 0, maximum: int = MAX_AMOUNT):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "Must be a JSON integer (amounts are in minor units, e.g. 1000 for 10.00).")
        return None
    if not minimum <= value <= maximum:
        errors.add(path, f"Must be between {minimum} and {maximum}.")
    return value


def _object(value, path: str, errors: _Errors) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.add(path, "Must be a JSON object.")
        return None
    return value


def _choice(value, path: str, errors: _Errors, choices: tuple):
    if value is not None and value not in choices:
        errors.add(path, f'"{value}" is not a valid choice.')
    return value


def _product(data, path: str, errors: _Errors, sku: bool = False) -> dict | None:
    data = _object(data, path, errors)
    if data is None:
        return None
    out = {key: _text(data.get(key), f"{path}.{key}", errors) for key in ("id", "source_id", "name")}
    if sku:
        out["sku"] = _text(data.get("sku"), f"{path}.sku", errors)
    out["price"] = _int(data.get("price"), f"{path}.price", errors)
    out["metadata"] = _object(data.get("metadata"), f"{path}.metadata", errors)
    override = data.get("override")
    if override is not None and not isinstance(override, bool):
        errors.add(f"{path}.override", "Must be a valid boolean.")
    out["override"] = override
    return out


def _required_object(data, path: str, errors: _Errors) -> dict | None:
    if data is None:
        errors.add(path, "This field may not be null.")
        return None
    return _object(data, path, errors)


def _item(data, path: str, errors: _Errors) -> dict | None:
    data = _required_object(data, path, errors)
    if data is None:
        return None
    return {
        "sku_id": _text(data.get("sku_id"), f"{path}.sku_id", errors),
        "product_id": _text(data.get("product_id"), f"{path}.product_id", errors),
        "related_object": _choice(data.get("related_object"), f"{path}.related_object", errors, ("product", "sku")),
        "source_id": _text(data.get("source_id"), f"{path}.source_id", errors),
        "quantity": _int(data.get("quantity"), f"{path}.quantity", errors, maximum=1_000_000),
        "price": _int(data.get("price"), f"{path}.price", errors),
        "amount": _int(data.get("amount"), f"{path}.amount", errors),
        "metadata": _object(data.get("metadata"), f"{path}.metadata", errors),
        "product": _product(data.get("product"), f"{path}.product", errors),
        "sku": _product(data.get("sku"), f"{path}.sku", errors, sku=True),
    }


def _date(value, path: str, errors: _Errors):
    if value is None:
        return None
    day = dates.parse_day(value)
    if day is None:
        errors.add(path, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.")
    return day


def _customer(data, path: str, errors: _Errors) -> dict | None:
    data = _object(data, path, errors)
    if data is None:
        return None
    out = {"id": _text(data.get("id"), f"{path}.id", errors),
           "source_id": _text(data.get("source_id"), f"{path}.source_id", errors)}
    for key, length in (("name", 255), ("email", 254), ("phone", 50), ("description", 100_000)):
        out[key] = _text(data.get(key), f"{path}.{key}", errors, max_length=length, blank=True)
    out["birthdate"] = _date(data.get("birthdate"), f"{path}.birthdate", errors)
    out["birthday"] = _date(data.get("birthday"), f"{path}.birthday", errors)
    address = _object(data.get("address"), f"{path}.address", errors)
    if address is not None:
        limits = {"city": 120, "state": 120, "line_1": 255, "line_2": 255, "country": 120, "postal_code": 40}
        address = {key: _text(address.get(key), f"{path}.address.{key}", errors, max_length=length, blank=True)
                   for key, length in limits.items()}
    out["address"] = address
    out["metadata"] = _object(data.get("metadata"), f"{path}.metadata", errors)
    return out


def _redeemable(data, path: str, errors: _Errors) -> dict | None:
    data = _required_object(data, path, errors)
    if data is None:
        return None
    if data.get("object") is None:
        errors.add(f"{path}.object", "This field is required.")
    if data.get("id") is None:
        errors.add(f"{path}.id", "This field is required.")
    gift = _object(data.get("gift"), f"{path}.gift", errors)
    reward = _object(data.get("reward"), f"{path}.reward", errors)
    return {
        "object": _choice(data.get("object"), f"{path}.object", errors, REDEEMABLE_OBJECTS),
        "id": _text(data.get("id"), f"{path}.id", errors),
        "gift": None if gift is None else {"credits": _int(gift.get("credits"), f"{path}.gift.credits", errors)},
        "reward": None if reward is None else {"id": _text(reward.get("id"), f"{path}.reward.id", errors),
                                               "points": _int(reward.get("points"), f"{path}.reward.points", errors)},
    }


def _order(data, errors: _Errors) -> dict | None:
    data = _object(data, "order", errors)
    if data is None:
        return None
    items = data.get("items")
    if items is not None:
        if not isinstance(items, list):
            errors.add("order.items", f'Expected a list of items but got type "{type(items).__name__}".')
            items = None
        elif len(items) > MAX_ITEMS:
            errors.add("order.items", f"Ensure this field has no more than {MAX_ITEMS} elements.")
            items = None
        else:
            items = [_item(item, f"order.items[{i}]", errors) for i, item in enumerate(items)]
    return {
        "id": _text(data.get("id"), "order.id", errors),
        "source_id": _text(data.get("source_id"), "order.source_id", errors),
        "status": _choice(data.get("status"), "order.status", errors, ORDER_STATUSES),
        "amount": _int(data.get("amount"), "order.amount", errors),
        "items": items,
        "metadata": _object(data.get("metadata"), "order.metadata", errors),
        "customer": _customer(data.get("customer"), "order.customer", errors),
    }


def _session(data, errors: _Errors) -> dict | None:
    data = _object(data, "session", errors)
    if data is None:
        return None
    return {"key": _text(data.get("key"), "session.key", errors, max_length=64),
            "type": _choice(data.get("type"), "session.type", errors, ("LOCK",)),
            "ttl": _int(data.get("ttl"), "session.ttl", errors, minimum=1, maximum=10**9),
            "ttl_unit": _choice(data.get("ttl_unit"), "session.ttl_unit", errors, TTL_UNITS)}


def parse_stacked_request(data) -> dict:
    """The validated request (same keys as StackedRequestSerializer.validated_data) or InvalidPayload."""
    errors = _Errors()
    if not isinstance(data, dict):
        raise InvalidPayload("non_field_errors: Invalid data. Expected a dictionary.")
    redeemables = data.get("redeemables")
    parsed_redeemables = []
    if not isinstance(redeemables, list):
        errors.add("redeemables", "This field is required." if redeemables is None else "Expected a list of items.")
    elif not 1 <= len(redeemables) <= 30:
        errors.add("redeemables", "Send from 1 to 30 redeemables.")
    else:
        parsed_redeemables = [_redeemable(r, f"redeemables[{i}]", errors) for i, r in enumerate(redeemables)]
    options = _object(data.get("options"), "options", errors)
    expand = options.get("expand") if options else None
    if expand is not None and (not isinstance(expand, list) or not all(isinstance(x, str) for x in expand)):
        errors.add("options.expand", "Expected a list of strings.")
    result = {
        "redeemables": parsed_redeemables,
        "order": _order(data.get("order"), errors),
        "customer": _customer(data.get("customer"), "customer", errors),
        "session": _session(data.get("session"), errors),
        "tracking_id": _text(data.get("tracking_id"), "tracking_id", errors, blank=True),
        "metadata": _object(data.get("metadata"), "metadata", errors),
        "options": {"expand": expand} if options is not None else None,
        "channel": _text(data.get("channel"), "channel", errors, max_length=40),
    }
    if errors.messages:
        raise InvalidPayload("; ".join(errors.messages))
    if not result["customer"] and result["order"] and result["order"].get("customer"):
        result["customer"] = result["order"]["customer"]
    return result
