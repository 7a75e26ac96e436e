"""Shared pieces of the benchmarks: a throwaway PostgreSQL database, a gunicorn server, a load generator."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench_database_url(name: str = "promo_bench") -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not base.startswith("postgres"):
        sys.exit("The benchmarks need PostgreSQL: set DATABASE_URL=postgres://user@host:5432/any")
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}/{name}"


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = f"{parts.scheme}://{parts.netloc}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path[1:]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parts.path[1:]}"')


def server_env(database_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "DEBUG": "0", "SECRET_KEY": "bench-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
            "DB_CONN_MAX_AGE": "600", "CELERY_BROKER_URL": "", "REDIS_URL": ""}


def migrate(database_url: str) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                   env=server_env(database_url), check=True)


def setup_django(database_url: str) -> None:
    os.environ.update(server_env(database_url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promoengine.settings")
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, workers: int = 4, threads: int = 4) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "promoengine.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--threads", str(threads), "--worker-class", "gthread", "--log-level", "warning",
         "--backlog", "2048"], cwd=ROOT, env=server_env(database_url))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/v1/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class LoadResult:
    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def run_load(name: str, port: int, clients: int, seconds: float,
             make_request: Callable[[int, int], tuple[str, str, dict | None]], headers: dict) -> LoadResult:
    """`clients` threads, each on its own keep-alive connection, for `seconds`.
    make_request(client, n) -> (method, path, json body or None)."""
    result = LoadResult(name=name, clients=clients)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    start_gate = threading.Barrier(clients + 1)

    def worker(client: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local_lat, local_status = [], {}
        start_gate.wait()
        n = 0
        while time.monotonic() < stop_at:
            method, path, body = make_request(client, n)
            n += 1
            payload = json.dumps(body).encode() if body is not None else None
            begin = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers={**headers, "Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            local_lat.append(time.perf_counter() - begin)
            local_status[status] = local_status.get(status, 0) + 1
        with lock:
            result.latencies.extend(local_lat)
            for status, count in local_status.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - began
    return result


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) + " |")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
