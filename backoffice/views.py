"""Back-office pages beyond the admin (mounted at /backoffice/): the customer-service console and the
coupon-campaign wizard. Server-rendered in the admin's look; thin: reads go through backoffice.selectors,
writes through the apps' services (promo.sorry, promo.campaigns, giftcards.services, backoffice.wizard);
who may do what is asked of core.permissions."""

from __future__ import annotations

import functools

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backoffice import forms, selectors, wizard, wizard_giftcards, wizard_promotion
from core.errors import ApiError
from core.models import AsyncAction
from core.permissions import has_perm, limited_to_categories, restrict
from customers import export as customer_exports
from promo import campaign_selectors, sorry
from promo import services as promo_services
from promo.api.payload import parse_stacked_request
from promo.models import Campaign, Category

CONSOLE_PERMISSION = "customers.view_customer"
WIZARD_PERMISSION = "promo.add_campaign"


def requires(perm: str):
    """Staff login (the admin's login page), then the role permission `perm` (403 without it)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_perm(request.user, perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return staff_member_required(wrapped)

    return decorator


def _page(request, template: str, context: dict, status: int = 200):
    base = {**admin.site.each_context(request), "is_nav_sidebar_enabled": False,
            "may_console": has_perm(request.user, CONSOLE_PERMISSION),
            "may_wizard": has_perm(request.user, WIZARD_PERMISSION)}
    return render(request, template, {**base, **context}, status=status)


def _error(exc: ApiError) -> str:
    return exc.details if isinstance(exc.details, str) and exc.details else exc.message


# ================================================================ customer-service console

def refund_allowed(user) -> bool:
    """Refunds to gift cards: the refund permission (Customer Service) or the right to change gift cards."""
    if not apps.is_installed("giftcards") or not getattr(user, "is_authenticated", False):
        return False
    return user.has_perm("giftcards.refund_giftcard") or user.has_perm("giftcards.change_giftcard")


@requires(CONSOLE_PERMISSION)
@require_GET
def console(request):
    form = forms.SearchForm(request.GET or None)
    results = None
    if form.is_valid() and form.cleaned_data["q"]:
        results = list(selectors.customer_search(form.cleaned_data["q"], request.user))
        if len(results) == 1:
            return redirect("backoffice:customer", ref=results[0].public_id)
    return _page(request, "backoffice/console_search.html", {"title": "Customer service", "form": form,
                                                              "results": results})


def _customer_or_404(request, ref: str):
    customer = selectors.customer_for_console(ref, request.user)
    if customer is None:
        raise Http404("No such customer")
    return customer


def _validation(request, customer) -> tuple[forms.ValidationForm | None, dict | None]:
    """Re-run a validation of a code for this customer and a cart (GET ?code=&amount=&items=): nothing is
    redeemed or reserved."""
    if "code" not in request.GET:
        return forms.ValidationForm(initial={"amount": "50.00"}), None
    form = forms.ValidationForm(request.GET)
    if not form.is_valid():
        return form, None
    amount = wizard.to_minor(form.cleaned_data["amount"])
    items = form.cleaned_data["items"]
    order = {"amount": amount, **({"items": items} if items else {})}
    try:
        payload = parse_stacked_request({"redeemables": [{"object": "voucher", "id": form.cleaned_data["code"]}],
                                         "customer": {"id": customer.public_id}, "order": order})
        answer = promo_services.validate(payload)
    except ApiError as exc:
        return form, {"valid": False, "rows": [], "error": _error(exc)}
    return form, selectors.explain_validation(answer)


@requires(CONSOLE_PERMISSION)
@require_GET
def customer(request, ref: str):
    return _customer_page(request, _customer_or_404(request, ref))


def _customer_page(request, found, *, refund_form=None, refund_warning: str = "", status: int = 200):
    overview = selectors.customer_overview(found, request.user)
    validation_form, validation = _validation(request, found)
    may_sorry = has_perm(request.user, sorry.PERMISSION)
    may_refund = refund_allowed(request.user)
    context = {
        "title": found.name or found.email or found.public_id, "customer": found, "overview": overview,
        "validation_form": validation_form, "validation": validation,
        "may_sorry": may_sorry, "may_refund": may_refund, "may_export": _may_export(request.user),
        "may_toggle": has_perm(request.user, "promo.disable_voucher") or has_perm(request.user,
                                                                                  "promo.change_voucher"),
        "sorry_caps": sorry.caps(),
        "sorry_form": forms.SorryCouponForm(campaigns=sorry.sorry_campaigns(request.user)) if may_sorry else None,
        "refund_form": (refund_form or forms.RefundForm(cards=overview.gift_cards)) if may_refund else None,
        "refund_caps": refund_caps(), "refund_warning": refund_warning,
        "may_approve_refunds": has_perm(request.user, REFUND_APPROVE_PERMISSION),
    }
    return _page(request, "backoffice/customer.html", context, status=status)


def _may_export(user) -> bool:
    # The export holds codes and ledgers of every category (like the API's all_categories views).
    return has_perm(user, CONSOLE_PERMISSION) and not limited_to_categories(user)


@requires(CONSOLE_PERMISSION)
@require_GET
def customer_export(request, ref: str):
    found = _customer_or_404(request, ref)
    if not _may_export(request.user):
        raise PermissionDenied
    if request.GET.get("format") == "zip":
        document = customer_exports.customer_export_delivered(found, format="zip")
        response = HttpResponse(customer_exports.export_archive(document), content_type="application/zip")
        filename = f"{found.public_id}-export.zip"
    else:
        response = JsonResponse(customer_exports.customer_export_delivered(found), json_dumps_params={"indent": 2})
        filename = f"{found.public_id}-export.json"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "no-store"
    return response


def _back(ref: str, anchor: str = ""):
    return redirect(reverse("backoffice:customer", kwargs={"ref": ref}) + (f"#{anchor}" if anchor else ""))


@requires(sorry.PERMISSION)
@require_POST
def sorry_coupon(request, ref: str):
    found = _customer_or_404(request, ref)
    choices = sorry.sorry_campaigns(request.user)
    form = forms.SorryCouponForm(request.POST, campaigns=choices)
    if not form.is_valid():
        messages.error(request, "Sorry coupon not issued: " + "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return _back(ref, "sorry")
    campaign = choices.get(public_id=form.cleaned_data["campaign"])
    value = form.cleaned_data.get("value")
    if value is not None:
        kind = ((campaign.voucher_template or {}).get("discount") or {}).get("type")
        value = wizard.to_minor(value) if kind == "AMOUNT" else value
    try:
        voucher = sorry.issue(found, campaign, reason=form.cleaned_data["reason"], value=value, actor=request.user)
    except ApiError as exc:
        messages.error(request, f"Sorry coupon not issued: {_error(exc)}")
    else:
        who = found.name or found.email or found.public_id
        messages.success(request, f"Sorry coupon {voucher.code} issued to {who} "
                                  f"({forms.describe_discount(voucher.discount)}).")
    return _back(ref, "codes")


@requires(CONSOLE_PERMISSION)
@require_POST
def toggle_code(request, ref: str):
    found = _customer_or_404(request, ref)
    voucher = selectors.voucher_of_customer(found, request.POST.get("code", ""), request.user)
    if voucher is None:
        raise Http404("No such code of this customer")
    active = request.POST.get("active") == "1"
    try:
        sorry.set_enabled(voucher, active, actor=request.user)
    except ApiError as exc:
        messages.error(request, _error(exc))
    else:
        messages.success(request, f"Code {voucher.code} {'enabled' if active else 'disabled'}.")
    return _back(ref, "codes")


REFUND_APPROVE_PERMISSION = "giftcards.approve_refund"


def refund_caps() -> dict:
    return {"staff": settings.CS_REFUND_MAX_AMOUNT, "approval": settings.GIFTCARD_REFUND_APPROVAL_ABOVE}


@requires(CONSOLE_PERMISSION)
@require_POST
def refund(request, ref: str):
    from giftcards import refunds
    from giftcards import services as giftcard_services
    from giftcards.models import RefundRequest

    if not refund_allowed(request.user):
        raise PermissionDenied
    found = _customer_or_404(request, ref)
    cards = selectors.customer_gift_cards(found, request.user)
    form = forms.RefundForm(request.POST, cards=cards)
    if not form.is_valid():
        messages.error(request, "Refund not made: " + "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return _back(ref, "gift-cards")
    data = form.cleaned_data
    earlier = selectors.order_refundable(data["order"])
    if earlier is not None and earlier.refunds and not data["repeat"]:  # a second refund of an order: ask first
        return _customer_page(request, found, refund_form=form, refund_warning=(
            f"Order {data['order']} was refunded before: {forms.money(earlier.refunded)} in {earlier.refunds} "
            f"refund(s) of {forms.money(earlier.paid)} paid; it can still refund {forms.money(earlier.left)}. "
            "Tick “Refund this order again” to refund it once more."))
    new_card = data["card"] == forms.RefundForm.NEW_CARD
    try:
        made = refunds.refund_to_card(
            amount=wizard.to_minor(data["amount"]), order=data["order"], reason=data["reason"] or None,
            actor=giftcard_services.Actor.of(user=request.user),
            code=None if new_card else data["card"], customer=found.public_id if new_card else None)
    except ApiError as exc:
        messages.error(request, f"Refund not made: {_error(exc)}")
    else:
        if isinstance(made, RefundRequest):
            messages.warning(request, f"The refund of {forms.money(made.amount)} for order {made.order_ref} waits "
                                      "for approval by a Marketer or Admin (it is listed under Refund to a gift card).")
            return _back(ref, "refund")
        messages.success(request, f"Refunded {forms.money(made.amount)} to gift card {made.card.voucher.code}.")
    return _back(ref, "gift-cards")


@requires(REFUND_APPROVE_PERMISSION)
@require_POST
def refund_decision(request, ref: str, request_id: str):
    from giftcards import refunds
    from giftcards.selectors import pending_refunds

    found = _customer_or_404(request, ref)
    pending = pending_refunds(found).filter(public_id=request_id).first()
    if pending is None:
        raise Http404("No such refund waiting for approval")
    approve = request.POST.get("decision") == "approve"
    try:
        refunds.decide(pending, approve, request.user, note=(request.POST.get("note") or "")[:500])
    except ApiError as exc:
        messages.error(request, f"Refund {'not approved' if approve else 'not rejected'}: {_error(exc)}")
    else:
        messages.success(request, f"Refund of {forms.money(pending.amount)} for order {pending.order_ref} "
                                  f"{'approved and made' if approve else 'rejected'}.")
    return _back(ref, "refund")


# ================================================================ coupon-campaign wizard

def _categories(user):
    return list(restrict(Category.objects.order_by("hierarchy", "name"), user, "view"))


def _wizard_forms(request):
    data = request.POST if request.method == "POST" else None
    form = forms.CampaignWizardForm(data, categories=_categories(request.user), targets=wizard.target_choices())
    conditions = forms.ConditionFormSet(data, prefix="rule")
    return form, conditions


def _plan_for_preview(form, conditions) -> tuple[wizard.Plan | None, list[str]]:
    """A plan from whatever parts of the form are valid (the preview runs while the marketer types)."""
    form.is_valid()
    conditions.is_valid()
    data = {**form.cleaned_data}
    problems = [f"{form.fields[name].label or name}: {' '.join(errors)}" for name, errors in form.errors.items()
                if name not in ("name",)]
    if "discount_value" not in data or "discount_type" not in data:
        return None, problems or ["Give the discount's value"]
    form.cleaned_data = {"name": data.get("name") or "preview", **data}
    rows = [row for row in (getattr(conditions, "cleaned_data", None) or []) if row]
    return form.plan(rows), problems


@requires(WIZARD_PERMISSION)
@require_POST
def wizard_preview(request):
    form, conditions = _wizard_forms(request)
    plan, problems = _plan_for_preview(form, conditions)
    if plan is None:
        return JsonResponse({"errors": problems, "carts": [], "codes": [], "rules": {}, "discount": None})
    cart = form.cleaned_data.get("cart_amount")
    result = wizard.preview(plan, wizard.to_minor(cart) if cart else None)
    result["errors"] = problems + result["errors"]
    result["carts"] = [{**row, "amount_text": forms.money(row["amount"]), "discount_text": forms.money(row["discount"]),
                        "total_text": forms.money(row["total"]), "item_price_text": forms.money(row.get("item_price")),
                        "item_discount_text": forms.money(row.get("item_discount"))} for row in result["carts"]]
    result["summary"] = forms.describe_discount(result["discount"]) if result["discount"] else ""
    if result["summary"] and result.get("target"):
        result["summary"] += f" on {result['target']}"
    return JsonResponse(result)


@requires(WIZARD_PERMISSION)
@require_http_methods(["GET", "POST"])
def campaign_wizard(request):
    form, conditions = _wizard_forms(request)
    preview = None
    if request.method == "POST":
        if "preview" in request.POST:  # without JavaScript: the same page with the preview filled in
            plan, problems = _plan_for_preview(form, conditions)
            preview = wizard.preview(plan) if plan else {"errors": problems, "carts": [], "codes": []}
        elif form.is_valid() and conditions.is_valid():
            rows = [row for row in conditions.cleaned_data if row]
            try:
                created = wizard.create(form.plan(rows), user=request.user)
            except ApiError as exc:
                form.add_error(None, _error(exc))
            else:
                url = reverse("backoffice:campaign_codes", kwargs={"campaign_id": created.campaign.public_id})
                return redirect(url + (f"?action={created.action.public_id}" if created.action else ""))
    context = {"title": "New coupon campaign", "form": form, "conditions": conditions, "preview": preview,
               "condition_properties": [name for name, _label in wizard.condition_choices()
                                        if wizard.needs_property(name)]}
    refused = request.method == "POST" and "preview" not in request.POST  # not created: the answers need fixing
    return _page(request, "backoffice/campaign_wizard.html", context, status=400 if refused else 200)


@staff_member_required
@require_GET
def campaign_codes(request, campaign_id: str):
    """After the wizard: the campaign, its approval state, and the code generation's progress."""
    campaign = restrict(Campaign.objects.filter(public_id=campaign_id, deleted_at__isnull=True),
                        request.user, "view").select_related("category").first()
    if campaign is None:
        raise Http404("No such campaign")
    action = _visible_action(request, request.GET.get("action", ""))
    codes = list(campaign_selectors.voucher_list(campaign_id=campaign.public_id)[:10])
    tiers = None
    discount = forms.describe_discount(campaign.voucher_template)
    if campaign.campaign_type == Campaign.CampaignType.PROMOTION:
        tiers = [{"tier": tier, "discount": forms.describe_discount(tier.discount),
                  "when": wizard_promotion.describe_window(tier.validity_hours)}
                 for tier in campaign.promotion_tiers.order_by("hierarchy", "id")]
        discount = f"promotion with {len(tiers)} tier{'s' if len(tiers) != 1 else ''}"
    elif (campaign.voucher_template or {}).get("gift"):
        discount = f"gift card of {forms.money(campaign.voucher_template['gift'].get('amount'))}"
    context = {"title": campaign.name, "campaign": campaign, "action": action, "codes": codes, "tiers": tiers,
               "discount": discount,
               "admin_url": reverse("admin:promo_campaign_change", args=[campaign.pk])}
    return _page(request, "backoffice/campaign_codes.html", context)


