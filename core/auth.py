"""API authentication: X-App-Id / X-App-Token keys for integrations, session (with CSRF) for staff."""

from rest_framework import authentication, exceptions, permissions

from core import services
from core.context import action_var, actor_var
from core.models import ApiKey


class ApiClient:
    """The principal behind an API key: authenticated, but not a staff user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api-key:{self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        app_id = request.headers.get("X-App-Id")
        app_token = request.headers.get("X-App-Token")
        if not app_id and not app_token:
            return None
        if not app_id or not app_token:
            raise exceptions.AuthenticationFailed("Send both X-App-Id and X-App-Token.")
        key = services.api_key_authenticate(app_id, app_token)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        actor_var.set(key)  # restored by core.middleware.ActorMiddleware when the request ends
        return ApiClient(key), key

    def authenticate_header(self, request):
        return 'X-App-Token realm="api"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """Staff browsing the API from the back office: session cookie, CSRF enforced."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        return result


SAFE_METHODS = permissions.SAFE_METHODS
METHOD_ACTIONS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "DELETE": "delete"}


class IsApiClientOrStaff(permissions.BasePermission):
    """An active API key within its scope, or a logged-in staff user; views that serve every campaign category
    at once refuse callers limited to categories (core.api.scope)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        # Objects looked up by this request are restricted to what the actor may do to them (core.permissions).
        action_var.set(METHOD_ACTIONS.get(request.method, "change"))
        if isinstance(user, ApiClient):
            allowed = scope_allows(user.api_key.scope, request.method, view)
        else:
            allowed = bool(user.is_staff)
        if allowed:
            from core.api.scope import check_view_scope  # (core.permissions imports DRF, which loads this module)

            check_view_scope(view, user.api_key if isinstance(user, ApiClient) else user)
        return allowed


def scope_allows(scope: str, method: str, view) -> bool:
    if scope == ApiKey.Scope.MANAGEMENT:
        return True
    if scope == ApiKey.Scope.READ_ONLY:
        return method in SAFE_METHODS
    if scope == ApiKey.Scope.REDEMPTION:
        # Views that validate, redeem or roll back declare `redemption_scope = True`.
        return method in SAFE_METHODS or getattr(view, "redemption_scope", False)
    return False
