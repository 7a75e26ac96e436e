"""Writes of categories, campaigns and vouchers, and their async actions (code generation, CSV
imports, bulk updates, campaign deletion).

Input arrives API-shaped (Voucherify field names, `null` meaning "not given") from the API, CSV
rows, bulk payloads and the admin, and is checked here so every entry point gets the same rules.
Vouchers are never saved whole: their redemption counters move only through the engine's
conditional UPDATEs, so edits here are column-limited UPDATEs (compare-and-swap on updated_at).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time

from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError, Q
from django.db.models.functions import Least
from django.utils import timezone

from core import audit, csv_import, dates
from core.bulk import Tally
from core.context import current_actor
from core.errors import ApiError, Conflict, DuplicateFound, InvalidPayload, NotFound
from core.metadata import validate_metadata
from core.models import AsyncAction
from core.permissions import check_category_allowed, limited_to_categories
from core.services import async_action_start, register_async_handler
from customers.models import Customer
from promo import approvals, codes, discounts
from promo import campaign_selectors as selectors
from promo.models import Campaign, Category, Voucher
from promo.validity import parse_duration
from rules.models import ValidationRule, ValidationRuleAssignment

logger = logging.getLogger(__name__)

MAX_NAME = 255
CATEGORY_NAME = 120
MAX_TEXT = 10_000
MAX_QUANTITY = 10**9
MAX_AMOUNT = 10**15
SUPPORTED_CAMPAIGN_TYPES = {Campaign.CampaignType.DISCOUNT_COUPONS, Campaign.CampaignType.PROMOTION}
# PROMOTION campaigns have tiers, not codes (promo.promotions); their template only keeps code settings inert.
PROMOTION_TEMPLATE = {"type": "DISCOUNT_VOUCHER", "code_config": codes.clean_code_config(None),
                      "redemption": {"quantity": None}, "is_referral_code": False}
SUPPORTED_VOUCHER_TYPES = {Voucher.Type.DISCOUNT_VOUCHER}
MONEY_KEYS = ("amount_off", "amount_limit", "fixed_amount", "aggregated_amount_limit")
FORMULA_KEYS = ("amount_off_formula", "percent_off_formula", "fixed_amount_formula", "unit_off_formula")
GENERATE_ACTION = "CAMPAIGN_VOUCHERS_GENERATE"
IMPORT_ACTION = "VOUCHERS_IMPORT_CSV"
BULK_ACTION = "VOUCHERS_BULK_UPDATE"
METADATA_ACTION = "VOUCHERS_METADATA_UPDATE"
DELETE_ACTION = "CAMPAIGN_DELETE"
ROWS_PER_BATCH = 500


# ================================================================ other voucher kinds (plugged in by their apps)

@dataclass(frozen=True)
class VoucherKind:
    """How an app plugs a voucher type other than DISCOUNT_VOUCHER into campaign and voucher creation
    (registered in its AppConfig.ready(), e.g. giftcards for GIFT_VOUCHER)."""

    campaign_type: str
    # (raw voucher data or campaign template, path, the campaign's template or None) -> model field values,
    # e.g. {"gift": {...}}; raises InvalidPayload.
    clean: Callable[[dict, str, dict | None], dict]
    created: Callable[[Voucher, dict], None]  # one voucher inserted (same transaction), with the raw data
    generated: Callable[[int], None]  # inside each generated batch's transaction, with the campaign pk
    code_space_per_code: int = codes.CODES_PER_BILLION
    # When the voucher really expires, if not "its own date, else the campaign's" (gift cards: an expiry
    # law may replace the campaign's end); shown as expiration_date. No database query: reads the voucher.
    expiration: Callable[[Voucher], datetime | None] | None = None
    # POST /v1/campaigns/{id}/importCSV into a campaign of this kind: (content, campaign, api_key, user) ->
    # AsyncAction, instead of the discount-voucher import.
    import_csv: Callable[..., AsyncAction] | None = None


VOUCHER_KINDS: dict[str, VoucherKind] = {}


def voucher_expiration(voucher: Voucher) -> datetime | None:
    """The expiration_date a voucher shows: its own, else its campaign's, unless its kind says otherwise."""
    plugged = VOUCHER_KINDS.get(voucher.type)
    if plugged is not None and plugged.expiration is not None:
        return plugged.expiration(voucher)
    return voucher.expiration_date or (voucher.campaign.expiration_date if voucher.campaign_id else None)


def register_voucher_kind(voucher_type: str, kind: VoucherKind) -> None:
    VOUCHER_KINDS[voucher_type] = kind


def _kind_of_campaign_type(campaign_type: str) -> tuple[str, VoucherKind] | None:
    return next(((t, k) for t, k in VOUCHER_KINDS.items() if k.campaign_type == campaign_type), None)


def _per_code(voucher_type) -> int:
    plugged = VOUCHER_KINDS.get(voucher_type)
    return plugged.code_space_per_code if plugged else codes.CODES_PER_BILLION



# ================================================================ input checks

def given(data) -> dict:
    """The fields actually given: explicit nulls (the SDK's from_dict sends them) are dropped."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidPayload("The body must be a JSON object")
    return {k: v for k, v in data.items() if v is not None}


def _nul_free(value, path: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidPayload(f"{path} must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _nul_free(key, path)
            _nul_free(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _nul_free(item, f"{path}[{index}]")


def clean_text(value, path: str, max_length: int = MAX_NAME) -> str:
    if not isinstance(value, str):
        raise InvalidPayload(f"{path} must be a string")
    if "\x00" in value:
        raise InvalidPayload(f"{path} must not contain NUL characters")
    if len(value) > max_length:
        raise InvalidPayload(f"{path} must have at most {max_length} characters")
    return value


def clean_name(value, path: str = "name", max_length: int = MAX_NAME) -> str:
    name = clean_text(value, path, max_length).strip()
    if not name:
        raise InvalidPayload(f"{path} must not be empty")
    return name


def clean_bool(value, path: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidPayload(f"{path} must be true or false")
    return value


def clean_int(value, path: str, *, minimum: int = 0, maximum: int = MAX_AMOUNT) -> int:
    # bool is an int in Python, and 10.0 is not a count or an amount: both are refused.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload(f"{path} must be an integer")
    if not minimum <= value <= maximum:
        raise InvalidPayload(f"{path} must be between {minimum} and {maximum}")
    return value


def clean_datetime(value, path: str) -> datetime:
    """ISO 8601 date-time (or a date: midnight in the project's time zone); naive means project time."""
    return dates.clean_moment(value, path)


def clean_timeframe(value, path: str = "validity_timeframe") -> dict:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be an object with interval and duration")
    value = given(value)
    out = {}
    for key in ("interval", "duration"):
        raw = value.get(key)
        if not isinstance(raw, str):
            raise InvalidPayload(f"{path}.{key} is required: an ISO 8601 duration such as PT1H or P2D")
        try:
            length = parse_duration(raw)
        except ValueError as exc:
            raise InvalidPayload(f"{path}.{key}: {exc}")
        if length.total_seconds() <= 0:
            raise InvalidPayload(f"{path}.{key} must be longer than zero")
        out[key] = raw
    if parse_duration(out["duration"]) > parse_duration(out["interval"]):
        raise InvalidPayload(f"{path}.duration must not be longer than its interval")
    return out


def clean_days(value, path: str = "validity_day_of_week") -> list[int]:
    if not isinstance(value, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in value):
        raise InvalidPayload(f"{path} must be a list of days 0-6 (0 = Sunday)")
    return sorted(set(value))


def _time(value, path: str) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidPayload(f"{path} must be a time such as 14:00")
    try:
        time.fromisoformat(value)
    except ValueError:
        raise InvalidPayload(f"{path} must be a time such as 14:00")
    return value


def clean_hours(value, path: str = "validity_hours") -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("daily", []), list):
        raise InvalidPayload(f"{path} must be an object with a daily list")
    daily = []
    for index, window in enumerate(value.get("daily") or []):
        where = f"{path}.daily[{index}]"
        if not isinstance(window, dict):
            raise InvalidPayload(f"{where} must be an object")
        window = given(window)
        item = {"start_time": _time(window.get("start_time"), f"{where}.start_time"),
                "expiration_time": _time(window.get("expiration_time"), f"{where}.expiration_time")}
        if "days_of_week" in window:
            item["days_of_week"] = clean_days(window["days_of_week"], f"{where}.days_of_week")
        daily.append(item)
    return {"daily": daily}