def _visible_action(request, public_id: str) -> AsyncAction | None:
    if not public_id or "\x00" in public_id:
        return None
    rows = AsyncAction.objects.filter(public_id=public_id)
    user = request.user
    if not (user.is_superuser or has_perm(user, "core.view_asyncaction")):
        rows = rows.filter(user=user)
    return rows.first()


@staff_member_required
@require_GET
def async_action_progress(request, action_id: str):
    """The progress bar's poll: the async action's status and progress (its starter, or who may view them)."""
    action = _visible_action(request, action_id)
    if action is None:
        return JsonResponse({"key": "not_found", "message": "Not found"}, status=404)
    return JsonResponse({"id": action.public_id, "type": action.type, "status": action.status,
                         "progress": action.progress, "processed": action.processed, "total": action.total,
                         "result": action.result})


# ================================================================ choosing a wizard; the promotion wizard

WIZARDS = [
    ("coupon", "Coupon campaign", "Codes a customer types at checkout: a discount, its audience, limits, budget "
                                  "and how the codes look.", "backoffice:campaign_wizard"),
    ("promotion", "Promotion", "Discounts without a code that apply when the cart qualifies: tiers with "
                               "thresholds, banners and a happy hour.", "backoffice:promotion_wizard"),
    ("gift-cards", "Gift card campaign", "Cards holding money: face value, number of cards, price and expiry; "
                                         "or cards for a partner as CSV.", "backoffice:giftcard_wizard"),
]


