"""In a real gunicorn with the project's gunicorn.conf.py and two worker processes, /metrics adds up the
requests of both (prometheus_client's multi-process mode), whichever process answers the scrape; with
LOG_FORMAT=json gunicorn's own lines are JSON too."""

import http.client
import json
import os
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.core.test_gunicorn_worker import ROOT, _free_port

REQUESTS = 30


@pytest.fixture
def django_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "WEB_CONCURRENCY": "2", "BIND": f"127.0.0.1:{port}", "METRICS_TOKEN": "t",
           "LOG_FORMAT": "json", "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn.conf.py makes one, here under TMPDIR
    env["TMPDIR"] = str(tmp_path)
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "promoengine.wsgi"], cwd=ROOT, env=env,
                               stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if _get(port, "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(timeout=20)
    log.close()


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a new connection: any worker may answer
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_metrics_add_up_every_worker_process(django_server):
    for _ in range(REQUESTS):
        assert _get(django_server, "/v1/health")[0] == 200
    for _ in range(4):  # several scrapes, answered by either process, all see every request
        status, body = _get(django_server, "/metrics", {"Authorization": "Bearer t"})
        assert status == 200
        answered = sum(sample.value for family in text_string_to_metric_families(body)
                       if family.name == "django_http_responses_total_by_status_view_method"
                       for sample in family.samples
                       if sample.labels == {"method": "GET", "status": "200", "view": "core.api.views.HealthView"})
        assert answered == REQUESTS


def test_gunicorn_lines_are_json(django_server, tmp_path):
    lines = (tmp_path / "gunicorn.log").read_text().splitlines()
    booted = [json.loads(line) for line in lines if "Booting worker" in line]
    assert len(booted) == 2, lines
    assert booted[0]["logger"] == "gunicorn.error" and booted[0]["request_id"] == "-"
