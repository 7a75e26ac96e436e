"""LOG_FORMAT=json: one JSON object per line with the request id of the request that wrote it."""

import json
import logging
import logging.config

import pytest
from django.conf import settings

from core.logging import logging_config


@pytest.fixture
def configure_logging(capsys):
    """Apply a LOGGING configuration (its handler writes to the captured stderr), then restore the project's."""
    def apply(log_format: str):
        logging.config.dictConfig(logging_config(log_format, "INFO", client_errors=True))
        capsys.readouterr()

    yield apply
    logging.config.dictConfig(settings.LOGGING)


def _lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.django_db
def test_json_lines_carry_the_request_id(client, capsys, configure_logging):
    configure_logging("json")
    response = client.get("/v1/no-such-thing", HTTP_X_REQUEST_ID="req-json-42")
    assert response.status_code == 404
    records = [json.loads(line) for line in _lines(capsys)]
    not_found = [r for r in records if r["logger"] == "django.request"]
    assert not_found, records
    assert not_found[0]["request_id"] == "req-json-42"
    assert not_found[0]["level"] == "WARNING"
    assert not_found[0]["message"] == "Not Found: /v1/no-such-thing"
    assert not_found[0]["time"].endswith("+00:00")
    assert "request" not in not_found[0]  # the request object (its URL and query string) is left out


def test_json_lines_keep_extra_fields_and_tracebacks(capsys, configure_logging):
    configure_logging("json")
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("promo.test").exception("Redeeming failed", extra={"campaign": "camp_1"})
    (record,) = [json.loads(line) for line in _lines(capsys)]
    assert record["request_id"] == "-"  # outside a request
    assert record["campaign"] == "camp_1"
    assert "ValueError: broken" in record["exc_info"]


@pytest.mark.django_db
def test_text_lines_carry_the_request_id(client, capsys, configure_logging):
    configure_logging("text")
    client.get("/v1/no-such-thing", HTTP_X_REQUEST_ID="req-text-7")
    assert any("WARNING [req-text-7] django.request: Not Found" in line for line in _lines(capsys))


def test_unknown_log_format_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        logging_config("xml", "INFO", client_errors=False)


@pytest.mark.parametrize(("text", "expected"), [
    ("Customer alice.smith+promo@example.co.uk joined", "Customer a***@example.co.uk joined"),
    ("call +44 20 7946 0123 or +1 212-555-0142.", "call +*** (phone) or +*** (phone)."),
    ("US number (212) 555-0142 and 212.555.0142", "US number +*** (phone) and +*** (phone)"),
    # what must stay: times, dates, amounts, ids, request ids, versions, ports
    ("2026-12-08 10:14:03,512 amount 1000000 r_0a1b2c3d4e5f v-3f2a9c 127.0.0.1:8000 celery@vm",
     "2026-12-08 10:14:03,512 amount 1000000 r_0a1b2c3d4e5f v-3f2a9c 127.0.0.1:8000 celery@vm"),
])
def test_personal_data_is_masked(text, expected):
    from core.logging import mask_personal_data

    assert mask_personal_data(text) == expected


def test_log_lines_carry_no_email_or_phone(capsys, configure_logging):
    configure_logging("json")
    logger = logging.getLogger("customers.test")
    logger.warning("Upserted %s (%s)", "alice@example.com", "+1 212-555-0142", extra={"email": "alice@example.com"})
    try:
        raise ValueError("duplicate key (email)=(alice@example.com)")
    except ValueError:
        logger.exception("Import of bob@example.org failed")
    lines = _lines(capsys)
    assert not any("alice@" in line or "bob@" in line or "555-0142" in line for line in lines), lines
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "Upserted a***@example.com (+*** (phone))" and first["email"] == "***"
    assert second["message"] == "Import of b***@example.org failed"
    assert "ValueError: duplicate key (email)=(a***@example.com)" in second["exc_info"]