@requires(WIZARD_PERMISSION)
@require_GET
def campaign_chooser(request):
    wizards = [{"key": key, "title": title, "text": text, "url": reverse(name)} for key, title, text, name in WIZARDS]
    return _page(request, "backoffice/campaign_chooser.html", {"title": "New campaign", "wizards": wizards})


def _promotion_forms(request):
    data = request.POST if request.method == "POST" else None
    form = forms.PromotionWizardForm(data, categories=_categories(request.user))
    tiers = forms.PromotionTierFormSet(data, prefix="tier")
    return form, tiers


def _promotion_preview(form, tiers) -> dict:
    form.is_valid()
    tiers.is_valid()
    problems = [f"{form.fields[name].label or name}: {' '.join(errors)}" for name, errors in form.errors.items()
                if name != "name"]
    problems += [f"Tier {index}: {field} {' '.join(errors)}" for index, row in enumerate(tiers.errors, start=1)
                 for field, errors in row.items()]
    form.cleaned_data = {**form.cleaned_data, "name": form.cleaned_data.get("name") or "preview"}
    plan = form.plan(forms.filled_tiers(tiers))
    cart = form.cleaned_data.get("cart_amount")
    result = wizard_promotion.preview(plan, wizard.to_minor(cart) if cart else None,
                                      form.cleaned_data.get("preview_at"))
    result["errors"] = problems + result["errors"]
    return result


