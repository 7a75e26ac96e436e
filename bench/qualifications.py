"""Qualifications latency: POST /v1/qualifications with 200 active promotion tiers and a 10-line cart.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/qualifications.py [--seconds 15]

Creates its own database (promo_bench_quals) with 200 active promotion tiers in 10 PROMOTION campaigns
(a realistic mix: order-amount thresholds, customer location, metadata and average-spend rules, item
rules, product-targeted percentages, free samples, free shipping, bundles), 10 promotion stacks, a
customer with 5 codes in the wallet, and 10 products; runs gunicorn (one single-threaded
process per core, as gunicorn.conf.py) against it and drives it with keep-alive clients. Prints a
table. Goal (issue 5): p99 <= 50 ms at 16 clients.

Each scenario runs twice: with the same cart every time (answered from the result cache after the first
request in each process, see QUALIFICATIONS_CACHE_SECONDS) and with a cart never asked before ("new
cart": the first line's price changes with every request, which changes no verdict), which evaluates
every time. The in-process column is CPU time (time.process_time) per request through the Django test
client, for a result-cache hit and for a miss, with the queries of a miss.
"""

import argparse
import itertools
import json
import os
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

TIERS, CAMPAIGNS, STACKS = 200, 10, 10
CART = {"items": [{"source_id": f"bench-{i}", "related_object": "product", "quantity": 1 + i % 3,
                   "price": 1000 + 137 * i} for i in range(10)]}
CUSTOMER = {"source_id": "bench-customer"}


def _tier_definition(i: int) -> tuple[dict, list[dict], list[dict], dict | None]:
    """(discount, rule conditions, applicable_to, bundle_rules) of the i-th tier: ten kinds in turn."""
    product = f"bench-{i % 10}"
    kind = i % 10
    if kind == 0:
        return {"type": "AMOUNT", "amount_off": 500 + i}, [
            {"name": "order.amount", "conditions": {"$more_than_or_equal": [5000 + 100 * i]}}], [], None
    if kind == 1:
        return {"type": "PERCENT", "percent_off": 5 + i % 20, "effect": "APPLY_TO_ITEMS"}, [], [
            {"object": "product", "id": product}], None
    if kind == 2:
        return {"type": "PERCENT", "percent_off": 10}, [
            {"name": "customer.address.country", "conditions": {"$in": ["PL", "DE"] if i % 20 else ["FR"]}}], [], None
    if kind == 3:
        return {"type": "AMOUNT", "amount_off": 300}, [
            {"name": "customer.metadata", "property": "loyalty_tier", "conditions": {"$is": ["gold" if i % 20 else
                                                                                             "silver"]}}], [], None
    if kind == 4:
        return {"type": "AMOUNT", "amount_off": 200}, [
            {"name": "order.items.any", "conditions": {"$is": [{"object": "product", "id": product}]}}], [], None
    if kind == 5:
        return {"type": "UNIT", "unit_off": 1, "unit_type": "bench-sample", "effect": "ADD_MISSING_ITEMS"}, [
            {"name": "order.amount", "conditions": {"$more_than": [20000]}}], [], None
    if kind == 6:
        return {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng", "effect": "ADD_MISSING_ITEMS"}, [
            {"name": "order.items.count", "conditions": {"$more_than_or_equal": [3 + i % 30]}}], [], None
    if kind == 7:
        return {"type": "FIXED", "fixed_amount": 2000}, [], [], {
            "items": [{"object": "product", "id": product, "quantity": 1},
                      {"object": "product", "id": f"bench-{(i + 1) % 10}", "quantity": 1}]}
    if kind == 8:
        return {"type": "PERCENT", "percent_off": 15}, [
            {"name": "customer.orders.average_amount", "conditions": {"$more_than_or_equal": [5000]}},
            {"name": "order.amount", "conditions": {"$less_than": [100000]}}], [], None
    return {"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS_PROPORTIONALLY"}, [
        {"name": "order.items.count", "conditions": {"$more_than": [100]}}], [{"object": "product", "id": product}], \
        None


