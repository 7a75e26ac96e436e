"""Code generation on a real Celery worker (Redis broker, PostgreSQL; run by .ci/run with CELERY_BROKER_URL):
the API answers at once, the worker generates the codes, progress shows through the async action."""

import pytest

from promo.models import Campaign, Voucher
from tests.core.test_celery_worker import _wait_for_action, celery_worker_process  # noqa: F401 (fixture)

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_campaign_codes_are_generated_by_the_worker(api, settings, celery_worker_process):  # noqa: F811
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    response = api.post("/v1/campaigns", {
        "name": "Worker codes", "voucher": {"discount": {"type": "AMOUNT", "amount_off": 500},
                                            "code_config": {"length": 10, "prefix": "WK-"}}})
    assert response.status_code == 201, response.content
    campaign_id = response.json()["id"]
    added = api.post(f"/v1/campaigns/{campaign_id}/vouchers?vouchers_count=60000", {"metadata": {"via": "worker"}})
    assert added.status_code == 202, added.content
    result = _wait_for_action(api, added.json()["async_action_id"], timeout=120)
    assert result["status"] == "DONE", result
    assert result["processed"] == 60000 and result["progress"] == 100
    stored = Voucher.objects.filter(campaign__public_id=campaign_id)
    assert stored.count() == 60000 and stored.values("code").distinct().count() == 60000
    assert Campaign.objects.get(public_id=campaign_id).vouchers_generation_status == "DONE"
    assert api.get(f"/v1/campaigns/{campaign_id}").json()["vouchers_count"] == 60000
