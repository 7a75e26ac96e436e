"""Check that every ledger balances (each gift card's balance is the sum of its movements, its temporary
credit within it: giftcards.selectors.reconciliation, the reconciliation endpoint's report), and
optionally that a restored database holds as many rows as its source. Used by the restore drill
(ops/restore_drill.sh) and after any incident; exits non-zero when something is wrong."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from giftcards import selectors


def table_counts() -> dict[str, int]:
    """Rows of every table of the database (exact counts; fine for a drill, slow on a huge database)."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


class Command(BaseCommand):
    help = "Check that every gift card ledger balances; compare table row counts with a source."

    def add_arguments(self, parser):
        parser.add_argument("--counts-out", type=Path, help="Write every table's row count to this JSON file.")
        parser.add_argument("--expect-counts", type=Path,
                            help="Fail unless every table has the row count in this JSON file (from --counts-out).")

    def handle(self, *args, counts_out=None, expect_counts=None, **options):
        problems = self._ledger_problems()
        if counts_out or expect_counts:
            counts = table_counts()
            self.stdout.write(f"Tables: {len(counts)}, rows: {sum(counts.values())}")
            if counts_out:
                counts_out.write_text(json.dumps(counts, indent=1, sort_keys=True))
            if expect_counts:
                problems += self._count_problems(json.loads(expect_counts.read_text()), counts)
        if problems:
            for problem in problems:
                self.stderr.write(f"  {problem}")
            raise CommandError(f"{len(problems)} problem(s): the ledgers or the data do not match")
        self.stdout.write(self.style.SUCCESS("Every ledger balances."))

    def _ledger_problems(self) -> list[str]:
        report = selectors.reconciliation(limit=20)
        self.stdout.write(f"Gift cards: {report['cards']}, mismatches: {len(report['mismatches'])}")
        return [f"card {m['code']}: balance {m['balance']}, ledger sum {m['ledger_sum']}, temporary credit "
                f"{m['temporary_credit']}" for m in report["mismatches"]]

    @staticmethod
    def _count_problems(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
        return [f"table {table}: {expected.get(table, 'missing')} rows in the source, "
                f"{actual.get(table, 'missing')} here"
                for table in sorted(expected.keys() | actual.keys()) if expected.get(table) != actual.get(table)]
