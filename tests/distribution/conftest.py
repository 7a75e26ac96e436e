"""Webhook test helpers: a real HTTP receiver on localhost (http.server in a thread), a fake clock for
distribution.services, and endpoint factories."""

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from distribution import services


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Statuses answered in turn; the last one repeats. A 3xx answers with a Location header.
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if state.delay:
                threading.Event().wait(state.delay)
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers), body))
            status = state.next_status()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.url + "/elsewhere")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"nope")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class FakeClock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(services, "_now", fake)
    return fake


@pytest.fixture
def make_endpoint(db):
    def make(url: str, event_types=("*",), **kwargs):
        return services.endpoint_create(url=url, event_types=list(event_types), **kwargs)

    return make
