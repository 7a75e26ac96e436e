"""Public identifiers: prefixed random strings (`cust_...`) kept apart from integer primary keys."""

import secrets
import string

from django.db import models

_ALPHABET = string.ascii_letters + string.digits

# The largest amount accepted anywhere, in minor units: far above any real order, and far enough below
# the 64-bit limit that price x quantity and sums cannot overflow.
MAX_AMOUNT = 10**15
PUBLIC_ID_RANDOM_LENGTH = 24


_ID_SPACE = len(_ALPHABET) ** PUBLIC_ID_RANDOM_LENGTH


def new_public_id(prefix: str) -> str:
    """prefix + 24 characters from [A-Za-z0-9], uniformly random: one draw from the OS's random source for
    the whole id (a checkout makes several ids; a draw per character was a tenth of its CPU)."""
    number = secrets.randbelow(_ID_SPACE)
    characters = []
    for _ in range(PUBLIC_ID_RANDOM_LENGTH):
        number, digit = divmod(number, 62)
        characters.append(_ALPHABET[digit])
    return prefix + "".join(characters)


class PublicIdField(models.CharField):
    """A unique, indexed `prefix_xxxxxxxx` id filled in on first save."""

    def __init__(self, *args, prefix: str = "", **kwargs):
        self.prefix = prefix
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["prefix"] = self.prefix
        for key, default in (("max_length", 64), ("unique", True), ("editable", False), ("blank", True)):
            if kwargs.get(key) == default:
                kwargs.pop(key)
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if not value:
            value = new_public_id(self.prefix)
            setattr(model_instance, self.attname, value)
        return value


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
