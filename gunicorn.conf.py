"""gunicorn settings for production; gunicorn reads this file by itself when started from the project
directory (`gunicorn promoengine.wsgi`). Every value can be overridden on the command line or with the
environment variables below. Figures behind the defaults: docs/benchmarks.md.

    WEB_CONCURRENCY   worker processes (default: 1 per CPU core)
    WEB_THREADS       threads per worker (default: 1)
    PORT / BIND       where to listen (default: 0.0.0.0:8000)
    PROMETHEUS_MULTIPROC_DIR  where the worker processes write their metrics (default: a new temporary
                      directory per start); /metrics adds them up (docs/production.md#metrics)
"""

import gc
import multiprocessing
import os
import tempfile
from pathlib import Path

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# One single-threaded process per core. A checkout request is mostly Python (a validation spends ~1.7 ms
# on the CPU and ~0.2 ms in PostgreSQL), and threads of one process take turns on one interpreter lock:
# a thread back from the database waits up to 5 ms for it, several times a request. Measured on 2 cores
# with PostgreSQL beside the server, 16 clients: validation p99 106 ms with 3 processes x 4 threads, 34 ms
# with 2 x 1, at a quarter more requests per second (docs/benchmarks.md). With PostgreSQL on another
# machine a process waits on the network between statements: 2 processes per core may then keep the cores
# busier (measure before changing).
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
threads = int(os.environ.get("WEB_THREADS") or 1)
# gthread that shares keep-alive connections fairly between the processes (see the module)
worker_class = "promoengine.gunicorn_worker.BalancedThreadWorker"
timeout = 30
keepalive = 5  # seconds an idle keep-alive connection (a checkout's SDK, a load balancer) is kept
backlog = 2048

# Metrics: every worker process counts its own requests, so /metrics (answered by whichever process gets the
# scrape) must read all of them. prometheus_client's multi-process mode does that: each process writes its
# counters to files in this directory, set here before the application is imported so every worker inherits
# it; a Celery worker on the same host given the same directory adds its task failures.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="promoengine-metrics-")

# LOG_FORMAT=json: gunicorn's own lines are JSON objects too, like the application's (core/logging.py).
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    from core.logging import gunicorn_logconfig

    logconfig_dict = gunicorn_logconfig(os.environ.get("LOG_LEVEL", "INFO"))


def on_starting(server):
    """The files are not cleared here: a Celery worker sharing the directory keeps writing to its own, and
    the files of ended processes keep their counts in the sums (counters never go back). A directory set by
    PROMETHEUS_MULTIPROC_DIR is best on a tmpfs (/run/...), emptied at boot."""
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    """A worker process ended: its live gauges go; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The application is loaded: move everything alive now (Django, the URL patterns, the settings, the
    compiled SQL) out of the garbage collector's sight, and collect young objects less often. A full
    collection walks every tracked object while the process holds the interpreter lock, so with a loaded
    Django it stalls every request of the worker for tens of milliseconds: the slowest percent of the
    checkout's answers. Requests allocate and free their objects in their own generation as before."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 1_000)
