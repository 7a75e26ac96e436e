"""gunicorn settings for production; gunicorn reads this file by itself when started from the project
directory (`gunicorn promoengine.wsgi`). Every value can be overridden on the command line or with the
environment variables below. Figures behind the defaults: docs/benchmarks.md.

    WEB_CONCURRENCY   worker processes (default: 2 per CPU core)
    WEB_THREADS       threads per worker (default: 4)
    PORT / BIND       where to listen (default: 0.0.0.0:8000)
"""

import gc
import multiprocessing
import os

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count())
threads = int(os.environ.get("WEB_THREADS") or 4)
# gthread that shares keep-alive connections fairly between the processes (see the module)
worker_class = "promoengine.gunicorn_worker.BalancedThreadWorker"
timeout = 30
keepalive = 5  # seconds an idle keep-alive connection (a checkout's SDK, a load balancer) is kept
backlog = 2048


def post_worker_init(worker):
    """The application is loaded: move everything alive now (Django, the URL patterns, the settings, the
    compiled SQL) out of the garbage collector's sight, and collect young objects less often. A full
    collection walks every tracked object while the process holds the interpreter lock, so with a loaded
    Django it stalls every request of the worker for tens of milliseconds: the slowest percent of the
    checkout's answers. Requests allocate and free their objects in their own generation as before."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 1_000)
