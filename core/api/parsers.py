"""Request bodies of the API: everything the database could not store is refused at the door.

`1e400` parses to an infinite float, `\\u0000` to a NUL character and `\\ud800` to a lone surrogate;
PostgreSQL's jsonb and text columns reject the first two and no encoder writes the third, so such a body
would fail deep inside a write. JSON nested deeper than API_MAX_JSON_DEPTH would exhaust the recursion of
whatever walks it. All are refused here as `400 invalid_json` (core.inputs has the rules); form fields with
a NUL are `400 invalid_characters`.
"""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from core import inputs


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            return inputs.loads(raw.decode(encoding))
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}")


def _check_fields(data) -> None:
    from core.errors import InvalidCharacters  # core.errors loads DRF, which loads this module

    for key, values in data.lists():
        for text in (key, *values):
            problem = inputs.unstorable(text) if isinstance(text, str) else None
            if problem:
                raise InvalidCharacters(f"Form field {key!r}: {problem}")


class StrictMultiPartParser(MultiPartParser):
    """Files are checked by whoever reads them (the CSV imports); the other fields here."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _check_fields(parsed.data)
        return parsed


class StrictFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_fields(data)
        return data


UPLOAD_PARSERS = [StrictMultiPartParser, StrictFormParser]  # views that take a file (CSV imports)
