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
import itertools
import json
import re
import secrets
import string
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField
from django.utils import timezone

from core.errors import ApiError, InvalidPayload
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
BATCH_SIZE = 25_000
MAX_EMPTY_ROUNDS = 5  # rounds in a row that insert nothing: the code space is used up
DEFAULT_WORKERS = 2  # parallel insert connections on PostgreSQL (settings.PROMO_CODE_WORKERS)

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


def check_code_space(spec: CodeSpec, count: int, *, per_code: int = CODES_PER_BILLION) -> None:
    """Refuse a generation whose codes could be guessed: a billion possible codes per code wanted
    (`per_code`: gift cards, which hold money, ask for a trillion)."""
    needed = per_code * max(1, count)
    if spec.space < needed:
        per = "a billion" if per_code == CODES_PER_BILLION else f"{per_code:.3g}"
        raise CodeSpaceTooSmall(
            f"{len(spec.charset)} characters in {spec.random_positions} random positions give "
            f"{len(spec.charset)}^{spec.random_positions} = {spec.space:.3g} codes; {count} codes need at least "
            f"{needed:.3g} ({per} per code, so codes cannot be guessed). Use a longer code or a larger charset.")


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


_ID_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase  # ascending byte order
_id_counter = itertools.count()
_id_lock = threading.Lock()


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_ID_ALPHABET[rest])
    return "".join(reversed(digits))


def public_ids(count: int, prefix: str = "v_") -> list[str]:
    """`count` voucher ids in the PublicIdField shape (prefix + 24 characters), sortable by creation:
    8 characters of milliseconds, a 6-character process counter, 10 random characters. New ids land
    at the right end of the id indexes instead of all over them, which keeps bulk inserts fast."""
    random_part = random_chars(_ID_ALPHABET, count * 10)
    stamp = _base62(int(time.time() * 1000), 8)
    with _id_lock:
        first = next(_id_counter)
        for _ in range(count - 1):
            next(_id_counter)
    return [f"{prefix}{stamp}{_base62(first + i, 6)}{random_part[i * 10:i * 10 + 10]}" for i in range(count)]


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


def _fields():
    return [Voucher._meta.get_field(name) for name in SHARED_FIELDS]


def _columns_sql() -> str:
    quote = connection.ops.quote_name
    return ", ".join([quote("public_id"), quote("code"), *(quote(f.column) for f in _fields())])


def insert_codes(codes: list[str], values: dict) -> int:
    """Insert vouchers with these codes and the shared column values; codes that exist already are
    skipped. Returns how many rows were inserted. Runs inside the caller's transaction."""
    if not codes:
        return 0
    codes = sorted(codes)  # neighbouring keys: the code index is filled page by page
    ids = public_ids(len(codes))
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                _copy_rows(ids, codes, values)
            return len(codes)
        except IntegrityError:  # a code (rarely) exists already: insert the batch skipping conflicts
            return _insert_staged(ids, codes, values)
    table = connection.ops.quote_name(Voucher._meta.db_table)
    shared = tuple(f.get_db_prep_save(values[f.name], connection) for f in _fields())
    placeholders = ", ".join(["%s"] * (len(shared) + 2))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({_columns_sql()}) VALUES ({placeholders}) ON CONFLICT DO NOTHING",
            [(pid, code, *shared) for pid, code in zip(ids, codes, strict=True)])
        return cursor.rowcount


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(field, value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(field, JSONField):
        text = json.dumps(value, cls=field.encoder)
    elif isinstance(value, bool):
        text = "t" if value else "f"
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return text.translate(_COPY_ESCAPES)


def _raw_cursor(cursor):
    return cursor.cursor if hasattr(cursor, "cursor") else cursor


def _copy_rows(ids: list[str], codes: list[str], values: dict) -> None:
    """PostgreSQL fast path: COPY the rows straight into the voucher table (fails whole on a duplicate)."""
    shared = "\t".join(_copy_value(f, values[f.name]) for f in _fields())
    table = connection.ops.quote_name(Voucher._meta.db_table)
    with connection.cursor() as cursor, connection.wrap_database_errors, _raw_cursor(cursor).copy(
            f"COPY {table} ({_columns_sql()}) FROM STDIN") as copy:
        for start in range(0, len(codes), 10_000):
            copy.write("".join(f"{pid}\t{code.translate(_COPY_ESCAPES)}\t{shared}\n" for pid, code in
                               zip(ids[start:start + 10_000], codes[start:start + 10_000], strict=True)))


def _insert_staged(ids: list[str], codes: list[str], values: dict) -> int:
    """PostgreSQL: COPY (public_id, code) into a session temp table, then one INSERT ... SELECT ... ON CONFLICT
    DO NOTHING, so codes that exist already are skipped."""
    fields = _fields()
    table = connection.ops.quote_name(Voucher._meta.db_table)
    casts = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS promo_code_stage (public_id varchar(64), code varchar(255))")
        cursor.execute("TRUNCATE promo_code_stage")
        with connection.wrap_database_errors, _raw_cursor(cursor).copy(
                "COPY promo_code_stage (public_id, code) FROM STDIN") as copy:
            copy.write("".join(f"{pid}\t{code.translate(_COPY_ESCAPES)}\n"
                               for pid, code in zip(ids, codes, strict=True)))
        cursor.execute(f"INSERT INTO {table} ({_columns_sql()}) SELECT s.public_id, s.code, {casts} "
                       f"FROM promo_code_stage s ORDER BY s.code ON CONFLICT DO NOTHING",
                       [f.get_db_prep_save(values[f.name], connection) for f in fields])
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE promo_code_stage")
    return inserted


BatchHook = Callable[[int], None]


@dataclass
class _Pool:
    """What is left to generate, shared by the workers of one run (exact: a batch that inserts fewer rows
    than it took, because of collisions, gives the rest back)."""

    remaining: int
    in_flight: int = 0
    failed: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, size: int) -> int:
        with self.lock:
            size = min(size, self.remaining)
            self.remaining -= size
            self.in_flight += size
            return size

    def settle(self, taken: int, inserted: int) -> None:
        with self.lock:
            self.in_flight -= taken
            self.remaining += taken - inserted

    def finished(self) -> bool:
        with self.lock:
            return self.failed is not None or (self.remaining == 0 and self.in_flight == 0)


