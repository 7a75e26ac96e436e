"""Per-request context (request id, acting user) available to services without passing the request."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str | None:
    value = request_id_var.get()
    return None if value == "-" else value
