"""What each /v1 view serves, declared on the view, so that no endpoint serves rows past its caller's scope
by forgetting (NetBox restricts every API queryset in its base view; ours are built by selectors, so each
view states what it serves and the checks below hold it to that).

Every view class reachable under /v1/ declares exactly one of:

- `scoped = ("promo.Voucher", ...)`: it serves rows of these models, each registered with
  core.permissions.register_scoped_model(); its selectors pass them through core.permissions.restrict(),
  lists served by core.api.pagination.paginate() are restricted there as well, and the permission matrix
  generated from the URL configuration (tests/test_api_scope_matrix.py) proves that rows of other categories
  answer 404 and never appear;
- `unscoped = "why"`: what it serves belongs to no campaign category (customers, the catalog, health);
- `all_categories = "why"`: it serves rows of every category at once and cannot filter them (webhooks see
  every campaign's events): a key or staff user limited to categories is refused with 403.

`check_api_views` is a Django system check (manage.py check, CI): a view added without a declaration fails
it, and the generated matrix test enumerates the same views.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core import checks
from django.urls import URLPattern, URLResolver, get_resolver

from core.permissions import Forbidden, limited_to_categories, scoped_model

DECLARATIONS = ("scoped", "unscoped", "all_categories")
API_PREFIX = "v1/"


def declaration_problems(view_class) -> list[str]:
    """What is wrong with a view's scope declaration (nothing when it declares exactly one, properly), or
    with its permission classes (key scopes and categories are checked by core.auth.IsApiClientOrStaff)."""
    declared = [name for name in DECLARATIONS if getattr(view_class, name, None)]
    if len(declared) != 1:
        return [f"declares {' and '.join(declared) or 'none'} of {', '.join(DECLARATIONS)}: declare exactly one"]
    return _permission_problems(view_class, declared[0]) or _declaration_problems(view_class, declared[0])


def _permission_problems(view_class, declared: str) -> list[str]:
    from core.auth import IsApiClientOrStaff

    classes = getattr(view_class, "permission_classes", ())
    if not classes:
        return [] if declared == "unscoped" else ["has no permission class: only unscoped public views may"]
    if not any(issubclass(cls, IsApiClientOrStaff) for cls in classes):
        return ["has permission classes that skip core.auth.IsApiClientOrStaff (key scopes, categories)"]
    return []


def _declaration_problems(view_class, declared: str) -> list[str]:
    if declared == "scoped":
        labels = view_class.scoped
        if isinstance(labels, str) or not all(isinstance(label, str) for label in labels):
            return ["scoped must be a tuple of model labels (\"app.Model\")"]
        return [f"scoped names {label}, which is not registered with core.permissions.register_scoped_model"
                for label in labels if scoped_model(label) is None]
    reason = getattr(view_class, declared)
    return [] if isinstance(reason, str) and reason.strip() else [f"{declared} must say why (a sentence)"]


def api_views(prefix: str = API_PREFIX) -> Iterator[tuple[str, type]]:
    """(route, view class) of every URL pattern under `prefix`, in URL-configuration order."""
    yield from _walk(get_resolver().url_patterns, "", prefix)


def _walk(patterns, base: str, prefix: str) -> Iterator[tuple[str, type]]:
    for pattern in patterns:
        route = base + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith(prefix) or prefix.startswith(route):
                yield from _walk(pattern.url_patterns, route, prefix)
        elif isinstance(pattern, URLPattern) and route.startswith(prefix):
            view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
            yield route, view_class


@checks.register(checks.Tags.security)
def check_api_views(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for route, view_class in api_views():
        if view_class is None:
            errors.append(checks.Error(f"/{route} is not a class-based API view", id="core.E101"))
            continue
        for problem in declaration_problems(view_class):
            errors.append(checks.Error(f"/{route} ({view_class.__qualname__}) {problem}", id="core.E102",
                                       hint="See core/api/scope.py."))
    return errors


def check_view_scope(view, actor) -> None:
    """Called by the API's permission class for every request: views serving every category at once refuse
    callers limited to categories."""
    reason = getattr(view, "all_categories", None)
    if reason and limited_to_categories(actor):
        raise Forbidden(f"This needs access to every campaign category: {reason}")
