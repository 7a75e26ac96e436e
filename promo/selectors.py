"""Reads of the redemption engine."""

from datetime import datetime

from django.db.models import Q, QuerySet

from core.errors import NotFound
from core.permissions import restrict
from promo.models import Redemption, Voucher


def redemption_queryset() -> QuerySet[Redemption]:
    """What the current API key or staff user may see (core.permissions)."""
    return restrict(Redemption.objects.select_related("customer", "order", "order__customer", "voucher",
                                                      "voucher__campaign", "voucher__holder", "parent", "api_key",
                                                      "rollback"), action="view")


def redemption_get(public_id: str) -> Redemption:
    redemption = redemption_queryset().filter(public_id=public_id).first()
    if redemption is None:
        raise NotFound.for_object("redemption", public_id)
    return redemption


def redemption_list(*, campaign: str | None = None, voucher: str | None = None, customer: str | None = None,
                    result: str | None = None, order: str | None = None, created_after: datetime | None = None,
                    created_before: datetime | None = None, parents_only: bool = False) -> QuerySet[Redemption]:
    queryset = redemption_queryset()
    if campaign:
        queryset = queryset.filter(Q(campaign__public_id=campaign) | Q(campaign__name=campaign))
    if voucher:
        queryset = queryset.filter(Q(voucher__code=voucher) | Q(voucher__public_id=voucher))
    if customer:
        queryset = queryset.filter(Q(customer__public_id=customer) | Q(customer__source_id=customer))
    if result:
        queryset = queryset.filter(result=result.upper())
    if order:
        queryset = queryset.filter(Q(order__public_id=order) | Q(order__source_id=order))
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    if parents_only:
        queryset = queryset.filter(parent__isnull=True)
    return queryset.order_by("-created_at", "-id")


def voucher_get(code: str) -> Voucher:
    voucher = restrict(Voucher.objects.select_related("campaign", "holder", "category").filter(code=code),
                       action="view").first()
    if voucher is None or (voucher.campaign_id and voucher.campaign.deleted_at):
        raise NotFound.for_object("voucher", code)
    return voucher


def customer_redemption_counters(customer_pks: list[int]) -> dict[int, dict]:
    """Per customer: redeemables redeemed, failed, rolled back (one grouped query for a page of customers)."""
    from django.db.models import Count

    rows = (restrict(Redemption.objects.filter(customer_id__in=customer_pks, parent__isnull=False), action="view")
            .values("customer_id").annotate(
                succeeded=Count("id", filter=Q(result=Redemption.Result.SUCCESS)),
                failed=Count("id", filter=Q(result=Redemption.Result.FAILURE)),
                rolled_back=Count("id", filter=Q(status=Redemption.Status.ROLLED_BACK))))
    return {row["customer_id"]: {"total_redeemed": row["succeeded"] + row["failed"],
                                 "total_succeeded": row["succeeded"], "total_failed": row["failed"],
                                 "total_rolled_back": row["rolled_back"],
                                 "total_rollback_succeeded": row["rolled_back"]} for row in rows}
