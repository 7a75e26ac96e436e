"""The catalog of webhook event types. Endpoints subscribe to these names (or "*", or a prefix such as
"campaign.*"); an unknown name is refused so that a typo does not silently subscribe to nothing.

Apps that emit events of their own register them here (in their AppConfig.ready()) before calling
distribution.services.emit().
"""

PING = "webhook.ping"

EVENT_TYPES: dict[str, str] = {
    "campaign.budget_exhausted": "A campaign's budget was used up by a redemption; the campaign was disabled.",
    "voucher.budget_exhausted": "A voucher's budget was used up by a redemption; the voucher was disabled.",
    "promotion_tier.budget_exhausted": "A promotion tier's budget was used up by a redemption; the tier was "
                                       "disabled.",
    PING: "A test event sent on request (POST /v1/webhooks/{id}/test); always delivered to that endpoint only.",
}


def register_event_type(name: str, description: str) -> None:
    EVENT_TYPES.setdefault(name, description)


def is_known_pattern(pattern: str) -> bool:
    """"*", an exact event type, or "prefix.*" covering at least one known type."""
    if pattern == "*" or pattern in EVENT_TYPES:
        return True
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return any(name.startswith(prefix) for name in EVENT_TYPES)
    return False


def matches(patterns: list[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
