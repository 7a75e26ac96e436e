"""JSON parsing for the API: everything the database could not store is refused at the door.

`1e400` parses to an infinite float and `\\u0000` to a NUL character; PostgreSQL's jsonb and text
columns reject both, so such a body would fail deep inside a write. Refuse it as malformed JSON.
"""

import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        if b"\\u0000" in raw or b"\x00" in raw:
            raise ParseError("JSON parse error - NUL characters (\\u0000) are not allowed")
        try:
            return json.loads(raw.decode(encoding), parse_float=_finite_float, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}")
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply")
