import json

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from core import services
from core.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key. The token is printed once and stored only as a hash."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scope", choices=[c.value for c in ApiKey.Scope], default=ApiKey.Scope.MANAGEMENT)
        parser.add_argument("--json", action="store_true", help='Print {"app_id": ..., "app_token": ...}.')
        parser.add_argument("--category", action="append", default=[],
                            help="Limit the key to this campaign category (id or name); repeat for several.")

    def handle(self, *args, name, scope, **options):
        Category = apps.get_model("promo", "Category")
        categories = []
        for ref in options["category"]:
            found = Category.objects.filter(public_id=ref).first() or Category.objects.filter(name=ref).first()
            if found is None:
                raise CommandError(f"No category {ref!r}")
            categories.append(found)
        issued = services.api_key_create(name=name, scope=scope, categories=categories)
        if options["json"]:
            self.stdout.write(json_dumps({"app_id": issued.app_id, "app_token": issued.app_token}))
        else:
            self.stdout.write(f"X-App-Id:    {issued.app_id}\nX-App-Token: {issued.app_token}\n"
                              "Keep the token now: it cannot be shown again.")


json_dumps = json.dumps