def generate(spec: CodeSpec, count: int, values: dict, *, done: int = 0, batch_size: int = BATCH_SIZE,
             on_batch: BatchHook | None = None, workers: int | None = None) -> int:
    """Insert vouchers until `count` new ones exist (`done` of them already did, e.g. a resumed run).

    Each batch is its own transaction; `on_batch(inserted)` runs inside it, so a progress record written
    there commits together with the codes (a crash loses nothing, and a rerun generates only the rest).
    On PostgreSQL outside a transaction, `workers` connections (settings.PROMO_CODE_WORKERS, default 2)
    insert batches in parallel. Returns the number of codes that exist for this run (== count)."""
    pool = _Pool(remaining=count - done)
    if workers is None:
        workers = getattr(settings, "PROMO_CODE_WORKERS", DEFAULT_WORKERS)
    parallel = (workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block
                and pool.remaining > batch_size)
    if not parallel:
        _work(spec, values, pool, batch_size, on_batch)
    else:
        threads = [threading.Thread(target=_thread_work, args=(spec, values, pool, batch_size, on_batch),
                                    name=f"codes-{n}") for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if pool.failed is not None:
        raise pool.failed
    return count - pool.remaining


def _relax_commit() -> None:
    """A batch's commit need not wait for its WAL flush: if the server crashes before the flush, the batch
    and its progress record are lost together and the rerun generates them again."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _thread_work(spec, values, pool: _Pool, batch_size: int, on_batch) -> None:
    try:
        _work(spec, values, pool, batch_size, on_batch)
    finally:
        connection.close()  # this thread's own connection


def _work(spec: CodeSpec, values: dict, pool: _Pool, batch_size: int, on_batch) -> None:
    empty_rounds = 0
    while not pool.finished():
        size = pool.take(batch_size)
        if size == 0:  # another worker may still give some back
            time.sleep(0.01)
            continue
        inserted = 0
        try:
            codes = list(dict.fromkeys(random_codes(spec, size)))
            now = timezone.now()  # per batch: lists ordered by creation then sort a batch at most
            with transaction.atomic():
                _relax_commit()
                inserted = insert_codes(codes, {**values, "created_at": now, "updated_at": now})
                if on_batch is not None:
                    on_batch(inserted)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the pool
            inserted = 0
            with pool.lock:
                pool.failed = pool.failed or exc
            return
        finally:
            pool.settle(size, inserted)
        empty_rounds = empty_rounds + 1 if inserted == 0 else 0
        if empty_rounds >= MAX_EMPTY_ROUNDS:
            with pool.lock:
                pool.failed = pool.failed or CodeSpaceExhausted(
                    f"Could not find free codes after {MAX_EMPTY_ROUNDS} attempts; use a longer code or a "
                    "larger charset")
            return


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
