"""API-key authentication cost per request, in-process on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/auth.py [--runs 20000]

Creates its own database (promo_bench_auth) with two keys, one for every category and one limited to three
categories, and runs the API's authentication (core.auth.ApiKeyAuthentication) on a request with their
headers --runs times after a warm-up, in ten rounds of which the fastest counts: what every API request pays
before its view runs, including what the restriction point needs to scope its queries (the key's
categories). Prints microseconds (wall clock, and CPU time of this process: the rest is waiting for the
database) and queries per request.
"""

import argparse
import time

from common import fresh_django, print_table


def seed() -> dict:
    from core import services
    from promo.models import Category

    categories = [Category.objects.create(name=f"Department {i}") for i in range(3)]
    return {"every category": services.api_key_create(name="all"),
            "3 categories": services.api_key_create(name="limited", categories=categories)}


def measure(issued, runs: int) -> tuple[float, float, float]:
    from django.db import connection
    from django.test import RequestFactory

    from core.auth import ApiKeyAuthentication
    from core.permissions import key_category_ids

    factory, auth = RequestFactory(), ApiKeyAuthentication()
    request = factory.get("/v1/vouchers", headers={"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})

    def once():
        user, key = auth.authenticate(request)
        key_category_ids(key)  # what the first restricted query of the request needs

    for _ in range(200):
        once()
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        for _ in range(100):
            once()
    rounds, wall, cpu = 10, float("inf"), float("inf")
    for _ in range(rounds):  # the fastest round: the machine's other work only ever slows a round down
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(runs // rounds):
            once()
        wall = min(wall, (time.perf_counter() - start) / (runs // rounds))
        cpu = min(cpu, (time.process_time() - start_cpu) / (runs // rounds))
    return wall * 1e6, cpu * 1e6, len(queries) / 100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()
    fresh_django("promo_bench_auth")
    rows = []
    for name, issued in seed().items():
        wall, cpu, queries = measure(issued, args.runs)
        rows.append([name, f"{wall:.0f}", f"{cpu:.0f}", f"{queries:.2f}"])
    print_table(f"API-key authentication, in-process on PostgreSQL, {args.runs} requests (fastest tenth)",
                ["key", "µs per request", "of which CPU here, µs", "queries per request"], rows)


if __name__ == "__main__":
    main()
