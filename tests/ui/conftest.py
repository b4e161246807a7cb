"""Headless Chromium (Debian's, driven by pip `playwright`) against the real daemon.

The browser starts once per test module; each test gets a fresh context (its own session
cookie) on its own daemon (the `daemon` fixture: real uvicorn, real SQLite). Not once per
session: while Playwright's sync API runs, its event loop counts as running in the thread, so
`asyncio.run` in any later test of the same process fails. Under pytest-xdist each module is one
group (`--dist loadgroup`, see scripts/test): its tests run one after another on one worker, with
one browser, and no other test runs on that worker in between. A test fails when the page
logs a console error or throws, so a broken module or a swallowed API error cannot pass.
Where /usr/bin/chromium is missing the tests skip and say how to install it; .ci/run installs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture skips the tests and says how to install it
    expect = sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
UI_TESTS = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(UI_TESTS):
            item.add_marker(pytest.mark.xdist_group(f"ui-{item.path.stem}"))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: `sudo apt-get install -y chromium` runs the browser UI tests "
                    "(.ci/run installs it)")
    if sync_playwright is None:
        pytest.skip("playwright is not installed: `pip install -e '.[test]'` (or ./scripts/test) adds it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, daemon):
    """A page on the daemon's UI; `page.problems` collects console errors and uncaught exceptions."""
    context = browser.new_context(base_url=daemon.url, viewport={"width": 1200, "height": 860})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.problems = problems
    yield page
    context.close()
    assert not problems, f"the page logged errors: {problems}"


def open_page(page, path: str) -> None:
    """Go to a hash route and wait until the live stream is connected."""
    page.goto(f"/#{path}")
    page.locator("#live[data-status=live]").wait_for()


def screenshot(page, name: str) -> None:
    """Refresh docs/screenshots/ when STAGENT_SCREENSHOTS=1 (README says when); otherwise only
    check that the page renders to an image, so a test run leaves the work tree clean."""
    if os.environ.get("STAGENT_SCREENSHOTS") == "1":
        page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page in a full-page shot
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    else:
        assert page.screenshot(full_page=True).startswith(b"\x89PNG")
