"""Browser tests: Playwright (sync API) driving Debian's headless Chromium against pytest-django's live server.

Without /usr/bin/chromium the tests skip, unless REQUIRE_BROWSER=1 (CI), where they fail.
Playwright's sync API runs an asyncio loop in the test thread, which trips Django's async-unsafe
guard on every ORM call made by the test itself, hence DJANGO_ALLOW_ASYNC_UNSAFE below.
External requests are aborted and recorded: the pages must work offline.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
STAFF_PASSWORD = "browser-test-password"


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} and REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # a broken browser install: same rule as a missing one
        playwright.stop()
        _unavailable(f"Chromium does not start: {exc}")
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def open_page(chromium, live_server):
    """open_page(viewport) -> a page in a fresh context; requests to other hosts than the live server
    are aborted and listed in page.blocked_requests."""
    contexts = []
    server = urlsplit(live_server.url).netloc

    def factory(viewport: dict = DESKTOP):
        context = chromium.new_context(viewport=viewport, device_scale_factor=1,
                                       is_mobile=viewport["width"] < 600, has_touch=viewport["width"] < 600)
        contexts.append(context)
        blocked: list[str] = []

        def guard(route):
            url = route.request.url
            if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == server:
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.blocked_requests = blocked
        return page

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def staff_user(settings, django_user_model):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_superuser(username="staff", email="staff@example.com",
                                                      password=STAFF_PASSWORD)


@pytest.fixture
def admin_login(live_server, staff_user):
    def login(page):
        page.goto(f"{live_server.url}/admin/")
        page.fill("#id_username", staff_user.username)
        page.fill("#id_password", STAFF_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        return page

    return login


@pytest.fixture
def save_screenshot(tmp_path_factory):
    """save_screenshot(page, "admin-index-desktop") -> a PNG in a temporary folder, or in docs/screenshots/
    when UPDATE_SCREENSHOTS=1 (how the docs' pictures are refreshed), so test runs leave the tree clean."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")

    def save(page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 5_000, f"{path} looks empty"
        return path

    return save
