"""Logging configuration: every line carries the request id (or "-" outside a request), as text or as one
JSON object per line (LOG_FORMAT=json, for log shippers); docs/production.md#logs."""

import logging
import re

from core.context import request_id_var

# Fields of a JSON line besides "time" (ISO 8601, UTC); anything passed with `extra=` is added after them.
JSON_FIELDS = ["levelname", "name", "request_id", "message"]
JSON_RENAMES = {"levelname": "level", "name": "logger"}
# Django's request logging attaches the request object: its text repeats the URL, query string included.
JSON_OMITTED = ["request"]


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs a 4xx/5xx answer after the middleware has left the request (and reset the
        # context variable), with the request attached: its id comes from there.
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = request_id or request_id_var.get()
        return True


_EMAIL = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# International numbers ("+44 20 7946 0123", "+1 (212) 555-0123") and North American ones ("212-555-0123");
# not dates, times, amounts or ids, which have no "+" and other groupings.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}(?:[\s.()-]{0,2}\d){6,14}|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4})(?!\w)")
# Attributes passed with `extra=` whose values are personal data whatever they look like ("name" is the
# logger's: a customer's full name goes as "full_name").
PERSONAL_KEYS = frozenset({"email", "phone", "first_name", "last_name", "address", "address_line_1",
                           "address_line_2", "full_name", "street", "postal_code", "birthdate", "birthday"})


def mask_personal_data(text: str) -> str:
    """E-mail addresses and phone numbers masked: "a***@example.com", "+*** (phone)"."""
    return _PHONE.sub("+*** (phone)", _EMAIL.sub(r"\1***@\2", text))


class PersonalDataFilter(logging.Filter):
    """No personal data in log lines (the privacy rule): e-mails and phone numbers in the message and the
    traceback are masked, and so are `extra=` values under personal keys. Names and postal addresses cannot
    be told from other words, so code never logs them (a customer is named by its id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: logging reports that when it formats
            return True
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info:  # the traceback's text, formatted once here and masked (e.g. a unique e-mail's error)
            record.exc_text = mask_personal_data(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key in PERSONAL_KEYS.intersection(record.__dict__):
            setattr(record, key, "***")
        return True


def logging_config(log_format: str, level: str, *, client_errors: bool) -> dict:
    """The LOGGING setting for LOG_FORMAT (text or json), LOG_LEVEL and LOG_CLIENT_ERRORS."""
    if log_format not in ("text", "json"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {log_format!r}.")
    from pythonjsonlogger.core import RESERVED_ATTRS

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "core.logging.RequestIdFilter"},
                    "personal_data": {"()": "core.logging.PersonalDataFilter"}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
            "json": {"()": "pythonjsonlogger.orjson.OrjsonFormatter", "fmt": JSON_FIELDS,
                     "rename_fields": JSON_RENAMES, "timestamp": "time",
                     "reserved_attrs": [*RESERVED_ATTRS, *JSON_OMITTED]},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format,
                                 "filters": ["request_id", "personal_data"]}},
        "root": {"handlers": ["console"], "level": level},
        # A refused code or a bad request is an answer to the client (and a redemption attempt is a row), not
        # an incident: django.request logs 5xx only unless LOG_CLIENT_ERRORS=1.
        "loggers": {"django.server": {"level": "WARNING"},
                    "django.request": {"level": "WARNING" if client_errors else "ERROR"}},
    }


def gunicorn_logconfig(level: str) -> dict:
    """gunicorn's own lines (start, worker boots and exits, its errors) in the same JSON (gunicorn.conf.py)."""
    config = logging_config("json", level, client_errors=False)
    config["loggers"] |= {name: {"handlers": ["console"], "level": "INFO", "propagate": False}
                          for name in ("gunicorn.error", "gunicorn.access")}
    return config
