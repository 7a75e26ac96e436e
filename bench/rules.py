"""Validation-rule evaluation cost per validation, in-process on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/rules.py [--runs 500]

Creates its own database (promo_bench_rules) with a customer who has 40 orders and is in a segment, a
10-product catalog with a collection, and one voucher per scenario: no rules (the baseline), each of five
rules of different kinds alone, and all five together. Each scenario runs promo.services.validate on a
10-line cart --runs times (after a warm-up) and reports ms and queries per validation, and what the rules
add to the baseline. Prints a table.
"""

import argparse
import statistics
import time

from common import bench_database_url, migrate, print_table, recreate_database, setup_django

RULES = {
    "order amount >= 50.00 (order)": {"1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [5000]}}},
    "customer in segment (audience)": {"1": {"name": "customer.segment", "conditions": {"$is": ["SEGMENT"]}}},
    "spent >= 100.00 in 365 days (history)": {"1": {"name": "customer.orders.amount_in_period", "property": "365",
                                                    "conditions": {"$more_than_or_equal": [10000]}}},
    ">= 2 units of collection C (item sub-rule)": {"1": {
        "name": "order.items.any", "conditions": {"$is": [{"object": "products_collection", "id": "COLLECTION"}]},
        "rules": {"1": {"name": "order.items.aggregated_quantity", "conditions": {"$more_than_or_equal": [2]}}}}},
    "< 3 redemptions per customer (limit)": {"1": {"name": "redemption.count.per_customer",
                                                   "conditions": {"$less_than": [3]}}},
}


def seed() -> tuple[dict, dict]:
    import json

    from catalog.models import Product, ProductCollection, ProductCollectionItem
    from customers import services as customer_services
    from promo.models import Campaign, Voucher
    from rules.models import ValidationRule, ValidationRuleAssignment
    from segments import services as segment_services

    products = Product.objects.bulk_create([Product(source_id=f"p{i}", name=f"Product {i}", price=1000 + 137 * i)
                                            for i in range(10)])
    collection = ProductCollection.objects.create(name="C", type="STATIC")
    ProductCollectionItem.objects.bulk_create([ProductCollectionItem(collection=collection, product=p)
                                               for p in products[:5]])
    customer_services.customer_create_or_update({"source_id": "bench-ana", "address": {"city": "London"}})
    for n in range(40):
        customer_services.order_create_or_update({"source_id": f"o{n}", "status": "PAID", "amount": 2500,
                                                  "customer": {"source_id": "bench-ana"}})
    segment = segment_services.segment_create({"name": "Londoners", "filter": {
        "address.city": {"conditions": {"$is": ["London"]}}}})
    campaign = Campaign.objects.create(name="Bench rules", voucher_template={"type": "DISCOUNT_VOUCHER"})
    codes = {}
    scenarios = {"no rules (baseline)": [], **{name: [name] for name in RULES}, "all five rules": list(RULES)}
    for index, (scenario, names) in enumerate(scenarios.items()):
        voucher = Voucher.objects.create(code=f"RULES{index}", campaign=campaign,
                                         discount={"type": "PERCENT", "percent_off": 10})
        for name in names:
            text = json.dumps(RULES[name]).replace("SEGMENT", segment.public_id).replace("COLLECTION",
                                                                                         collection.public_id)
            rule = ValidationRule.objects.create(name=name, rules=json.loads(text))
            ValidationRuleAssignment.objects.create(rule=rule, related_object_type="voucher",
                                                    related_object_id=voucher.public_id)
        codes[scenario] = voucher.code
    cart = {"items": [{"source_id": f"p{i}", "related_object": "product", "quantity": 1 + i % 3,
                       "price": 1000 + 137 * i} for i in range(10)]}
    return codes, cart


def measure(codes: dict, cart: dict, runs: int, rounds: int = 5) -> dict:
    """Scenarios take turns in `rounds` rounds, so that a machine getting busier or quieter during the run
    does not favour one of them. Returns {scenario: (median ms, queries per validation, status)}."""
    from django.db import connection

    from promo import services

    def payload(code: str) -> dict:
        return {"redeemables": [{"object": "voucher", "id": code}], "order": cart,
                "customer": {"source_id": "bench-ana"}}

    for code in codes.values():
        for _ in range(20):
            services.validate(payload(code))
    times = {scenario: [] for scenario in codes}
    queries = dict.fromkeys(codes, 0)
    status = {}
    current = [""]

    def count(execute, sql, params, many, context):
        queries[current[0]] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        for _ in range(rounds):
            for scenario, code in codes.items():
                current[0] = scenario
                for _ in range(runs // rounds):
                    began = time.perf_counter()
                    result = services.validate(payload(code))
                    times[scenario].append(time.perf_counter() - began)
                status[scenario] = result["redeemables"][0]["status"]
    return {scenario: (statistics.median(times[scenario]) * 1000, queries[scenario] / len(times[scenario]),
                       status[scenario]) for scenario in codes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    url = bench_database_url("promo_bench_rules")
    recreate_database(url)
    migrate(url)
    setup_django(url)
    codes, cart = seed()
    results = measure(codes, cart, args.runs)
    base_ms, base_queries, _ = results["no rules (baseline)"]
    rows = [[scenario, status, f"{ms:.2f}", f"{queries:.1f}", f"{ms - base_ms:+.2f}", f"{queries - base_queries:+.1f}"]
            for scenario, (ms, queries, status) in results.items()]
    print_table(f"Validation with rules, in-process on PostgreSQL, 10-line cart, median of {args.runs} runs",
                ["scenario", "status", "ms / validation", "queries / validation", "ms vs baseline",
                 "queries vs baseline"], rows)


if __name__ == "__main__":
    main()