def _preview_json(result: dict) -> dict:
    at = result.get("at")
    order = result.get("order") or {}
    return {"errors": result["errors"],
            "at_text": f"{timezone.localtime(at):%a %Y-%m-%d %H:%M} ({timezone.get_current_timezone_name()})"
            if at else "",
            "cart_text": forms.money(order.get("amount")) if order else "",
            "shipping": any(i.get("product_id") == "prod_5h1pp1ng" for i in order.get("items", [])),
            "total_discount_text": forms.money(result["total_discount"]),
            "tiers": [{**row, "discount_text": forms.money(row["discount"])} for row in result["tiers"]]}


@requires(WIZARD_PERMISSION)
@require_POST
def promotion_preview(request):
    return JsonResponse(_preview_json(_promotion_preview(*_promotion_forms(request))))


@requires(WIZARD_PERMISSION)
@require_http_methods(["GET", "POST"])
def promotion_wizard(request):
    form, tiers = _promotion_forms(request)
    preview = None
    if request.method == "POST":
        if "preview" in request.POST:
            preview = _preview_json(_promotion_preview(form, tiers))
        elif form.is_valid() and tiers.is_valid():
            try:
                campaign = wizard_promotion.create(form.plan(forms.filled_tiers(tiers)), user=request.user)
            except ApiError as exc:
                form.add_error(None, _error(exc))
            else:
                return redirect(reverse("backoffice:campaign_codes", kwargs={"campaign_id": campaign.public_id}))
    context = {"title": "New promotion", "form": form, "tiers": tiers, "preview": preview,
               "time_zone": timezone.get_current_timezone_name()}
    refused = request.method == "POST" and "preview" not in request.POST
    return _page(request, "backoffice/promotion_wizard.html", context, status=400 if refused else 200)


