"""Stacking rules: how many redeemables one request may carry and apply, and how categories
combine. Field names, defaults and maxima are Voucherify's. The project's rules are a setting
(STACKING_RULES, a dict overriding the defaults) validated at load time."""

from dataclasses import asdict, dataclass, field
from functools import cache

from django.conf import settings

LIMITS = {
    "redeemables_limit": (30, 30),
    "applicable_redeemables_limit": (5, 30),
    "applicable_redeemables_per_category_limit": (1, 30),
    "applicable_exclusive_redeemables_limit": (1, 5),
    "applicable_exclusive_redeemables_per_category_limit": (1, 5),
}
APPLICATION_MODES = ("ALL", "PARTIAL")
SORTING_RULES = ("REQUESTED_ORDER", "CATEGORY_HIERARCHY")
NO_EFFECT_RULES = ("REDEEM_ANYWAY", "SKIP")


@dataclass(frozen=True)
class StackingRules:
    redeemables_limit: int = 30
    applicable_redeemables_limit: int = 5
    applicable_redeemables_per_category_limit: int = 1
    applicable_exclusive_redeemables_limit: int = 1
    applicable_exclusive_redeemables_per_category_limit: int = 1
    exclusive_categories: tuple[str, ...] = ()  # category public ids
    joint_categories: tuple[str, ...] = ()
    redeemables_application_mode: str = "ALL"
    redeemables_sorting_rule: str = "REQUESTED_ORDER"
    redeemables_no_effect_rule: str = "REDEEM_ANYWAY"
    applicable_redeemables_category_limits: dict = field(default_factory=dict)

    def as_response(self) -> dict:
        data = asdict(self)
        data["exclusive_categories"] = list(self.exclusive_categories)
        data["joint_categories"] = list(self.joint_categories)
        return data


def build_stacking_rules(overrides: dict | None) -> StackingRules:
    """Validate overrides against the spec's ranges and enums; raise ValueError naming the field."""
    overrides = dict(overrides or {})
    for name, (_default, maximum) in LIMITS.items():
        if name in overrides:
            value = overrides[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
                raise ValueError(f"stacking rule {name} must be an integer from 1 to {maximum}")
    for name, allowed in (("redeemables_application_mode", APPLICATION_MODES),
                          ("redeemables_sorting_rule", SORTING_RULES),
                          ("redeemables_no_effect_rule", NO_EFFECT_RULES)):
        if name in overrides and overrides[name] not in allowed:
            raise ValueError(f"stacking rule {name} must be one of {', '.join(allowed)}")
    for name in ("exclusive_categories", "joint_categories"):
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    unknown = set(overrides) - set(StackingRules.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown stacking rules: {', '.join(sorted(unknown))}")
    return StackingRules(**overrides)


@cache
def _rules_from_settings(frozen: tuple) -> StackingRules:
    return build_stacking_rules(dict(frozen))


def project_stacking_rules() -> StackingRules:
    overrides = getattr(settings, "STACKING_RULES", None) or {}
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in overrides.items()
                          if not isinstance(v, dict)))
    return _rules_from_settings(frozen)
