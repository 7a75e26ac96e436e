"""Django's PostgreSQL backend, with integers that never wrap.

Why: with server-side binding (on by default here, see settings.DB_PREPARED_STATEMENTS) Django wraps every
integer parameter in psycopg's Int2/Int4/Int8 by the field's declared type, and a bare integer in an
expression (`F("balance") + amount`) becomes `Value(amount)`, typed as a 32-bit IntegerField. psycopg's C
dumpers write those wrappers modulo 2**16/2**32/2**64 without a word: 8,589,934,591 travels as -1, so a
top-up of that amount took one unit off a card and answered 200.

The fix: a value keeps its declared type only when it fits; a larger one travels as an untyped Python int,
which psycopg sends as bigint, or as numeric beyond 64 bits. PostgreSQL then computes exactly, and refuses
what a column cannot hold ("out of range") instead of storing a wrapped number. Small values keep int2/int4,
so functions with integer arguments (left(text, int), ...) still resolve.

Used through DATABASES["default"]["ENGINE"] = "core.db.postgresql" (promoengine/settings.py); tests in
tests/core/test_bigint.py.
"""

from django.db.backends.postgresql import base, operations

_BITS = {"SmallIntegerField": 16, "PositiveSmallIntegerField": 16, "IntegerField": 32, "PositiveIntegerField": 32,
         "BigIntegerField": 64, "PositiveBigIntegerField": 64}
_RANGES = {kind: (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for kind, bits in _BITS.items()}


class DatabaseOperations(operations.DatabaseOperations):
    def adapt_integerfield_value(self, value, internal_type):
        bounds = _RANGES.get(internal_type)
        if bounds is None or value is None or hasattr(value, "resolve_expression") or bounds[0] <= value <= bounds[1]:
            return super().adapt_integerfield_value(value, internal_type)
        return int(value)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
