"""QR codes and Code 128 barcodes of voucher codes, as PNG or SVG (project extension).

Served at /v1/vouchers/{code}/qr.png|qr.svg|barcode.png|barcode.svg. A voucher's JSON links them
with absolute URLs (settings.PUBLIC_BASE_URL) carrying a signature token (django.core.signing,
keyed by SECRET_KEY), so the images can be fetched without an API key (e-mails, printing) while
codes cannot be enumerated: a URL without a valid token needs an API key.
"""

from __future__ import annotations

import io
from urllib.parse import quote

from barcode import Code128
from barcode.errors import BarcodeError
from barcode.writer import ImageWriter, SVGWriter
from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare

from core.errors import InvalidPayload

KINDS = ("qr", "barcode")
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
DEFAULT_SIZE = {"qr": 10, "barcode": 2}
MAX_SIZE = {"qr": 40, "barcode": 10}


def _signer(kind: str) -> signing.Signer:
    return signing.Signer(salt=f"promo.assets.{kind}")


def asset_token(code: str, kind: str) -> str:
    return _signer(kind).signature(code)


def token_valid(code: str, kind: str, token: str | None) -> bool:
    return bool(token) and constant_time_compare(token, asset_token(code, kind))


def asset_url(code: str, kind: str, fmt: str = "png") -> str:
    return (f"{settings.PUBLIC_BASE_URL}/v1/vouchers/{quote(code, safe='')}/{kind}.{fmt}"
            f"?token={asset_token(code, kind)}")


def voucher_assets(code: str) -> dict:
    """The `assets` object of a voucher: {qr: {id, url}, barcode: {id, url}} (PNG; `.svg` for vectors)."""
    return {kind: {"id": asset_token(code, kind), "url": asset_url(code, kind)} for kind in KINDS}


def clean_size(kind: str, raw) -> int:
    if raw in (None, ""):
        return DEFAULT_SIZE[kind]
    try:
        size = int(raw)
    except (TypeError, ValueError):
        size = 0
    if not 1 <= size <= MAX_SIZE[kind]:
        raise InvalidPayload(f"size must be a whole number between 1 and {MAX_SIZE[kind]}")
    return size


def render(code: str, kind: str, fmt: str, size: int | None = None) -> bytes:
    """The image bytes. Raises InvalidPayload for a code Code 128 cannot encode (non-ASCII)."""
    size = size or DEFAULT_SIZE[kind]
    return _qr(code, fmt, size) if kind == "qr" else _barcode(code, fmt, size)


def _qr(code: str, fmt: str, size: int) -> bytes:
    import qrcode
    import qrcode.image.svg

    qr = qrcode.QRCode(box_size=size, border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(code)
    qr.make(fit=True)
    image = qr.make_image(image_factory=qrcode.image.svg.SvgPathImage) if fmt == "svg" else qr.make_image()
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def _barcode(code: str, fmt: str, size: int) -> bytes:
    writer = SVGWriter() if fmt == "svg" else ImageWriter()
    try:
        symbol = Code128(code, writer=writer)
    except BarcodeError as exc:
        raise InvalidPayload(f"This code cannot be drawn as a Code 128 barcode: {exc}",
                             key="barcode_not_supported", message="Barcode not supported")
    buffer = io.BytesIO()
    symbol.write(buffer, {"module_width": 0.2 * size, "module_height": 8.0 * size, "font_size": 5 * size,
                          "text_distance": 2.5 * size, "quiet_zone": 3.0 * size})
    return buffer.getvalue()
