"""Shared pieces of the benchmarks: a throwaway PostgreSQL database, a gunicorn server, a load generator.

The load generator is wrk (Debian's package `wrk`) when it is installed: written in C, it costs the
two-core machine a few percent of a core and measures each request from send to answer. Without it (or
with BENCH_LOADGEN=python) a pool of Python threads does the same job, at a cost of its own: its threads
share one interpreter lock, which inflates the latencies it reports under load."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
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
            "DB_CONN_MAX_AGE": "600", "CELERY_BROKER_URL": "", "REDIS_URL": "",
            # One key and a thousand customers stand for a whole shop's checkouts: the limits are counted (their
            # cost is measured) but set where the load generator does not reach them.
            "RATE_LIMIT_PER_KEY": "1000000/second", "RATE_LIMIT_PER_CUSTOMER": "1000000/second"}


def migrate(database_url: str) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                   env=server_env(database_url), check=True)


def setup_django(database_url: str) -> None:
    os.environ.update(server_env(database_url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promoengine.settings")
    import django

    django.setup()


def fresh_django(name: str) -> str:
    """A new, migrated database of this name, and Django set up on it in this process. Returns its URL."""
    url = bench_database_url(name)
    recreate_database(url)
    migrate(url)
    setup_django(url)
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, workers: int = 4, threads: int = 4, worker_class: str = "") -> Iterator[int]:
    """gunicorn as production runs it (the project's gunicorn.conf.py), with these sizes."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "promoengine.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--threads", str(threads), *(["--worker-class", worker_class] if worker_class else []),
         "--log-level", "warning", *os.environ.get("BENCH_GUNICORN_ARGS", "").split()],
        cwd=ROOT, env=server_env(database_url))
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
    # wrk reports its own percentiles (ms) and count instead of every latency
    reported: dict[float, float] = field(default_factory=dict)
    reported_count: int = 0

    @property
    def count(self) -> int:
        return self.reported_count or len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if p in self.reported:
            return self.reported[p]
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def machine_load() -> str:
    """The 1-minute load average, to tell a quiet machine from a busy one."""
    return f"{os.getloadavg()[0]:.1f}"


def _spin(seconds: float, results) -> None:
    end = time.perf_counter() + seconds
    last = time.perf_counter()
    stalls, loops = [], 0
    while (now := time.perf_counter()) < end:
        if now - last > 0.02:
            stalls.append(now - last)
        last = now
        loops += 1
    results.put((stalls, loops / seconds))


def _spinners(count: int, seconds: float) -> tuple[list[float], float]:
    import multiprocessing

    queue = multiprocessing.Queue()
    spinners = [multiprocessing.Process(target=_spin, args=(seconds, queue)) for _ in range(count)]
    for spinner in spinners:
        spinner.start()
    answers = [queue.get() for _ in spinners]
    for spinner in spinners:
        spinner.join()
    return [stall for stalls, _ in answers for stall in stalls], sum(rate for _, rate in answers)


def cpu_stalls(seconds: float = 4) -> str:
    """What the machine gives right now: two processes that only spin, one a core, compared with one
    alone, and the moments they did not run at all. A virtual machine whose host caps its CPU time
    delivers less than two cores and stops both of them for whole slices (here: 100 ms); every request
    in flight then waits that long, the floor under any p99 measured with both cores busy."""
    _alone_stalls, alone = _spinners(1, seconds)
    stalls, both = _spinners(2, seconds)
    worst = f", the longest {max(stalls) * 1000:.0f} ms" if stalls else ""
    return (f"two busy cores gave {both / alone:.2f}x one core and stopped {len(stalls)} times for over 20 ms "
            f"in {seconds:g} s{worst}")


def load_generator() -> str:
    wanted = os.environ.get("BENCH_LOADGEN", "wrk")
    return "wrk" if wanted == "wrk" and shutil.which("wrk") else "python"


def run_load(name: str, port: int, clients: int, seconds: float,
             make_request: Callable[[int, int], tuple[str, str, dict | None]], headers: dict,
             bodies: int = 0, rate: float = 0) -> LoadResult:
    """`clients` keep-alive connections sending requests one after another for `seconds` (with `rate`,
    paced to that many requests per second in all: needs wrk). make_request(client, n) -> (method, path,
    json body or None). With wrk, `bodies` requests are made up front (every request of a scenario has the
    same method and path) and sent in turn."""
    if load_generator() == "wrk":
        return run_wrk(name, port, clients, seconds, make_request, headers, bodies or int(seconds * 2000), rate)
    if rate:
        raise SystemExit("Paced scenarios need wrk (apt-get install wrk)")
    return run_python_load(name, port, clients, seconds, make_request, headers)


def run_wrk(name: str, port: int, clients: int, seconds: float,
            make_request: Callable[[int, int], tuple[str, str, dict | None]], headers: dict,
            bodies: int, rate: float = 0) -> LoadResult:
    method, path, first = make_request(0, 0)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as file:
        if first is not None:
            for n in range(bodies):
                file.write(json.dumps(make_request(n % clients, n // clients)[2]) + "\n")
    header_args = [arg for key, value in {**headers, "Content-Type": "application/json"}.items()
                   for arg in ("-H", f"{key}: {value}")]
    threads = min(2, clients)
    try:
        output = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "30s",
             *header_args, "-s", str(Path(__file__).with_name("load.lua")), f"http://127.0.0.1:{port}",
             "--", file.name if first is not None else "", str(threads), method, path, f"{rate:g}"],
            capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(file.name)
    line = next(line for line in output.splitlines() if line.startswith("WRK-RESULT "))
    data = json.loads(line.removeprefix("WRK-RESULT "))
    statuses = {int(status): count for status, count in data["statuses"].items()}
    if data["errors"]:
        statuses[0] = statuses.get(0, 0) + data["errors"]
    return LoadResult(name=name, clients=clients, statuses=statuses, seconds=data["duration_us"] / 1e6,
                      reported={50: data["p50"] / 1000, 95: data["p95"] / 1000, 99: data["p99"] / 1000},
                      reported_count=data["requests"])


def run_python_load(name: str, port: int, clients: int, seconds: float,
                    make_request: Callable[[int, int], tuple[str, str, dict | None]], headers: dict) -> LoadResult:
    """`clients` threads, each on its own keep-alive connection, for `seconds`."""
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
