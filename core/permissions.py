"""The one restriction point: what a staff user or an API key may see and do.

Every queryset of scoped rows (campaigns, vouchers, redemptions, gift cards, async actions ... see
register_scoped_model) shown by the API, the admin or the back office passes through
`restrict(queryset, actor, action)` (NetBox's `.restrict()` idea). Every /v1 view declares which scoped
models it serves (core.api.scope), and a permission matrix generated from the URL configuration checks them.

Who may do what:
- Roles are groups with model permissions (backoffice.roles): `promo.change_campaign` ... A superuser may
  do everything.
- Object permissions (django-guardian), per campaign category and per campaign:
  * on a Category, `promo.campaigns_read` (read-only), `promo.campaigns_write` (read-write) or
    `promo.campaigns_none` (no access), given to a user or a group. A user with any read or write grant
    is *category-scoped*: they see only the campaigns of their granted categories, and change only those
    with a write grant. `campaigns_none` hides a category from anyone it is given to (also unscoped users)
    and wins over grants of the same user's other groups. Members of the roles in
    settings.BACKOFFICE_SCOPED_ROLES (Partner) are always scoped: without grants they see nothing.
  * on a Campaign, `promo.view_campaign` / `change_campaign` / `delete_campaign`: that one campaign (and its
    codes), even without the role's model permission (a partner's own campaign).
  The role caps the action: a read-write category grant does not let an Analyst change anything.
- API keys: `scope` says which operations (core.auth), `categories` which campaign categories; anything
  outside them is filtered out, so lookups answer 404 as if it did not exist. Async actions are not in a
  category: a key (or staff user) limited to categories sees those it started.

`actor` is a User, an ApiKey (or core.auth.ApiClient), or None for system code (not restricted).
Models are declared by label (core must not import promo): `register_scoped_model()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.apps import apps
from django.conf import settings
from django.db.models import Model, Q, QuerySet

from core.context import current_action, current_actor
from core.errors import ApiError
from core.models import ApiKey

ACTIONS = ("view", "add", "change", "delete")
CATEGORY_MODEL = "promo.Category"
CAMPAIGN_MODEL = "promo.Campaign"
CATEGORY_READ, CATEGORY_WRITE, CATEGORY_NONE = "campaigns_read", "campaigns_write", "campaigns_none"
CATEGORY_LEVELS = {"read_write": (CATEGORY_READ, CATEGORY_WRITE), "read_only": (CATEGORY_READ,),
                   "none": (CATEGORY_NONE,)}
_UNSET = object()


class Forbidden(ApiError):
    status = 403
    key = "forbidden"
    message = "Forbidden"


# ---------------------------------------------------------------- which models are scoped, and how

@dataclass(frozen=True)
class ScopedModel:
    """How rows of a model reach their campaign and category.

    `campaign`: lookup to the campaign ("pk" for the campaign itself); `category`: lookup to the row's own
    category, used when it has no campaign (standalone vouchers). A row with a campaign is in its
    campaign's category. Rows that span several categories (a stacked redemption, a validation rule
    assigned to many campaigns) give `within(pks)`: rows wholly inside those categories, and `touching(pks)`:
    rows with any part in them (for denials). Rows that belong to whoever made them rather than to a
    category (async actions) give `owner`: (API key field, user field); a key or user limited to categories
    sees only its own."""

    campaign: str | None = None
    category: str | None = None
    is_category: bool = False
    within: Callable[[list[int]], Q] | None = None
    touching: Callable[[list[int]], Q] | None = None
    owner: tuple[str, str] | None = None

    def in_categories(self, pks) -> Q:
        pks = sorted(pks)
        if self.within is not None:
            return self.within(pks)
        if self.is_category:
            return Q(pk__in=pks)
        if self.campaign == "pk":
            return Q(**{f"{self.category}__in": pks})
        parts = []
        if self.campaign:
            parts.append(Q(**{f"{self.campaign}__isnull": False, f"{self.campaign}__category__in": pks}))
        if self.category:
            parts.append(Q(**{f"{self.campaign}__isnull": True, f"{self.category}__in": pks}) if self.campaign
                         else Q(**{f"{self.category}__in": pks}))
        return reduce(or_, parts) if parts else Q(pk__in=[])

    def in_any_of(self, pks) -> Q:
        return self.touching(sorted(pks)) if self.touching is not None else self.in_categories(pks)

    def in_campaigns(self, pks) -> Q | None:
        if not self.campaign or not pks:
            return None
        return Q(**{f"{self.campaign}__in": sorted(pks)})


_SCOPED: dict[str, ScopedModel] = {
    CATEGORY_MODEL: ScopedModel(is_category=True),
    CAMPAIGN_MODEL: ScopedModel(campaign="pk", category="category"),
    "promo.Voucher": ScopedModel(campaign="campaign", category="category"),
    "core.AsyncAction": ScopedModel(owner=("api_key", "user")),
}


def register_scoped_model(label: str, *, campaign: str | None = None, category: str | None = None,
                          within: Callable[[list[int]], Q] | None = None,
                          touching: Callable[[list[int]], Q] | None = None) -> None:
    """Declare that rows of `label` ("app.Model") belong to a campaign and/or a category (gift cards,
    loyalty cards, promotion tiers ...), so restrict() scopes them like campaigns. Rows spanning several
    categories give `within` (and `touching`) instead: see ScopedModel."""
    _SCOPED[label] = ScopedModel(campaign=campaign, category=category, within=within, touching=touching)


def scoped_model(label: str) -> ScopedModel | None:
    """How `label` is scoped, or None when its rows belong to no category (customers, products ...)."""
    return _SCOPED.get(label)


# ---------------------------------------------------------------- actors

def resolve_actor(actor):
    """("system" | "anonymous" | "key" | "user", principal)."""
    if actor is None:
        return "system", None
    key = getattr(actor, "api_key", None)  # core.auth.ApiClient
    if key is not None:
        return "key", key
    if isinstance(actor, ApiKey):
        return "key", actor
    if getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", True):
        return "user", actor
    return "anonymous", None


def key_category_ids(key) -> frozenset[int] | None:
    """The category pks an API key is limited to, or None for all. core.services.api_key_authenticate reads
    them with the key on every request; other key objects read them once."""
    cached = getattr(key, "_category_ids", _UNSET)
    if cached is _UNSET:
        ids = frozenset(key.categories.values_list("pk", flat=True)) if key.pk else frozenset()
        cached = ids or None
        key._category_ids = cached
    return cached


@dataclass(frozen=True)
class Access:
    """A user's object-level grants (django-guardian), read once per user object."""

    read: frozenset[int]  # categories readable (read-only or read-write)
    write: frozenset[int]
    denied: frozenset[int]
    scoped: bool
    campaigns: dict  # action -> campaign pks granted one by one