def _number(value, path: str):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPayload(f"{path} must be a number")
    return value


def clean_discount(value, path: str = "discount") -> dict:
    """A discount the engine can apply: type/effect pair from promo.discounts, integer money, and a
    trial calculation (discounts.calculate) so a definition that cannot be applied is refused now."""
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be a JSON object")
    raw = given(value)
    _nul_free(raw, path)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in discounts.EFFECTS_BY_TYPE:
        raise InvalidPayload(f"{path}.type must be one of {', '.join(sorted(discounts.EFFECTS_BY_TYPE))}")
    effect = raw.get("effect") or (discounts.ADD_MISSING_ITEMS if kind == discounts.UNIT
                                   else discounts.APPLY_TO_ORDER)
    if not isinstance(effect, str) or effect not in discounts.EFFECTS_BY_TYPE[kind]:
        raise InvalidPayload(f"{path}.effect {effect!r} does not apply to {kind} discounts (use one of "
                             f"{', '.join(sorted(discounts.EFFECTS_BY_TYPE[kind]))})")
    for key in FORMULA_KEYS:
        if raw.get(key):
            raise InvalidPayload(f"{path}.{key}: discount formulas are not supported")
    out: dict = {"type": kind, "effect": effect}
    for key in MONEY_KEYS:
        if key in raw:
            out[key] = clean_int(raw[key], f"{path}.{key}")
    required = {discounts.AMOUNT: "amount_off", discounts.PERCENT: "percent_off",
                discounts.FIXED: "fixed_amount"}.get(kind)
    if kind == discounts.PERCENT and "percent_off" in raw:
        percent = _number(raw["percent_off"], f"{path}.percent_off")
        if not 0 <= percent <= 100:
            raise InvalidPayload(f"{path}.percent_off must be between 0 and 100")
        out["percent_off"] = percent
    if required and required not in out:
        raise InvalidPayload(f"{path}.{required} is required for {kind} discounts")
    if kind == discounts.UNIT:
        out.update(_clean_units(raw, effect, path))
    for key in ("product", "sku"):
        if isinstance(raw.get(key), dict):
            out[key] = given(raw[key])
    out["is_dynamic"] = False
    _trial(out, path)
    return out


def _clean_unit(raw: dict, path: str) -> dict:
    raw = given(raw)
    unit = {"unit_off": clean_int(raw.get("unit_off"), f"{path}.unit_off", minimum=1, maximum=MAX_QUANTITY)
            if "unit_off" in raw else None,
            "unit_type": clean_text(raw.get("unit_type"), f"{path}.unit_type") if "unit_type" in raw else None}
    if unit["unit_off"] is None or not unit["unit_type"]:
        raise InvalidPayload(f"{path} needs unit_off (an integer) and unit_type (a product or SKU id)")
    return unit


def _clean_units(raw: dict, effect: str, path: str) -> dict:
    if effect == discounts.ADD_MANY_ITEMS:
        units = raw.get("units")
        if not isinstance(units, list) or not units or not all(isinstance(u, dict) for u in units):
            raise InvalidPayload(f"{path}.units must be a non-empty list for ADD_MANY_ITEMS")
        out = []
        for index, item in enumerate(units):
            unit = _clean_unit(item, f"{path}.units[{index}]")
            unit_effect = item.get("effect") or discounts.ADD_MISSING_ITEMS
            if unit_effect not in (discounts.ADD_MISSING_ITEMS, discounts.ADD_NEW_ITEMS):
                raise InvalidPayload(f"{path}.units[{index}].effect must be ADD_MISSING_ITEMS or ADD_NEW_ITEMS")
            out.append({**unit, "effect": unit_effect})
        return {"units": out}
    return _clean_unit(raw, path)


def _trial(discount: dict, path: str) -> None:
    line = discounts.Line(index=0, quantity=1, price=10_000, amount=10_000, product_id="prod_trial")
    state = discounts.OrderState(lines=[line], amount=10_000)
    grants = None
    if discount["type"] == discounts.UNIT:
        grants = [discounts.UnitGrant(unit_type=u["unit_type"], unit_off=u["unit_off"],
                                      effect=u.get("effect") or discount["effect"], price=0)
                  for u in (discount.get("units") or [discount])]
    try:
        discounts.calculate(state, discount, None, grants)
    except discounts.DiscountError as exc:
        raise InvalidPayload(f"{path}: {exc}")


def clean_quantity(value, path: str = "redemption.quantity") -> int | None:
    if value is None:
        return None
    return clean_int(value, path, minimum=1, maximum=MAX_QUANTITY)


def _redemption_quantity(data: dict, path: str = "redemption") -> tuple[bool, int | None]:
    """(given?, quantity) from `redemption: {quantity}`; a null quantity is "not given", like every null."""
    redemption = data.get("redemption")
    if redemption is None:
        return False, None
    if not isinstance(redemption, dict):
        raise InvalidPayload(f"{path} must be an object with quantity")
    if redemption.get("quantity") is None:
        return False, None
    return True, clean_quantity(redemption["quantity"], f"{path}.quantity")


def clean_metadata(related_object: str, value, path: str = "metadata") -> dict:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be a JSON object")
    _nul_free(value, path)
    return validate_metadata(related_object, value)


def resolve_category(data: dict, path: str = "category") -> tuple[bool, Category | None]:
    """(given?, category) from category_id (an id) or category (an id or a name)."""
    for key in ("category_id", "category"):
        if key in data:
            ref = data[key]
            if not isinstance(ref, str):
                raise InvalidPayload(f"{key} must be a string")
            if ref == "":
                return True, None
            return True, selectors.category_get(ref)
    return False, None


def resolve_customer(ref, path: str = "holder_id") -> Customer:
    if not isinstance(ref, str) or not selectors.usable_ref(ref):
        raise InvalidPayload(f"{path} must be a customer id or source_id")
    customer = (Customer.objects.filter(deleted_at__isnull=True)
                .filter(Q(public_id=ref) | Q(source_id=ref)).order_by("-public_id").first())
    if customer is None:
        raise NotFound.for_object("customer", ref)
    return customer


def clean_rules(value, path: str = "validation_rules") -> list[ValidationRule]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise InvalidPayload(f"{path} must be a list of validation rule ids")
    found = {r.public_id: r for r in ValidationRule.objects.filter(public_id__in=[
        r for r in value if selectors.usable_ref(r)])}
    missing = [r for r in value if r not in found]
    if missing:
        raise NotFound(f"Cannot find validation rule with id {missing[0]}")
    return [found[r] for r in dict.fromkeys(value)]


def assign_rules(rules: list[ValidationRule], object_type: str, object_id: str) -> None:
    for rule in rules:
        ValidationRuleAssignment.objects.get_or_create(rule=rule, related_object_type=object_type,
                                                       related_object_id=object_id)


VALIDITY_FIELDS = ("start_date", "expiration_date", "validity_timeframe", "validity_day_of_week", "validity_hours")


