"""core.dates, the one reader of client dates: a text that names no real moment, or one outside the years
1 to 9999 once in UTC, is refused with a 400 wherever the API reads a date (bodies and query strings)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import dates
from core.errors import InvalidPayload
from tests.conftest import assert_error
from tests.giftcards.factories import gift_card

OUT_OF_RANGE = ["2025-01-01T10:61:00Z", "2025-01-01T24:00:00Z", "2025-02-30T00:00:00Z", "2025-02-30",
                "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "2025-13-01"]


@pytest.mark.parametrize("text", OUT_OF_RANGE + ["", "soon", "2025-01-01T10:00:00\x00", "\ud800"])
def test_texts_that_name_no_storable_moment_are_none(text):
    assert dates.parse_moment(text) is None
    with pytest.raises(InvalidPayload):
        dates.clean_moment(text, "when")


def test_dates_are_midnight_and_naive_times_are_in_the_given_zone():
    assert dates.parse_moment("2025-03-01", naive_zone=UTC) == datetime(2025, 3, 1, tzinfo=UTC)
    assert dates.parse_moment("2025-03-01T10:00:00+02:00") == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert dates.parse_moment("9999-12-31T23:59:59.999999Z") == datetime.max.replace(tzinfo=UTC)
    with pytest.raises(InvalidPayload, match="time zone"):
        dates.clean_moment("2030-01-01T00:00:00", "expires_at", zone_required=True)


MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]))


@given(MOMENTS)
@settings(max_examples=300)
def test_every_iso_moment_reads_back_as_itself(moment):
    assert dates.parse_moment(moment.isoformat()) == moment
    assert dates.parse_moment(moment.isoformat().replace("+00:00", "Z")) == moment


@given(st.dates())
def test_every_calendar_day_reads_back_as_itself(day: date):
    assert dates.parse_day(day.isoformat()) == day
    assert dates.parse_moment(day.isoformat(), naive_zone=UTC) == datetime(day.year, day.month, day.day, tzinfo=UTC)


@given(st.text(st.characters(exclude_categories=())))
@settings(max_examples=500)
def test_any_text_is_a_storable_moment_or_none(text):
    moment = dates.parse_moment(text)
    if moment is not None:
        assert moment.tzinfo is not None and 1 <= moment.astimezone(UTC).year <= 9999


@given(fields=st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99),
                        st.integers(0, 99)))
def test_every_digit_pattern_is_a_moment_or_none(fields):
    month, day, hour, minute, second = fields
    moment = dates.parse_moment(f"2025-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    valid = 1 <= month <= 12 and 1 <= day <= 28 and hour < 24 and minute < 60 and second < 60
    if valid:
        assert moment == datetime(2025, month, day, hour, minute, second, tzinfo=UTC)
    elif month > 12 or day > 31 or hour > 23 or minute > 59 or second > 59:
        assert moment is None


# ---------------------------------------------------------------- through the API


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["2025-01-01T10:61:00Z", "9999-12-31T23:00:00-05:00"])
def test_redemption_list_filters_refuse_moments_that_do_not_exist(api, text):
    assert_error(api.get("/v1/redemptions", **{"created_at[after]": text}), 400, "invalid_payload")
    assert_error(api.get("/v1/redemptions", **{"created_at[before]": text}), 400, "invalid_payload")


@pytest.mark.django_db
def test_qualifications_starting_after_refuses_a_moment_that_does_not_exist(api):
    body = {"customer": {"source_id": "x"}, "order": {"amount": 100},
            "options": {"starting_after": "2025-01-01T10:61:00Z"}}
    response = assert_error(api.post("/v1/qualifications", body), 400, "invalid_payload")
    assert "starting_after" in response["details"]


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["2030-01-01T10:61:00Z", "9999-12-31T23:00:00-05:00", "2030-01-01T10:00:00"])
def test_temporary_credit_refuses_a_moment_that_does_not_exist_or_has_no_zone(api, text):
    gift_card("GC-FAR", 10_000)
    assert_error(api.post("/v1/gift-cards/GC-FAR/temporary-credits", {"amount": 500, "expires_at": text}),
                 400, "invalid_payload")


@pytest.mark.django_db
def test_temporary_credit_to_the_last_moment_of_9999_is_spent_like_any_other(api):
    gift_card("GC-FAR", 10_000)
    response = api.post("/v1/gift-cards/GC-FAR/temporary-credits",
                        {"amount": 500, "expires_at": "9999-12-31T23:59:59Z"})
    assert response.status_code == 201, response.content
    spend = {"redeemables": [{"object": "voucher", "id": "GC-FAR", "gift": {"credits": 100}}],
             "order": {"amount": 1000}}
    assert api.post("/v1/redemptions", spend).status_code == 200
    assert api.get("/v1/vouchers/GC-FAR").json()["gift"]["balance"] == 10_400


@pytest.mark.django_db
def test_the_admin_form_path_refuses_credit_past_9999_too():
    from giftcards import services

    gift_card("GC-FAR", 10_000)
    far = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(InvalidPayload, match="9999"):
        services.add_temporary_credit("GC-FAR", 500, far, actor=services.Actor(label="test"))
