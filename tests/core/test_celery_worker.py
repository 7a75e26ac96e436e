"""End to end with a real Celery worker on Redis (run by .ci/run with CELERY_BROKER_URL set):
the API answers at once, the worker does the job, progress is visible through the API."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return f"sqlite:///{s['NAME']}"


@pytest.fixture
def celery_worker_process(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the worker needs a database it can share with the test process (PostgreSQL)")
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "promoengine", "worker", "--pool", "solo", "--concurrency", "1",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = worker.stdout.readline()
        seen.append(line)
        if " ready." in line:
            break
        if worker.poll() is not None:
            break
    else:
        worker.kill()
        pytest.fail("the Celery worker did not start:\n" + "".join(seen))
    if worker.poll() is not None:
        pytest.fail("the Celery worker exited:\n" + "".join(seen))
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


def _wait_for_action(api, action_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/v1/async-actions/{action_id}").json()
        if body["status"] in ("DONE", "FAILED"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"async action {action_id} did not finish: {body}")


def test_customer_csv_import_runs_on_the_worker(api, settings, celery_worker_process):
    from django.test.client import encode_multipart

    from customers.models import Customer

    assert not settings.CELERY_TASK_ALWAYS_EAGER
    csv = "source_id,name,email,address_city\n" + "".join(
        f"w-{i},Worker Customer {i},w{i}@example.com,Porto\n" for i in range(50)
    ) + "w-bad,Bad,not-an-email,Porto\n"
    boundary = "BoUnDaRy"
    body = encode_multipart(boundary, {"file": _upload("customers.csv", csv)})
    response = api.post("/v1/customers/importCSV", raw=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 202, response.content
    action_id = response.json()["async_action_id"]
    result = _wait_for_action(api, action_id)
    assert result["status"] == "DONE", result
    assert result["progress"] == 100
    assert Customer.objects.filter(source_id__startswith="w-").count() == 50
    assert result["result"]["failed_count"] == 1


def _upload(name: str, text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")
