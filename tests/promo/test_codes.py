"""Code generation: code_config, the code-space check, uniqueness, top-up after collisions, resuming."""

import string
from collections import Counter

import pytest

from core import services as core_services
from core.errors import InvalidPayload
from core.models import AsyncAction
from promo import campaigns, codes
from promo.models import Campaign, Voucher
from tests.promo.factories import CampaignFactory, VoucherFactory


def spec(**config) -> codes.CodeSpec:
    return codes.CodeSpec.from_config(config)


# ---------------------------------------------------------------- code_config

def test_defaults_length_charset_prefix_postfix():
    assert codes.clean_code_config(None) == {"length": 8, "charset": codes.ALPHANUMERIC, "prefix": "",
                                             "postfix": ""}
    config = codes.clean_code_config({"length": 6.0, "charset": "AABBC", "prefix": "X-", "postfix": "-Y"})
    assert config == {"length": 6, "charset": "ABC", "prefix": "X-", "postfix": "-Y"}
    made = codes.random_codes(spec(**config), 200)
    assert all(c.startswith("X-") and c.endswith("-Y") and len(c) == 10 for c in made)
    assert set("".join(c[2:8] for c in made)) == set("ABC")


def test_pattern_overrides_length():
    s = spec(pattern="PRE-##-###%", length=30, charset="0123456789")
    assert s.random_positions == 5
    for code in codes.random_codes(s, 100):
        assert len(code) == 11 and code.startswith("PRE-") and code[6] == "-" and code.endswith("%")
        assert (code[4:6] + code[7:10]).isdigit()
    assert codes.clean_code_config({"pattern": "A#B#"})["length"] == 2


@pytest.mark.parametrize("config", [
    {"length": 0}, {"length": 8.5}, {"length": True}, {"length": "8"}, {"pattern": "NOHASH"}, {"charset": "ab c"},
    {"charset": "ab/"}, {"prefix": "a\tb"}, {"postfix": 5}, {"prefix": "x" * 250, "length": 10}, "not-an-object",
])
def test_bad_code_configs(config):
    with pytest.raises(InvalidPayload):
        codes.clean_code_config(config)


def test_named_charsets():
    assert codes.CHARSETS["numbers"] == string.digits
    assert len(codes.CHARSETS["alphanumeric"]) == 62 and len(codes.CHARSETS["alphabetic"]) == 52
    assert not set("0O1Il") & set(codes.UNAMBIGUOUS)


def test_randomness_covers_the_charset_evenly():
    chars = codes.random_chars("ABCDEFG", 70_000)  # 7 does not divide 256: rejection sampling
    counts = Counter(chars)
    assert set(counts) == set("ABCDEFG") and all(9_400 < n < 10_600 for n in counts.values())
    unicode_chars = codes.random_chars("αβγ", 300)
    assert set(unicode_chars) == set("αβγ") and len(unicode_chars) == 300


# ---------------------------------------------------------------- code space

def test_code_space_check():
    codes.check_code_space(spec(length=8), 1_000)  # 62^8 = 2.2e14 >= 1e12
    with pytest.raises(codes.CodeSpaceTooSmall) as refused:
        codes.check_code_space(spec(length=8), 1_000_000)  # needs 1e15
    assert refused.value.key == "code_space_too_small"
    codes.check_code_space(spec(length=9, charset=string.digits), 1)  # exactly 1e9
    with pytest.raises(codes.CodeSpaceTooSmall):
        codes.check_code_space(spec(length=9, charset=string.digits), 2)
    with pytest.raises(codes.CodeSpaceTooSmall):
        codes.check_code_space(spec(pattern="AB-####", charset=codes.ALPHANUMERIC), 1)  # 62^4 = 1.5e7


# ---------------------------------------------------------------- generation against the database

@pytest.mark.django_db
def test_generate_inserts_exactly_the_requested_unique_codes():
    campaign = CampaignFactory()
    values = codes.shared_values({"campaign": campaign, "discount": {"type": "AMOUNT", "amount_off": 10},
                                  "redemption_quantity": 1})
    done = codes.generate(spec(length=10), 2_500, values, batch_size=1000)
    assert done == 2_500
    stored = list(Voucher.objects.filter(campaign=campaign).values_list("code", "public_id", "redemption_quantity"))
    assert len(stored) == 2_500 and len({c for c, _, _ in stored}) == 2_500
    assert all(pid.startswith("v_") and len(pid) == 26 for _, pid, _ in stored)
    assert {q for _, _, q in stored} == {1}
    voucher = Voucher.objects.filter(campaign=campaign).first()
    assert voucher.discount == {"type": "AMOUNT", "amount_off": 10} and voucher.metadata == {}


@pytest.mark.django_db
def test_collisions_are_topped_up(monkeypatch):
    """Codes that exist already are skipped by the insert and replaced until the count is reached."""
    campaign = CampaignFactory()
    for code in ("AAA", "BBB", "CCC"):
        VoucherFactory(code=code, campaign=None)
    batches = iter([["AAA", "BBB", "NEW1", "NEW1"], ["CCC", "NEW2"], ["NEW3"], ["NEW4"]])
    monkeypatch.setattr(codes, "random_codes", lambda s, n: next(batches)[:max(n, 1)])
    assert codes.generate(spec(length=3), 4, codes.shared_values({"campaign": campaign})) == 4
    assert sorted(Voucher.objects.filter(campaign=campaign).values_list("code", flat=True)) == [
        "NEW1", "NEW2", "NEW3", "NEW4"]


