"""Staff pages for gift cards: the in-store till (a clerk types or scans a code, sees the balance and
spends an amount -- through the same engine path as POST /v1/redemptions) and the liability report
with its chart. Server-rendered, no external assets; login required (staff)."""

from __future__ import annotations

import re
import secrets

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.errors import ApiError
from giftcards import selectors, services
from promo import services as promo_services
from promo.api.payload import parse_stacked_request

MAX_CODE = 255
AMOUNT = re.compile(r"(?P<whole>\d{0,9})(?:\.(?P<cents>\d{1,2}))?")


def _card_summary(code: str) -> dict | None:
    try:
        card = services.card_get(code)
    except ApiError:
        return None
    voucher = card.voucher
    expires = services.card_expiration(voucher, card.law_sets_expiry)
    return {"code": voucher.code, "balance": services.spendable(card), "active": voucher.active,
            "expires": expires, "expiry_rule": card.expiry_rule,
            "campaign": voucher.campaign.name if voucher.campaign_id else ""}


def _parse_amount(raw: str) -> int | None:
    """Clerks type money in major units ("12.50"); the engine takes minor units."""
    match = AMOUNT.fullmatch((raw or "").strip().replace(",", "."))
    if match is None:
        return None
    return int(match["whole"] or 0) * 100 + int(((match["cents"] or "") + "00")[:2])


@staff_member_required
@require_http_methods(["GET", "POST"])
def in_store(request):
    """GET ?code=...: the card's balance. POST code + amount: spend it (one redemption of the gift card)."""
    context: dict = {"code": "", "card": None}
    code = (request.POST.get("code") or request.GET.get("code") or "").strip()[:MAX_CODE]
    if code:
        context["code"] = code
        context["card"] = _card_summary(code)
        if context["card"] is None:
            context["error"] = f"No gift card with code {code}."
    if request.method == "POST" and context["card"] is not None:
        amount = _parse_amount(request.POST.get("amount", ""))
        if amount is None or amount <= 0:
            context["error"] = "Enter the amount to take from the card, e.g. 12.50."
        else:
            context.update(_spend(request, code, amount, (request.POST.get("receipt") or "").strip()[:200]))
            context["card"] = _card_summary(code)
    return render(request, "giftcards/in_store.html", context)


def _spend(request, code: str, amount: int, receipt: str) -> dict:
    """The same path as the API: the stacked request parser, then promo.services.redeem."""
    payload = parse_stacked_request({
        "redeemables": [{"object": "voucher", "id": code, "gift": {"credits": amount}}],
        "order": {"amount": amount, **({"source_id": receipt} if receipt else {})},
        "metadata": {"channel": "in_store", "clerk": request.user.get_username()},
        "channel": "in_store", "tracking_id": f"store-{secrets.token_hex(4)}",
    })
    token = services.clerk_var.set(request.user)
    try:
        answer = promo_services.redeem(payload)
    except ApiError as refused:
        return {"error": refused.details or refused.message, "error_key": refused.key}
    finally:
        services.clerk_var.reset(token)
    return {"spent": amount, "redemption_id": answer["parent_redemption"]["id"]}


@staff_member_required
def liability(request):
    report = selectors.liability()
    months = report["by_expiry_month"]
    peak = max((m["outstanding_balance"] for m in months), default=0) or 1
    bars = []
    width = 44
    for index, month in enumerate(months):
        height = round(180 * month["outstanding_balance"] / peak)
        bars.append({"x": 40 + index * (width + 12), "y": 200 - height, "height": height, "width": width,
                     "label": month["month"] or "never", "value": month["outstanding_balance"],
                     "cards": month["cards"]})
    chart_width = 60 + len(bars) * (width + 12)
    return render(request, "giftcards/liability.html", {"report": report, "bars": bars,
                                                        "chart_width": max(chart_width, 320)})
