"""Dynamic segment recomputation over 100,000 customers on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/segments.py [--customers 100000] [--reuse]

Creates its own database (promo_bench_segments), loads --customers customers (10% in London, 5% with
metadata.industry = pharma), about 3 PAID orders each over the last year and newsletter events over the
last 60 days (bulk inserts, aggregates computed in SQL), then for each of the issue's example filters:
counts the matches (the admin's preview), runs the first full recompute (everyone enters), a second one
(nothing changes) and one after 1% of the customers moved city or ordered. Finally the cost of
refreshing one customer's memberships with all the segments defined (what an order or a profile change
adds). Prints tables.
"""

import argparse
import random
import time
from datetime import timedelta

from common import bench_database_url, migrate, print_table, recreate_database, setup_django

BATCH = 5000
CITIES = ["London", "Leeds", "Paris", "Porto", "Berlin", "Warsaw", "Gdynia", "Madrid", "Rome", "Oslo"]


def seed(count: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from customers.models import Customer, CustomEvent, Order

    rng = random.Random(42)
    began = time.perf_counter()
    for start in range(0, count, BATCH):
        Customer.objects.bulk_create([Customer(
            source_id=f"c{n}", email=f"c{n}@example.com", name=f"Customer {n}",
            address_city=CITIES[n % 10], address_country="GB" if n % 10 == 0 else "EU",
            address_postal_code="65-737" if n % 200 == 7 else f"{rng.randint(10, 99)}-{rng.randint(100, 999)}",
            metadata={"industry": "pharma" if n % 20 == 3 else "retail", "employees": rng.randint(1, 500)})
            for n in range(start, min(start + BATCH, count))])
    pks = list(Customer.objects.values_list("pk", flat=True))
    now = timezone.now()
    orders, events = [], []
    for pk in pks:
        for _ in range(rng.choice([0, 1, 2, 3, 3, 4, 5, 6])):
            amount = rng.randint(500, 40000)
            orders.append(Order(customer_id=pk, status="PAID", amount=amount, counted_amount=amount,
                                counted_customer_id=pk, ordered_at=now - timedelta(days=rng.uniform(0, 365))))
        if rng.random() < 0.3:
            events.extend(CustomEvent(customer_id=pk, name="newsletter_opened") for _ in range(rng.randint(1, 4)))
    for start in range(0, len(orders), BATCH):
        Order.objects.bulk_create(orders[start:start + BATCH])
    for start in range(0, len(events), BATCH):
        CustomEvent.objects.bulk_create(events[start:start + BATCH])
    with connection.cursor() as cursor:
        # Sign-up dates over two years, event dates over 60 days, and the order aggregates, all in SQL.
        cursor.execute("UPDATE customers_customer SET created_at = now() - (id % 730) * interval '1 day' "
                       "- (id % 1440) * interval '1 minute'")
        cursor.execute("UPDATE customers_customevent SET created_at = now() - (id % 60) * interval '1 day'")
        cursor.execute("""UPDATE customers_customer c SET orders_total_count = a.n, orders_total_amount = a.total,
                              last_order_date = a.last, first_order_date = a.first,
                              last_order_amount = (SELECT o.counted_amount FROM customers_order o
                                                   WHERE o.counted_customer_id = c.id
                                                   ORDER BY o.ordered_at DESC LIMIT 1)
                          FROM (SELECT counted_customer_id AS id, count(*) AS n, sum(counted_amount) AS total,
                                       max(ordered_at) AS last, min(ordered_at) AS first
                                FROM customers_order GROUP BY counted_customer_id) a WHERE a.id = c.id""")
        cursor.execute("ANALYZE")
    print(f"Seeded {len(pks):,} customers, {len(orders):,} orders, {len(events):,} events "
          f"in {time.perf_counter() - began:.1f} s")


def filters() -> list[tuple[str, dict]]:
    from django.utils import timezone

    now = timezone.now()
    return [
        ("city London", {"address.city": {"conditions": {"$is": ["London"]}}}),
        ("postal code 65-737 or city London", {"junction": "or", "address.postal_code": {"conditions": {
            "$is": ["65-737"]}}, "address.city": {"conditions": {"$is": ["London"]}}}),
        ("signed up < 5 days ago", {"created_at": {"conditions": {"$less_than": [5]}}}),
        ("last order < 14 days ago", {"orders.last_order_date": {"conditions": {"$less_than": [14]}}}),
        ("metadata.industry = pharma", {"metadata.industry": {"conditions": {"$is": ["pharma"]}}}),
        (">= 5 orders in the last 90 days", {"orders.count": {"conditions": {"$more_than_equal": [5]},
                                                              "period": {"days": 90}}}),
        ("orders > $500 in a period (Q2-Q3)", {"orders.amount": {"conditions": {"$more_than": [50000]}, "period": {
            "after": (now - timedelta(days=270)).isoformat(), "before": (now - timedelta(days=90)).isoformat()}}}),
        ("newsletter opened >= 2 in 30 days", {"events.newsletter_opened": {"conditions": {"$more_than_equal": [2]},
                                                                            "period": {"days": 30}}}),
    ]


def timed(func):
    began = time.perf_counter()
    result = func()
    return result, time.perf_counter() - began


def churn(share: float) -> None:
    """1% of the customers move city (London <-> Leeds) and 1% place an order today (SQL, no refresh)."""
    from django.db import connection

    step = int(1 / share)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET address_city = CASE address_city WHEN 'London' THEN 'Leeds' "
                       "ELSE 'London' END WHERE id %% %s = 1", [step])
        cursor.execute("UPDATE customers_customer SET last_order_date = now(), orders_total_count = "
                       "orders_total_count + 1 WHERE id %% %s = 2", [step])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--refreshes", type=int, default=300, help="customers refreshed one by one")
    parser.add_argument("--reuse", action="store_true", help="keep the data of the previous run (segments are reset)")
    args = parser.parse_args()
    url = bench_database_url("promo_bench_segments")
    if not args.reuse:
        recreate_database(url)
    migrate(url)
    setup_django(url)
    if args.reuse:
        from segments.models import Segment

        Segment.objects.all().delete()
    else:
        seed(args.customers)

    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from segments import selectors, services
    from segments.filters import compile_segment_filter, normalize_segment_filter
    from segments.models import Segment

    segments, rows = [], []
    for name, spec in filters():
        normalized = normalize_segment_filter(spec)
        count, preview_s = timed(lambda: selectors.preview_count(normalized))  # noqa: B023 - called at once
        segment = Segment.objects.create(name=name, type="auto-update", filter=normalized,
                                         depends_on=sorted(compile_segment_filter(normalized).depends_on))
        first, first_s = timed(lambda: services.segment_recompute(segment))  # noqa: B023
        again, again_s = timed(lambda: services.segment_recompute(segment))  # noqa: B023
        segments.append((segment, first, first_s, again_s))
        rows.append([name, f"{count:,}", f"{preview_s * 1000:.0f}", f"{first_s:.2f}", f"{again_s:.2f}"])
    churn(0.01)
    for index, (segment, _first, _first_s, _again_s) in enumerate(segments):
        after, after_s = timed(lambda: services.segment_recompute(segment))  # noqa: B023
        rows[index].extend([f"{after_s:.2f}", f"+{after['entered']:,} / -{after['left']:,}"])
    print_table(f"Dynamic segment recompute over {args.customers:,} customers on PostgreSQL (set-based SQL, "
                f"ranges of {services.RECOMPUTE_CHUNK:,} ids)",
                ["filter", "members", "preview count ms", "first recompute s", "no-change recompute s",
                 "after 1% churn s", "entered / left"], rows)

    # The same aggregate filter in the per-customer (correlated) shape, over everyone: why bulk is set-based.
    spec = normalize_segment_filter(filters()[5][1])
    from customers.selectors import live_customers

    _, correlated_s = timed(lambda: compile_segment_filter(spec, per_customer=True).apply(live_customers()).count())
    _, bulk_s = timed(lambda: compile_segment_filter(spec).apply(live_customers()).count())
    print_table("Shape of an aggregate filter (>= 5 orders in 90 days) counted over all customers",
                ["shape", "seconds"], [["set-based (bulk recompute)", f"{bulk_s:.3f}"],
                                       ["correlated (per-customer refresh)", f"{correlated_s:.3f}"]])

    # Refreshing one customer against all the segments (what a profile change or an order adds).
    pks = list(live_customers().order_by("?").values_list("pk", flat=True)[:args.refreshes])
    for changed in (None, "orders", "events"):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            for pk in pks:
                services.refresh_customer(pk, changed=changed)
            seconds = time.perf_counter() - began
        print_table(f"refresh_customer(changed={changed!r}) with {len(segments)} dynamic segments, "
                    f"{len(pks)} customers", ["ms per customer", "queries per customer"],
                    [[f"{seconds * 1000 / len(pks):.2f}", f"{len(queries) / len(pks):.1f}"]])


if __name__ == "__main__":
    main()
