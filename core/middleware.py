import re
import uuid

from django.conf import settings

from core import inputs
from core.clientip import client_ip
from core.context import SessionActor, action_var, actor_var, client_ip_var, request_id_var
from core.errors import InvalidCharacters, PayloadTooLarge, error_response, response_for_unhandled

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


def is_api_path(path: str) -> bool:
    return path.startswith("/v1/") or path == "/v1" or path.startswith("/client/v1/")


_STATUS_KEYS = {
    400: ("bad_request", "Bad request"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Resource not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Request body too large"),
    500: ("internal_error", "Internal server error"),
}


class RequestIdMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane), logs it and returns it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else f"v-{uuid.uuid4().hex}"
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class OpsEndpointsMiddleware:
    """Answers /healthz, /readyz and /metrics before the rest of the stack (core/health.py says why): no
    session, no authentication, no Host check, no HTTPS redirect, no rate limit, and they are not counted in
    the request metrics (a load balancer calling every second would drown the checkout's figures)."""

    def __init__(self, get_response):
        from core import health, metrics

        self.get_response = get_response
        self.views = {"/healthz": health.healthz, "/readyz": health.readyz, "/metrics": metrics.metrics_view}

    def __call__(self, request):
        view = self.views.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return error_response(405, "method_not_allowed", "Method not allowed")
        return view(request)


class ClientIpMiddleware:
    """Sets `request.client_ip` and, for services, core.context.current_client_ip() for the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_ip = client_ip(request.META)
        token = client_ip_var.set(request.client_ip or None)
        try:
            return self.get_response(request)
        finally:
            client_ip_var.reset(token)


class ActorMiddleware:
    """Makes the session user the acting principal of the request (services and the restriction point
    read it from core.context); the API's key authentication replaces it with the key. The previous
    values are restored at the end so nothing leaks to the next request on this thread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        actor_token = actor_var.set(SessionActor(request))
        # "view" until the API's permission class (core.auth) sets the action from the method; the admin and
        # back-office pages check changes themselves (core.admin_mixins).
        action_token = action_var.set("view")
        try:
            return self.get_response(request)
        finally:
            action_var.reset(action_token)
            actor_var.reset(actor_token)


class ApiErrorMiddleware:
    """On API paths: refuse a NUL character in the path or the query string and oversized bodies before
    any view runs (core.inputs says why), and answer every unexpected error in the API's JSON error format
    instead of an HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api_path(request.path):
            return self.get_response(request)
        refused = _unreadable_url(request) or self._oversized(request)
        if refused:
            return refused
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith("application/json"):
            # Errors raised by Django itself (bad Host header, CSRF failure, ...) come back as HTML pages.
            key, message = _STATUS_KEYS.get(response.status_code, ("error", "Error"))
            return error_response(response.status_code, key, message)
        return response

    def process_exception(self, request, exception):
        if is_api_path(request.path):
            return response_for_unhandled(exception)
        return None

    @staticmethod
    def _oversized(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "bad_request", "Bad request", "Invalid Content-Length header")
        multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
        limit = settings.API_MAX_UPLOAD_BODY if multipart else settings.API_MAX_JSON_BODY
        if length > limit:
            return error_response(413, PayloadTooLarge.key, PayloadTooLarge.message,
                                  f"The body has {length} bytes; the limit is {limit}.")
        return None


def _unreadable_url(request):
    """A NUL in the path or the query string (`%00`). Django decodes both as UTF-8 and leaves invalid
    sequences percent-encoded, so a surrogate cannot arrive this way; a NUL can, and no id, code or filter
    value holds one."""
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        where = "query string"
    elif inputs.unstorable(request.path):
        where = "path"
    else:
        return None
    return error_response(400, InvalidCharacters.key, InvalidCharacters.message,
                          f"The {where} holds a NUL character (%00); ids, codes and filters never contain one.")
