"""Checkout throughput: validations and redemptions per second with latency percentiles.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/engine.py [--codes 1000000] [--seconds 15]

Creates its own database (promo_bench_engine), loads --codes unique codes into one campaign plus a hot
public code, and runs gunicorn (as gunicorn.conf.py sizes it: one single-threaded process per core)
against it. Scenarios: a trivial DRF endpoint (the baseline), validations and redemptions of unique
codes with 10-line carts at 16 clients, one hot public code at 64 clients, paced validations and
redemptions, and stacked redemptions: two unique codes, and two hot codes stacked in opposite orders
(promo.services' lock order). Prints a table; ratios are to the baseline.
"""

import argparse
import itertools
import os
import threading
import time

from common import (
    bench_database_url,
    cpu_stalls,
    gunicorn,
    load_generator,
    machine_load,
    migrate,
    print_table,
    recreate_database,
    run_load,
    setup_django,
)

HOT_LIMIT = 3000
HOT_PAIR = ("HOTPAIR-A", "HOTPAIR-B")
CUSTOMERS = 1000


def seed(codes: int) -> tuple[dict, list[str]]:
    from django.db import connection

    from catalog.models import Product
    from core import services
    from customers.models import Customer
    from promo.models import Campaign, Voucher

    campaign = Campaign.objects.create(name="Bench campaign", voucher_template={"type": "DISCOUNT_VOUCHER"})
    discount = '{"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"}'
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO promo_voucher (public_id, code, campaign_id, type, discount, active, additional_info,
                   metadata, is_referral_code, redemption_quantity, redeemed_quantity, locked_quantity,
                   created_at, updated_at)
               SELECT 'v_bench' || i, 'B' || upper(substr(md5(i::text), 1, 11)), %s, 'DISCOUNT_VOUCHER',
                      %s::jsonb, true, '', '{}'::jsonb, false, 1, 0, 0, now(), now()
               FROM generate_series(1, %s) AS i ON CONFLICT DO NOTHING""",
            [campaign.pk, discount, codes])
        cursor.execute("ANALYZE promo_voucher")
    Voucher.objects.create(code="HOTCODE", campaign=campaign, discount={"type": "AMOUNT", "amount_off": 500},
                           redemption_quantity=HOT_LIMIT)
    for code in HOT_PAIR:  # stacked in opposite orders by concurrent checkouts: the lock order at work
        Voucher.objects.create(code=code, campaign=campaign, discount={"type": "AMOUNT", "amount_off": 100})
    Product.objects.bulk_create([Product(source_id=f"bench-{i}", name=f"Product {i}", price=1000 + 137 * i)
                                 for i in range(10)])
    Customer.objects.bulk_create([Customer(source_id=f"bench-customer-{i}", name=f"Customer {i}")
                                  for i in range(CUSTOMERS)])
    issued = services.api_key_create(name="bench")
    settle(SEEDED)
    unique = list(Voucher.objects.filter(campaign=campaign).exclude(code__in=["HOTCODE", *HOT_PAIR])
                  .values_list("code", flat=True)[:200_000])
    return {"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}, unique


SEEDED = ("promo_voucher", "promo_campaign", "catalog_product", "customers_customer", "core_apikey")


def settle(tables: tuple[str, ...] = ()) -> None:
    """VACUUM and ANALYZE what the seed wrote (`tables`; all of them by default), as a database in service
    would be: otherwise autovacuum works through the million new rows during the first scenarios. Tables
    still empty are left alone: analyzed while empty, PostgreSQL would believe them empty (and plan the
    foreign-key checks of every order item as a scan of all orders) until the next ANALYZE."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


def autovacuum_on() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0] == "on"