def clean_validity(data: dict, path: str = "") -> dict:
    """start_date, expiration_date and the recurring windows that were given."""
    prefix = f"{path}." if path else ""
    out: dict = {}
    for key in ("start_date", "expiration_date"):
        if key in data:
            out[key] = clean_datetime(data[key], prefix + key)
    if "validity_timeframe" in data:
        out["validity_timeframe"] = clean_timeframe(data["validity_timeframe"], prefix + "validity_timeframe")
    if "validity_day_of_week" in data:
        out["validity_day_of_week"] = clean_days(data["validity_day_of_week"], prefix + "validity_day_of_week")
    if "validity_hours" in data:
        out["validity_hours"] = clean_hours(data["validity_hours"], prefix + "validity_hours")
    return out


def check_validity(values: dict, path: str = "") -> None:
    """The merged (stored + changed) validity is coherent."""
    prefix = f"{path}." if path else ""
    start, end = values.get("start_date"), values.get("expiration_date")
    if start and end and end <= start:
        raise InvalidPayload(f"{prefix}expiration_date must be after {prefix}start_date")
    if values.get("validity_timeframe") and not start:
        raise InvalidPayload(f"{prefix}validity_timeframe needs a {prefix}start_date (the windows count from it)")


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# ================================================================ categories

# Codes and names are unique per deployment, so a taken one is always refused. A caller limited to campaign
# categories gets one neutral answer whether it is taken in its own categories or in one it cannot see: it
# learns no more than that the value is not free (docs/integrators.md).
TAKEN = {"code": ("A voucher with code {!r} already exists", "code"),
         "campaign": ("A campaign named {!r} already exists", "campaign name"),
         "category": ("A category named {!r} already exists", "category name")}


def taken_message(kind: str, value) -> str:
    message, noun = TAKEN[kind]
    if limited_to_categories():
        return f"The {noun} {value!r} cannot be used: choose another one"
    return message.format(value)


def taken(kind: str, value) -> DuplicateFound:
    return DuplicateFound(taken_message(kind, value))


def category_create(data) -> Category:
    data = given(data)
    name = clean_name(data.get("name"), max_length=CATEGORY_NAME)
    hierarchy = clean_int(data.get("hierarchy", 0), "hierarchy", maximum=10**6)
    try:
        with transaction.atomic():
            category = Category.objects.create(name=name, hierarchy=hierarchy)
            audit.record_create(category)
            return category
    except IntegrityError:
        raise taken("category", name)


def category_update(category: Category, data) -> Category:
    data = given(data)
    changes = {}
    if "name" in data:
        changes["name"] = clean_name(data["name"], max_length=CATEGORY_NAME)
    if "hierarchy" in data:
        changes["hierarchy"] = clean_int(data["hierarchy"], "hierarchy", maximum=10**6)
    if changes:
        try:
            with transaction.atomic():
                before = audit.snapshot(category, list(changes))
                Category.objects.filter(pk=category.pk).update(**changes, updated_at=timezone.now())
                audit.record_update(category, before)
        except IntegrityError:
            raise taken("category", changes.get("name"))
        category.refresh_from_db()
    return category


def category_delete(category: Category) -> None:
    """Campaigns and vouchers of the category keep working, without a category."""
    with transaction.atomic():
        audit.record_delete(category)
        category.delete()


# ================================================================ campaigns

