"""What rate limits and lockout checks add to each checkout request (timing loop, no database).

    python bench/abuse.py [--requests 20000] [--redis redis://127.0.0.1:6379/4]

Runs, per storage (per-process memory; Redis when --redis is given or REDIS_URL is set), what a validation or
redemption pays before it is served: the rate-limit throttle (core.throttling.RateLimits: API key, client IP and
customer as configured, each one atomic increment in the `limits` storage) and the lockout check
(promo.abuse.refuse_if_locked: one read of the customer's, IP's and key's lock keys). A request that is refused
or that has an invalid code pays more (a row written), but that is the attacker's. Prints microseconds per
request, median of 5 runs: CPU time of this process (what a gunicorn worker spends) and wall time (with Redis,
mostly waiting for its answers).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import ROOT, print_table

RUNS = 5


class _Auth:
    pk = 1
    app_id = "bench-key"


class _DjangoRequest:
    client_ip = "203.0.113.10"
    META = {"REMOTE_ADDR": "203.0.113.10"}


class _Request:
    """What the throttle reads of a DRF request."""

    def __init__(self, n: int):
        self.auth = _Auth()
        self.user = None
        self._request = _DjangoRequest()
        self.META = self._request.META
        self.method = "POST"
        self.data = {"customer": {"source_id": f"customer-{n % 1000}"}, "redeemables": [], "order": {}}


class _View:
    throttle_scope = "validations"


def measure(requests: int) -> list[list]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promoengine.settings")
    django.setup()
    from django.conf import settings

    from core.context import client_ip_var
    from core.throttling import RateLimits, storage
    from promo import abuse

    # The limits as configured (by default per key and per customer), raised so that none is reached.
    settings.RATE_LIMIT_DEFAULTS = {dimension: "1000000/minute" if rate else ""
                                    for dimension, rate in settings.RATE_LIMIT_DEFAULTS.items()}
    dimensions = ", ".join(d for d, rate in settings.RATE_LIMIT_DEFAULTS.items() if rate)
    throttle, view = RateLimits(), _View()
    client_ip_var.set("203.0.113.10")
    payloads = [_Request(n) for n in range(requests)]

    def rate_limits():
        for request in payloads:
            throttle.allow_request(request, view)

    def lockout_check():
        for request in payloads:
            abuse.refuse_if_locked(abuse.subjects(request.data, request.auth))

    storage().reset()
    rows = []
    for name, loop in ((f"rate limits ({dimensions})", rate_limits), ("lockout check", lockout_check)):
        cpu, wall = [], []
        for _ in range(RUNS):
            began, began_cpu = time.perf_counter(), time.process_time()
            loop()
            cpu.append((time.process_time() - began_cpu) / requests * 1e6)
            wall.append((time.perf_counter() - began) / requests * 1e6)
        rows.append([name, f"{statistics.median(cpu):.1f}", f"{statistics.median(wall):.1f}"])
    backend = "Redis" if settings.REDIS_URL else "memory"
    return [[backend, *row] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        for row in measure(args.requests):
            print("\t".join(row))
        return
    rows = []
    for redis_url in ("", args.redis) if args.redis else ("",):
        env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "REDIS_URL": redis_url,
               "CELERY_BROKER_URL": ""}
        output = subprocess.run([sys.executable, __file__, "--child", "--requests", str(args.requests)], env=env,
                                cwd=ROOT, check=True, capture_output=True, text=True).stdout
        rows += [line.split("\t") for line in output.splitlines() if line.count("\t") == 3]
    print_table(f"Added cost per request, {args.requests:,} requests x {RUNS} runs (median)",
                ["storage", "step", "CPU µs per request", "wall µs per request"], rows)


if __name__ == "__main__":
    main()