def scoped_role_names() -> list[str]:
    return list(getattr(settings, "BACKOFFICE_SCOPED_ROLES", ["Partner"]))


def user_access(user) -> Access:
    cached = getattr(user, "_object_access", None)
    if cached is not None:
        return cached
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    category_ct = ContentType.objects.get_for_model(apps.get_model(CATEGORY_MODEL))
    campaign_ct = ContentType.objects.get_for_model(apps.get_model(CAMPAIGN_MODEL))
    rows = [*UserObjectPermission.objects.filter(user=user, content_type__in=[category_ct, campaign_ct])
            .values_list("content_type_id", "object_pk", "permission__codename"),
            *GroupObjectPermission.objects.filter(group__user=user, content_type__in=[category_ct, campaign_ct])
            .values_list("content_type_id", "object_pk", "permission__codename")]
    read, write, denied = set(), set(), set()
    campaigns: dict[str, set[int]] = {action: set() for action in ACTIONS}
    for content_type_id, object_pk, codename in rows:
        try:
            pk = int(object_pk)
        except ValueError:
            continue
        if content_type_id == category_ct.pk:
            {CATEGORY_READ: read, CATEGORY_WRITE: write, CATEGORY_NONE: denied}.get(codename, set()).add(pk)
        elif codename.endswith("_campaign"):
            action = codename.split("_", 1)[0]
            if action in campaigns:
                campaigns[action].add(pk)
    for action in ("change", "delete"):  # who may change a campaign may see it
        campaigns["view"] |= campaigns[action]
    scoped = bool(read or write) or user.groups.filter(name__in=scoped_role_names()).exists()
    access = Access(read=frozenset((read | write) - denied), write=frozenset(write - denied),
                    denied=frozenset(denied), scoped=scoped,
                    campaigns={action: frozenset(pks) for action, pks in campaigns.items()})
    user._object_access = access
    return access


