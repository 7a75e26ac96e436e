"""Logging configuration: every line carries the request id (or "-" outside a request), as text or as one
JSON object per line (LOG_FORMAT=json, for log shippers); docs/production.md#logs."""

import logging

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


def logging_config(log_format: str, level: str, *, client_errors: bool) -> dict:
    """The LOGGING setting for LOG_FORMAT (text or json), LOG_LEVEL and LOG_CLIENT_ERRORS."""
    if log_format not in ("text", "json"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {log_format!r}.")
    from pythonjsonlogger.core import RESERVED_ATTRS

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
            "json": {"()": "pythonjsonlogger.orjson.OrjsonFormatter", "fmt": JSON_FIELDS,
                     "rename_fields": JSON_RENAMES, "timestamp": "time",
                     "reserved_attrs": [*RESERVED_ATTRS, *JSON_OMITTED]},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format,
                                 "filters": ["request_id"]}},
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