# ================================================================ gift cards: a campaign; cards for a partner

def _giftcard_form(request):
    return forms.GiftCardWizardForm(request.POST if request.method == "POST" else None,
                                    categories=_categories(request.user))


@requires(WIZARD_PERMISSION)
@require_POST
def giftcard_preview(request):
    form = _giftcard_form(request)
    if not form.is_valid() and any(name in form.errors for name in ("amount", "count", "length", "charset")):
        return JsonResponse({"errors": [f"{form.fields[name].label}: {' '.join(errors)}"
                                        for name, errors in form.errors.items() if name != "name"], "codes": []})
    form.cleaned_data.setdefault("name", "preview")
    result = wizard_giftcards.preview(form.plan())
    plan = form.plan()
    result["summary"] = f"{plan.count:,} cards of {forms.money(plan.amount)}" + (
        f", sold for {forms.money(plan.sold_price)}" if plan.sold_price is not None else "")
    result["liability"] = forms.money(plan.amount * plan.count)
    return JsonResponse(result)


@requires(WIZARD_PERMISSION)
@require_http_methods(["GET", "POST"])
def giftcard_wizard(request):
    form = _giftcard_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            issued = wizard_giftcards.create(form.plan(), user=request.user)
        except ApiError as exc:
            form.add_error(None, _error(exc))
        else:
            return redirect(reverse("backoffice:giftcard_batch", kwargs={"action_id": issued.action.public_id}))
    return _page(request, "backoffice/giftcard_wizard.html", {"title": "New gift card campaign", "form": form},
                 status=400 if request.method == "POST" else 200)


