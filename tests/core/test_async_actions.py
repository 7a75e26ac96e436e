import pytest
from django.db import transaction

from core import services
from core.models import AsyncAction
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db(transaction=True)

calls: list[int] = []


@services.register_async_handler("TEST_COUNT_TO_FOUR")
def _count_to_four(action, progress):
    for done in range(1, 5):
        progress(done, 4)
    calls.append(action.pk)
    return {"counted": action.payload["n"]}


@services.register_async_handler("TEST_FAILS")
def _fails(action, progress):
    progress(1, 2)
    raise ValueError("row 2 is broken")


def test_action_runs_after_commit_and_reports_done():
    calls.clear()
    with transaction.atomic():
        action = services.async_action_start(action_type="TEST_COUNT_TO_FOUR", payload={"n": 4})
        assert calls == []  # queued on commit, not inside the transaction
    action.refresh_from_db()
    assert calls == [action.pk]
    assert action.status == "DONE" and action.progress == 100
    assert action.processed == action.total == 4
    assert action.result == {"counted": 4}
    assert action.public_id.startswith("aa_") and action.processing_time_ms is not None


def test_a_finished_action_is_not_run_again():
    calls.clear()
    action = services.async_action_start(action_type="TEST_COUNT_TO_FOUR", payload={"n": 1})
    services.async_action_run(action.pk)  # redelivered message
    assert calls == [action.pk]


def test_failure_is_recorded_on_the_action():
    action = services.async_action_start(action_type="TEST_FAILS")
    action.refresh_from_db()
    assert action.status == "FAILED"
    assert action.progress == 50
    assert "row 2 is broken" in action.result["error"]


def test_unknown_type_is_refused():
    with pytest.raises(KeyError):
        services.async_action_start(action_type="NOPE")


def test_api_lists_and_gets_actions_in_the_spec_shape(api):
    action = services.async_action_start(action_type="TEST_COUNT_TO_FOUR", payload={"n": 2})
    listed = api.get("/v1/async-actions", limit=5)
    body = assert_matches_spec(listed, "/v1/async-actions", "get")
    assert [a["id"] for a in body["async_actions"]] == [action.public_id]
    got = api.get(f"/v1/async-actions/{action.public_id}")
    body = assert_matches_spec(got, "/v1/async-actions/{asyncActionId}", "get")
    assert body["status"] == "DONE" and body["progress"] == 100 and body["operation_status"] == "SUCCESS"
    assert body["result"] == {"counted": 2}


def test_api_unknown_action_is_404(api):
    from tests.conftest import assert_error

    assert_error(api.get("/v1/async-actions/aa_missing"), 404, "not_found")


def test_list_limit_is_checked(api):
    from tests.conftest import assert_error

    assert_error(api.get("/v1/async-actions", limit=0), 400, "invalid_payload")
    assert_error(api.get("/v1/async-actions", limit="ten"), 400, "invalid_payload")
    assert AsyncAction.objects.count() == 0
