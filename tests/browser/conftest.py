"""Browser tests: the staff console in Debian's Chromium driven by Playwright, against the real local stack.

The stack fixtures are the e2e ones (the session's own stack; a running `make run` is refused). Chromium
is the system package (`make test` installs it when missing); Playwright's own browser download is not
used. Screenshots of the main screens go to .local/screenshots/ (git-ignored), or with UPDATE_SCREENSHOTS=1
to docs/screenshots/ (committed, shown in the README), so a test run never rewrites the tracked ones.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.provision import DEMO_PASSWORD
from tests.conftest import ROOT
from tests.e2e import conftest as e2e

# the e2e stack fixtures, shared: the session's one stack
local_stack = e2e.local_stack
http = e2e.http

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def screenshot_dir(environ=os.environ) -> Path:
    """docs/screenshots/ (tracked) only with UPDATE_SCREENSHOTS=1; else a git-ignored folder."""
    if environ.get("UPDATE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "screenshots"
    return ROOT / ".local" / "screenshots"


SCREENSHOTS = screenshot_dir()
PASSWORD = DEMO_PASSWORD


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install -y chromium).")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # two shared cores and a one-request-at-a-time local API

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, local_stack) -> Iterator:
    """A fresh browser context (its own sessionStorage) at 1280x860, failing the test on a page error."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


class Console:
    """The console as a user drives it: by labels, roles and visible text."""

    def __init__(self, page, stack: dict):
        self.page = page
        self.url = stack["console_url"]

    def open(self, hash_: str = "") -> None:
        self.page.goto(f"{self.url}/{hash_}")

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.open()
        self.page.get_by_label("Email").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def go(self, hash_: str) -> None:
        self.page.evaluate("h => { location.hash = h }", hash_)

    def shot(self, name: str, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def console(page, local_stack) -> Console:
    return Console(page, local_stack)


def pytest_collection_modifyitems(session, config, items):
    """Browser tests run after the rest: they move the storage sweep's clock ahead, which the e2e
    journey's own sweep expectations must not see first."""
    browser_dir = str(Path(__file__).parent)
    items.sort(key=lambda item: str(item.fspath).startswith(browser_dir))
