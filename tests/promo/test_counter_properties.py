"""Random sequences of redeem / roll back / lock / release against one limited code: the voucher's
counters always equal what the redemption and lock rows say, and never pass the limit."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ApiError
from promo import services
from promo.models import Redemption, SessionLock, Voucher
from tests.promo.factories import VoucherFactory

CART = {"amount": 1000, "items": [{"source_id": "x", "related_object": "product", "quantity": 1, "price": 1000}]}
steps = st.lists(st.sampled_from(["redeem", "rollback", "lock", "redeem_locked", "release"]), min_size=1, max_size=25)


def payload(**extra):
    return {"redeemables": [{"object": "voucher", "id": "PROP"}], "order": CART, **extra}


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, limit=st.integers(1, 4))
def test_counters_match_the_rows(steps, limit):
    Voucher.objects.filter(code="PROP").delete()
    voucher = VoucherFactory(code="PROP", redemption_quantity=limit)
    parents, sessions = [], []
    for step in steps:
        try:
            if step == "redeem":
                parents.append(services.redeem(payload())["parent_redemption"]["id"])
            elif step == "rollback" and parents:
                services.rollback(parents.pop(0))
            elif step == "lock":
                answer = services.validate(payload(session={"type": "LOCK"}))
                if answer["valid"]:
                    sessions.append(answer["session"]["key"])
            elif step == "redeem_locked" and sessions:
                parents.append(services.redeem(payload(session={"key": sessions.pop(0)}))["parent_redemption"]["id"])
            elif step == "release" and sessions:
                services.session_release("PROP", sessions.pop(0))
        except ApiError as refused:
            assert refused.key == "quantity_exceeded", refused.key
        voucher.refresh_from_db()
        live = Redemption.objects.filter(voucher=voucher, result="SUCCESS", status="SUCCEEDED").count()
        assert voucher.redeemed_quantity == live
        assert voucher.locked_quantity == SessionLock.objects.filter(voucher=voucher).count()
        assert voucher.redeemed_quantity + voucher.locked_quantity <= limit
