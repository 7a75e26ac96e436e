"""The production gunicorn worker (promoengine.gunicorn_worker): keep-alive connections shared fairly
between worker processes, in a real gunicorn with the project's gunicorn.conf.py."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promoengine import gunicorn_worker

ROOT = Path(__file__).resolve().parents[2]

APP = '''
import os

def application(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    (tmp_path / "pid_app.py").write_text(APP)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "WEB_CONCURRENCY": "2", "WEB_THREADS": "2",
           "BIND": f"127.0.0.1:{port}"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "pid_app"],
                               cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    workers: set[str] = set()
    while time.monotonic() < deadline and len(workers) < 2:  # both workers up and answering
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            workers.add(conn.getresponse().read().decode())
            conn.close()
        except OSError:
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=20)


def test_keep_alive_connections_are_shared_between_the_workers(server):
    connections = []
    for _ in range(8):  # opened one after another, each kept alive, as a client pool does
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
        conn.connect()
        connections.append(conn)
        time.sleep(0.05)
    owners = []
    for _round in range(3):
        for conn in connections:
            conn.request("GET", "/")
            owners.append(conn.getresponse().read().decode())
    per_connection = [set(owners[n::8]) for n in range(8)]
    assert all(len(pids) == 1 for pids in per_connection)  # keep-alive: a connection stays with its worker
    counts = sorted(owners[:8].count(pid) for pid in set(owners[:8]))
    assert counts == [4, 4], counts


def _worker(slot_age: int, connections: int):
    worker = gunicorn_worker.BalancedThreadWorker.__new__(gunicorn_worker.BalancedThreadWorker)
    worker.age, worker.pid, worker.nr_conns = slot_age, 10_000 + slot_age, connections
    worker._slot = slot_age % gunicorn_worker.SLOTS
    worker._declining_since, worker._last_decline = None, 0.0
    worker._publish()
    return worker


def test_a_worker_leaves_a_new_connection_to_a_sibling_with_fewer_then_takes_it_if_nobody_does(monkeypatch):
    gunicorn_worker._board[:] = bytes(len(gunicorn_worker._board))
    busy, idle = _worker(1, 3), _worker(2, 1)
    assert idle._my_turn()
    assert not busy._my_turn()
    start = time.monotonic()
    clock = [start]
    monkeypatch.setattr(gunicorn_worker.time, "monotonic", lambda: clock[0])
    busy._my_turn()  # the connection is still waiting: the episode starts
    waited = None
    for _ in range(100):  # the sibling is alive (it publishes) but does not take the connection
        clock[0] += gunicorn_worker.DECLINE_PAUSE
        idle._publish()
        if busy._my_turn():
            waited = clock[0] - start
            break
    assert waited is not None
    # a nanosecond of slack: the fake clock adds a float step a hundred times onto time.monotonic()
    assert gunicorn_worker.YIELD_FOR - 1e-9 <= waited <= gunicorn_worker.YIELD_FOR + 2 * gunicorn_worker.DECLINE_PAUSE


def test_a_sibling_that_stopped_publishing_is_not_waited_for(monkeypatch):
    gunicorn_worker._board[:] = bytes(len(gunicorn_worker._board))
    busy, _gone = _worker(3, 5), _worker(4, 0)
    later = time.monotonic() + gunicorn_worker.STALE_AFTER + 1
    monkeypatch.setattr(gunicorn_worker.time, "monotonic", lambda: later)
    assert busy._my_turn()


def _exchange(port: int, *requests: bytes) -> bytes:
    """Send raw requests on one connection, each after the answer to the one before has begun, and read
    until the server closes it (http.client would hide a stray body: it drops what it buffered with each
    response)."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for request in requests:
            sock.sendall(request)
            seen = answer.count(b"HTTP/1.1 ")
            while answer.count(b"HTTP/1.1 ") == seen and (chunk := sock.recv(65536)):
                answer += chunk
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_head_answers_carry_no_body_so_the_next_answer_on_the_connection_is_read_whole(server):
    answer = _exchange(server, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
                       b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: " in head  # the GET's length, no body
    get_head, _, body = rest.partition(b"\r\n\r\n")
    assert get_head.startswith(b"HTTP/1.1 200 "), rest[:80]
    assert body.isdigit()


def test_head_of_a_lazy_application_still_gets_its_headers():
    started = []

    def lazy(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/csv")])
        started.append(True)
        yield b"a,b\n"
        yield b"1,2\n"

    app = gunicorn_worker.without_head_bodies(lazy)
    assert list(app({"REQUEST_METHOD": "HEAD"}, lambda status, headers: None)) == [] and started
    assert list(app({"REQUEST_METHOD": "GET"}, lambda status, headers: None)) == [b"a,b\n", b"1,2\n"]


def test_a_header_too_large_for_gunicorn_is_answered_in_the_json_error_format(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    conn.request("GET", "/v1/customers", headers={"X-Big": "a" * 10_000})
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 431 and response.getheader("Content-Type") == "application/json"
    assert body["code"] == 431 and body["key"] == "request_header_fields_too_large"
    assert body["request_id"] == response.getheader("X-Request-ID") and body["details"]


def test_a_malformed_request_line_is_answered_in_the_json_error_format(server):
    head, _, body = _exchange(server, b"GET / HTTP/9.9\r\nHost: x\r\n\r\n").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"Content-Type: application/json" in head
    assert json.loads(body)["key"] == "bad_request"