def model_perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


# ---------------------------------------------------------------- the restriction point

def restrict(queryset: QuerySet, actor=_UNSET, action: str | None = None) -> QuerySet:
    """The rows of `queryset` that `actor` may `action` (view, change, delete). Defaults: the current
    request's actor and action (core.context)."""
    actor = current_actor() if actor is _UNSET else actor
    action = action or current_action()
    kind, principal = resolve_actor(actor)
    if kind == "system":
        return queryset
    if kind == "anonymous":
        return queryset.none()
    spec = _SCOPED.get(queryset.model._meta.label)
    if kind == "key":
        categories = key_category_ids(principal)
        if spec is None or categories is None:
            return queryset
        if spec.owner is not None:
            return queryset.filter(**{spec.owner[0]: principal})
        return queryset.filter(spec.in_categories(categories))
    if principal.is_superuser:
        return queryset
    if spec is not None and spec.owner is not None:
        return queryset.filter(**{spec.owner[1]: principal}) if user_access(principal).scoped else queryset
    allowed = principal.has_perm(model_perm(queryset.model, action))
    if spec is None:
        return queryset if allowed else queryset.none()
    access = user_access(principal)
    conditions = []
    if allowed:
        if not access.scoped and not access.denied:
            return queryset
        base = None
        if access.scoped:
            base = spec.in_categories(access.read if action == "view" else access.write)
        if access.denied:
            outside = ~spec.in_any_of(access.denied)
            base = outside if base is None else base & outside
        conditions.append(base)
    granted = spec.in_campaigns(access.campaigns.get(action, ()))
    if granted is not None:
        conditions.append(granted)
    if not conditions:
        return queryset.none()
    return queryset.filter(reduce(or_, conditions))


def can(actor, action: str, obj: Model) -> bool:
    """May `actor` `action` this object? (the same rules as restrict(), for one row)."""
    if obj is None or obj.pk is None:
        return has_model_permission(actor, action, type(obj) if obj is not None else None)
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), actor, action).exists()


def has_model_permission(actor, action: str, model) -> bool:
    """May `actor` `action` some objects of `model` (the admin's "can see this model at all")?"""
    kind, principal = resolve_actor(actor)
    if kind in ("system", "key"):
        return True
    if kind == "anonymous" or model is None:
        return False
    if principal.is_superuser or principal.has_perm(model_perm(model, action)):
        return True
    spec = _SCOPED.get(model._meta.label)
    return bool(spec and spec.campaign and user_access(principal).campaigns.get(action))


def has_perm(actor, perm: str) -> bool:
    """A role capability ("promo.approve_campaign"). API keys with the management scope have them all."""
    kind, principal = resolve_actor(actor)
    if kind == "system":
        return True
    if kind == "key":
        return principal.scope == "management"
    return kind == "user" and principal.has_perm(perm)


def require(actor, perm: str, message: str = "") -> None:
    if not has_perm(actor, perm):
        raise Forbidden(message or f"Your role does not allow this ({perm})")


def check_category_allowed(actor, category, action: str = "change") -> None:
    """Creating or moving something into `category` (None: no category): refused when the actor is
    limited to categories that do not include it."""
    kind, principal = resolve_actor(actor)
    if kind == "system" or (kind == "user" and principal.is_superuser):
        return
    pk = getattr(category, "pk", None)
    if kind == "key":
        allowed = key_category_ids(principal)
    elif kind == "user":
        access = user_access(principal)
        if pk is not None and pk in access.denied:
            raise Forbidden("You have no access to this category")
        allowed = (access.write if action != "view" else access.read) if access.scoped else None
    else:
        raise Forbidden()
    if allowed is not None and pk not in allowed:
        raise Forbidden("Choose one of the campaign categories you may change" if pk is None
                        else "You may not use this category")


