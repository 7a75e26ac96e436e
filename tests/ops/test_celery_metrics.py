"""A real Celery worker sharing PROMETHEUS_MULTIPROC_DIR with the web processes: its task failures reach
the web's /metrics (run by .ci/run with CELERY_BROKER_URL set)."""

import time

import pytest
from prometheus_client import CollectorRegistry, multiprocess

from promoengine.celery import app
from tests.core.test_celery_worker import celery_worker_process  # noqa: F401 (fixture)

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def metrics_dir(tmp_path, monkeypatch):
    directory = tmp_path / "metrics"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))  # read by the worker started next
    return directory


def _task_failures(directory, task: str) -> float:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return registry.get_sample_value("promoengine_celery_task_failures_total", {"task": task}) or 0.0


def test_a_task_that_raises_in_the_worker_is_counted(metrics_dir, celery_worker_process, client, settings):  # noqa: F811
    app.send_task("giftcards.expire_credits", args=["an", "unexpected", "argument"])  # TypeError in the worker
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _task_failures(metrics_dir, "giftcards.expire_credits"):
        time.sleep(0.2)
    assert _task_failures(metrics_dir, "giftcards.expire_credits") == 1
    settings.METRICS_TOKEN = "t"
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    assert 'promoengine_celery_task_failures_total{task="giftcards.expire_credits"} 1.0' in scraped