def _gift_campaigns(user):
    return list(restrict(Campaign.objects.filter(campaign_type=Campaign.CampaignType.GIFT_VOUCHERS,
                                                 deleted_at__isnull=True), user, "view").order_by("name"))


@requires(wizard_giftcards.ISSUE_PERMISSION)
@require_http_methods(["GET", "POST"])
def partner_cards(request):
    form = forms.PartnerCardsForm(request.POST if request.method == "POST" else None,
                                  campaigns=_gift_campaigns(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            action = wizard_giftcards.issue_for_partner(
                campaign=form.campaigns[data["campaign"]], count=data["count"],
                amount=wizard.to_minor(data.get("amount")), sold_price=wizard.to_minor(data.get("sold_price")),
                partner=data["partner"], label=data.get("label") or "", user=request.user)
        except ApiError as exc:
            form.add_error(None, _error(exc))
        else:
            return redirect(reverse("backoffice:giftcard_batch", kwargs={"action_id": action.public_id}))
    return _page(request, "backoffice/partner_cards.html", {"title": "Issue gift cards for a partner", "form": form},
                 status=400 if request.method == "POST" else 200)


def _batch_or_404(request, action_id: str) -> AsyncAction:
    from giftcards.services import BULK_ACTION

    action = _visible_action(request, action_id)
    if action is None or action.type != BULK_ACTION:
        raise Http404("No such batch of gift cards")
    return action


@staff_member_required
@require_GET
def giftcard_batch(request, action_id: str):
    """After issuing: the generation's progress, then the cards as CSV."""
    action = _batch_or_404(request, action_id)
    campaign = Campaign.objects.filter(pk=action.payload.get("campaign")).select_related("category").first()
    payload = action.payload
    context = {"title": f"Gift cards: {payload.get('partner') or payload.get('label') or action.public_id}",
               "action": action, "campaign": campaign, "payload": payload,
               "amount": forms.money(payload.get("amount")),
               "sold_price": forms.money(payload.get("sold_price")) if payload.get("sold_price") is not None else "",
               "admin_url": reverse("admin:promo_campaign_change", args=[campaign.pk]) if campaign else ""}
    return _page(request, "backoffice/giftcard_batch.html", context)


@staff_member_required
@require_GET
def giftcard_batch_csv(request, action_id: str):
    from giftcards import selectors as giftcard_selectors

    action = _batch_or_404(request, action_id)
    response = StreamingHttpResponse(giftcard_selectors.batch_csv(action),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{action.public_id}-gift-cards.csv"'
    return response
