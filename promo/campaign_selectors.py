"""Reads of categories, campaigns and vouchers.

Campaigns are found by public id (`camp_...`) or by name, vouchers by code (case-sensitive, as
given). Deleted campaigns (deleted_at set) and their vouchers are invisible here; their
redemption history stays in promo.models.Redemption.

Every queryset here passes through core.permissions.restrict(): the current request's API key or staff
user sees only what its categories, role and object permissions allow (others answer 404); system code
(no actor) sees everything.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from core.errors import NotFound
from core.permissions import restrict
from customers.models import Customer, Order
from promo.models import Campaign, Category, Redemption, RedemptionRollback, Voucher
from rules.models import ValidationRuleAssignment

CAMPAIGN_ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at", "name", "-name")
VOUCHER_ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at", "code", "-code")


def usable_ref(ref) -> bool:
    # PostgreSQL text cannot hold NUL: such a reference matches nothing and must not reach a query.
    return isinstance(ref, str) and bool(ref) and "\x00" not in ref


# ---------------------------------------------------------------- categories

def category_list() -> QuerySet[Category]:
    return restrict(Category.objects.order_by("hierarchy", "name"), action="view")


def category_find(ref) -> Category | None:
    if not usable_ref(ref):
        return None
    # Looking a category up (also to put a campaign in it) needs only to see it; changing the category itself
    # is checked by the API view (promo.change_category).
    found = Category.objects.filter(Q(public_id=ref) | Q(name=ref))
    return restrict(found, action="view").order_by("-public_id").first()


def category_get(ref) -> Category:
    category = category_find(ref)
    if category is None:
        raise NotFound.for_object("category", ref)
    return category


# ---------------------------------------------------------------- campaigns

def _voucher_count_subquery():
    return Coalesce(Subquery(
        Voucher.objects.filter(campaign=OuterRef("pk")).order_by().values("campaign")
        .annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0)


def campaign_queryset() -> QuerySet[Campaign]:
    return restrict(Campaign.objects.filter(deleted_at__isnull=True).select_related("category")
                    .annotate(vouchers_total=_voucher_count_subquery()))


def campaign_find(ref, *, counted: bool = True) -> Campaign | None:
    """The live campaign with this id or name; `counted` adds vouchers_total (a count over its codes)."""
    if not usable_ref(ref):
        return None
    campaigns = campaign_queryset() if counted else restrict(Campaign.objects.filter(deleted_at__isnull=True))
    if ref.startswith("camp_"):
        found = campaigns.filter(public_id=ref).first()
        if found:
            return found
    return campaigns.filter(name=ref).first()


def campaign_get(ref) -> Campaign:
    campaign = campaign_find(ref)
    if campaign is None:
        raise NotFound.for_object("campaign", ref)
    return campaign


def campaign_list(*, campaign_type: str | None = None, is_referral_code: bool | None = None,
                  creation_status: str | None = None, order: str = "-created_at") -> QuerySet[Campaign]:
    queryset = campaign_queryset()
    if campaign_type:
        queryset = queryset.filter(campaign_type=campaign_type)
    if is_referral_code is not None:
        referral = Q(campaign_type=Campaign.CampaignType.REFERRAL_PROGRAM) | Q(voucher_template__is_referral_code=True)
        referral_pks = Campaign.objects.filter(referral).values("pk")  # NULL-safe (templates may lack the key)
        queryset = queryset.filter(pk__in=referral_pks) if is_referral_code else queryset.exclude(pk__in=referral_pks)
    if creation_status:
        queryset = queryset.filter(creation_status=creation_status)
    return queryset.order_by(order, "-id")


def vouchers_count(campaign: Campaign) -> int:
    return Voucher.objects.filter(campaign=campaign).count()


# ---------------------------------------------------------------- vouchers

def voucher_queryset() -> QuerySet[Voucher]:
    # NOT IN (the few deleted campaigns) rather than an OR over a join, so the planner can still walk the
    # created_at / (campaign, created_at) indexes of a table with millions of codes.
    deleted = Campaign.objects.filter(deleted_at__isnull=False).values("pk")
    return restrict(Voucher.objects.select_related("campaign", "campaign__category", "category", "holder")
                    .exclude(campaign_id__in=deleted))


def voucher_find(code) -> Voucher | None:
    if not usable_ref(code):
        return None
    return voucher_queryset().filter(code=code).first()


def voucher_get(code) -> Voucher:
    voucher = voucher_find(code)
    if voucher is None:
        raise NotFound.for_object("voucher", code)
    return voucher


def voucher_list(*, campaign: str | None = None, campaign_id: str | None = None, category: str | None = None,
                 customer: str | None = None, code: str | None = None, ids: list[str] | None = None,
                 created_after: datetime | None = None, created_before: datetime | None = None,
                 updated_after: datetime | None = None, updated_before: datetime | None = None,
                 order: str = "-created_at") -> QuerySet[Voucher]:
    """Filters that name something unknown give an empty list (as filters do), never an error."""
    queryset = voucher_queryset()
    for ref in (campaign, campaign_id, category, customer, code):
        if ref is not None and not usable_ref(ref):
            return queryset.none()
    for ref in filter(None, (campaign_id, campaign)):
        found = campaign_find(ref, counted=False) if ref is campaign or ref.startswith("camp_") else None
        if found is None:
            return queryset.none()
        queryset = queryset.filter(campaign_id=found.pk)
    if category:
        found = category_find(category)
        if found is None:
            return queryset.none()
        queryset = queryset.filter(Q(category=found) | Q(category__isnull=True, campaign__category=found))
    if customer:
        holder = Customer.objects.filter(Q(public_id=customer) | Q(source_id=customer)).values("pk")
        queryset = queryset.filter(holder__in=holder)
    if code:
        queryset = queryset.filter(code=code)
    if ids:
        queryset = queryset.filter(public_id__in=[i for i in ids if usable_ref(i)])
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    if updated_after:
        queryset = queryset.filter(updated_at__gte=updated_after)
    if updated_before:
        queryset = queryset.filter(updated_at__lt=updated_before)
    return queryset.order_by(order, "-id" if order.startswith("-") else "id")


# ---------------------------------------------------------------- validation rule assignments

def assignments_for(object_type: str, object_ids: list[str]) -> dict[str, list[ValidationRuleAssignment]]:
    """Assignments of rules to these objects (one query for a whole page)."""
    found: dict[str, list[ValidationRuleAssignment]] = {object_id: [] for object_id in object_ids}
    if not object_ids:
        return found
    rows = (ValidationRuleAssignment.objects.filter(related_object_type=object_type, related_object_id__in=object_ids)
            .select_related("rule").order_by("id"))
    for row in rows:
        found[row.related_object_id].append(row)
    return found


# ---------------------------------------------------------------- summary

def campaign_summary(campaign: Campaign, *, start: datetime | None = None, end: datetime | None = None) -> dict:
    """Counts and amounts from the redemption history (the redeemable-level rows of this campaign)."""
    redemptions = Redemption.objects.filter(campaign=campaign)
    rollbacks = RedemptionRollback.objects.filter(redemption__campaign=campaign)
    vouchers = Voucher.objects.filter(campaign=campaign)
    if start:
        redemptions = redemptions.filter(created_at__gte=start)
        rollbacks = rollbacks.filter(created_at__gte=start)
        vouchers = vouchers.filter(created_at__gte=start)
    if end:
        redemptions = redemptions.filter(created_at__lt=end)
        rollbacks = rollbacks.filter(created_at__lt=end)
        vouchers = vouchers.filter(created_at__lt=end)
    success = Q(result=Redemption.Result.SUCCESS)
    totals = redemptions.aggregate(
        total=Count("pk"), succeeded=Count("pk", filter=success),
        failed=Count("pk", filter=Q(result=Redemption.Result.FAILURE)),
        rolled_back=Count("pk", filter=Q(status=Redemption.Status.ROLLED_BACK)),
        discounted=Coalesce(Sum("amount", filter=success), 0))
    rolled = rollbacks.aggregate(
        total=Count("pk"), succeeded=Count("pk", filter=Q(result=RedemptionRollback.Result.SUCCESS)),
        failed=Count("pk", filter=Q(result=RedemptionRollback.Result.FAILURE)),
        amount=Coalesce(Sum("amount", filter=Q(result=RedemptionRollback.Result.SUCCESS)), 0))
    order_ids = redemptions.filter(success, order__isnull=False).values("order_id").distinct()
    rolled_order_ids = redemptions.filter(status=Redemption.Status.ROLLED_BACK, order__isnull=False) \
        .values("order_id").distinct()
    orders_amount = Order.objects.filter(pk__in=order_ids).aggregate(s=Coalesce(Sum("amount"), 0))["s"]
    rolled_amount = Order.objects.filter(pk__in=rolled_order_ids).aggregate(s=Coalesce(Sum("amount"), 0))["s"]
    voucher_totals = Voucher.objects.filter(campaign=campaign).aggregate(
        count=Count("pk"), redeemed=Count("pk", filter=Q(redeemed_quantity__gt=0)),
        uses=Coalesce(Sum("redeemed_quantity"), 0))
    return {
        "redemptions": totals["total"],
        "redemptions_succeeded": totals["succeeded"],
        "redemptions_failed": totals["failed"],
        "redemptions_rolled_back": totals["rolled_back"],
        "discounted_amount": int(totals["discounted"]),
        "rollbacks": rolled["total"],
        "rollbacks_succeeded": rolled["succeeded"],
        "rollbacks_failed": rolled["failed"],
        "rolledback_discounted_amount": int(rolled["amount"]),
        "orders_amount": int(orders_amount),
        "orders_rolledback_amount": int(rolled_amount),
        "vouchers_created": vouchers.count(),
        "vouchers_deleted": 0,
        "vouchers_count": voucher_totals["count"],
        "vouchers_redeemed": voucher_totals["redeemed"],
        "redeemed_quantity": int(voucher_totals["uses"]),
    }
