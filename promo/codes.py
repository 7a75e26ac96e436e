"""Voucher codes: `code_config`, the code-space check, fast unique generation, CSV export.

code_config = {length, charset, prefix, postfix, pattern}: `charset` is the literal set of
characters; each `#` in `pattern` is one random character and `pattern` overrides `length`.
A code is `prefix + pattern-with-#-filled + postfix`.

Generation never produces duplicates: codes are UNIQUE in the database, rows are inserted in
batches with INSERT ... ON CONFLICT DO NOTHING (on PostgreSQL: COPY into a session temp table,
then INSERT ... SELECT), and the shortfall of a batch (a collision with an existing code) is
topped up until the requested number exists. Randomness comes from `secrets` (os.urandom).

To keep codes from being guessed, generation is refused (400 `code_space_too_small`) unless the
code space holds at least a billion codes per code requested:
    len(charset) ** random_positions >= 10**9 * number_of_codes
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import string
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from core.errors import ApiError, InvalidPayload
from core.fields import PUBLIC_ID_RANDOM_LENGTH
from promo.models import Voucher

# Named character sets for the back office (the API always takes the literal characters).
ALPHANUMERIC = string.digits + string.ascii_lowercase + string.ascii_uppercase
ALPHABETIC = string.ascii_lowercase + string.ascii_uppercase
UPPERCASE = string.ascii_uppercase
LOWERCASE = string.ascii_lowercase
NUMBERS = string.digits
UNAMBIGUOUS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/l
CHARSETS = {
    "alphanumeric": ALPHANUMERIC,
    "alphabetic": ALPHABETIC,
    "uppercase": UPPERCASE,
    "lowercase": LOWERCASE,
    "numbers": NUMBERS,
    "unambiguous": UNAMBIGUOUS,
}

DEFAULT_LENGTH = 8
DEFAULT_CHARSET = ALPHANUMERIC
MAX_CODE_LENGTH = 255  # Voucher.code max_length
CODES_PER_BILLION = 10**9  # code space needed per code requested
MAX_CODES_PER_REQUEST = 10_000_000
BATCH_SIZE = 50_000
MAX_EMPTY_ROUNDS = 5  # rounds in a row that insert nothing: the code space is used up

PATTERN_MARK = "#"


class CodeSpaceTooSmall(InvalidPayload):
    key = "code_space_too_small"
    message = "Code space too small"


class CodeSpaceExhausted(ApiError):
    status = 409
    key = "code_space_exhausted"
    message = "Code space exhausted"


# ---------------------------------------------------------------- code_config


def code_problem(code, label: str = "code") -> str | None:
    """Why a code cannot be used (None if it can): it must be addressable as /v1/vouchers/{code}."""
    if not isinstance(code, str) or not code:
        return f"{label} must be a non-empty string"
    if len(code) > MAX_CODE_LENGTH:
        return f"{label} must have at most {MAX_CODE_LENGTH} characters"
    if "/" in code or code != code.strip() or any(unicodedata.category(ch)[0] == "C" for ch in code):
        return f"{label} must not contain '/', control characters or leading/trailing spaces"
    return None


def _text(value, label: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"code_config.{label} must be a string")
    if "/" in value or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in value):
        raise InvalidPayload(f"code_config.{label} must not contain '/', spaces or control characters")
    return value


def _length(value) -> int | None:
    if value is None:
        return None
    # The SDK types length as a number: accept 8 and 8.0, nothing else.
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise InvalidPayload("code_config.length must be a whole number")
    if not 1 <= value <= MAX_CODE_LENGTH:
        raise InvalidPayload(f"code_config.length must be between 1 and {MAX_CODE_LENGTH}")
    return int(value)


def clean_code_config(raw) -> dict:
    """The stored form of a code_config: {length, charset, prefix, postfix, pattern?}. Raises InvalidPayload."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidPayload("code_config must be a JSON object")
    charset = _text(raw.get("charset"), "charset") or DEFAULT_CHARSET
    charset = "".join(dict.fromkeys(charset))  # the set of characters, in the order given
    prefix, postfix = _text(raw.get("prefix"), "prefix"), _text(raw.get("postfix"), "postfix")
    pattern = _text(raw.get("pattern"), "pattern")
    length = _length(raw.get("length"))
    if pattern:
        if PATTERN_MARK not in pattern:
            raise InvalidPayload("code_config.pattern needs at least one # (a random character)")
        length = pattern.count(PATTERN_MARK)
    else:
        length = length or DEFAULT_LENGTH
    fixed = len(prefix) + len(postfix) + (len(pattern) if pattern else length)
    if fixed > MAX_CODE_LENGTH:
        raise InvalidPayload(f"Codes from this code_config would be {fixed} characters long; "
                             f"at most {MAX_CODE_LENGTH} are allowed")
    config = {"length": length, "charset": charset, "prefix": prefix, "postfix": postfix}
    if pattern:
        config["pattern"] = pattern
    return config


