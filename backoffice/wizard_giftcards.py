"""The gift-card wizards: a GIFT_VOUCHERS campaign (face value, number of cards, sold price, expiry, how the
codes look) and cards for a partner or event from an existing gift card campaign.

Both go through the services the API uses: the campaign by promo.campaigns.campaign_create (as POST
/v1/campaigns with campaign_type GIFT_VOUCHERS: approvals, category access), its cards by
giftcards.services.bulk_issue_start (as POST /v1/gift-cards/bulk-issues: an async action with progress
whose cards download as CSV from giftcards.selectors.batch_csv). Gift card codes need a trillion possible
codes per card (giftcards.services.GIFT_CODE_SPACE_PER_CODE); the wizard says so in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from backoffice.wizard import CHARSET_LABELS, _message
from core.errors import ApiError, InvalidPayload
from core.models import AsyncAction
from promo import campaigns, codes
from promo.models import Campaign

ISSUE_PERMISSION = "giftcards.issue_giftcard"
SAMPLE_CODES = 3


@dataclass
class Plan:
    name: str
    amount: int  # face value, minor units
    count: int
    sold_price: int | None = None
    expiration_date: datetime | None = None
    description: str = ""
    category: object = None
    charset: str = "unambiguous"
    length: int = 12
    prefix: str = "GC-"
    postfix: str = ""


def code_config_of(plan: Plan) -> dict:
    return codes.clean_code_config({"charset": codes.CHARSETS.get(plan.charset, codes.UNAMBIGUOUS),
                                    "length": plan.length, "prefix": plan.prefix, "postfix": plan.postfix})


def code_space_problem(config: dict, count: int) -> str | None:
    """In words, why `count` cards cannot have codes like these (None: they can)."""
    from giftcards.services import GIFT_CODE_SPACE_PER_CODE

    spec = codes.CodeSpec.from_config(config)
    try:
        codes.check_code_space(spec, count, per_code=GIFT_CODE_SPACE_PER_CODE)
    except ApiError:
        size = len(spec.charset)
        needed = GIFT_CODE_SPACE_PER_CODE * max(1, count)
        length = max(spec.random_positions + 1, math.ceil(math.log(needed, size) - 1e-9)) if size > 1 else None
        advice = (f"Make the codes at least {length} characters long (without prefix and suffix) or use more "
                  "kinds of characters." if length and length <= 64 else "Use more kinds of characters.")
        return (f"These codes would be too easy to guess. A gift card holds money, so each card needs a trillion "
                f"possible codes: {count:,} cards need {_words(needed)} possible codes, and {spec.random_positions} "
                f"random characters out of {size} give only {_words(spec.space)}. {advice}")
    return None


def _words(number: int) -> str:
    for power, word in ((18, "quintillion"), (15, "quadrillion"), (12, "trillion"), (9, "billion"),
                        (6, "million")):
        if number >= 10**power:
            value = number / 10**power
            return f"about {value:,.0f} {word}" if value >= 10 else f"about {value:.1f} {word}"
    return f"{number:,}"


def campaign_request(plan: Plan) -> dict:
    voucher = {"type": "GIFT_VOUCHER", "gift": {"amount": plan.amount}, "code_config": code_config_of(plan)}
    if plan.expiration_date:
        voucher["expiration_date"] = plan.expiration_date.isoformat()
    data = {"name": plan.name, "description": plan.description, "campaign_type": "GIFT_VOUCHERS",
            "type": "AUTO_UPDATE", "voucher": voucher}
    if plan.category is not None:
        data["category_id"] = plan.category.public_id
    return data


def check(plan: Plan) -> None:
    from giftcards import services as giftcard_services

    if plan.count < 1:
        raise InvalidPayload("Issue at least one card")
    if plan.count > codes.MAX_CODES_PER_REQUEST:
        raise InvalidPayload(f"At most {codes.MAX_CODES_PER_REQUEST:,} cards at once")
    giftcard_services.clean_sold_price(plan.sold_price, plan.amount, "Sold price")
    problem = code_space_problem(code_config_of(plan), plan.count)
    if problem:
        raise InvalidPayload(problem, key="code_space_too_small", message="Code space too small")


def preview(plan: Plan) -> dict:
    out: dict = {"errors": [], "codes": []}
    try:
        check(plan)
        out["codes"] = codes.random_codes(codes.CodeSpec.from_config(code_config_of(plan)), SAMPLE_CODES)
    except ApiError as exc:
        out["errors"].append(_message(exc))
    return out


@dataclass
class Issued:
    campaign: Campaign
    action: AsyncAction


def create(plan: Plan, *, user) -> Issued:
    """The campaign as `user`, then its cards by the bulk-issue action (started when the campaign commits)."""
    from core.context import acting
    from core.permissions import require
    from giftcards import services as giftcard_services

    require(user, "promo.add_campaign", "Your role may not create campaigns")
    check(plan)
    with acting(user), transaction.atomic():
        campaign = campaigns.campaign_create(campaign_request(plan), user=user)
        action = giftcard_services.bulk_issue_start(
            campaign=campaign.public_id, count=plan.count, amount=plan.amount, sold_price=plan.sold_price,
            label=plan.name, actor=giftcard_services.Actor.of(user=user))
    return Issued(campaign, action)


def issue_for_partner(*, campaign: Campaign, count: int, amount: int | None, partner: str, label: str = "",
                      sold_price: int | None = None, user) -> AsyncAction:
    """N cards of a value for a named partner or event (`giftcards.issue_giftcard`)."""
    from core.context import acting
    from core.permissions import Forbidden, has_perm, require
    from giftcards import services as giftcard_services

    require(user, ISSUE_PERMISSION, "Your role may not issue gift cards")
    if not partner.strip():
        raise InvalidPayload("Name the partner or event the cards are for")
    face_value = ((campaign.voucher_template or {}).get("gift") or {}).get("amount") or 0
    if amount is not None and amount > face_value and not has_perm(user, "giftcards.change_giftcard"):
        raise Forbidden(f"Your role issues cards of at most the campaign's value ({face_value / 100:,.2f})")
    config = (campaign.voucher_template or {}).get("code_config")
    problem = code_space_problem(codes.clean_code_config(config), count) if count >= 1 else None
    if problem:
        raise InvalidPayload(problem, key="code_space_too_small", message="Code space too small")
    with acting(user):
        return giftcard_services.bulk_issue_start(
            campaign=campaign.public_id, count=count, amount=amount, sold_price=sold_price, partner=partner.strip(),
            label=label.strip() or None, actor=giftcard_services.Actor.of(user=user))


def charset_choices() -> list[tuple[str, str]]:
    return list(CHARSET_LABELS.items())


