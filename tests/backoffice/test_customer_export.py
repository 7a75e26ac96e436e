"""The console's data export link (issue 21) follows the API's rule for views of every category."""

import pytest
from django.urls import reverse

from backoffice import roles
from core.models import AuditEntry
from core.permissions import set_category_access
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_customer_service_gets_the_link_and_the_download(client, make_user):
    customer = CustomerFactory()
    client.force_login(make_user(roles.CUSTOMER_SERVICE))

    page = client.get(reverse("backoffice:customer", kwargs={"ref": customer.public_id}))
    assert b"Download data export" in page.content
    export = client.get(reverse("backoffice:customer_export", kwargs={"ref": customer.public_id}))
    assert export.status_code == 200


def test_staff_limited_to_a_category_get_no_link_and_403(client, make_user, world):
    customer = CustomerFactory()
    user = make_user(roles.CUSTOMER_SERVICE)
    set_category_access(user, world.cat_a, "read_write")
    client.force_login(user)

    page = client.get(reverse("backoffice:customer", kwargs={"ref": customer.public_id}))
    assert page.status_code == 200 and b"Download data export" not in page.content
    export = client.get(reverse("backoffice:customer_export", kwargs={"ref": customer.public_id}))
    assert export.status_code == 403
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()