@dataclass(frozen=True)
class CodeSpec:
    charset: str
    pattern: str  # PATTERN_MARK marks a random character
    prefix: str = ""
    postfix: str = ""

    @classmethod
    def from_config(cls, config: dict | None) -> CodeSpec:
        config = clean_code_config(config)
        pattern = config.get("pattern") or PATTERN_MARK * config["length"]
        return cls(charset=config["charset"], pattern=pattern, prefix=config["prefix"], postfix=config["postfix"])

    @property
    def random_positions(self) -> int:
        return self.pattern.count(PATTERN_MARK)

    @property
    def space(self) -> int:
        return len(self.charset) ** self.random_positions


def check_code_space(spec: CodeSpec, count: int) -> None:
    """Refuse a generation whose codes could be guessed: a billion possible codes per code wanted."""
    needed = CODES_PER_BILLION * max(1, count)
    if spec.space < needed:
        raise CodeSpaceTooSmall(
            f"{len(spec.charset)} characters in {spec.random_positions} random positions give "
            f"{len(spec.charset)}^{spec.random_positions} = {spec.space:.3g} codes; {count} codes need at least "
            f"{needed:.3g} (a billion per code, so codes cannot be guessed). Use a longer code or a larger charset.")


# ---------------------------------------------------------------- randomness

