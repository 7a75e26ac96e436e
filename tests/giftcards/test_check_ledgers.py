"""manage.py check_ledgers (run by the restore drill, ops/restore_drill.sh): passes when every gift card
ledger balances and the row counts match the source, fails loudly otherwise."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from giftcards.models import GiftCard
from tests.giftcards.factories import gift_card

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("check_ledgers", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_balanced_ledgers_pass():
    gift_card("GC-1", 5000)
    assert "Gift cards: 1, mismatches: 0" in _run()


def test_a_balance_that_is_not_its_ledger_fails():
    card = gift_card("GC-1", 5000)
    GiftCard.objects.filter(pk=card.pk).update(amount=F("amount") + 100, balance=F("balance") + 100)
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("check_ledgers", stdout=StringIO(), stderr=err)
    assert "card GC-1: balance 5100, ledger sum 5000" in err.getvalue()


def test_row_counts_are_compared_with_the_source(tmp_path):
    gift_card("GC-1", 5000)
    counts = tmp_path / "counts.json"
    _run("--counts-out", str(counts))
    assert json.loads(counts.read_text())["giftcards_giftcard"] == 1
    assert "Every ledger balances." in _run("--expect-counts", str(counts))
    gift_card("GC-2", 5000)  # the restored copy differs from its source
    with pytest.raises(CommandError):
        _run("--expect-counts", str(counts))
