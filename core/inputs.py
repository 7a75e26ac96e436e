"""What any text or JSON a client sends must be before code below the door sees it.

Neither database can store a NUL character (PostgreSQL refuses it in text and jsonb), and no UTF-8 encoder
can write a lone UTF-16 surrogate (`"\\ud800"` is valid JSON, but the driver fails on it); JSON nested
hundreds deep exhausts Python's recursion in whatever walks it later (serializers, metadata checks, the
JSON encoder). The API's request parsing (core.api.parsers, core.middleware) refuses all three at once,
so no view, service or CSV import has to remember.
"""

import json
import math
import re

from django.conf import settings

# A NUL, or any UTF-16 surrogate: a well-formed pair never survives decoding as two surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The JSON escapes that may decode to a NUL or a surrogate: only a body holding one needs a closer look.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "NUL characters (\\u0000) are not allowed" if found.group() == "\x00" else \
        "lone UTF-16 surrogates (such as \\ud800) are not allowed"


def storable(text: str) -> str:
    """`text` with what cannot be stored replaced by U+FFFD (for messages that quote client input)."""
    return _UNSTORABLE.sub("\ufffd", text)


def max_depth() -> int:
    return settings.API_MAX_JSON_DEPTH


def check_tree(value, limit: int, depth: int = 0) -> None:
    """Raise ValueError if a parsed JSON value nests deeper than `limit` or holds unstorable text."""
    if isinstance(value, str):
        problem = unstorable(value)
        if problem:
            raise ValueError(problem)
        return
    if not isinstance(value, dict | list):
        return
    if depth >= limit:
        raise ValueError(f"the document is nested deeper than {limit} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            check_tree(key, limit, depth)
            check_tree(item, limit, depth + 1)
    else:
        for item in value:
            check_tree(item, limit, depth + 1)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} is out of range")
    return number


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | str, *, limit: int | None = None):
    """json.loads for client input: ValueError for what the API does not take (syntax, NaN and infinite
    numbers, NUL characters, lone surrogates, nesting deeper than `limit`, default API_MAX_JSON_DEPTH)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    text = raw if isinstance(raw, str) else raw.decode("utf-8")
    limit = max_depth() if limit is None else limit
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("the document is nested too deeply") from None
    # Only bodies that could hold a NUL, a surrogate or too many levels are walked: a checkout's body
    # usually has none of these, and costs two byte scans.
    if _SUSPECT_ESCAPE.search(data) or _UNSTORABLE.search(text) or data.count(b"{") + data.count(b"[") > limit:
        check_tree(value, limit)
    return value
