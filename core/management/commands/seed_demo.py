import logging
import os

from django.core.management.base import BaseCommand, CommandError

from core import demo

SUMMARY_ROWS = [("customers", "Customers"), ("products", "Products"), ("skus", "SKUs"),
                ("collections", "Product collections"), ("orders", "Orders"), ("order_items", "Order items"),
                ("events", "Custom events")]
CAMPAIGN_ROWS = [("segments", "Segments"), ("segment_members", "Segment members"), ("campaigns", "Campaigns"),
                 ("vouchers", "Codes"), ("promotion_tiers", "Promotion tiers"), ("gift_cards", "Gift cards"),
                 ("gift_card_transactions", "Gift card movements"), ("redemptions", "Redemptions"),
                 ("failed_redemptions", "Failed redemptions"), ("rolled_back", "Rolled back")]


class Command(BaseCommand):
    help = ("Create demo data (customers, catalog, orders, events; campaigns, segments, gift cards and redemptions), "
            "a local superuser, a staff user per back-office role and an API key. Idempotent: existing demo data "
            "(source_id prefix 'demo-', campaigns with metadata.demo) is kept unless --reset.")

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1000)
        parser.add_argument("--products", type=int, default=100)
        parser.add_argument("--orders", type=int, default=3000)
        parser.add_argument("--events", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42, help="Random seed: the same seed gives the same data.")
        parser.add_argument("--reset", action="store_true", help="Delete the demo data first, then create it again.")
        parser.add_argument("--admin-password", default=None,
                            help="Password of the 'admin' superuser if it is created "
                                 "(default: $DEMO_ADMIN_PASSWORD, else 'admin').")
        parser.add_argument("--no-campaigns", action="store_true",
                            help="Only customers, catalog, orders and events: no campaigns, segments, gift cards "
                                 "or redemptions.")
        parser.add_argument("--redemptions", type=int, default=250,
                            help="How many checkouts the demo customers attempt with the demo campaigns.")
        parser.add_argument("--no-role-users", action="store_true",
                            help="Do not create the staff users of the back-office roles (marketer, junior, ...).")
        parser.add_argument("--role-password", default=None,
                            help="Password of the role users if they are created "
                                 "(default: $DEMO_ROLE_PASSWORD, else 'demo').")
        parser.add_argument("--new-key", action="store_true",
                            help="Always create a new 'demo' API key, even if an active one exists.")

    def handle(self, *args, **options):
        # Code generation and segment recomputes run inline without a broker: keep their task logs out of the way.
        for name, level in (("celery", logging.WARNING), ("kombu", logging.ERROR)):
            logging.getLogger(name).setLevel(level)
        try:
            summary = demo.seed_demo(customers=options["customers"], products=options["products"],
                                     orders=options["orders"], events=options["events"], seed=options["seed"],
                                     reset=options["reset"], campaigns=not options["no_campaigns"],
                                     redemptions=options["redemptions"])
        except (ValueError, demo.DemoDataError) as exc:
            raise CommandError(str(exc))

        if summary["deleted"] is not None:
            self.stdout.write("Deleted the previous demo data: "
                              + ", ".join(f"{n} {key}" for key, n in summary["deleted"].items()))
        if summary["skipped"]:
            self.stdout.write(self.style.WARNING("Demo data already present: nothing created "
                                                 "(use --reset to recreate it)."))
        title = "Present" if summary["skipped"] else "Created"
        self.stdout.write(f"\n{'':2}{title:<22}{'rows':>8}")
        for key, label in SUMMARY_ROWS:
            self.stdout.write(f"{'':2}{label:<22}{summary[key]:>8}")
        campaigns = summary["campaigns"]
        if campaigns is not None:
            if campaigns["skipped"]:
                self.stdout.write(f"{'':2}{'(campaigns already present)':<30}")
            for key, label in CAMPAIGN_ROWS:
                if key in campaigns:
                    self.stdout.write(f"{'':2}{label:<22}{campaigns[key]:>8}")
        self.stdout.write(f"{'':2}{'Time (s)':<22}{summary['seconds']:>8}\n")

        password = options["admin_password"] or os.environ.get("DEMO_ADMIN_PASSWORD") or "admin"
        if demo.ensure_demo_superuser(password=password):
            self.stdout.write(self.style.WARNING(
                "Created superuser 'admin' for /admin/. For local use only: change the password "
                "(manage.py changepassword admin) before exposing this server."))
        else:
            self.stdout.write("Superuser 'admin' exists: left unchanged.")

        if not options["no_role_users"]:
            users = demo.ensure_demo_role_users(password=options["role_password"]
                                                or os.environ.get("DEMO_ROLE_PASSWORD") or "demo")
            created = [(name, role, secret) for name, role, secret in users if secret is not None]
            if created:
                self.stdout.write(self.style.WARNING(
                    "Created staff users for the back-office roles (user / password). For local use only: change "
                    "the passwords (manage.py changepassword USER) before exposing this server."))
                for name, role, secret in created:
                    self.stdout.write(f"{'':2}{role:<18}{name} / {secret}")
            existing_users = [name for name, _role, secret in users if secret is None]
            if existing_users:
                self.stdout.write(f"Role users {', '.join(existing_users)} exist: left unchanged.")

        issued, existing = demo.ensure_demo_api_key(new=options["new_key"])
        if issued is not None:
            self.stdout.write(f"API key '{demo.DEMO_KEY_NAME}' created:\n"
                              f"X-App-Id:    {issued.app_id}\nX-App-Token: {issued.app_token}\n"
                              "Keep the token now: it cannot be shown again.")
        else:
            self.stdout.write(f"An active API key '{demo.DEMO_KEY_NAME}' exists (X-App-Id {existing.app_id}); "
                              "its token cannot be shown again. Create another with "
                              "`manage.py seed_demo --new-key` or `manage.py create_api_key NAME --json`.")
