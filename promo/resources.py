"""CSV / XLSX import and export of codes (vouchers) in the admin (django-import-export).

Rows are matched by code. A new code is created in the campaign named by `campaign_id` (from the campaign's
voucher template) through promo.campaigns.voucher_create; an existing code changes only its editable columns
through voucher_set_fields (never its redemption counters). Both are audited. The admin's confirm step runs
the whole import as a dry run inside a transaction that is rolled back, so the preview shows the services'
refusals row by row; the real import is one transaction.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from core.errors import ApiError
from core.permissions import restrict
from promo import campaigns as services
from promo.models import Campaign, Voucher

NULLABLE = ("start_date", "expiration_date", "redemption_quantity")  # a blank cell clears these; others stay
UPDATABLE = ("active", "start_date", "expiration_date", "additional_info", "metadata", "redemption_quantity")


class CampaignRefWidget(widgets.ForeignKeyWidget):
    """The campaign's id (camp_...) or its exact name, among the campaigns the importing user may change."""

    def __init__(self):
        super().__init__(Campaign, field="public_id")

    def clean(self, value, row=None, **kwargs):
        ref = str(value or "").strip()
        if not ref:
            return None
        if "\x00" in ref:
            raise ValueError("Invalid campaign id")
        found = restrict(Campaign.objects.filter(deleted_at__isnull=True), action="change")
        campaign = found.filter(public_id=ref).first() or found.filter(name=ref).first()
        if campaign is None:
            raise ValueError(f"Cannot find campaign with id {ref}")
        return campaign


class VoucherResource(resources.ModelResource):
    campaign = fields.Field(attribute="campaign", column_name="campaign_id", widget=CampaignRefWidget())
    id = fields.Field(attribute="public_id", column_name="id", readonly=True)
    redeemed_quantity = fields.Field(attribute="redeemed_quantity", column_name="redeemed_quantity", readonly=True)
    holder = fields.Field(attribute="holder__source_id", column_name="holder_source_id", readonly=True)

    class Meta:
        model = Voucher
        import_id_fields = ("code",)
        fields = ("id", "code", "campaign", "type", "active", "start_date", "expiration_date", "redemption_quantity",
                  "redeemed_quantity", "additional_info", "metadata", "holder", "created_at")
        export_order = fields
        skip_unchanged = True
        use_transactions = True

    def get_queryset(self):
        return restrict(Voucher.objects.select_related("campaign", "holder")
                        .exclude(campaign__deleted_at__isnull=False), action="view")

    def get_instance(self, instance_loader, row):
        code = str(row.get("code") or "").strip()
        if not code or "\x00" in code:
            return None
        return restrict(Voucher.objects.filter(code=code), action="change").first() \
            or self._refuse_invisible(code)

    @staticmethod
    def _refuse_invisible(code: str):
        if Voucher.objects.filter(code=code).exists():  # exists, but not for this user: same answer as a clash
            raise ValidationError({"code": f"A voucher with code {code!r} already exists"})
        return None

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        if field.attribute in ("type", "created_at"):
            return  # fixed by the campaign / the database
        if field.attribute == "campaign" and instance.pk:
            return  # a code stays in its campaign
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def do_instance_save(self, instance, is_create):
        try:
            if is_create:
                self._create(instance)
            else:
                stored = Voucher.objects.get(pk=instance.pk)
                changes = {name: getattr(instance, name) for name in UPDATABLE
                           if getattr(instance, name) != getattr(stored, name)
                           and (getattr(instance, name) is not None or name in NULLABLE)}
                if changes:
                    services.voucher_set_fields(stored, changes)
        except ApiError as exc:
            raise ValidationError(exc.details or exc.message) from exc

    @staticmethod
    def _create(instance: Voucher) -> None:
        if instance.campaign is None:
            raise ValidationError({"campaign_id": "A new code needs its campaign (campaign_id)"})
        data = {"active": instance.active is not False, "additional_info": instance.additional_info or "",
                "metadata": instance.metadata or {}}
        for key in ("start_date", "expiration_date"):
            if getattr(instance, key):
                data[key] = getattr(instance, key)
        if instance.redemption_quantity is not None:
            data["redemption"] = {"quantity": instance.redemption_quantity}
        created = services.voucher_create(data, code=instance.code, campaign=instance.campaign)
        instance.pk, instance.public_id = created.pk, created.public_id