def random_chars(charset: str, count: int) -> str:
    """`count` characters drawn uniformly and independently from `charset` with the OS CSPRNG.

    ASCII charsets take a fast path: random bytes mapped with bytes.translate, bytes at or above the
    largest multiple of len(charset) dropped (rejection sampling, so there is no modulo bias)."""
    size = len(charset)
    if count <= 0:
        return ""
    if size == 1:
        return charset * count
    if size <= 256 and charset.isascii():
        limit = 256 - 256 % size
        table = bytes(ord(charset[b % size]) if b < limit else 0 for b in range(256))
        rejected = bytes(range(limit, 256))
        chunks, have = [], 0
        while have < count:
            need = count - have
            chunk = secrets.token_bytes(need + need * (256 - limit) // limit + 16).translate(table, rejected)
            chunks.append(chunk)
            have += len(chunk)
        return b"".join(chunks)[:count].decode("ascii")
    return "".join(charset[secrets.randbelow(size)] for _ in range(count))


def random_codes(spec: CodeSpec, count: int) -> list[str]:
    """`count` random codes (not checked against the database; may in theory repeat)."""
    k = spec.random_positions
    pool = random_chars(spec.charset, count * k)
    prefix, postfix = spec.prefix, spec.postfix
    if spec.pattern == PATTERN_MARK * k:
        return [prefix + pool[i:i + k] + postfix for i in range(0, count * k, k)]
    template = spec.pattern.replace("%", "%%").replace(PATTERN_MARK, "%s")
    return [prefix + template % tuple(pool[i:i + k]) + postfix for i in range(0, count * k, k)]


def random_code(spec: CodeSpec) -> str:
    return random_codes(spec, 1)[0]


def public_ids(count: int, prefix: str = "v_") -> list[str]:
    pool = random_chars(string.ascii_letters + string.digits, count * PUBLIC_ID_RANDOM_LENGTH)
    n = PUBLIC_ID_RANDOM_LENGTH
    return [prefix + pool[i:i + n] for i in range(0, count * n, n)]


# ---------------------------------------------------------------- bulk insert

# Columns every generated voucher shares within one batch (the campaign's template), by model field name.
SHARED_FIELDS = ("campaign", "category", "type", "discount", "gift", "loyalty_card", "start_date", "expiration_date",
                 "validity_timeframe", "validity_day_of_week", "validity_hours", "active", "additional_info",
                 "metadata", "holder", "is_referral_code", "redemption_quantity", "redeemed_quantity",
                 "locked_quantity", "created_at", "updated_at")


def shared_values(defaults: dict) -> dict:
    """Model field name -> value for SHARED_FIELDS, from voucher defaults (missing ones get the model default)."""
    now = timezone.now()
    values = {"campaign": None, "category": None, "type": Voucher.Type.DISCOUNT_VOUCHER, "discount": None,
              "gift": None, "loyalty_card": None, "start_date": None, "expiration_date": None,
              "validity_timeframe": None, "validity_day_of_week": None, "validity_hours": None, "active": True,
              "additional_info": "", "metadata": {}, "holder": None, "is_referral_code": False,
              "redemption_quantity": None, "redeemed_quantity": 0, "locked_quantity": 0,
              "created_at": now, "updated_at": now}
    for name, value in defaults.items():
        key = name.removesuffix("_id") if name in ("campaign_id", "category_id", "holder_id") else name
        if key not in values:
            raise ValueError(f"{name} is not a voucher column shared by generated codes")
        values[key] = value.pk if hasattr(value, "pk") else value
    return values


def _prepared(values: dict) -> list[tuple[str, str, object]]:
    """(column, database type, adapted value) for each shared column."""
    out = []
    for name in SHARED_FIELDS:
        field = Voucher._meta.get_field(name)
        out.append((field.column, field.db_type(connection), field.get_db_prep_save(values[name], connection)))
    return out


def insert_codes(codes: list[str], values: dict) -> int:
    """Insert vouchers with these codes and the shared column values; codes that already exist are
    skipped. Returns how many rows were inserted. Runs inside the caller's transaction."""
    if not codes:
        return 0
    ids = public_ids(len(codes))
    prepared = _prepared(values)
    table = connection.ops.quote_name(Voucher._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c, _, _ in prepared)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _insert_copy(cursor, table, names, prepared, ids, codes)
        placeholders = ", ".join(["%s"] * (len(prepared) + 2))
        shared = tuple(v for _, _, v in prepared)
        cursor.executemany(
            f'INSERT INTO {table} ("public_id", "code", {names}) VALUES ({placeholders}) ON CONFLICT DO NOTHING',
            [(pid, code, *shared) for pid, code in zip(ids, codes, strict=True)])
        return cursor.rowcount


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\")  # codes hold no tab, newline or control character (code_problem)


def _insert_copy(cursor, table: str, names: str, prepared, ids: list[str], codes: list[str]) -> int:
    """PostgreSQL: COPY (public_id, code) into a session temp table, then one INSERT ... SELECT."""
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS promo_code_stage (public_id varchar(64), code varchar(255))")
    cursor.execute("TRUNCATE promo_code_stage")
    escape = any("\\" in code for code in codes)
    lines = (f"{pid}\t{_copy_text(code) if escape else code}\n" for pid, code in zip(ids, codes, strict=True))
    raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
    with raw.copy("COPY promo_code_stage (public_id, code) FROM STDIN") as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= 20_000:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
    casts = ", ".join(f"CAST(%s AS {db_type})" for _, db_type, _ in prepared)
    cursor.execute(
        f'INSERT INTO {table} ("public_id", "code", {names}) SELECT s.public_id, s.code, {casts} '
        f"FROM promo_code_stage s ON CONFLICT DO NOTHING",
        [v for _, _, v in prepared])
    inserted = cursor.rowcount
    cursor.execute("TRUNCATE promo_code_stage")
    return inserted


BatchHook = Callable[[int, int], None]


def generate(spec: CodeSpec, count: int, values: dict, *, done: int = 0, batch_size: int = BATCH_SIZE,
             on_batch: BatchHook | None = None) -> int:
    """Insert vouchers until `count` new ones exist (`done` of them already did, e.g. a resumed run).

    Each batch is its own transaction; `on_batch(done_before, done_after)` runs inside it, so a
    progress record written there commits together with the codes (and a crash loses nothing).
    Returns the number inserted in total (== count)."""
    empty_rounds = 0
    while done < count:
        size = min(batch_size, count - done)
        codes = list(dict.fromkeys(random_codes(spec, size)))
        with transaction.atomic():
            inserted = insert_codes(codes, values)
            if on_batch is not None:
                on_batch(done, done + inserted)
        done += inserted
        empty_rounds = empty_rounds + 1 if inserted == 0 else 0
        if empty_rounds >= MAX_EMPTY_ROUNDS:
            raise CodeSpaceExhausted(f"Could not find free codes after {MAX_EMPTY_ROUNDS} attempts: "
                                     f"{done} of {count} were created; use a longer code or a larger charset")
    return done


def unique_code(spec: CodeSpec, attempts: int = 10) -> str:
    """One random code that does not exist yet (for single vouchers; the insert still relies on UNIQUE)."""
    for _ in range(attempts):
        candidates = random_codes(spec, 5)
        taken = set(Voucher.objects.filter(code__in=candidates).values_list("code", flat=True))
        free = [c for c in candidates if c not in taken]
        if free:
            return free[0]
    raise CodeSpaceExhausted("Could not find a free code; use a longer code or a larger charset")


# ---------------------------------------------------------------- export

EXPORT_COLUMNS = ("code", "id", "type", "active", "redemption_quantity", "redeemed_quantity", "start_date",
                  "expiration_date", "created_at")
_EXPORT_FIELDS = ("code", "public_id", "type", "active", "redemption_quantity", "redeemed_quantity", "start_date",
                  "expiration_date", "created_at")


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else ""


def export_csv(campaign_pk: int) -> Iterator[bytes]:
    """The campaign's codes as CSV, streamed in chunks (header first), oldest first.

    PostgreSQL streams with COPY ... TO STDOUT; other databases iterate the rows."""
    yield (",".join(EXPORT_COLUMNS) + "\n").encode()
    if connection.vendor == "postgresql":
        yield from _export_copy(campaign_pk)
        return
    rows = (Voucher.objects.filter(campaign_id=campaign_pk).order_by("id")
            .values_list(*_EXPORT_FIELDS).iterator(chunk_size=5000))
    yield from _csv_chunks(rows)


def _csv_chunks(rows: Iterable[tuple], every: int = 5000) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for n, (code, pid, kind, active, quantity, redeemed, start, expiration, created) in enumerate(rows, start=1):
        writer.writerow([code, pid, kind, "true" if active else "false", "" if quantity is None else quantity,
                         redeemed, _iso(start), _iso(expiration), _iso(created)])
        if n % every == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _export_copy(campaign_pk: int) -> Iterator[bytes]:
    iso = "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    select = (f"SELECT code, public_id, type, CASE WHEN active THEN 'true' ELSE 'false' END, redemption_quantity, "
              f"redeemed_quantity, {iso.format('start_date')}, {iso.format('expiration_date')}, "
              f"{iso.format('created_at')} FROM {connection.ops.quote_name(Voucher._meta.db_table)} "
              f"WHERE campaign_id = {int(campaign_pk)} ORDER BY id")
    with connection.cursor() as cursor:
        raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
        with raw.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
            pending: list[bytes] = []
            size = 0
            for block in copy:
                pending.append(bytes(block))
                size += len(block)
                if size >= 256 * 1024:
                    yield b"".join(pending)
                    pending, size = [], 0
            if pending:
                yield b"".join(pending)


# ---------------------------------------------------------------- CSV headers

def normalise_header(name: str) -> str:
    """'Redemption Limit' -> 'redemption_limit'."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())
