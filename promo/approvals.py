"""Campaign approvals: who may launch what alone, and the four-eyes step for the rest.

A new campaign waits PENDING (and inactive, so none of its codes redeems) when
- its creator may not approve campaigns (`promo.approve_campaign`: Admin and Marketer have it; a Junior
  Marketer does not) and JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL is on (default), or its discount is above the
  Junior Marketer's cap (JUNIOR_MARKETER_MAX_PERCENT / _MAX_AMOUNT), or it has no budget while
  JUNIOR_MARKETER_REQUIRES_BUDGET is on;
- or, whoever creates it (staff or API key), it passes a threshold: APPROVAL_PERCENT_OFF_ABOVE,
  APPROVAL_AMOUNT_OFF_ABOVE, APPROVAL_WITHOUT_BUDGET (all off by default).
A discount raised later by someone who may not approve (or past a threshold) sends an approved campaign
back to PENDING. A Marketer or Admin other than the creator approves (a superuser may approve their own);
approving enables the campaign. While a campaign is not APPROVED it cannot be enabled.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.context import current_actor
from core.errors import Conflict
from promo.models import Campaign
from rules.models import ValidationRule, ValidationRuleAssignment

APPROVE_PERMISSION = "promo.approve_campaign"
Approval = Campaign.Approval


# ---------------------------------------------------------------- what needs approval

def _rule_has_budget(definition) -> bool:
    """Does a rule's tree name a lifetime budget condition (campaign.orders.amount_discounted ...)?"""
    from rules.conditions import CONDITIONS

    if isinstance(definition, dict):
        condition = CONDITIONS.get(definition.get("name")) if isinstance(definition.get("name"), str) else None
        if condition is not None and getattr(condition, "is_budget", False):
            return True
        return any(_rule_has_budget(value) for value in definition.values() if isinstance(value, dict | list))
    if isinstance(definition, list):
        return any(_rule_has_budget(value) for value in definition)
    return False


def rules_have_budget(rules) -> bool:
    return any(_rule_has_budget(rule.rules) for rule in rules)


def campaign_rules(campaign: Campaign) -> list[ValidationRule]:
    ids = ValidationRuleAssignment.objects.filter(related_object_type="campaign",
                                                  related_object_id=campaign.public_id).values("rule_id")
    return list(ValidationRule.objects.filter(pk__in=ids))


def reasons_for(discount: dict | None, has_budget: bool, actor) -> list[str]:
    """Why a campaign with this discount, set up by `actor`, must wait for approval (empty: it need not)."""
    kind, principal = permissions.resolve_actor(actor)
    if kind == "system" or (kind == "user" and principal.is_superuser):
        return []
    discount = discount or {}
    percent = Decimal(str(discount.get("percent_off") or 0)) if discount.get("type") == "PERCENT" else Decimal(0)
    amount = int(discount.get("amount_off") or 0) if discount.get("type") == "AMOUNT" else 0
    reasons = []
    if not permissions.has_perm(actor, APPROVE_PERMISSION):
        if settings.JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL:
            reasons.append("created by a role whose campaigns are approved by a Marketer or Admin")
        if percent > settings.JUNIOR_MARKETER_MAX_PERCENT:
            reasons.append(f"{percent}% off is above the cap of {settings.JUNIOR_MARKETER_MAX_PERCENT}%")
        if settings.JUNIOR_MARKETER_MAX_AMOUNT and amount > settings.JUNIOR_MARKETER_MAX_AMOUNT:
            reasons.append(f"{amount} off is above the cap of {settings.JUNIOR_MARKETER_MAX_AMOUNT}")
        if settings.JUNIOR_MARKETER_REQUIRES_BUDGET and not has_budget:
            reasons.append("no budget (a validation rule with a campaign budget)")
    if settings.APPROVAL_PERCENT_OFF_ABOVE and percent > settings.APPROVAL_PERCENT_OFF_ABOVE:
        reasons.append(f"{percent}% off is above the approval threshold of {settings.APPROVAL_PERCENT_OFF_ABOVE}%")
    if settings.APPROVAL_AMOUNT_OFF_ABOVE and amount > settings.APPROVAL_AMOUNT_OFF_ABOVE:
        reasons.append(f"{amount} off is above the approval threshold of {settings.APPROVAL_AMOUNT_OFF_ABOVE}")
    if settings.APPROVAL_WITHOUT_BUDGET and not has_budget:
        reasons.append("no budget")
    return list(dict.fromkeys(reasons))


