"""Roles are groups with permission sets, kept in step with the code by `sync_roles` (also run by the data
migration backoffice.0001 and after every `migrate`).

Patterns name permissions as "app_label.codename" with shell wildcards; "!pattern" takes away what an
earlier pattern gave. Patterns of apps that are not installed match nothing. What the roles mean:
docs/backoffice.md. Object-level access (categories, single campaigns) is given per user or group with
django-guardian and read by core.permissions.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

ADMIN = "Admin"
MARKETER = "Marketer"
JUNIOR_MARKETER = "Junior Marketer"
CUSTOMER_SERVICE = "Customer Service"
ANALYST = "Analyst"
PARTNER = "Partner"

# Business data everyone in the back office may read about customers and the catalog.
_READ_BUSINESS = ["catalog.view_*", "customers.view_*", "segments.view_*", "giftcards.view_*", "loyalty.view_*",
                  "referrals.view_*", "giveaways.view_*", "distribution.view_*"]
_PROMO_HISTORY = ["promo.view_*", "core.view_asyncaction"]

ROLES: dict[str, list[str]] = {
    ADMIN: ["*"],
    MARKETER: [
        *_PROMO_HISTORY, *_READ_BUSINESS,
        "promo.*_campaign", "promo.*_voucher", "promo.*_category", "promo.*_promotiontier", "promo.*_promotionstack",
        "promo.approve_campaign", "promo.issue_sorry_coupon", "promo.disable_voucher",
        "rules.*", "segments.*", "giftcards.*", "loyalty.*", "referrals.*", "giveaways.*", "distribution.*",
        "core.view_auditentry", "core.view_metadataschema",
        "!*.add_giftcardtransaction", "!*.change_giftcardtransaction", "!*.delete_giftcardtransaction",
    ],
    JUNIOR_MARKETER: [
        *_PROMO_HISTORY, *_READ_BUSINESS,
        "promo.add_campaign", "promo.change_campaign", "promo.add_voucher", "promo.change_voucher",
        "promo.add_promotiontier", "promo.change_promotiontier",
        "rules.view_*", "rules.add_validationrule", "rules.change_validationrule",
        "rules.add_validationruleassignment", "rules.change_validationruleassignment",
    ],
    CUSTOMER_SERVICE: [
        *_READ_BUSINESS,
        "promo.view_campaign", "promo.view_voucher", "promo.view_redemption", "promo.view_redemptionrollback",
        "promo.view_failedattempt", "promo.view_lockout",
        "promo.view_category", "promo.issue_sorry_coupon", "promo.disable_voucher",
        "customers.change_customer", "giftcards.refund_*", "giftcards.issue_*",
    ],
    ANALYST: [
        "*.view_*", "core.view_auditentry",
        "!auth.*", "!guardian.*", "!admin.*", "!sessions.*", "!contenttypes.*", "!django_celery_beat.*",
        "!core.view_apikey", "!core.view_idempotencyrecord",
    ],
    PARTNER: ["promo.view_campaign", "promo.view_voucher", "promo.view_redemption", "promo.view_category"],
}


def role_permissions(patterns: list[str], available: list[str]) -> set[str]:
    """The "app.codename" names of `available` the patterns select, in order ("!" takes away)."""
    chosen: set[str] = set()
    for pattern in patterns:
        if pattern.startswith("!"):
            chosen -= {name for name in chosen if fnmatchcase(name, pattern[1:])}
        else:
            chosen |= {name for name in available if fnmatchcase(name, pattern)}
    return chosen


def sync_roles(apps=None, *, reset: bool = False) -> dict[str, dict[str, int]]:
    """Create the role groups and give them their permissions. Idempotent. With reset, permissions a
    role's group has beyond its definition are taken away (by default an administrator's additions stay).
    `apps` is the historical registry in a migration (permissions are created first), else the live one."""
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    else:
        _create_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_name = {f"{app}.{codename}": pk for pk, app, codename in
               Permission.objects.values_list("pk", "content_type__app_label", "codename")}
    report = {}
    for role, patterns in ROLES.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = {by_name[name] for name in role_permissions(patterns, list(by_name))}
        current = set(group.permissions.values_list("pk", flat=True))
        added, removed = wanted - current, (current - wanted) if reset else set()
        if added:
            group.permissions.add(*sorted(added))
        if removed:
            group.permissions.remove(*sorted(removed))
        report[role] = {"permissions": len(wanted), "added": len(added), "removed": len(removed)}
    return report


def _create_permissions(apps) -> None:
    """In a migration, the permissions of every model migrated so far (Django creates them only after migrate)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