def _voucher_template(raw, path: str = "voucher", campaign_type: str = Campaign.CampaignType.DISCOUNT_COUPONS) -> dict:
    """The campaign's voucher template, in the shape the API shows (`voucher` of a campaign)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{path} must be a JSON object")
    raw = given(raw)
    plugged = _kind_of_campaign_type(campaign_type)  # e.g. GIFT_VOUCHERS -> GIFT_VOUCHER (giftcards)
    kind = raw.get("type", plugged[0] if plugged else Voucher.Type.DISCOUNT_VOUCHER)
    if plugged is not None:
        if kind != plugged[0]:
            raise InvalidPayload(f"{path}.type must be {plugged[0]} for a {campaign_type} campaign")
        template = {"type": kind, **plugged[1].clean(raw, path, None),
                    "code_config": codes.clean_code_config(raw.get("code_config")), "is_referral_code": False}
    elif not isinstance(kind, str) or kind not in SUPPORTED_VOUCHER_TYPES:
        raise InvalidPayload(f"{path}.type must be DISCOUNT_VOUCHER for a DISCOUNT_COUPONS campaign "
                             "(gift cards and loyalty cards have their own campaign types)")
    elif "discount" not in raw:
        raise InvalidPayload(f"{path}.discount is required")
    else:
        template = {"type": kind, "discount": clean_discount(raw["discount"], f"{path}.discount"),
                    "code_config": codes.clean_code_config(raw.get("code_config")),
                    "is_referral_code": clean_bool(raw.get("is_referral_code", False), f"{path}.is_referral_code")}
    _given, quantity = _redemption_quantity(raw, f"{path}.redemption")
    template["redemption"] = {"quantity": quantity}
    validity = clean_validity(raw, path)
    check_validity(validity, path)
    for key, value in validity.items():
        template[key] = _iso(value) if isinstance(value, datetime) else value
    return template


def _template_datetime(template: dict, key: str) -> datetime | None:
    return dates.parse_moment(template.get(key))


def campaign_create(data, *, api_key=None, user=None) -> Campaign:
    """POST /v1/campaigns. With vouchers_count, the codes are generated by an async action queued
    when the campaign is committed."""
    data = given(data)
    _nul_free(data, "campaign")
    campaign_type = data.get("campaign_type", Campaign.CampaignType.DISCOUNT_COUPONS)
    if campaign_type not in Campaign.CampaignType.values:
        raise InvalidPayload(f"campaign_type must be one of {', '.join(Campaign.CampaignType.values)}")
    if not isinstance(campaign_type, str) or (campaign_type not in SUPPORTED_CAMPAIGN_TYPES
                                              and _kind_of_campaign_type(campaign_type) is None):
        raise InvalidPayload(f"{campaign_type} campaigns cannot be created through this endpoint yet",
                             key="campaign_type_not_supported", message="Campaign type not supported")
    kind = data.get("type", Campaign.Type.AUTO_UPDATE)
    if kind not in Campaign.Type.values:
        raise InvalidPayload(f"type must be one of {', '.join(Campaign.Type.values)}")
    fields = {
        "name": clean_name(data.get("name")) if "name" in data else None,
        "description": clean_text(data.get("description", ""), "description", MAX_TEXT),
        "campaign_type": campaign_type, "type": kind,
        "join_once": clean_bool(data.get("join_once", False), "join_once"),
        "auto_join": clean_bool(data.get("auto_join", False), "auto_join"),
        "metadata": clean_metadata("campaign", data.get("metadata", {})),
        "voucher_template": _voucher_template(data.get("voucher"), campaign_type=campaign_type)
        if campaign_type != Campaign.CampaignType.PROMOTION else PROMOTION_TEMPLATE,
        "exclusive": clean_bool(data.get("exclusive", False), "exclusive"),
    }
    if not fields["name"]:
        raise InvalidPayload("name is required")
    fields.update(clean_validity(data))
    check_validity(fields)
    _given, fields["category"] = resolve_category(data)
    check_category_allowed(current_actor(), fields["category"])
    count = clean_int(data.get("vouchers_count", 0), "vouchers_count", maximum=codes.MAX_CODES_PER_REQUEST)
    if count and campaign_type == Campaign.CampaignType.PROMOTION:
        raise InvalidPayload("A PROMOTION campaign has promotion tiers, not codes: leave vouchers_count out")
    spec = codes.CodeSpec.from_config(fields["voucher_template"]["code_config"])
    codes.check_code_space(spec, count, per_code=_per_code(fields["voucher_template"]["type"]))
    rules = clean_rules(data["validation_rules"]) if "validation_rules" in data else []
    if Campaign.objects.filter(name=fields["name"]).exists():
        raise taken("campaign", fields["name"])
    fields.update(approvals.review_new(fields["voucher_template"], rules))  # PENDING when it needs approval
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                **fields, vouchers_generation_status=Campaign.Status.IN_PROGRESS if count else Campaign.Status.DONE)
            assign_rules(rules, "campaign", campaign.public_id)
            tiers = []
            if campaign_type == Campaign.CampaignType.PROMOTION:  # its tiers (promo.promotions), with the campaign
                from promo.promotions import tiers_create

                tiers = tiers_create(campaign, given(data.get("promotion")).get("tiers") or [])
            approvals.created(campaign)
            for tier in tiers:  # a tier above a Junior Marketer's cap or a threshold: PENDING
                approvals.review_change(campaign, tier.discount)
            if count:
                async_action_start(action_type=GENERATE_ACTION, payload={"campaign": campaign.pk, "count": count},
                                   api_key=api_key, user=user)
    except IntegrityError:
        raise taken("campaign", fields["name"])
    return campaign


UPDATABLE_CAMPAIGN_TYPES = (Campaign.Type.AUTO_UPDATE, Campaign.Type.STATIC)


def campaign_update(campaign: Campaign, data) -> Campaign:
    """PUT /v1/campaigns/{id}. A new `discount` replaces the template's and every voucher's of the campaign."""
    data = given(data)
    _nul_free(data, "campaign")
    changes: dict = {}
    if "description" in data:
        changes["description"] = clean_text(data["description"], "description", MAX_TEXT)
    if "type" in data:
        if data["type"] not in UPDATABLE_CAMPAIGN_TYPES:
            raise InvalidPayload("type must be AUTO_UPDATE or STATIC")
        changes["type"] = data["type"]
    for key in ("join_once", "auto_join", "exclusive"):
        if key in data:
            changes[key] = clean_bool(data[key], key)
    category_given, category = resolve_category(data)
    if category_given:
        check_category_allowed(current_actor(), category)
        changes["category"] = category
    changes.update(clean_validity(data))
    check_validity({**{k: getattr(campaign, k) for k in VALIDITY_FIELDS}, **changes})
    metadata = None
    if "metadata" in data or "unset_metadata_fields" in data:
        metadata = dict(data["metadata"]) if isinstance(data.get("metadata"), dict) else dict(campaign.metadata)
        if "metadata" in data and not isinstance(data["metadata"], dict):
            raise InvalidPayload("metadata must be a JSON object")
        unset = data.get("unset_metadata_fields", [])
        if not isinstance(unset, list) or not all(isinstance(k, str) for k in unset):
            raise InvalidPayload("unset_metadata_fields must be a list of keys")
        for key in unset:
            metadata.pop(key, None)
        changes["metadata"] = clean_metadata("campaign", metadata)
    discount = clean_discount(data["discount"]) if "discount" in data else None
    if discount is not None and campaign.voucher_template.get("type", Voucher.Type.DISCOUNT_VOUCHER) in VOUCHER_KINDS:
        raise InvalidPayload(f"A {campaign.campaign_type} campaign has no discount")
    rules = clean_rules(data["validation_rules"]) if "validation_rules" in data else None
    with transaction.atomic():
        before = audit.snapshot(campaign)
        if discount is not None:
            template = {**campaign.voucher_template, "discount": discount}
            changes["voucher_template"] = template
        if changes:
            Campaign.objects.filter(pk=campaign.pk).update(**changes, updated_at=timezone.now())
        vouchers = 0
        if discount is not None:
            vouchers = Voucher.objects.filter(campaign=campaign).update(discount=discount, updated_at=timezone.now())
        if rules is not None:
            assign_rules(rules, "campaign", campaign.public_id)
        audit.record_update(campaign, before, extra={"vouchers_updated": vouchers} if vouchers else None,
                            changes=_rules_change(rules))
        approvals.review_change(campaign, discount)  # a discount past a cap waits for approval again
    return selectors.campaign_get(campaign.public_id)


def _rules_change(rules) -> dict | None:
    return {"validation_rules": [None, [r.public_id for r in rules]]} if rules is not None else None


def campaign_set_active(campaign: Campaign, active: bool) -> Campaign:
    if active:
        approvals.check_can_enable(campaign)
    with transaction.atomic():
        if Campaign.objects.filter(pk=campaign.pk).exclude(active=active).update(active=active,
                                                                                  updated_at=timezone.now()):
            audit.record(audit.Action.UPDATE, campaign, changes={"active": [not active, active]})
    return selectors.campaign_get(campaign.public_id)


def campaign_delete(campaign: Campaign, *, force: bool = False, api_key=None, user=None) -> AsyncAction:
    """Soft delete: the campaign and its vouchers disappear from the API at once; redemption history
    stays. With force the name is freed for a new campaign (the row is renamed); codes stay reserved."""
    with transaction.atomic():
        _soft_delete(campaign.pk, force)
        audit.record_delete(campaign, extra={"force": force, "soft": True})
        return async_action_start(action_type=DELETE_ACTION, payload={"campaign": campaign.pk, "force": force},
                                  api_key=api_key, user=user)


def _soft_delete(campaign_pk: int, force: bool) -> None:
    now = timezone.now()
    Campaign.objects.filter(pk=campaign_pk, deleted_at__isnull=True).update(deleted_at=now, active=False,
                                                                             updated_at=now)
    if force:
        campaign = Campaign.objects.get(pk=campaign_pk)
        suffix = f" (deleted {campaign.public_id})"
        if not campaign.name.endswith(suffix):
            Campaign.objects.filter(pk=campaign_pk).update(name=campaign.name[:MAX_NAME - len(suffix)] + suffix)


@register_async_handler(DELETE_ACTION)
def campaign_delete_run(action: AsyncAction, progress) -> dict:
    """Idempotent: the deletion itself happened in the request; this records its outcome."""
    campaign = Campaign.objects.filter(pk=action.payload.get("campaign")).first()
    if campaign is None:
        return {"message": "The campaign no longer exists"}
    _soft_delete(campaign.pk, bool(action.payload.get("force")))
    vouchers = Voucher.objects.filter(campaign=campaign).count()
    progress(1, 1)
    return {"campaign_id": campaign.public_id, "deleted_at": _iso(Campaign.objects.get(pk=campaign.pk).deleted_at),
            "vouchers": vouchers, "message": "Campaign deleted"}


# ================================================================ vouchers in campaigns

def voucher_defaults(campaign: Campaign | None, overrides: dict | None = None) -> dict:
    """Model field values a new voucher of this campaign starts with: the campaign's template
    (type, discount, quantity, dates, windows), then the overrides given for this voucher."""
    values: dict = {}
    if campaign is not None:
        template = campaign.voucher_template or {}
        values = {"campaign": campaign, "type": template.get("type") or Voucher.Type.DISCOUNT_VOUCHER,
                  "discount": template.get("discount"), "gift": template.get("gift"),
                  "loyalty_card": template.get("loyalty_card"),
                  "is_referral_code": bool(template.get("is_referral_code")),
                  "redemption_quantity": (template.get("redemption") or {}).get("quantity"),
                  "start_date": _template_datetime(template, "start_date"),
                  "expiration_date": _template_datetime(template, "expiration_date")}
        for key in ("validity_timeframe", "validity_day_of_week", "validity_hours"):
            if template.get(key) is not None:
                values[key] = template[key]
    values.update(overrides or {})
    return values


def clean_voucher_overrides(data: dict, related: str = "voucher") -> dict:
    """Fields a voucher added to a campaign may set for itself (model field names)."""
    out: dict = {}
    if "additional_info" in data:
        out["additional_info"] = clean_text(data["additional_info"], "additional_info", MAX_TEXT)
    if "metadata" in data:
        out["metadata"] = clean_metadata(related, data["metadata"])
    category_given, category = resolve_category(data)
    if category_given:
        out["category"] = category
    quantity_given, quantity = _redemption_quantity(data)
    if quantity_given:
        out["redemption_quantity"] = quantity
    for key in ("start_date", "expiration_date"):
        if key in data:
            out[key] = clean_datetime(data[key], key)
    return out


def _code_spec(data: dict, campaign: Campaign | None) -> codes.CodeSpec:
    if "code_config" in data:
        return codes.CodeSpec.from_config(data["code_config"])
    template = (campaign.voucher_template or {}) if campaign is not None else {}
    return codes.CodeSpec.from_config(template.get("code_config"))


def _explicit_code(value) -> str:
    problem = codes.code_problem(value)
    if problem:
        raise InvalidPayload(problem)
    return value


def _insert_voucher(values: dict) -> Voucher:
    try:
        with transaction.atomic():
            return Voucher.objects.create(**values)
    except IntegrityError:
        if Voucher.objects.filter(code=values["code"]).exists():
            raise taken("code", values["code"])
        raise


def _check_join_once(campaign: Campaign | None, holder: Customer | None, exclude_pk: int | None = None) -> None:
    if campaign is None or holder is None or not campaign.join_once:
        return
    if Voucher.objects.filter(campaign=campaign, holder=holder).exclude(pk=exclude_pk).exists():
        raise DuplicateFound(f"Customer {holder.public_id} already holds a code of campaign {campaign.name} "
                             "(the campaign is join_once)")


def voucher_create(data, *, code: str | None = None, campaign: Campaign | None = None) -> Voucher:
    """POST /v1/vouchers (and /v1/vouchers/{code}, /v1/campaigns/{id}/vouchers[/{code}]).

    In a campaign the voucher starts from the campaign's template; a standalone voucher needs its own
    discount. Without a code, one is generated from code_config (or the campaign's)."""
    data = given(data)
    _nul_free(data, "voucher")
    if campaign is None:
        for key in ("campaign_id", "campaign"):
            if key in data:
                if not isinstance(data[key], str):
                    raise InvalidPayload(f"{key} must be a string")
                campaign = selectors.campaign_get(data[key])
                break
    if code is None and "code" in data:
        code = data["code"]
    if code is not None:
        code = _explicit_code(code)
    campaign_kind = (campaign.voucher_template or {}).get("type", Voucher.Type.DISCOUNT_VOUCHER) if campaign else None
    kind = data.get("type", campaign_kind or Voucher.Type.DISCOUNT_VOUCHER)
    if not isinstance(kind, str) or kind not in Voucher.Type.values:
        raise InvalidPayload(f"type must be one of {', '.join(Voucher.Type.values)}")
    plugged = VOUCHER_KINDS.get(kind)  # e.g. GIFT_VOUCHER, from the giftcards app
    if (kind not in SUPPORTED_VOUCHER_TYPES and plugged is None) or kind != (campaign_kind or kind):
        raise InvalidPayload(f"{kind} vouchers cannot be created here (discount vouchers only)" if plugged is None
                             else f"A {kind} cannot be added to a campaign of {campaign_kind}s")
    if plugged is None and (data.get("gift") not in (None, {}) or data.get("loyalty_card") not in (None, {})):
        raise InvalidPayload("gift and loyalty_card belong to gift and loyalty vouchers, not discount vouchers")
    values = voucher_defaults(campaign, clean_voucher_overrides(data))
    if plugged is not None:
        if "discount" in data:
            raise InvalidPayload(f"A {kind} has no discount")
        values.update(type=kind, **plugged.clean(data, "", campaign.voucher_template if campaign else None))
    elif "discount" in data:
        values["discount"] = clean_discount(data["discount"])
    if plugged is None and not values.get("discount"):
        raise InvalidPayload("discount is required for a discount voucher")
    validity = clean_validity(data)
    values.update(validity)
    check_validity(values)
    if "active" in data:
        values["active"] = clean_bool(data["active"], "active")
    holder = resolve_customer(data["holder_id"]) if "holder_id" in data else None
    _check_join_once(campaign, holder, None)
    values["holder"] = holder
    rules = clean_rules(data["validation_rules"]) if "validation_rules" in data else []
    if code is None:
        spec = _code_spec(data, campaign)
        codes.check_code_space(spec, 1, per_code=_per_code(kind))
        code = codes.unique_code(spec)
    elif Voucher.objects.filter(code=code).exists():
        raise taken("code", code)
    if campaign is None:
        check_category_allowed(current_actor(), values.get("category"))
    with transaction.atomic():
        voucher = _insert_voucher({**values, "code": code})
        if plugged is not None:
            plugged.created(voucher, data)  # e.g. the gift card's balance and issue row
        assign_rules(rules, "voucher", voucher.public_id)
        audit.record_create(voucher, changes=_rules_change(rules) if rules else None)
    return selectors.voucher_get(voucher.code)


def campaign_add_vouchers_start(campaign: Campaign, count: int, data, *, api_key=None, user=None) -> AsyncAction:
    """POST /v1/campaigns/{id}/vouchers?vouchers_count=N (N > 1): generate N codes in the background."""
    data = given(data)
    _nul_free(data, "voucher")
    if "code" in data:
        raise InvalidPayload("code can only be given when adding one voucher")
    count = clean_int(count, "vouchers_count", minimum=1, maximum=codes.MAX_CODES_PER_REQUEST)
    overrides = clean_voucher_overrides(data)
    check_validity(voucher_defaults(campaign, overrides))
    spec = _code_spec(data, campaign)
    codes.check_code_space(spec, count, per_code=_per_code(campaign.voucher_template.get("type")))
    payload = {"campaign": campaign.pk, "count": count, "overrides": _serialisable(overrides)}
    if "code_config" in data:
        payload["code_config"] = codes.clean_code_config(data["code_config"])
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(vouchers_generation_status=Campaign.Status.IN_PROGRESS)
        action = async_action_start(action_type=GENERATE_ACTION, payload=payload, api_key=api_key, user=user)
        # One audit row for the whole generation (not one per code).
        audit.record(audit.Action.BULK, campaign, changes={"vouchers": [None, f"+{count} generated"]},
                     extra={"async_action": action.public_id, "overrides": payload["overrides"]})
        return action


def _serialisable(overrides: dict) -> dict:
    out = {}
    for key, value in overrides.items():
        if isinstance(value, datetime):
            out[key] = _iso(value)
        elif key == "category":
            out["category_id"] = value.pk if value is not None else None
        else:
            out[key] = value
    return out


def _overrides_from_payload(raw: dict) -> dict:
    out = {}
    for key, value in (raw or {}).items():
        if key in ("start_date", "expiration_date"):
            out[key] = dates.parse_moment(value) if value else None
        elif key == "category_id":
            out["category"] = Category.objects.filter(pk=value).first() if value else None
        else:
            out[key] = value
    return out


def _advance(action_pk: int, before: int, after: int, total: int, result: dict | None = None) -> None:
    """Record progress in the batch's own transaction, as a compare-and-swap on `processed`, so the
    codes (or rows) and the count that says they are done commit together, exactly once."""
    changes = {"processed": after, "total": total, "progress": min(100, after * 100 // total) if total else 100}
    if result is not None:
        changes["result"] = result
    if not AsyncAction.objects.filter(pk=action_pk, processed=before).update(**changes):
        raise Conflict("Another worker is running this action")


def _count_generated(action_pk: int, inserted: int, total: int) -> None:
    """Add a batch to the action's count in the batch's own transaction (so codes and count commit
    together). Conditional: a second run of the same action can never take the total past `total`."""
    if not AsyncAction.objects.filter(pk=action_pk, processed__lte=total - inserted).update(
            processed=F("processed") + inserted, total=total,
            progress=Least(100, (F("processed") + inserted) * 100 / max(total, 1))):
        raise Conflict("Another worker is running this action")


@register_async_handler(GENERATE_ACTION)
def campaign_vouchers_generate(action: AsyncAction, progress) -> dict:
    """Generate `count` codes for the campaign. Resumable: `processed` (committed with each batch)
    says how many exist already, and only the rest are generated."""
    payload = action.payload
    campaign = Campaign.objects.filter(pk=payload.get("campaign")).first()
    if campaign is None or campaign.deleted_at:
        return {"message": "The campaign was deleted before its codes were generated", "count": 0}
    count = int(payload["count"])
    spec = codes.CodeSpec.from_config(payload.get("code_config") or campaign.voucher_template.get("code_config"))
    values = codes.shared_values(voucher_defaults(campaign, _overrides_from_payload(payload.get("overrides"))))
    action.refresh_from_db(fields=["processed"])
    plugged = VOUCHER_KINDS.get(values["type"])

    def on_batch(inserted: int) -> None:
        if plugged is not None:
            plugged.generated(campaign.pk)  # e.g. gift cards for the batch's codes, in its transaction
        _count_generated(action.pk, inserted, count)

    try:
        codes.generate(spec, count, values, done=action.processed, on_batch=on_batch)
    except Conflict:
        return {"message": "Superseded by another run of the same action"}
    except Exception:
        Campaign.objects.filter(pk=campaign.pk).update(vouchers_generation_status=Campaign.Status.FAILED)
        raise
    Campaign.objects.filter(pk=campaign.pk).update(vouchers_generation_status=Campaign.Status.DONE,
                                                   updated_at=timezone.now())
    return {"campaign_id": campaign.public_id, "count": count, "message": f"{count} vouchers generated"}


# ================================================================ voucher updates

def _claim_update(voucher: Voucher, changes: dict) -> bool:
    """Compare-and-swap on updated_at, never touching the redemption counters."""
    now = timezone.now()
    done = Voucher.objects.filter(pk=voucher.pk, updated_at=voucher.updated_at).update(**changes, updated_at=now)
    return bool(done)


def _apply_voucher_changes(voucher: Voucher, build) -> Voucher:
    """`build(current voucher) -> changes`, retried on a concurrent edit."""
    for _attempt in range(10):
        changes = build(voucher)
        quantity = changes.pop("redemption_quantity", ...)
        with transaction.atomic():
            before = audit.snapshot(voucher, [*changes, *(["redemption_quantity"] if quantity is not ... else [])])
            if quantity is not ...:
                _set_quantity(voucher, quantity)
            if not changes or _claim_update(voucher, changes):
                after = audit.jsonable({**changes, **({} if quantity is ... else {"redemption_quantity": quantity})})
                audit.record(audit.Action.UPDATE, voucher, before=before, after=after)
                return selectors.voucher_get(voucher.code)
        voucher.refresh_from_db()
    raise Conflict("The voucher is being updated concurrently; retry")


def _set_quantity(voucher: Voucher, quantity: int | None) -> None:
    """One conditional UPDATE: a limit below what is redeemed or reserved is refused."""
    allowed = Q(pk=voucher.pk)
    if quantity is not None:
        allowed &= Q(redeemed_quantity__lte=quantity - F("locked_quantity"))
    if not Voucher.objects.filter(allowed).update(redemption_quantity=quantity, updated_at=timezone.now()):
        raise InvalidPayload(f"redemption.quantity {quantity} is below the uses already redeemed or reserved",
                             key="quantity_below_redeemed", message="Quantity below redeemed")
    voucher.refresh_from_db(fields=["updated_at"])


def clean_voucher_update(voucher: Voucher, data: dict, *, merge_metadata: bool = False) -> dict:
    changes: dict = {}
    if "type" in data and data["type"] != voucher.type:
        raise InvalidPayload("type cannot be changed")
    if "discount" in data:
        changes["discount"] = clean_discount(data["discount"])
    if "active" in data:
        changes["active"] = clean_bool(data["active"], "active")
    if "additional_info" in data:
        changes["additional_info"] = clean_text(data["additional_info"], "additional_info", MAX_TEXT)
    if "metadata" in data:
        if not isinstance(data["metadata"], dict):
            raise InvalidPayload("metadata must be a JSON object")
        merged = {**voucher.metadata, **data["metadata"]} if merge_metadata else data["metadata"]
        changes["metadata"] = clean_metadata("voucher", merged)
    category_given, category = resolve_category(data)
    if category_given:
        changes["category"] = category
    validity = clean_validity(data)
    changes.update(validity)
    check_validity({**{k: getattr(voucher, k) for k in VALIDITY_FIELDS}, **validity})
    quantity_given, quantity = _redemption_quantity(data)
    if quantity_given:
        changes["redemption_quantity"] = quantity
    if "holder_id" in data:
        holder = resolve_customer(data["holder_id"])
        _check_join_once(voucher.campaign if voucher.campaign_id else None, holder, voucher.pk)
        changes["holder"] = holder
    return changes


def voucher_update(voucher: Voucher, data) -> Voucher:
    """PUT /v1/vouchers/{code}: the given fields change; metadata, when given, replaces the old one."""
    data = given(data)
    _nul_free(data, "voucher")
    rules = clean_rules(data["validation_rules"]) if "validation_rules" in data else None
    clean_voucher_update(voucher, data)  # refuse bad input before anything is written
    with transaction.atomic():
        updated = _apply_voucher_changes(voucher, lambda current: clean_voucher_update(current, data))
        if rules is not None:
            assign_rules(rules, "voucher", voucher.public_id)
    return updated


def voucher_set_active(voucher: Voucher, active: bool) -> Voucher:
    with transaction.atomic():
        if Voucher.objects.filter(pk=voucher.pk).exclude(active=active).update(active=active,
                                                                                updated_at=timezone.now()):
            audit.record(audit.Action.UPDATE, voucher, changes={"active": [not active, active]})
    return selectors.voucher_get(voucher.code)


def voucher_delete(voucher: Voucher) -> None:
    """DELETE /v1/vouchers/{code}: the code is removed (and may be created again). Its redemption rows
    stay, keeping the voucher's id in related_object_id."""
    try:
        with transaction.atomic():
            ValidationRuleAssignment.objects.filter(related_object_type="voucher",
                                                    related_object_id=voucher.public_id).delete()
            audit.record_delete(voucher)
            voucher.delete()
    except ProtectedError:  # e.g. a gift card: its ledger is kept, so the card can only be disabled
        raise Conflict(f"Voucher {voucher.code} has records that must be kept (a gift card's ledger): "
                       "disable it instead", key="voucher_protected", message="Voucher cannot be deleted")


# ================================================================ async bulk work: tally and batches

def run_in_batches(action: AsyncAction, items: list, process, batch_size: int = ROWS_PER_BATCH) -> dict:
    """Process items in batches; each batch and its progress record commit together, so a rerun of the
    action (after a crash) resumes after the last committed batch with the tally it had."""
    action.refresh_from_db(fields=["processed", "result"])
    tally = Tally.resumed(action, identifier="code")
    total = len(items)
    if total == 0:
        return tally.result()
    try:
        for start in range(action.processed, total, batch_size):
            batch = items[start:start + batch_size]
            with transaction.atomic():
                process(batch, start, tally)
                _advance(action.pk, start, start + len(batch), total, tally.result())
    except Conflict:
        pass  # another worker took over this action; it finishes the work
    return tally.result()


# ================================================================ CSV import

CSV_FIELDS = {"code", "category", "active", "start_date", "expiration_date", "redemption_limit",
              "redemption_quantity", "additional_info", "discount_type", "discount_value", "discount_effect",
              "amount_off", "percent_off", "fixed_amount", "unit_off", "unit_type", "amount_limit", "metadata",
              "holder_id", "id", "campaign", "campaign_id", "type", "voucher_type", "value"}


def _csv_reader(content: bytes) -> tuple[list[str], Iterator[list[str]]]:
    header, reader = csv_import.open_csv(content)
    columns = [codes.normalise_header(name) for name in header]
    problems = [f"column {n} has no name" for n, name in enumerate(columns, start=1) if not name]
    problems += [f"column {name!r} appears more than once" for name in sorted(set(columns))
                 if name and columns.count(name) > 1]
    if "code" not in columns:
        problems.append("a code column is required")
    csv_import.header_errors("Invalid CSV header", problems)
    return columns, reader


def vouchers_import_csv_start(content: bytes, *, campaign: Campaign | None = None, api_key=None,
                              user=None) -> AsyncAction:
    """POST /v1/vouchers/importCSV and /v1/campaigns/{id}/importCSV: the header is checked now (a clear
    400); rows are imported in the background, each bad row reported with its number."""
    plugged = _kind_of_campaign_type(campaign.campaign_type) if campaign is not None else None
    if plugged is not None and plugged[1].import_csv is not None:  # e.g. gift cards: giftcards.services
        return plugged[1].import_csv(content, campaign, api_key=api_key, user=user)
    _csv_reader(content)
    with transaction.atomic():
        action = async_action_start(action_type=IMPORT_ACTION, attachment=content, api_key=api_key, user=user,
                                    payload={"campaign": campaign.pk if campaign else None, "size": len(content)})
        # One audit row for the import (rows created are counted in the action's result).
        audit.record(audit.Action.BULK, campaign, object_type="promo.voucher" if campaign is None else None,
                     object_id="" if campaign is None else None, text="CSV import of vouchers",
                     changes={"vouchers": [None, "CSV import"]},
                     extra={"async_action": action.public_id, "bytes": len(content)})
        return action


def _csv_int(text: str, path: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidPayload(f"{path} must be a whole number (amounts in minor units)")


def _csv_bool(text: str, path: str) -> bool:
    lowered = text.lower()
    if lowered not in {"true", "false", "1", "0", "yes", "no"}:
        raise InvalidPayload(f"{path} must be true or false")
    return lowered in {"true", "1", "yes"}


def csv_row_to_voucher(columns: list[str], cells: list[str], metadata_types: dict) -> dict:
    """One CSV row -> API-shaped voucher data. Columns that are not voucher fields become metadata keys
    (as Voucherify does); `metadata_<key>` names one explicitly; a `metadata` column holds a JSON object."""
    if len(cells) > len(columns):
        raise InvalidPayload(f"the row has {len(cells)} cells but the header names {len(columns)} columns")
    row = {name: raw.strip() for name, raw in zip(columns, cells, strict=False) if raw.strip()}
    data: dict = {}
    metadata: dict = {}
    for name, text in row.items():
        if name in ("id", "campaign", "campaign_id", "type", "voucher_type"):
            continue
        if name == "metadata":
            metadata = {**csv_import.json_object_cell(text), **metadata}
        elif name in ("code", "category", "start_date", "expiration_date", "additional_info", "holder_id"):
            data[name] = text
        elif name == "active":
            data["active"] = _csv_bool(text, "active")
        elif name in ("redemption_limit", "redemption_quantity"):
            data["redemption"] = {"quantity": _csv_int(text, name)}
        elif name not in CSV_FIELDS:
            key = name.removeprefix("metadata_")
            metadata[key] = csv_import.typed_cell(text, metadata_types.get(key, "string"))
    discount = _csv_discount(row)
    if discount:
        data["discount"] = discount
    if metadata:
        data["metadata"] = metadata
    return data


def _csv_discount(row: dict) -> dict | None:
    kind = (row.get("discount_type") or "").upper()
    direct = {key: row[key] for key in ("amount_off", "percent_off", "fixed_amount", "unit_off") if key in row}
    if not kind and not direct:
        return None
    discount: dict = {"type": kind or {"amount_off": "AMOUNT", "percent_off": "PERCENT", "fixed_amount": "FIXED",
                                       "unit_off": "UNIT"}[next(iter(direct))]}
    value = row.get("discount_value") or row.get("value")
    target = {"AMOUNT": "amount_off", "PERCENT": "percent_off", "FIXED": "fixed_amount", "UNIT": "unit_off"}
    if value is not None and discount["type"] in target:
        direct.setdefault(target[discount["type"]], value)
    for key, text in direct.items():
        if key == "percent_off":
            try:
                discount[key] = float(text) if "." in text else int(text)
            except ValueError:
                raise InvalidPayload("percent_off must be a number")
        else:
            discount[key] = _csv_int(text, key)
    if "amount_limit" in row:
        discount["amount_limit"] = _csv_int(row["amount_limit"], "amount_limit")
    if row.get("discount_effect"):
        discount["effect"] = row["discount_effect"].upper()
    if row.get("unit_type"):
        discount["unit_type"] = row["unit_type"]
    return discount


def _import_values(data: dict, campaign: Campaign | None) -> dict:
    """Model field values for one imported row (the same rules as the API's voucher create)."""
    code = _explicit_code(data.get("code"))
    values = voucher_defaults(campaign, clean_voucher_overrides(data))
    if "discount" in data:
        values["discount"] = clean_discount(data["discount"])
    if not values.get("discount"):
        raise InvalidPayload("a discount is required (discount_type and discount_value columns)")
    if "active" in data:
        values["active"] = data["active"]
    if "holder_id" in data:
        values["holder"] = resolve_customer(data["holder_id"])
        _check_join_once(campaign, values["holder"])
    check_validity(values)
    if campaign is None:  # as voucher_create: a standalone code goes into a category the caller may use
        check_category_allowed(current_actor(), values.get("category"))
    values["code"] = code
    return values


@register_async_handler(IMPORT_ACTION)
def vouchers_import_csv(action: AsyncAction, progress) -> dict:
    """Rows are numbered as in the file (the header is row 1). A code that exists already (or earlier
    in the file) is reported on its row; the others are inserted in batches."""
    campaign = None
    if action.payload.get("campaign"):
        campaign = Campaign.objects.filter(pk=action.payload["campaign"], deleted_at__isnull=True).first()
        if campaign is None:
            raise NotFound("The campaign was deleted before the import ran")
    columns, reader = _csv_reader(action.attachment)
    rows = csv_import.data_rows(reader)
    metadata_types = csv_import.metadata_types("voucher")

    def process(batch, _start, tally: Tally) -> None:
        ready: list[tuple[int, Voucher]] = []
        for line, cells in batch:
            try:
                values = _import_values(csv_row_to_voucher(columns, cells, metadata_types), campaign)
            except ApiError as exc:
                tally.fail(line, _cell(columns, cells, "code"), exc.details or exc.message)
                continue
            ready.append((line, Voucher(**values)))
        _insert_rows(ready, tally)

    return run_in_batches(action, rows, process)


def _cell(columns: list[str], cells: list[str], name: str) -> str | None:
    index = columns.index(name) if name in columns else None
    return cells[index].strip() if index is not None and index < len(cells) else None


def _insert_rows(ready: list[tuple[int, Voucher]], tally: Tally) -> None:
    seen: dict[str, int] = {}
    fresh = []
    taken = set(Voucher.objects.filter(code__in=[v.code for _, v in ready]).values_list("code", flat=True))
    for line, voucher in ready:
        if voucher.code in taken or voucher.code in seen:
            tally.fail(line, voucher.code, taken_message("code", voucher.code))
            continue
        seen[voucher.code] = line
        fresh.append((line, voucher))
    Voucher.objects.bulk_create([v for _, v in fresh], ignore_conflicts=True)
    stored = set(Voucher.objects.filter(public_id__in=[v.public_id for _, v in fresh]).values_list("public_id",
                                                                                                   flat=True))
    for line, voucher in fresh:
        if voucher.public_id in stored:
            tally.done_count += 1
        else:  # taken by a concurrent insert between the check and the insert
            tally.fail(line, voucher.code, taken_message("code", voucher.code))


def _cells_code(item) -> str | None:
    return item.get("code") if isinstance(item, dict) and isinstance(item.get("code"), str) else None


# ================================================================ bulk updates

BULK_FIELDS = {"code", "metadata", "active", "additional_info", "start_date", "expiration_date", "category",
               "category_id", "redemption"}
MAX_BULK_ITEMS = 10_000


def vouchers_bulk_update_start(items, *, api_key=None, user=None) -> AsyncAction:
    """POST /v1/vouchers/bulk/async: [{code, metadata (merged), active, ...}] applied in the background."""
    if not isinstance(items, list) or not items:
        raise InvalidPayload("The body must be a non-empty array of {code, metadata}")
    if len(items) > MAX_BULK_ITEMS:
        raise InvalidPayload(f"At most {MAX_BULK_ITEMS} vouchers per request")
    missing = [i for i, item in enumerate(items) if _cells_code(item) is None]
    if missing:
        raise InvalidPayload(f"Every item needs a code (missing at index {missing[:10]})")
    _nul_free(items, "body")
    return async_action_start(action_type=BULK_ACTION, payload={"items": items}, api_key=api_key, user=user)


def _bulk_apply(tally: Tally, row: int, code: str, data: dict) -> None:
    voucher = selectors.voucher_find(code)
    if voucher is None:
        tally.fail(row, code, f"Cannot find voucher with id {code}")
        return
    unknown = sorted(set(data) - BULK_FIELDS)
    if unknown:
        tally.fail(row, code, f"These fields cannot be updated in bulk: {', '.join(unknown)}")
        return
    try:
        with transaction.atomic():
            _apply_voucher_changes(voucher, lambda current: clean_voucher_update(current, data, merge_metadata=True))
    except ApiError as exc:
        tally.fail(row, code, exc.details or exc.message)
    else:
        tally.done_count += 1


@register_async_handler(BULK_ACTION)
def vouchers_bulk_update(action: AsyncAction, progress) -> dict:
    """Items are numbered from 1 in the order sent; metadata is merged into each voucher's."""
    items = action.payload.get("items", [])

    def process(batch, start, tally: Tally) -> None:
        for offset, item in enumerate(batch):
            data = given({k: v for k, v in item.items() if k != "code"})
            _bulk_apply(tally, start + offset + 1, item["code"], data)

    return run_in_batches(action, items, process)


def vouchers_metadata_update_start(codes_list, metadata, *, api_key=None, user=None) -> AsyncAction:
    """POST /v1/vouchers/metadata/async: merge the same metadata into many vouchers."""
    if not isinstance(codes_list, list) or not codes_list or not all(isinstance(c, str) and c for c in codes_list):
        raise InvalidPayload("codes must be a non-empty array of voucher codes")
    if len(codes_list) > MAX_BULK_ITEMS:
        raise InvalidPayload(f"At most {MAX_BULK_ITEMS} codes per request")
    if not isinstance(metadata, dict) or not metadata:
        raise InvalidPayload("metadata must be a non-empty JSON object")
    _nul_free(codes_list, "codes")
    _nul_free(metadata, "metadata")
    return async_action_start(action_type=METADATA_ACTION, payload={"codes": codes_list, "metadata": metadata},
                              api_key=api_key, user=user)


@register_async_handler(METADATA_ACTION)
def vouchers_metadata_update(action: AsyncAction, progress) -> dict:
    codes_list, metadata = action.payload.get("codes", []), action.payload.get("metadata", {})

    def process(batch, start, tally: Tally) -> None:
        for offset, code in enumerate(batch):
            _bulk_apply(tally, start + offset + 1, code, {"metadata": metadata})

    return run_in_batches(action, codes_list, process)


# ================================================================ back-office edits (model field values)

CAMPAIGN_ADMIN_FIELDS = {"description", "category", "start_date", "expiration_date", "active", "join_once",
                         "auto_join", "metadata", "name", "sorry_coupons"}
VOUCHER_ADMIN_FIELDS = {"category", "discount", "start_date", "expiration_date", "active", "additional_info",
                        "metadata", "holder", "redemption_quantity", "validity_timeframe", "validity_day_of_week",
                        "validity_hours"}


def clean_campaign_fields(campaign: Campaign, fields: dict) -> dict:
    """Model field values from a back-office form, checked by the API's rules. Raises ApiError."""
    unknown = set(fields) - CAMPAIGN_ADMIN_FIELDS
    if unknown:
        raise InvalidPayload(f"These fields cannot be edited here: {', '.join(sorted(unknown))}")
    out = dict(fields)
    if "name" in out:
        out["name"] = clean_name(out["name"])
        if Campaign.objects.filter(name=out["name"]).exclude(pk=campaign.pk).exists():
            raise taken("campaign", out["name"])
    if "metadata" in out:
        out["metadata"] = clean_metadata("campaign", out["metadata"] if out["metadata"] is not None else {})
    if out.get("active"):
        approvals.check_can_enable(campaign)
    if "category" in out:
        check_category_allowed(current_actor(), out["category"])
    check_validity({**{k: getattr(campaign, k) for k in VALIDITY_FIELDS}, **out})
    return out


def campaign_set_fields(campaign: Campaign, fields: dict) -> Campaign:
    """Back-office edit: only the given columns are written (one UPDATE)."""
    changes = clean_campaign_fields(campaign, fields)
    if changes:
        try:
            with transaction.atomic():
                # The stored values: a form has already set the new ones on `campaign`.
                before = audit.snapshot(Campaign.objects.get(pk=campaign.pk), list(changes))
                Campaign.objects.filter(pk=campaign.pk).update(**changes, updated_at=timezone.now())
                audit.record_update(campaign, before)
        except IntegrityError:
            raise DuplicateFound("A campaign with this name already exists")
    campaign.refresh_from_db()
    return campaign


def clean_voucher_fields(voucher: Voucher, fields: dict) -> dict:
    unknown = set(fields) - VOUCHER_ADMIN_FIELDS
    if unknown:
        raise InvalidPayload(f"These fields cannot be edited here: {', '.join(sorted(unknown))}")
    out = dict(fields)
    if out.get("discount") is not None:
        out["discount"] = clean_discount(out["discount"])
    if "metadata" in out:
        out["metadata"] = clean_metadata("voucher", out["metadata"] if out["metadata"] is not None else {})
    for key, check in (("validity_timeframe", clean_timeframe), ("validity_day_of_week", clean_days),
                       ("validity_hours", clean_hours)):
        if out.get(key) is not None:
            out[key] = check(out[key])
    if out.get("redemption_quantity") is not None:
        out["redemption_quantity"] = clean_quantity(out["redemption_quantity"])
        if voucher.pk and out["redemption_quantity"] < voucher.redeemed_quantity + voucher.locked_quantity:
            raise InvalidPayload("redemption quantity is below the uses already redeemed or reserved",
                                 key="quantity_below_redeemed", message="Quantity below redeemed")
    check_validity({**{k: getattr(voucher, k) for k in VALIDITY_FIELDS}, **out})
    if "holder" in out and voucher.pk:
        _check_join_once(voucher.campaign if voucher.campaign_id else None, out["holder"], voucher.pk)
    return out


def voucher_set_fields(voucher: Voucher, fields: dict) -> Voucher:
    """Back-office edit: the given columns only, never the redemption counters (conditional UPDATEs)."""
    changes = clean_voucher_fields(voucher, fields)
    if not changes:
        return voucher
    stored = Voucher.objects.get(pk=voucher.pk)  # the form has already set the new values on `voucher`
    return _apply_voucher_changes(stored, lambda current: dict(changes))
