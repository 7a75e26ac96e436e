"""One error format for every /v1 path: {code, key, message, details, request_id}.

Services raise `ApiError` subclasses (no DRF import needed in domain code); the DRF exception
handler and the API middleware turn everything, including Django's own errors, into that body.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.views import exception_handler as drf_default_handler

from core.context import current_request_id

logger = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    key = "invalid_payload"
    message = "Invalid payload"

    def __init__(self, details: str = "", *, key: str | None = None, message: str | None = None,
                 status: int | None = None, extra: dict | None = None, headers: dict | None = None):
        super().__init__(details or message or self.message)
        self.details = details
        if key:
            self.key = key
        if message:
            self.message = message
        if status:
            self.status = status
        self.extra = extra or {}
        self.headers = headers or {}  # sent with the error (Retry-After ...)


class InvalidPayload(ApiError):
    pass


class NotFound(ApiError):
    status = 404
    key = "not_found"
    message = "Resource not found"

    @classmethod
    def for_object(cls, kind: str, identifier) -> "NotFound":
        return cls(f"Cannot find {kind} with id {identifier}")


class DuplicateFound(ApiError):
    status = 409
    key = "duplicate_found"
    message = "Duplicated resource found"


class Conflict(ApiError):
    status = 409
    key = "conflict"
    message = "Conflict"


class TooManyRequests(ApiError):
    """429: a rate limit (core.throttling) or a lockout (promo.abuse); `headers` carry Retry-After."""

    status = 429
    key = "too_many_requests"
    message = "Too many requests"


class InvalidCharacters(ApiError):
    """A NUL character (or a lone surrogate) in the path, the query string or a form field: nothing can
    store it, so no object can be named by it (core.inputs)."""

    key = "invalid_characters"
    message = "Invalid characters in the request"


class PayloadTooLarge(ApiError):
    status = 413
    key = "payload_too_large"
    message = "Request body too large"


def error_body(status: int, key: str, message: str, details: str = "", **extra) -> dict:
    body = {"code": status, "key": key, "message": message, "details": details or message,
            "request_id": current_request_id()}
    body.update(extra)
    return body


def error_response(status: int, key: str, message: str, details: str = "", **extra) -> JsonResponse:
    return JsonResponse(error_body(status, key, message, details, **extra), status=status)


def _flatten_validation(detail, path: str = "") -> list[str]:
    """DRF's nested error dict -> ["customer.email: Enter a valid email address."]."""
    if isinstance(detail, dict):
        items: list[str] = []
        for field, sub in detail.items():
            name = field if field != "non_field_errors" else ""
            items.extend(_flatten_validation(sub, f"{path}.{name}".strip(".") if name else path))
        return items
    if isinstance(detail, list):
        items = []
        for index, sub in enumerate(detail):
            nested = isinstance(sub, dict | list)
            items.extend(_flatten_validation(sub, f"{path}[{index}]" if nested else path))
        return items
    return [f"{path}: {detail}" if path else str(detail)]


# DRF exception class -> (status, key, message)
_DRF_KEYS = {
    drf_exceptions.ParseError: (400, "invalid_json", "Malformed JSON"),
    drf_exceptions.AuthenticationFailed: (401, "unauthorized", "Unauthorized"),
    drf_exceptions.NotAuthenticated: (401, "unauthorized", "Unauthorized"),
    drf_exceptions.PermissionDenied: (403, "forbidden", "Forbidden"),
    drf_exceptions.NotFound: (404, "not_found", "Resource not found"),
    drf_exceptions.MethodNotAllowed: (405, "method_not_allowed", "Method not allowed"),
    drf_exceptions.NotAcceptable: (406, "not_acceptable", "Not acceptable"),
    drf_exceptions.UnsupportedMediaType: (415, "unsupported_media_type", "Unsupported media type"),
    drf_exceptions.Throttled: (429, "too_many_requests", "Too many requests"),
}


def api_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error leaves in the one format."""
    if isinstance(exc, ApiError):
        response = _as_drf(error_body(exc.status, exc.key, exc.message, exc.details, **exc.extra), exc.status)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, drf_exceptions.ValidationError):
        details = "; ".join(_flatten_validation(exc.detail)) or "Invalid payload"
        return _as_drf(error_body(400, "invalid_payload", "Invalid payload", details), 400)
    if isinstance(exc, DjangoValidationError):
        details = "; ".join(exc.messages)
        return _as_drf(error_body(400, "invalid_payload", "Invalid payload", details), 400)
    if isinstance(exc, Http404):
        return _as_drf(error_body(404, "not_found", "Resource not found", str(exc) or "Resource not found"), 404)
    if isinstance(exc, PermissionDenied):
        return _as_drf(error_body(403, "forbidden", "Forbidden"), 403)
    if is_out_of_range(exc):
        return _as_drf(error_body(400, *_OUT_OF_RANGE), 400)
    for cls, (status, key, message) in _DRF_KEYS.items():
        if isinstance(exc, cls):
            detail = exc.detail if isinstance(exc.detail, str) else "; ".join(_flatten_validation(exc.detail))
            response = _as_drf(error_body(status, key, message, str(detail)), status)
            if getattr(exc, "auth_header", None):
                response["WWW-Authenticate"] = exc.auth_header
            if getattr(exc, "wait", None):
                response["Retry-After"] = str(int(exc.wait))
            return response
    if isinstance(exc, drf_exceptions.APIException):
        response = drf_default_handler(exc, context)
        status = response.status_code if response is not None else 400
        return _as_drf(error_body(status, exc.default_code, str(exc.default_detail), str(exc.detail)), status)
    return None  # unexpected: the middleware logs it and answers 500 in the same format


_OUT_OF_RANGE = ("value_out_of_range", "Value out of range",
                 "A number is larger than the engine can hold: a total would pass 9,223,372,036,854,775,807 "
                 "minor units. Nothing was changed.")


def is_out_of_range(exc: Exception) -> bool:
    """PostgreSQL refused an arithmetic result that a 64-bit column cannot hold (SQLSTATE 22003): amounts
    are bounded one by one at the door, but a total of many (a balance topped up again and again) can still
    pass 2**63. The statement failed, so nothing was written; the client gets a 400, not a 500."""
    return isinstance(exc, DataError) and getattr(exc.__cause__, "sqlstate", None) == "22003"


def response_for_unhandled(exc: Exception) -> JsonResponse:
    """Django-level errors on /v1 paths (outside DRF views or raised while reading the body)."""
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, PayloadTooLarge.key, PayloadTooLarge.message, str(exc))
    if isinstance(exc, SuspiciousOperation):
        return error_response(400, "bad_request", "Bad request", str(exc))
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "Resource not found", str(exc))
    if is_out_of_range(exc):
        return error_response(400, *_OUT_OF_RANGE)
    logger.exception("Unhandled error on API path")
    return error_response(500, "internal_error", "Internal server error",
                          "The error was logged; quote the request_id when reporting it.")


def _as_drf(body: dict, status: int):
    from rest_framework.response import Response

    return Response(body, status=status)
