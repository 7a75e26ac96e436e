"""The webhook admin: create through the services (the secret shown once), "Send test event",
deliveries read-only with "Retry now"."""

import pytest

from distribution import services
from distribution.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_client):
    return admin_client  # pytest-django's logged-in superuser


def test_create_shows_the_secret_once_and_validates(staff, receiver):
    form = {"url": receiver.url + "/hook", "event_types_text": "campaign.*\nvoucher.budget_exhausted",
            "description": "ERP", "active": "on",
            "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"}
    bad = staff.post("/admin/distribution/webhookendpoint/add/", {**form, "event_types_text": "nope"})
    assert bad.status_code == 200 and b"unknown event type" in bad.content
    insecure = staff.post("/admin/distribution/webhookendpoint/add/", {**form, "url": "http://example.com/x"})
    assert insecure.status_code == 200 and b"https only" in insecure.content
    assert not WebhookEndpoint.objects.exists()

    response = staff.post("/admin/distribution/webhookendpoint/add/", form, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["campaign.*", "voucher.budget_exhausted"]
    assert endpoint.secret.encode() in response.content  # shown in the message, once
    page = staff.get(f"/admin/distribution/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200 and endpoint.secret.encode() not in page.content

    edit = staff.post(f"/admin/distribution/webhookendpoint/{endpoint.pk}/change/",
                      {**form, "event_types_text": "*", "active": ""})
    assert edit.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.event_types, endpoint.active) == (["*"], False)


def test_send_test_event_and_retry_actions(staff, receiver, django_capture_on_commit_callbacks):
    endpoint = services.endpoint_create(url=receiver.url, event_types=["campaign.budget_exhausted"])
    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/admin/distribution/webhookendpoint/", {"action": "send_test_event",
                                                             "_selected_action": [endpoint.pk]})
    [received] = receiver.requests
    assert received.json["type"] == "webhook.ping"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "SUCCEEDED"

    listing = staff.get("/admin/distribution/webhookdelivery/")
    assert listing.status_code == 200 and delivery.public_id.encode() in listing.content
    assert staff.get(f"/admin/distribution/webhookdelivery/{delivery.pk}/change/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/admin/distribution/webhookdelivery/", {"action": "retry_now", "_selected_action": [delivery.pk]})
    assert len(receiver.requests) == 2
    assert WebhookDelivery.objects.get().attempts == 2
    assert staff.get(f"/admin/distribution/webhookendpoint/{endpoint.pk}/change/").status_code == 200


def test_rotate_secret(staff):
    endpoint = services.endpoint_create(url="https://hooks.example.com/x")
    old = endpoint.secret
    response = staff.post("/admin/distribution/webhookendpoint/", {"action": "rotate_secret",
                                                                   "_selected_action": [endpoint.pk]}, follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.encode() in response.content
