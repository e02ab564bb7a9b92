"""Browser tests: Playwright (sync API) drives Debian's Chromium against pytest-django's live server.

Playwright's own browser download is never used. Without /usr/bin/chromium the tests skip, unless
CONVOSCOPE_REQUIRE_BROWSER is set (CI sets it): then they fail, because a browser suite that
silently skipped would prove nothing.

One browser serves every test of this package; each test gets a fresh context (cookies, storage)
and a page that records JavaScript errors. A test fails if its page logged any.

Playwright's sync API and Django:

- While Playwright runs, an asyncio loop counts as running in this thread, so Django refuses
  ORM calls with SynchronousOnlyOperation. DJANGO_ALLOW_ASYNC_UNSAFE lifts that check (the
  approach Playwright documents for Django tests). It is set only while the browser runs, not
  at import time: this file is imported by every full run, and the rest of the suite should
  keep Django's check.
- For the same reason the browser lives for this package, not the whole session: a loop still
  "running" after the last browser test would break the async SDK tests that run later in the
  same session (asyncio refuses to start a loop inside a running one).
- With that loop running, Django also keeps its connections per async context, which is why
  the role groups are re-created per test rather than restored by serialized rollback.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from dashboard.roles import ROLE_PERMISSIONS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# axe-core's built file, vendored from npm (axe-core@4.14.1, MPL-2.0; its LICENSE beside it).
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
# The sizes every page is looked at in: a laptop and a phone.
DESKTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}
# Long enough for a slow CI machine, short enough that a missing element fails in seconds.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(config, items):
    """Every test here carries the `browser` marker, so `-m "not browser"` leaves them all out."""
    here = Path(__file__).parent
    unmarked = [item.nodeid for item in items
                if item.path.is_relative_to(here) and not item.get_closest_marker("browser")]
    if unmarked:
        raise pytest.UsageError("browser tests without @pytest.mark.browser: " + ", ".join(unmarked))


def _unavailable(reason: str):
    if os.environ.get("CONVOSCOPE_REQUIRE_BROWSER"):
        pytest.fail(f"CONVOSCOPE_REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for every test of this package."""
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with pytest.MonkeyPatch.context() as env, sync_playwright() as playwright:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Every test logs in through the form: a fast hasher keeps that from costing a second each.
    The live server runs in this process, so it sees the setting too."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _live_database(live_server):
    """Every browser test runs against the live server, which only sees committed rows.

    The live server implies a transactional database, flushed after each test, and a flush also
    empties the role groups that a data migration made (dashboard/migrations/0001_roles.py).
    Serialized rollback cannot put them back here: once Playwright's loop runs, Django keeps
    its connections per async context, and the connection holding the serialized data is not
    the one the test case then checks. So make the groups again, from the table the migration
    reads.
    """
    from django.contrib.auth.models import Group, Permission

    for role, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in (permission.split(".") for permission in permissions)
        ])


@dataclass
class Console:
    """A logged-out browser tab on the live server, plus what went wrong in it."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def log_in(self, user, next_path: str = "/") -> None:
        """Log in through the real login form, as a person would."""
        page = self.page
        page.goto(self.url("/accounts/login/?" + urlencode({"next": next_path})))
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill("pw-" + user.get_username())
        page.get_by_role("button", name="Log in").click()
        # The header names the user once the session cookie is set and `next` has loaded.
        expect(page.get_by_role("button", name=f"Log out {user.get_username()}")).to_be_visible()
        assert urlsplit(page.url).path == urlsplit(next_path).path

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot as a test artifact (test-artifacts/screenshots/NAME.png)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def axe_violations(self) -> list[str]:
        """axe-core's WCAG 2.x A/AA violations on the current page, one line each ("rule: where").
        The script runs through the DevTools protocol, so the page's CSP (no inline script) stays on."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        results = self.page.evaluate(
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
        return [f"{v['id']}: {v['help']} — " + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                for v in results["violations"]]

    def looks(self, name: str, *, themes=("light", "dark"),
              sizes=(("desktop", DESKTOP), ("phone", PHONE))) -> list[str]:
        """Screenshots of the current page in each theme and size (NAME-THEME-SIZE.png), and the
        axe violations found in each theme at desktop size ("theme: violation")."""
        violations = []
        for theme in themes:
            self.page.emulate_media(color_scheme=theme)
            for size_name, size in sizes:
                self.page.set_viewport_size(size)
                self.screenshot(f"{name}-{theme}-{size_name}")
            self.page.set_viewport_size(DESKTOP)
            violations += [f"{theme}: {v}" for v in self.axe_violations()]
        return violations


def _describe_console_message(message) -> str:
    location = message.location or {}
    where = f" ({location.get('url', '')}:{location.get('lineNumber', '')})" if location.get("url") else ""
    return f"console.{message.type}: {message.text}{where}"


@contextmanager
def _open_console(browser, live_server, **context_options) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US",
                                  timezone_id="Europe/Paris", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    session = Console(page=page, base_url=live_server.url)
    page.on("pageerror", lambda error: session.errors.append(f"uncaught {error.name}: {error.message}"))
    page.on("console", lambda message: message.type == "error"
            and session.errors.append(_describe_console_message(message)))
    try:
        yield session
    finally:
        context.close()
    assert not session.errors, "JavaScript errors in the page:\n" + "\n".join(session.errors)


@pytest.fixture
def console(browser, live_server) -> Iterator[Console]:
    """A fresh browser context and page for one test; fails the test on any JavaScript error.

    Both uncaught exceptions (`pageerror`) and console messages of type "error" (which include
    failed resource loads and htmx's own error reports) count; none is ignored.
    """
    with _open_console(browser, live_server) as session:
        yield session


@pytest.fixture
def browser_no_js(browser, live_server) -> Iterator[Console]:
    """Like `console`, with JavaScript turned off: every page must work with plain links and forms."""
    with _open_console(browser, live_server, java_script_enabled=False) as session:
        yield session


def query_of(url: str) -> dict[str, list[str]]:
    """The non-empty query parameters of a URL."""
    return parse_qs(urlsplit(url).query)
