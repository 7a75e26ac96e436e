"""The official Voucherify Python SDK (voucherify==6.1.1) pointed at a live test server."""

import pytest

from core import services


@pytest.fixture
def sdk_client(live_server):
    import voucherify

    issued = services.api_key_create(name="sdk test key")
    config = voucherify.Configuration(
        host=live_server.url, api_key={"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}
    )
    with voucherify.ApiClient(config) as client:
        yield client
        # Close keep-alive connections before the live server's database goes away.
        client.rest_client.pool_manager.clear()
