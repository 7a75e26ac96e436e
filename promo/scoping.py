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

from django.apps import apps
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KT
from django.db.models.lookups import In

from core.permissions import register_scoped_model, scoped_model
from promo.models import Redemption
from rules.models import ValidationRuleAssignment

SCOPED_ASSIGNMENT_TYPES = {"campaign": "promo.Campaign", "voucher": "promo.Voucher",
                           "promotion_tier": "promo.PromotionTier"}
# Keys of a timeline entry's data that name a scoped object, and the model they name.
ACTIVITY_REFERENCES = {"redemption_id": "promo.Redemption", "campaign": "promo.Campaign",
                       "voucher__id": "promo.Voucher"}


def _rows(label: str, pks, field: str = "public_id", *, touching: bool = False):
    """`field` of the rows of `label` inside (or touching) these categories, as a subquery."""
    spec = scoped_model(label)
    return apps.get_model(label).objects.filter(spec.in_any_of(pks) if touching else spec.in_categories(pks)
                                                ).values(field)


# ---------------------------------------------------------------- redemptions

def _redeemable_within(pks) -> Q:
    """A row of one redeemable: its campaign's category, or its standalone code's."""
    return (Q(campaign__isnull=False, campaign__category__in=pks)
            | Q(campaign__isnull=True, voucher__category__in=pks))


def _stacked_within(pks) -> Q:
    """Parent rows: every redeemable that names a campaign or code is inside `pks`, and one at least (a
    parent without children, from before stacking, goes by its own campaign or code)."""
    children = Redemption.objects.filter(parent=OuterRef("pk"))
    names_something = Q(campaign__isnull=False) | Q(voucher__isnull=False)
    inside = Exists(children.filter(_redeemable_within(pks)))
    outside = Exists(children.filter(names_something).exclude(_redeemable_within(pks)))
    alone = ~Exists(children) & _redeemable_within(pks)
    return Q(parent__isnull=True) & ((Q(inside) & ~Q(outside)) | alone)


def redemption_within(pks) -> Q:
    return _stacked_within(pks) | Q(parent__in=Redemption.objects.filter(_stacked_within(pks)).values("pk"))


def redemption_touching(pks) -> Q:
    children = Redemption.objects.filter(parent=OuterRef("pk")).filter(_redeemable_within(pks))
    touched = Redemption.objects.filter(parent__isnull=True).filter(Q(Exists(children)) | _redeemable_within(pks))
    return Q(pk__in=touched.values("pk")) | Q(parent__in=touched.values("pk"))


# ---------------------------------------------------------------- validation rules

def _assigned_to(pks, *, touching: bool) -> list[Q]:
    return [Q(related_object_type=kind, related_object_id__in=_rows(label, pks, touching=touching))
            for kind, label in SCOPED_ASSIGNMENT_TYPES.items()]


def assignment_within(pks) -> Q:
    return ~Q(related_object_type__in=list(SCOPED_ASSIGNMENT_TYPES)) | Q(*_assigned_to(pks, touching=False),
                                                                          _connector=Q.OR)


def assignment_touching(pks) -> Q:
    return Q(*_assigned_to(pks, touching=True), _connector=Q.OR)


def rule_within(pks) -> Q:
    outside = ValidationRuleAssignment.objects.filter(rule=OuterRef("pk")).exclude(assignment_within(pks))
    return ~Q(Exists(outside))


def rule_touching(pks) -> Q:
    return Q(Exists(ValidationRuleAssignment.objects.filter(rule=OuterRef("pk")).filter(assignment_touching(pks))))


# ---------------------------------------------------------------- customer timeline

def activity_within(pks) -> Q:
    return Q(*[Q(**{f"data__{key}__isnull": True}) | Q(In(KT(f"data__{key}"), _rows(label, pks)))
               for key, label in ACTIVITY_REFERENCES.items()])


def activity_touching(pks) -> Q:
    return Q(*[Q(In(KT(f"data__{key}"), _rows(label, pks, touching=True)))
               for key, label in ACTIVITY_REFERENCES.items()], _connector=Q.OR)


def register() -> None:
    register_scoped_model("promo.PromotionTier", campaign="campaign")
    register_scoped_model("promo.PromotionStack", campaign="campaign")
    register_scoped_model("promo.SessionLock", campaign="voucher__campaign", category="voucher__category")
    register_scoped_model("promo.Redemption", within=redemption_within, touching=redemption_touching)
    register_scoped_model("promo.RedemptionRollback",
                          within=lambda pks: Q(redemption__in=_rows("promo.Redemption", pks, "pk")),
                          touching=lambda pks: Q(redemption__in=_rows("promo.Redemption", pks, "pk", touching=True)))
    register_scoped_model("rules.ValidationRuleAssignment", within=assignment_within, touching=assignment_touching)
    register_scoped_model("rules.ValidationRule", within=rule_within, touching=rule_touching)
    register_scoped_model("customers.CustomerActivity", within=activity_within, touching=activity_touching)
