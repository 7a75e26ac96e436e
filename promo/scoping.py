"""How rows that point at campaigns without a plain foreign key are scoped by category (core.permissions).

Registered by promo's AppConfig.ready() for its own models and for the neighbours whose rows name promo's
objects by public id (validation rule assignments, customer timeline entries):

- a redemption of one redeemable is in its campaign's category (or its standalone code's); a stacked
  redemption (the parent row and its redeemables' rows) is seen whole or not at all: inside categories when
  at least one of its redeemables is and none is outside, so a key never sees, nor rolls back, another
  category's part of a stacked checkout;
- a rollback follows its redemption;
- a validation rule assignment follows the campaign, code or tier it names (other kinds belong to no
  category); a rule is inside categories when none of its assignments is outside (a rule shared with
  another category's campaign changes that campaign too);
- a customer timeline entry that names a redemption, a campaign or a code follows it.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KT
from django.db.models.lookups import In

from core.permissions import in_categories, register_scoped_model

REDEEMABLE = ("campaign", "voucher__category")  # how a one-redeemable row reaches its category
SCOPED_ASSIGNMENT_TYPES = {"campaign": "promo.Campaign", "voucher": "promo.Voucher",
                           "promotion_tier": "promo.PromotionTier"}


def _redeemable_within(pks) -> Q:
    campaign, category = REDEEMABLE
    return (Q(**{f"{campaign}__isnull": False, f"{campaign}__category__in": pks})
            | Q(**{f"{campaign}__isnull": True, f"{category}__in": pks}))


def _names_something() -> Q:
    return Q(campaign__isnull=False) | Q(voucher__isnull=False)


def _stacked_within(pks) -> Q:
    """Parent rows: every redeemable that names something is inside `pks`, and one at least (a parent
    without children, from before stacking, goes by its own campaign or code)."""
    from promo.models import Redemption

    children = Redemption.objects.filter(parent=OuterRef("pk"))
    inside = Exists(children.filter(_redeemable_within(pks)))
    outside = Exists(children.filter(_names_something()).exclude(_redeemable_within(pks)))
    alone = ~Exists(children) & _redeemable_within(pks)
    return Q(parent__isnull=True) & ((Q(inside) & ~Q(outside)) | alone)


def redemption_within(pks) -> Q:
    from promo.models import Redemption

    parents = Redemption.objects.filter(_stacked_within(pks)).values("pk")
    return _stacked_within(pks) | Q(parent__in=parents)


def redemption_touching(pks) -> Q:
    from promo.models import Redemption

    children = Redemption.objects.filter(parent=OuterRef("pk")).filter(_redeemable_within(pks))
    touched = Redemption.objects.filter(parent__isnull=True).filter(Q(Exists(children)) | _redeemable_within(pks))
    return Q(pk__in=touched.values("pk")) | Q(parent__in=touched.values("pk"))


def _public_ids(label: str, pks):
    from django.apps import apps

    return apps.get_model(label).objects.filter(in_categories(label, pks)).values("public_id")


def assignment_within(pks) -> Q:
    scoped = Q(related_object_type__in=list(SCOPED_ASSIGNMENT_TYPES))
    parts = [Q(related_object_type=kind, related_object_id__in=_public_ids(label, pks))
             for kind, label in SCOPED_ASSIGNMENT_TYPES.items()]
    return ~scoped | Q(*parts, _connector=Q.OR)


def assignment_touching(pks) -> Q:
    return Q(*[Q(related_object_type=kind, related_object_id__in=_public_ids(label, pks))
               for kind, label in SCOPED_ASSIGNMENT_TYPES.items()], _connector=Q.OR)


def rule_within(pks) -> Q:
    from rules.models import ValidationRuleAssignment

    outside = ValidationRuleAssignment.objects.filter(rule=OuterRef("pk")).exclude(assignment_within(pks))
    return ~Q(Exists(outside))


def rule_touching(pks) -> Q:
    from rules.models import ValidationRuleAssignment

    return Q(Exists(ValidationRuleAssignment.objects.filter(rule=OuterRef("pk")).filter(assignment_touching(pks))))


# Keys of a timeline entry's data that name a scoped object, and the model they name.
ACTIVITY_REFERENCES = {"redemption_id": "promo.Redemption", "campaign": "promo.Campaign",
                       "voucher__id": "promo.Voucher"}


def activity_within(pks) -> Q:
    return Q(*[Q(**{f"data__{key}__isnull": True}) | Q(In(KT(f"data__{key}"), _public_ids(label, pks)))
               for key, label in ACTIVITY_REFERENCES.items()])


def activity_touching(pks) -> Q:
    return Q(*[Q(In(KT(f"data__{key}"), _public_ids(label, pks))) for key, label in ACTIVITY_REFERENCES.items()],
             _connector=Q.OR)


def register() -> None:
    register_scoped_model("promo.PromotionTier", campaign="campaign")
    register_scoped_model("promo.PromotionStack", campaign="campaign")
    register_scoped_model("promo.SessionLock", campaign="voucher__campaign", category="voucher__category")
    register_scoped_model("promo.Redemption", within=redemption_within, touching=redemption_touching)
    register_scoped_model("promo.RedemptionRollback",
                          within=lambda pks: Q(redemption__in=_pks("promo.Redemption", pks)),
                          touching=lambda pks: Q(redemption__in=_touching_pks("promo.Redemption", pks)))
    register_scoped_model("rules.ValidationRuleAssignment", within=assignment_within, touching=assignment_touching)
    register_scoped_model("rules.ValidationRule", within=rule_within, touching=rule_touching)
    register_scoped_model("customers.CustomerActivity", within=activity_within, touching=activity_touching)


def _pks(label: str, pks):
    from django.apps import apps

    return apps.get_model(label).objects.filter(in_categories(label, pks)).values("pk")


def _touching_pks(label: str, pks):
    from django.apps import apps

    from core.permissions import scoped_model

    return apps.get_model(label).objects.filter(scoped_model(label).in_any_of(pks)).values("pk")