def analyze() -> None:
    """What autovacuum's ANALYZE would have done by now (a server may run with it off; this one does): the
    tables that hold rows (autovacuum never analyzes an empty one; see settle)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 0")
        tables = [connection.ops.quote_name(name) for (name,) in cursor.fetchall()]
        if tables:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


def reuse(codes: int) -> tuple[dict, list[str]]:
    """The database of an earlier run (--reuse): codes not redeemed yet, the hot code given back its uses."""
    from core import services
    from promo.models import Redemption, Voucher

    hot = Voucher.objects.get(code="HOTCODE")
    Redemption.objects.filter(children__voucher=hot).delete()
    Voucher.objects.filter(pk=hot.pk).update(redeemed_quantity=0, active=True)
    issued = services.api_key_create(name="bench")
    settle()
    unique = list(Voucher.objects.filter(redeemed_quantity=0, code__startswith="B")
                  .values_list("code", flat=True)[:200_000])
    return {"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}, unique


CART = {"items": [{"source_id": f"bench-{i}", "related_object": "product", "quantity": 1 + i % 3,
                   "price": 1000 + 137 * i} for i in range(10)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument("--worker-class", default="", help="gunicorn worker class (default: gunicorn.conf.py's)")
    parser.add_argument("--reuse", action="store_true", help="reuse the database of an earlier run (no re-seeding)")
    parser.add_argument("--validation-rate", type=int, default=500, help="pace of the paced validation scenario")
    parser.add_argument("--redemption-rate", type=int, default=300, help="pace of the paced redemption scenario")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers to run besides the baseline, "
                                                   "e.g. 1 (validations) for a quick gunicorn sizing run")
    args = parser.parse_args()
    url = bench_database_url("promo_bench_engine")
    if not args.reuse:
        recreate_database(url)
    migrate(url)
    setup_django(url)
    headers, codes = reuse(args.codes) if args.reuse else seed(args.codes)
    fresh = iter(codes)
    fresh_lock = threading.Lock()

    def next_code() -> str:
        with fresh_lock:
            return next(fresh)

    counter = itertools.count()

    def validation(c, n):
        return "POST", "/v1/validations", {
            "redeemables": [{"object": "voucher", "id": codes[next(counter) % len(codes)]}], "order": CART}

    def redemption(c, n):
        return "POST", "/v1/redemptions", {
            "redeemables": [{"object": "voucher", "id": next_code()}], "order": CART,
            "customer": {"source_id": f"bench-customer-{(n * 16 + c) % CUSTOMERS}"}}

    def stacked(c, n):
        return "POST", "/v1/redemptions", {
            "redeemables": [{"object": "voucher", "id": next_code()}, {"object": "voucher", "id": next_code()}],
            "order": CART, "customer": {"source_id": f"bench-customer-{(n * 16 + c) % CUSTOMERS}"}}

    def stacked_hot(c, n):
        pair = HOT_PAIR if (n + c) % 2 else HOT_PAIR[::-1]
        return "POST", "/v1/redemptions", {"redeemables": [{"object": "voucher", "id": code} for code in pair],
                                           "order": CART}

    # (name, clients, request maker, requests made up front for wrk, pace in requests/s or 0: back to back)
    scenarios = [
        ("trivial DRF endpoint (GET /v1/health)", 16, lambda c, n: ("GET", "/v1/health", None), 0, 0),
        ("validation, unique code, 10-line cart", 16, validation, 0, 0),
        ("redemption, unique code, 10-line cart", 16, redemption, 60_000, 0),
        ("redemption, one hot public code", 64, lambda c, n: ("POST", "/v1/redemptions", {
            "redeemables": [{"object": "voucher", "id": "HOTCODE"}], "order": CART}), 0, 0),
        (f"validation at {args.validation_rate}/s", 16, validation, 0, args.validation_rate),
        (f"redemption at {args.redemption_rate}/s", 16, redemption,
         int(args.seconds * args.redemption_rate * 1.2) + 100, args.redemption_rate),
        ("redemption, two unique codes stacked", 16, stacked, 30_000, 0),
        ("redemption, two hot codes stacked in opposite orders", 16, stacked_hot, 0, 0),
    ]
    if args.only:
        wanted = {0, *(int(n) for n in args.only.split(","))}
        scenarios = [s for i, s in enumerate(scenarios) if i in wanted]
    results = []
    vacuuming = autovacuum_on()
    load_before, stalls = machine_load(), cpu_stalls()
    with gunicorn(url, workers=args.workers, threads=args.threads, worker_class=args.worker_class) as port:
        run_load("warm-up", port, 4, 2, validation, headers)
        for name, clients, make, bodies, rate in scenarios:
            if not vacuuming:
                analyze()
            results.append(run_load(name, port, clients, args.seconds, make, headers, bodies, rate))
            if name.startswith("redemption, one hot"):
                report_hot_code(results[-1])
    baseline = results[0].rate
    rows = []
    for result in results:
        ok = result.statuses.get(200, 0)
        rows.append([result.name, result.clients, result.count, ok, result.count - ok, f"{result.rate:.0f}",
                     f"{result.percentile(50):.1f}", f"{result.percentile(95):.1f}", f"{result.percentile(99):.1f}",
                     f"{result.rate / baseline:.2f}" if baseline else "-"])
    print_table(f"Checkout API on PostgreSQL, {args.codes:,} codes, {args.seconds:.0f} s per scenario, gunicorn "
                f"{args.workers} {args.worker_class or 'balanced gthread'} workers x {args.threads} threads, load "
                f"generator {load_generator()}, load average {load_before} before and {machine_load()} after; "
                f"{stalls}{'' if vacuuming else '; autovacuum off: ANALYZE before each scenario'}",
                ["scenario", "clients", "requests", "200", "other", "req/s", "p50 ms", "p95 ms", "p99 ms",
                 "x baseline"], rows)


def report_hot_code(result) -> None:
    """The use counter equals the successful redemptions recorded and never passes the limit; every 200 answer
    is one of them (a few more may have finished after the load generator stopped counting); and the rate
    while uses lasted (from the first to the last successful redemption's timestamp in the database)."""
    from django.db.models import Max, Min

    from promo.models import Redemption, Voucher

    hot = Voucher.objects.get(code="HOTCODE")
    while True:  # requests the load generator stopped waiting for are still being answered: let them finish
        time.sleep(1)
        previous, hot = hot.redeemed_quantity, Voucher.objects.get(code="HOTCODE")
        if hot.redeemed_quantity == previous:
            break
    hot_ok = result.statuses.get(200, 0)
    succeeded = Redemption.objects.filter(parent__isnull=True, result="SUCCESS", children__voucher=hot)
    successes = succeeded.count()
    span = succeeded.aggregate(first=Min("created_at"), last=Max("created_at"))
    consistent = successes == hot.redeemed_quantity <= HOT_LIMIT and hot_ok <= successes <= hot_ok + result.clients
    print(f"\nHot code: limit {HOT_LIMIT}, redeemed_quantity {hot.redeemed_quantity}, successful redemptions recorded "
          f"{successes}, 200 answers counted {hot_ok}: " + ("no over-redemption" if consistent else "MISMATCH"))
    if successes > 1:
        seconds = (span["last"] - span["first"]).total_seconds()
        print(f"Hot code successful redemptions/s while uses lasted: {successes / seconds:.0f} ({successes} in "
              f"{seconds:.1f} s; all {HOT_LIMIT} taken: {hot.redeemed_quantity == HOT_LIMIT})")


if __name__ == "__main__":
    main()
