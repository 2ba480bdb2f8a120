"""Browser tests: the website and the notebooks as readers meet them (``make browser``).

Playwright (the pip package) drives the system Chromium, headless, with
background networking off. Every request that leaves 127.0.0.1 is aborted and
recorded, so the tests also prove the pages work with no internet. The tests
skip (with the reason) where Chromium or Playwright is missing; ``.ci/run``
installs Debian's chromium, so they run in CI. Screenshots are written to
``_build/screenshots/`` for people to look at.

Environment: ``VIDGEN_CHROMIUM`` (default ``/usr/bin/chromium``), ``VIDGEN_SITE``
(default ``_build/quick/_build/html``, what ``make site`` builds).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("VIDGEN_CHROMIUM", "/usr/bin/chromium"))
SITE = Path(os.environ.get("VIDGEN_SITE", ROOT / "_build" / "quick" / "_build" / "html"))
SCREENSHOTS = ROOT / "_build" / "screenshots"
# The flags a closed network needs: no background calls home, no QUIC, no first-run or sync.
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def is_local(url: str) -> bool:
    """True for URLs served by this machine (or carried in the page: data:, blob:, about:)."""
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about", "javascript"} or parts.hostname in LOCAL_HOSTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium (the system one); skips the test where it cannot be had."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (install Debian's chromium, as .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        # launch() starts Chromium with a fresh, empty profile of its own (a new temporary
        # --user-data-dir), so nothing of a previous run or of the machine's user leaks in.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def offline_context(browser):
    """A fresh browser context in which every non-local request is aborted and recorded.

    ``context.external`` lists the URLs a page tried to load from the internet.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.external = []

    def _route(route):
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            context.external.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", _route)
    yield context
    context.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the stdlib's signature; silence the access log
        pass


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    """The built website served over HTTP on 127.0.0.1 (a random free port)."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no website in {SITE}: build it first with `make site`")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``_build/screenshots/``, emptied once per test session (artifacts of this run only)."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
