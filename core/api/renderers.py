"""JSON answers through orjson: the checkout's answers carry an order with its items for every
redeemable (a 50-redeemable qualification page is 320 KB), and the standard library's encoder spent
up to 5 ms on one; orjson takes a fourteenth of that. The output is what DRF's JSONRenderer gives
(compact, UTF-8, datetimes in ISO 8601 with "Z" for UTC, U+2028/U+2029 escaped); whatever orjson
cannot encode (an integer beyond 64 bits in someone's metadata, an indented answer for a person) goes
through DRF's renderer as before."""

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

from core.jsonfast import dumps_bytes


class Rendered:
    """An answer this renderer already wrote (a cache kept its bytes): sent as it is."""

    __slots__ = ("content",)

    def __init__(self, content: bytes):
        self.content = content


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, Rendered):
            return data.content
        if self.get_indent(accepted_media_type, renderer_context or {}) is None:
            try:
                rendered = dumps_bytes(data, default=_DRF_DEFAULT)
            except orjson.JSONEncodeError:
                pass
            else:  # as DRF does, for answers embedded in a <script>
                return rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return super().render(data, accepted_media_type, renderer_context)


_DRF_DEFAULT = JSONEncoder().default  # Decimal, lazy strings, querysets... as DRF encodes them