@pytest.mark.django_db
def test_a_used_up_code_space_fails_instead_of_looping(monkeypatch):
    VoucherFactory(code="ONLY", campaign=None)
    monkeypatch.setattr(codes, "random_codes", lambda s, n: ["ONLY"])
    with pytest.raises(codes.CodeSpaceExhausted):
        codes.generate(spec(length=4), 1, codes.shared_values({}))


@pytest.mark.django_db
def test_generation_resumes_after_a_crash(monkeypatch):
    """A crash after some batches: the rerun counts what exists (committed with the progress) and
    generates only the rest."""
    campaign = Campaign.objects.create(name="Resume", voucher_template={
        "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 5}, "code_config": {"length": 12}})
    action = AsyncAction.objects.create(type=campaigns.GENERATE_ACTION,
                                        payload={"campaign": campaign.pk, "count": 2_300})
    real_generate = codes.generate
    monkeypatch.setattr(codes, "BATCH_SIZE", 1000)

    def crash_after_two_batches(spec, count, values, *, done=0, batch_size=1000, on_batch=None, workers=None):
        calls = {"n": 0}

        def hook(inserted):
            on_batch(inserted)
            calls["n"] += 1
            if calls["n"] == 2:
                raise SystemExit("worker killed")  # after the second batch's progress, before its commit ends

        return real_generate(spec, count, values, done=done, batch_size=1000, on_batch=hook, workers=1)

    monkeypatch.setattr(codes, "generate", crash_after_two_batches)
    with pytest.raises(SystemExit):
        core_services.async_action_run(action.pk)
    action.refresh_from_db()
    assert action.status == "IN_PROGRESS" and action.processed == 1000  # the second batch rolled back
    assert Voucher.objects.filter(campaign=campaign).count() == 1000

    monkeypatch.setattr(codes, "generate", real_generate)
    core_services.async_action_run(action.pk)  # redelivered
    action.refresh_from_db()
    assert action.status == "DONE" and action.processed == 2_300
    assert Voucher.objects.filter(campaign=campaign).count() == 2_300
    campaign.refresh_from_db()
    assert campaign.vouchers_generation_status == "DONE"


@pytest.mark.django_db
def test_unique_code_for_single_vouchers(monkeypatch):
    VoucherFactory(code="DUP", campaign=None)
    batches = iter([["DUP"] * 5, ["DUP", "FRESH", "DUP", "DUP", "DUP"]])
    monkeypatch.setattr(codes, "random_codes", lambda s, n: next(batches))
    assert codes.unique_code(spec(length=3)) == "FRESH"


@pytest.mark.django_db
def test_codes_with_backslashes_and_percent_signs_survive_the_insert():
    campaign = CampaignFactory()
    s = codes.CodeSpec(charset="\\%_", pattern="#" * 30, prefix="p\\")
    codes.generate(s, 50, codes.shared_values({"campaign": campaign}))
    stored = list(Voucher.objects.filter(campaign=campaign).values_list("code", flat=True))
    assert len(stored) == 50 and all(c.startswith("p\\") and len(c) == 32 for c in stored)


@pytest.mark.postgres
@pytest.mark.django_db
def test_twenty_thousand_distinct_codes_on_postgres():
    from django.db import connection

    assert connection.vendor == "postgresql"
    campaign = CampaignFactory()
    codes.generate(spec(length=8, charset=codes.UNAMBIGUOUS), 20_000, codes.shared_values({"campaign": campaign}),
                   batch_size=7_000)
    stored = Voucher.objects.filter(campaign=campaign)
    assert stored.count() == 20_000
    assert stored.values("code").distinct().count() == 20_000
    assert len(set(stored.values_list("public_id", flat=True))) == 20_000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_workers_insert_exactly_the_count_on_postgres():
    """Outside a transaction, two connections insert batches at once; the action's count is raised
    conditionally in each batch, so the total is exact and resumable."""
    campaign = Campaign.objects.create(name="Parallel", voucher_template={
        "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 5},
        "code_config": {"length": 9, "charset": codes.UNAMBIGUOUS}})
    action = AsyncAction.objects.create(type=campaigns.GENERATE_ACTION, payload={"campaign": campaign.pk})
    values = codes.shared_values({"campaign": campaign})
    done = codes.generate(spec(length=9, charset=codes.UNAMBIGUOUS), 30_001, values, batch_size=4_000, workers=2,
                          on_batch=lambda n: campaigns._count_generated(action.pk, n, 30_001))
    assert done == 30_001
    stored = Voucher.objects.filter(campaign=campaign)
    assert stored.count() == 30_001 and stored.values("code").distinct().count() == 30_001
    action.refresh_from_db()
    assert action.processed == 30_001 and action.progress == 100
    # A second run of the same action cannot go past the total.
    with pytest.raises(Exception, match="Another worker"):
        codes.generate(spec(length=9), 30_002, values, batch_size=4_000, workers=2, done=30_001,
                       on_batch=lambda n: campaigns._count_generated(action.pk, n, 30_001))
    assert stored.count() == 30_001