def seed() -> dict:
    from catalog.models import Product
    from core import services
    from customers.models import Customer
    from promo.models import Campaign, PromotionStack, PromotionTier, Voucher
    from rules.models import ValidationRule, ValidationRuleAssignment

    Product.objects.bulk_create([Product(source_id=f"bench-{i}", name=f"Product {i}", price=1000 + 137 * i)
                                 for i in range(10)] + [Product(source_id="bench-sample", name="Sample", price=300)])
    customer = Customer.objects.create(source_id=CUSTOMER["source_id"], address_country="PL",
                                       metadata={"loyalty_tier": "gold"}, orders_total_count=3,
                                       orders_total_amount=24000)
    campaigns = [Campaign.objects.create(name=f"Bench promotions {c}", campaign_type="PROMOTION")
                 for c in range(CAMPAIGNS)]
    tiers = []
    for i in range(TIERS):
        discount, conditions, applicable_to, bundle = _tier_definition(i)
        created = PromotionTier.objects.create(campaign=campaigns[i % CAMPAIGNS], name=f"Tier {i}",
                                               action={"discount": discount}, hierarchy=i // CAMPAIGNS + 1)
        tiers.append(created)
        if conditions or applicable_to or bundle:
            rules = {str(n + 1): {"name": c["name"], "property": c.get("property"), "conditions": c["conditions"],
                                  "rules": {}} for n, c in enumerate(conditions)}
            rule = ValidationRule.objects.create(name=f"Rule {i}", rules=rules, applicable_to=applicable_to,
                                                 bundle_rules=bundle)
            ValidationRuleAssignment.objects.create(rule=rule, related_object_type="promotion_tier",
                                                    related_object_id=created.public_id)
    for s in range(STACKS):
        members = [t.public_id for t in tiers if t.campaign_id == campaigns[s].pk][:3]
        PromotionStack.objects.create(campaign=campaigns[s], name=f"Stack {s}", tier_ids=members)
    coupons = Campaign.objects.create(name="Bench wallet", voucher_template={"type": "DISCOUNT_VOUCHER"})
    for n in range(5):
        Voucher.objects.create(code=f"WALLET-{n}", campaign=coupons, holder=customer,
                               discount={"type": "AMOUNT", "amount_off": 100 * (n + 1)})
    issued = services.api_key_create(name="bench")
    return {"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}


_UNIQUE = itertools.count()  # new carts asked in this process


def new_cart(body: dict, unique: int) -> dict:
    """The same request with a cart not asked before (within 4999 requests): only the first line's price
    changes, by less than 50.00, which changes no verdict of the seeded tiers."""
    items = [dict(item) for item in body["order"]["items"]]
    items[0]["price"] = items[0]["price"] + 1 + unique % 4999
    return {**body, "order": {**body["order"], "items": items}}


def in_process(headers: dict, body: dict, rounds: int = 100) -> tuple[float, float, int]:
    """CPU milliseconds of one qualification inside this process (no HTTP server), answered from the result
    cache and evaluated (a new cart each time), the lowest of 4 batches each; and the queries of one evaluated."""
    from django.db import connection, reset_queries
    from django.test import Client

    client = Client(headers=headers, HTTP_HOST="127.0.0.1")

    def post(payload: dict) -> None:
        response = client.post("/v1/qualifications", json.dumps(payload), content_type="application/json")
        assert response.status_code == 200, response.content

    def cpu(make) -> float:
        batches = []
        for _ in range(4):
            begin = time.process_time()
            for _ in range(rounds // 4):
                post(make())
            batches.append((time.process_time() - begin) * 1000 / (rounds // 4))
        return min(batches)

    post(body)
    cached = cpu(lambda: body)
    evaluated = cpu(lambda: new_cart(body, next(_UNIQUE)))
    connection.force_debug_cursor = True
    reset_queries()
    post(new_cart(body, next(_UNIQUE)))
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    return cached, evaluated, queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn worker processes")
    parser.add_argument("--rate", type=int, default=100, help="pace of the paced scenario (requests/s)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    args = parser.parse_args()
    url = bench_database_url("promo_bench_quals")
    recreate_database(url)
    migrate(url)
    setup_django(url)
    headers = seed()
    bodies = {
        "ALL, BEST_DEAL, limit 5": {"customer": CUSTOMER, "order": CART, "scenario": "ALL",
                                    "options": {"limit": 5, "sorting_rule": "BEST_DEAL"}},
        "ALL, DEFAULT, limit 50": {"customer": CUSTOMER, "order": CART, "options": {"limit": 50}},
        "PRODUCTS_DISCOUNT_BY_CUSTOMER": {"customer": CUSTOMER, "order": CART,
                                          "scenario": "PRODUCTS_DISCOUNT_BY_CUSTOMER"},
        "PROMOTION_STACKS": {"customer": CUSTOMER, "order": CART, "scenario": "PROMOTION_STACKS"},
    }
    in_process(headers, bodies["ALL, BEST_DEAL, limit 5"], rounds=4)  # warm caches
    local = {name: in_process(headers, body) for name, body in bodies.items()}
    results: list = []
    trivial = None
    load_before, stalls = machine_load(), cpu_stalls()
    with gunicorn(url, workers=args.workers, threads=args.threads) as port:
        warm = bodies["ALL, BEST_DEAL, limit 5"]
        run_load("warm-up", port, 4, 2, lambda c, n: ("POST", "/v1/qualifications", warm), headers)
        trivial = run_load("trivial DRF endpoint (GET /v1/health)", port, args.clients, args.seconds,
                           lambda c, n: ("GET", "/v1/health", None), headers)
        for name, body in bodies.items():
            results.append((name, "same cart", run_load(
                f"qualifications {name}", port, args.clients, args.seconds,
                lambda c, n, body=body: ("POST", "/v1/qualifications", body), headers)))
            results.append((name, "new cart", run_load(
                f"qualifications {name}, new cart", port, args.clients, args.seconds,
                lambda c, n, body=body: ("POST", "/v1/qualifications", new_cart(body, n * args.clients + c)),
                headers)))
        best = bodies["ALL, BEST_DEAL, limit 5"]
        results.append(("ALL, BEST_DEAL, limit 5", "new cart", run_load(
            f"qualifications ALL, BEST_DEAL, limit 5, new cart, at {args.rate}/s", port, args.clients, args.seconds,
            lambda c, n: ("POST", "/v1/qualifications", new_cart(best, n * args.clients + c)), headers,
            rate=args.rate)))
    rows = [[trivial.name, trivial.clients, trivial.count, trivial.statuses.get(200, 0),
             trivial.count - trivial.statuses.get(200, 0), f"{trivial.rate:.0f}", f"{trivial.percentile(50):.1f}",
             f"{trivial.percentile(95):.1f}", f"{trivial.percentile(99):.1f}", "-"]]
    for name, kind, result in results:
        ok = result.statuses.get(200, 0)
        in_proc = local.get(name)
        if in_proc is None:
            shown = "-"
        elif kind == "same cart":
            shown = f"{in_proc[0]:.1f} (cache hit)"
        else:
            shown = f"{in_proc[1]:.1f} / {in_proc[2]}"
        rows.append([result.name, result.clients, result.count, ok, result.count - ok, f"{result.rate:.0f}",
                     f"{result.percentile(50):.1f}", f"{result.percentile(95):.1f}", f"{result.percentile(99):.1f}",
                     shown])
    print_table(f"Qualifications on PostgreSQL: {TIERS} active promotion tiers in {CAMPAIGNS} campaigns, {STACKS} "
                f"stacks, 5 wallet codes, 10-line cart; {args.seconds:.0f} s per scenario, gunicorn {args.workers} "
                f"workers x {args.threads} threads, load generator {load_generator()}, load average {load_before} "
                f"before and {machine_load()} after; {stalls}",
                ["scenario", "clients", "requests", "200", "other", "req/s", "p50 ms", "p95 ms", "p99 ms",
                 "in-process CPU ms / queries"], rows)


if __name__ == "__main__":
    main()