def review_new(template: dict, rules, actor=None) -> dict:
    """Field values of a new campaign for its approval (approval_status, active, created_by, note)."""
    actor = current_actor() if actor is None else actor
    reasons = reasons_for(template.get("discount"), rules_have_budget(rules), actor)
    kind, principal = permissions.resolve_actor(actor)
    values = {"created_by": principal if kind == "user" else None}
    if reasons:
        values.update(approval_status=Approval.PENDING, active=False, approval_note="; ".join(reasons))
    return values


def review_change(campaign: Campaign, discount: dict | None, actor=None) -> bool:
    """A changed discount: back to PENDING (and disabled) when it now needs approval. True if it did."""
    actor = current_actor() if actor is None else actor
    if campaign.approval_status != Approval.APPROVED or discount is None:
        return False
    reasons = reasons_for(discount, rules_have_budget(campaign_rules(campaign)), actor)
    # Creating a campaign always needs approval for a junior; changing one needs it only past a cap.
    always = "created by a role whose campaigns are approved by a Marketer or Admin"
    reasons = [r for r in reasons if r != always]
    if not reasons:
        return False
    _set(campaign, audit.Action.SUBMIT, {"approval_status": Approval.PENDING, "active": False,
                                         "approval_note": "; ".join(reasons), "approved_by": None,
                                         "approved_at": None}, actor=actor)
    return True


def created(campaign: Campaign) -> None:
    """Audit rows for a new campaign (and its submission for approval), in its transaction."""
    audit.record_create(campaign)
    if campaign.approval_status == Approval.PENDING:
        audit.record(audit.Action.SUBMIT, campaign, changes={"approval_status": [None, Approval.PENDING]},
                     extra={"reasons": campaign.approval_note})


# ---------------------------------------------------------------- deciding

def check_can_enable(campaign: Campaign) -> None:
    if campaign.approval_status != Approval.APPROVED:
        raise Conflict(f"Campaign {campaign.public_id} is {campaign.approval_status.lower()}: it can be enabled "
                       "once a Marketer or Admin approves it", key="campaign_not_approved",
                       message="Campaign not approved")


def _check_approver(campaign: Campaign, actor) -> None:
    kind, principal = permissions.resolve_actor(actor)
    permissions.require(actor, APPROVE_PERMISSION, "Only a Marketer or an Admin may approve or reject campaigns")
    if kind == "user" and not principal.is_superuser and campaign.created_by_id == principal.pk:
        raise permissions.Forbidden("A campaign is approved by someone other than its creator")
    if kind == "key":
        raise permissions.Forbidden("Campaigns are approved by staff in the back office, not with an API key")


def _set(campaign: Campaign, action: str, values: dict, *, actor=None, only_from=None, extra=None) -> Campaign:
    fields = list(values)
    with transaction.atomic():
        before = audit.snapshot(campaign, fields)
        query = Campaign.objects.filter(pk=campaign.pk)
        if only_from:
            query = query.filter(approval_status__in=only_from)
        if not query.update(**values, updated_at=timezone.now()):
            raise Conflict(f"Campaign {campaign.public_id} is no longer waiting for approval")
        campaign.refresh_from_db()
        audit.record(action, campaign, before=before, after=audit.snapshot(campaign, fields), extra=extra,
                     actor=actor)
    return campaign


# decision -> (audit action, new status, enabled, from which statuses)
_DECISIONS = {
    "approve": (audit.Action.APPROVE, Approval.APPROVED, True, [Approval.PENDING, Approval.REJECTED]),
    "reject": (audit.Action.REJECT, Approval.REJECTED, False, [Approval.PENDING]),
}


def decide(campaign: Campaign, decision: str, actor=None, note: str = "") -> Campaign:
    actor = current_actor() if actor is None else actor
    _check_approver(campaign, actor)
    action, status, active, only_from = _DECISIONS[decision]
    return _set(campaign, action, {"approval_status": status, "active": active, "approved_by": actor,
                                   "approved_at": timezone.now(), "approval_note": note},
                actor=actor, only_from=only_from)


def approve(campaign: Campaign, actor=None, note: str = "") -> Campaign:
    """PENDING (or REJECTED) -> APPROVED, and enabled: its codes redeem from now on."""
    return decide(campaign, "approve", actor, note)


def reject(campaign: Campaign, actor=None, note: str = "") -> Campaign:
    """PENDING -> REJECTED; the campaign stays disabled."""
    return decide(campaign, "reject", actor, note)
