"""Debian's chromium driven by Playwright, as DEVELOPERS.md says: no downloaded browser, no network
beyond the app (every request to another host is refused and recorded)."""

from pathlib import Path

import pytest

from tests.conftest import need_installed

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")  # not session: sync Playwright holds an event loop that async tests after it need
def browser():
    need_installed(CHROMIUM.exists(), "/usr/bin/chromium (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


def open_page(browser, host: str, path: str, clock=None, listen=None, **context_options):
    """A page that may only talk to the app; anything else is aborted and noted in page.foreign.
    With `clock`, the page's Date starts at that instant (the server under test runs from T0 too);
    `listen(page)` is called before the page loads (to watch its requests from the first)."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.foreign = []
    if clock is not None:
        page.clock.install(time=clock)

    def only_the_app(route):
        url = route.request.url
        if url.startswith((f"http://{host}/", f"ws://{host}/")):
            route.continue_()
        else:
            page.foreign.append(url)
            route.abort()

    context.route("**/*", only_the_app)
    if listen is not None:
        listen(page)
    page.goto(f"http://{host}{path}")
    return page


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
