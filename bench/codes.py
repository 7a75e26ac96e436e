"""Code generation and export: one campaign with 1,000,000 unique codes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/codes.py [--codes 1000000] [--keep]

Creates its own database (promo_bench) from scratch, runs the migrations, creates a campaign and
generates the codes through the production path (POST /v1/campaigns/{id}/vouchers?vouchers_count=N
-> async action CAMPAIGN_VOUCHERS_GENERATE -> COPY into a temp table + INSERT ... ON CONFLICT DO
NOTHING in batches of 50,000, each batch committed with its progress). Then it checks uniqueness,
reads the campaign and a page of its codes through the API, and streams the CSV export.
Prints a table: step, rows, seconds, rows/s, peak RSS MB of this process (generation runs in it:
Celery is eager without a broker).
"""

import argparse
import resource
import time

from common import bench_database_url, migrate, print_table, recreate_database, setup_django


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


class Steps:
    def __init__(self):
        self.rows: list[list] = []

    def run(self, name: str, func, rows_of=lambda result: result):
        began = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - began
        rows = rows_of(result)
        rate = f"{rows / seconds:,.0f}" if rows and seconds else "-"
        self.rows.append([name, f"{rows:,}" if rows else "-", f"{seconds:.2f}", rate, f"{peak_rss_mb():.0f}"])
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the promo_bench database afterwards")
    args = parser.parse_args()

    url = bench_database_url("promo_bench")
    steps = Steps()
    steps.run("create database + migrate", lambda: (recreate_database(url), migrate(url)), lambda _: 0)
    setup_django(url)

    from django.db import connection
    from django.test import Client

    from core import services as core_services
    from core.models import AsyncAction
    from promo import campaigns, codes
    from promo.models import Campaign, Voucher

    issued = core_services.api_key_create(name="bench")
    client = Client(HTTP_X_APP_ID=issued.app_id, HTTP_X_APP_TOKEN=issued.app_token, SERVER_NAME="localhost")

    def create_campaign():
        response = client.post("/v1/campaigns", {
            "name": "Bench codes", "voucher": {"type": "DISCOUNT_VOUCHER",
                                               "discount": {"type": "PERCENT", "percent_off": 10},
                                               "redemption": {"quantity": 1},
                                               "code_config": {"length": 10, "charset": codes.UNAMBIGUOUS,
                                                               "prefix": "BN-"}}},
            content_type="application/json")
        assert response.status_code == 201, response.content
        return Campaign.objects.get(public_id=response.json()["id"])

    campaign = steps.run("create campaign (API)", create_campaign, lambda _: 0)

    def generate():
        response = client.post(f"/v1/campaigns/{campaign.public_id}/vouchers?vouchers_count={args.codes}", {},
                               content_type="application/json")
        assert response.status_code == 202, response.content
        action = AsyncAction.objects.get(public_id=response.json()["async_action_id"])
        assert action.status == "DONE", action.result
        return action.processed

    steps.run(f"generate {args.codes:,} codes (API -> async action)", generate)

    def verify():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(DISTINCT code) FROM promo_voucher WHERE campaign_id = %s",
                           [campaign.pk])
            total, distinct = cursor.fetchone()
        assert total == distinct == args.codes, (total, distinct)
        return total

    steps.run("verify count(DISTINCT code)", verify)

    def api_reads():
        detail = client.get(f"/v1/campaigns/{campaign.public_id}").json()
        assert detail["vouchers_count"] == args.codes
        page = client.get("/v1/vouchers", {"campaign_id": campaign.public_id, "limit": 100}).json()
        assert page["total"] == args.codes and len(page["vouchers"]) == 100
        return 100

    steps.run("API: get campaign + list 100 codes", api_reads)

    def export():
        response = client.get(f"/v1/campaigns/{campaign.public_id}/vouchers/export.csv")
        lines = 0
        size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        assert lines == args.codes + 1, lines
        export.megabytes = size / 1e6
        return lines - 1

    steps.run("export CSV (API, streamed)", export)

    def single_adds():
        for _ in range(200):
            campaigns.voucher_create({}, campaign=campaign)
        return 200

    steps.run("add 200 single codes (service)", single_adds)
    print_table(f"Code generation and export ({Voucher.objects.filter(campaign=campaign).count():,} codes, "
                f"CSV {export.megabytes:.0f} MB)", ["step", "rows", "seconds", "rows/s", "peak RSS MB"], steps.rows)
    connection.close()
    if not args.keep:
        from urllib.parse import urlsplit

        import psycopg

        parts = urlsplit(url)
        with psycopg.connect(f"{parts.scheme}://{parts.netloc}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parts.path[1:]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
