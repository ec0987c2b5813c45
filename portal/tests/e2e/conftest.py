"""Browser tests: Debian's Chromium driven by Playwright against the live test server.

Nothing is downloaded at run time: Playwright launches /usr/bin/chromium, and axe-core
(4.14.1, MPL-2.0) is vendored beside this file. Screenshots of what each person saw land in
test-artifacts/screenshots/ (ignored by git, beside the JUnit reports CI writes there).
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright():
    """Playwright's sync API runs an event loop in the test's thread; Django then takes every
    ORM call made there (fixtures, assertions, the flush after each test) for one made from
    async code and refuses it. Relaxed for these modules only, from before the first test's
    database set-up until after the last one's tear-down."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


# Per module, not per session: while Playwright runs, its event loop stays on the main thread,
# and tests collected after these must not run beside it.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Browser tests need Debian's Chromium at {CHROMIUM} (see debian-packages.txt).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visitor:
    """One person at one browser: signs in through the real form, looks, and records what they saw."""

    def __init__(self, browser, base_url: str, journey: str):
        # bypass_csp only so that the test can inject axe-core; the portal's own pages never
        # need it (test_csp.py checks the header, and a CSP violation would show in the console).
        self.context = browser.new_context(
            base_url=base_url, viewport=DESKTOP, bypass_csp=True, accept_downloads=True, locale="en-GB"
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.journey = journey
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        page = self.page
        page.goto("/accounts/sign-in/")
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", password)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(lambda url: "/accounts/sign-in/" not in url)

    def screenshot(self, name: str, *, phone: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.journey}-{name}-desktop.png"
        self.page.screenshot(path=path, full_page=True)
        if phone:
            self.page.set_viewport_size(PHONE)
            self.page.screenshot(path=SCREENSHOTS / f"{self.journey}-{name}-phone.png", full_page=True)
            self.page.set_viewport_size(DESKTOP)
        return path

    def assert_accessible(self) -> None:
        """No serious or critical axe-core violation on the page as it is now."""
        self.page.add_script_tag(path=str(AXE))
        violations = self.page.evaluate(
            """async () => {
                const results = await axe.run(document, {resultTypes: ["violations"]});
                return results.violations
                    .filter(v => v.impact === "serious" || v.impact === "critical")
                    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                                targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
            }"""
        )
        assert violations == [], f"{self.page.url}: {violations}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, live_server, request):
    """Opens a browser context per person; `visit("apprentice")` gives a Visitor."""
    opened: list[Visitor] = []

    def open_for(who: str) -> Visitor:
        # Parametrised tests name their case in brackets, with addresses in it: keep the
        # file name flat and readable.
        test = re.sub(r"[^\w.-]+", "-", request.node.name.removeprefix("test_")).strip("-")
        visitor = Visitor(browser, live_server.url, f"{test}-{who}")
        opened.append(visitor)
        return visitor

    yield open_for
    for visitor in opened:
        visitor.close()
    errors = [e for v in opened for e in v.errors]
    assert errors == [], f"script errors in the browser: {errors}"
