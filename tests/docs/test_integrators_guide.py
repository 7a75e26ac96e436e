"""Run the examples of docs/integrators.md against a live server, so the guide never goes stale."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core import services as core_services
from promo.models import Voucher
from tests.promo.factories import VoucherFactory

pytestmark = pytest.mark.django_db(transaction=True)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integrators.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


@pytest.fixture
def guide_env(live_server):
    issued = core_services.api_key_create(name="guide")
    VoucherFactory(code="SUMMER10", discount={"type": "AMOUNT", "amount_off": 1000}, redemption_quantity=1000)
    return {**os.environ, "BASE_URL": live_server.url, "APP_ID": issued.app_id, "APP_TOKEN": issued.app_token}


def _run_curl(script: str, env: dict) -> dict:
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_curl_walkthrough(guide_env):
    if shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is missing: .ci/run installs it")
        pytest.skip("curl is not installed")
    validate, redeem, rollback = [block for block in _blocks("bash") if "curl" in block]
    validation = _run_curl(validate, guide_env)
    assert validation["valid"] is True, validation
    assert validation["order"]["total_amount"] == 4000
    env = {**guide_env, "SESSION_KEY": validation["session"]["key"]}
    assert Voucher.objects.get(code="SUMMER10").locked_quantity == 1

    redemption = _run_curl(redeem, env)
    assert redemption["parent_redemption"]["result"] == "SUCCESS", redemption
    assert redemption["order"]["total_amount"] == 4000
    again = _run_curl(redeem, env)  # the same Idempotency-Key replays the first answer
    assert again["parent_redemption"]["id"] == redemption["parent_redemption"]["id"]
    voucher = Voucher.objects.get(code="SUMMER10")
    assert (voucher.redeemed_quantity, voucher.locked_quantity) == (1, 0)

    env["PARENT_REDEMPTION_ID"] = redemption["parent_redemption"]["id"]
    rolled = _run_curl(rollback, env)
    assert rolled["parent_rollback"]["reason"] == "order refunded"
    assert Voucher.objects.get(code="SUMMER10").redeemed_quantity == 0


def test_python_sdk_walkthrough(guide_env):
    (script,) = _blocks("python")
    result = subprocess.run([sys.executable, "-c", script], env=guide_env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "to pay: 800" in result.stdout
    assert "rolled back: rr_" in result.stdout
    assert Voucher.objects.get(code="SUMMER10").redeemed_quantity == 0