def redeemable_in_scope(obj, actor=_UNSET) -> bool:
    """For the redemption engine: may the current API key (or user) see this voucher (or campaign)?

    Costs no query for keys without categories (the common case) and none for keys with categories
    (their category ids are cached with the key) when the voucher's campaign and category are loaded."""
    kind, principal = resolve_actor(current_actor() if actor is _UNSET else actor)
    if _sees_everything(kind, principal):
        return True
    if kind == "key":
        allowed = key_category_ids(principal)
        campaign = obj if obj._meta.label == CAMPAIGN_MODEL else getattr(obj, "campaign", None)
        category_id = campaign.category_id if campaign is not None else getattr(obj, "category_id", None)
        return category_id in allowed
    if kind == "user":
        return can(principal, "view", obj)
    return False


def sees_every_campaign(actor=_UNSET) -> bool:
    """True when redeemable_in_scope would say yes to everything (the system, a key without categories):
    callers filtering long lists can skip asking."""
    return _sees_everything(*resolve_actor(current_actor() if actor is _UNSET else actor))


def limited_to_categories(actor=_UNSET) -> bool:
    """True for a key limited to categories and a staff user scoped to categories or denied some: callers that
    must not tell them about rows of other categories (e.g. that a code is taken) word their answers for it."""
    kind, principal = resolve_actor(current_actor() if actor is _UNSET else actor)
    if kind == "key":
        return key_category_ids(principal) is not None
    if kind == "user" and not principal.is_superuser:
        access = user_access(principal)
        return access.scoped or bool(access.denied)
    return False


def _sees_everything(kind: str, principal) -> bool:
    return kind == "system" or kind == "key" and key_category_ids(principal) is None


def reset_cached_access(user) -> None:
    """Forget a user's cached grants (after they change within one request or test)."""
    for attr in ("_object_access", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        if hasattr(user, attr):
            delattr(user, attr)


# ---------------------------------------------------------------- granting (recorded in the audit log)

def set_category_access(principal, category, level: str | None) -> None:
    """Give a user or group `level` access to the campaigns of `category`: "read_write", "read_only",
    "none" (explicitly no access) or None (remove the grant: the role and other grants decide)."""
    from guardian.shortcuts import assign_perm, get_group_perms, get_user_perms, remove_perm

    from core import audit

    if level is not None and level not in CATEGORY_LEVELS:
        raise ValueError(f"level must be one of {', '.join(CATEGORY_LEVELS)} or None")
    is_user = hasattr(principal, "get_username")
    current = set(get_user_perms(principal, category) if is_user else get_group_perms(principal, category))
    managed = {CATEGORY_READ, CATEGORY_WRITE, CATEGORY_NONE}
    before = sorted(current & managed)
    wanted = set(CATEGORY_LEVELS.get(level, ()))
    for codename in (current & managed) - wanted:
        remove_perm(f"promo.{codename}", principal, category)
    for codename in wanted - current:
        assign_perm(f"promo.{codename}", principal, category)
    if before != sorted(wanted):
        name = principal.get_username() if is_user else principal.name
        audit.record(audit.Action.GRANT, category,
                     changes={f"{'user' if is_user else 'group'}:{name}": [before, sorted(wanted)]})
    if is_user:
        reset_cached_access(principal)


def set_campaign_access(principal, campaign, actions: list[str]) -> None:
    """Grant a user or group these actions (view, change, delete) on one campaign (replacing earlier ones)."""
    from guardian.shortcuts import assign_perm, get_group_perms, get_user_perms, remove_perm

    from core import audit

    is_user = hasattr(principal, "get_username")
    current = set(get_user_perms(principal, campaign) if is_user else get_group_perms(principal, campaign))
    managed = {f"{action}_campaign" for action in ("view", "change", "delete")}
    wanted = {f"{action}_campaign" for action in actions}
    for codename in (current & managed) - wanted:
        remove_perm(f"promo.{codename}", principal, campaign)
    for codename in wanted - current:
        assign_perm(f"promo.{codename}", principal, campaign)
    if sorted(current & managed) != sorted(wanted):
        name = principal.get_username() if is_user else principal.name
        audit.record(audit.Action.GRANT, campaign,
                     changes={f"{'user' if is_user else 'group'}:{name}": [sorted(current & managed), sorted(wanted)]})
    if is_user:
        reset_cached_access(principal)
