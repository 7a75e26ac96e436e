"""The segment admin: the count preview before saving, create/edit through the services, members, and
"Recompute now" with its progress page."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from core.models import AsyncAction
from segments.models import Segment
from tests.segments.conftest import customer, members

pytestmark = pytest.mark.django_db

LONDON = '{"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}}'


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456789")
    client = Client()
    client.force_login(user)
    return client


def preview(client, filter_text):
    return client.post("/admin/segments/segment/preview-count/", json.dumps({"filter": filter_text}),
                       content_type="application/json")


def test_preview_counts_before_saving(staff):
    customer("ana", address={"city": "London"})
    customer("ben", address={"city": "London"})
    customer("cy", address={"city": "Leeds"})
    assert preview(staff, LONDON).json() == {"count": 2}
    bad = preview(staff, '{"junction": "and", "shoe_size": {"conditions": {"$is": [1]}}}')
    assert bad.status_code == 400 and "unknown filter field" in bad.json()["error"]
    assert preview(staff, "{not json").json() == {"error": "The filter is not valid JSON."}
    assert staff.get("/admin/segments/segment/preview-count/").status_code == 405
    assert not Segment.objects.exists()  # previewing saves nothing


def test_preview_is_staff_only(client):
    response = client.post("/admin/segments/segment/preview-count/", "{}", content_type="application/json")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_create_dynamic_and_static_segments_in_the_admin(staff, django_capture_on_commit_callbacks):
    customer("ana", address={"city": "London"})
    customer("ben", address={"city": "Leeds"})
    page = staff.get("/admin/segments/segment/add/")
    assert page.status_code == 200 and b"Preview count" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/admin/segments/segment/add/", {"name": "Londoners", "type": "auto-update",
                                                              "filter": LONDON, "add_customers": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    dynamic = Segment.objects.get(name="Londoners")
    assert members(dynamic) == {"ana"} and dynamic.initial_sync_status == "DONE"
    response = staff.post("/admin/segments/segment/add/", {"name": "VIP", "type": "static", "filter": "",
                                                          "add_customers": "ana\nben"})
    assert response.status_code == 302
    static = Segment.objects.get(name="VIP")
    assert members(static) == {"ana", "ben"}
    # Editing: remove a member of the static segment; the change page lists the members.
    response = staff.post(f"/admin/segments/segment/{static.pk}/change/", {
        "name": "VIP", "filter": "", "add_customers": "", "remove_customers": "ben"})
    assert response.status_code == 302 and members(static) == {"ana"}
    page = staff.get(f"/admin/segments/segment/{dynamic.pk}/change/")
    assert page.status_code == 200 and b"segment-members" in page.content and b"Recompute now" in page.content
    assert staff.get("/admin/segments/segment/").status_code == 200
    assert staff.get("/admin/segments/segmentmembership/", {"left": "open"}).status_code == 200
    assert staff.get("/admin/segments/segmentevent/").status_code == 200


def test_form_refuses_bad_filters(staff):
    response = staff.post("/admin/segments/segment/add/", {"name": "Bad", "type": "auto-update",
                                                          "filter": '{"shoe_size": {"conditions": {"$is": [1]}}}'})
    assert response.status_code == 200 and "unknown filter field" in str(response.context["adminform"].form.errors)
    response = staff.post("/admin/segments/segment/add/", {"name": "Bad", "type": "auto-update", "filter": ""})
    assert "A filter is required" in str(response.context["adminform"].form.errors)
    assert not Segment.objects.exists()


def test_recompute_now_shows_progress(staff, django_capture_on_commit_callbacks):
    customer("ana", address={"city": "London"})
    with django_capture_on_commit_callbacks(execute=True):
        staff.post("/admin/segments/segment/add/", {"name": "Londoners", "type": "auto-update", "filter": LONDON})
    segment = Segment.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/admin/segments/segment/{segment.pk}/recompute/")
    assert response.status_code == 302
    action = AsyncAction.objects.filter(type="SEGMENT_RECOMPUTE").first()
    assert response["Location"].endswith(f"/progress/{action.public_id}/")
    page = staff.get(response["Location"])
    assert page.status_code == 200 and b"segment-progress-bar" in page.content
    status = staff.get(f"/admin/segments/segment/progress/{action.public_id}.json").json()
    assert status["status"] == "DONE" and status["progress"] == 100 and status["result"]["members"] == 1
    # The list action does the same for the selected segments.
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/admin/segments/segment/", {"action": "recompute_now", "_selected_action": [segment.pk]})
    assert response.status_code == 302 and "/progress/" in response["Location"]
    assert staff.get(f"/admin/segments/segment/{segment.pk}/recompute/").status_code == 405
