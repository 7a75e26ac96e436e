from django.core.management.base import BaseCommand

from backoffice.roles import sync_roles


class Command(BaseCommand):
    help = ("Create the back-office roles (Admin, Marketer, Junior Marketer, Customer Service, Analyst, Partner) "
            "as groups and give them their permissions. Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true",
                            help="Also take away permissions a role's group has beyond its definition.")

    def handle(self, *args, reset=False, **options):
        for role, counts in sync_roles(reset=reset).items():
            self.stdout.write(f"{role}: {counts['permissions']} permissions (+{counts['added']} "
                              f"-{counts['removed']})")
