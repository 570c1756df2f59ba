"""Fixtures of the browser tests: Debian's chromium driven by Playwright, and a real Celery
worker for the live server (module-scoped: started once per test module)."""

import os
from pathlib import Path

import pytest

from tests.worker import running_worker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def live_worker(django_db_setup, django_db_blocker):
    with running_worker(django_db_blocker) as worker:
        yield worker


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests drive Debian's chromium at {CHROMIUM}, which is missing. "
            "Install it (`sudo apt-get install chromium`, or `make browser` as root)."
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the test itself
    # are still plain synchronous code.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("CG_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Blocks that are the policy working as meant: Redoc's bundle always tries to load its
# maker's logo from a CDN (and hides it when that fails); the API docs stay offline.
EXPECTED_BLOCKS = ("https://cdn.redoc.ly/redoc/logo-mini.svg",)


@pytest.fixture(autouse=True)
def no_policy_violations(request):
    """Every page a browser test opens must load without a Content-Security-Policy violation: an
    inline <style> or <script> the policy blocks is a page that silently looks or works other
    than it was written. The contexts the test opens report their console; the test fails on
    any "Content Security Policy" message."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    violations: list[str] = []
    original = browser.new_context

    def new_context(*args, **kwargs):
        context = original(*args, **kwargs)
        context.on(
            "console",
            lambda message: (
                violations.append(f"{message.page.url if message.page else '?'}: {message.text}")
                if "Content Security Policy" in message.text
                and not any(block in message.text for block in EXPECTED_BLOCKS)
                else None
            ),
        )
        return context

    browser.new_context = new_context
    try:
        yield
    finally:
        browser.new_context = original
    assert violations == [], "the page broke its Content-Security-Policy:\n" + "\n".join(violations)
