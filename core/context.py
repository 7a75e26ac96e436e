"""Per-request context (request id, acting user or API key) available to services without passing the request.

The actor is set for every request by core.middleware.ActorMiddleware (the session user) and, on the
API, by core.auth.ApiKeyAuthentication (the API key); the middleware restores the previous value when
the request ends, so nothing leaks to the next request served by the same thread. Async actions run
with the actor and request id of the request that started them (core.services.async_action_run).
`None` means system code (shell, migrations, scheduled jobs): not restricted.
"""

from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
actor_var: ContextVar[object | None] = ContextVar("actor", default=None)
# What the current API request does to the objects it looks up: view, change or delete (from its method).
action_var: ContextVar[str] = ContextVar("action", default="view")
async_action_var: ContextVar[str | None] = ContextVar("async_action", default=None)
# The client's address (core.middleware.ClientIpMiddleware): attempts and redemptions record it.
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)


def current_request_id() -> str | None:
    value = request_id_var.get()
    return None if value == "-" else value


def current_client_ip() -> str | None:
    return client_ip_var.get()


class SessionActor:
    """The request's session user, resolved only when someone asks (API-key requests never load a session)."""

    __slots__ = ("request",)

    def __init__(self, request):
        self.request = request


def current_actor():
    """The staff user or API key acting now, or None for system code and anonymous visitors (public pages
    gate their own access: signed links, customer tokens)."""
    actor = actor_var.get()
    if isinstance(actor, SessionActor):
        user = getattr(actor.request, "user", None)
        return user if user is not None and user.is_authenticated else None
    return actor


def current_action() -> str:
    return action_var.get()


def current_async_action() -> str | None:
    """The public id of the async action being run (the audit log links bulk changes to it)."""
    return async_action_var.get()


@contextmanager
def acting(actor, *, action: str | None = None, request_id: str | None = None, async_action: str | None = None):
    """Run a block as this actor (tests, async actions, management commands)."""
    tokens = [(actor_var, actor_var.set(actor))]
    if action is not None:
        tokens.append((action_var, action_var.set(action)))
    if request_id is not None:
        tokens.append((request_id_var, request_id_var.set(request_id)))
    if async_action is not None:
        tokens.append((async_action_var, async_action_var.set(async_action)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
