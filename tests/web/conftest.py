"""Browser fixtures: a hub on a real clock serving the dashboard, Debian's chromium driven by Playwright.

Everything runs in the test's own event loop: the hub in-process, Playwright through its async API
(its driver is a node subprocess; Python 3.11 watches it from one `asyncio-waitpid-N` thread that
ends when `Playwright.stop()` has reaped the driver, so the suite's thread-leak check stays quiet).
Teardown order: pages and contexts, then the hub, then the browser and Playwright.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import free_port

from hub.clock import RealClock
from hub.runtime import Hub

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("MADERAS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PASSWORD = "correct horse battery"
WAIT_MS = 10_000  # default for expect() and locators: generous for a loaded CI machine


class ShiftableClock(RealClock):
    """The real clock, whose wall time a test may move into the past to record older history.

    Only `time()` shifts; timers run on the loop as usual. Tests set `offset` back to 0 before a
    browser logs in, because access tokens carry `exp` in wall time and the page compares it with
    its own clock.
    """

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def chromium_path() -> Path:
    """Debian's chromium, or a skip (CI=true turns the skip into a failure; .ci/run installs it)."""
    pytest.importorskip("playwright.async_api", reason="playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (.ci/run does); never `playwright install`")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Any]:
    """A fresh headless chromium (its own temporary profile) for one test."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=WAIT_MS)
    playwright = await async_playwright().start()
    try:
        instance = await playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            await instance.close()
    finally:
        await playwright.stop()


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def make_hub(tmp_path: Path) -> AsyncIterator[HubFactory]:
    """`await make_hub(extra_yaml="", integrations={})`: a started hub serving the dashboard.

    `integrations` maps a domain to the source of a custom integration written before the start.
    The hub gets a free port, a `ShiftableClock`, and a one-second recorder commit interval.
    """
    hubs: list[Hub] = []

    async def make(extra_yaml: str = "", integrations: dict[str, str] | None = None) -> Hub:
        for domain, code in (integrations or {}).items():
            package = tmp_path / "custom_integrations" / domain
            package.mkdir(parents=True)
            manifest = {"domain": domain, "name": domain.title(), "version": "0.0.1", "iot_class": "local_push"}
            (package / "manifest.json").write_text(json.dumps(manifest))
            (package / "__init__.py").write_text(code)
        config = (
            "hub:\n  name: Casa Maderas\n  time_zone: America/Mexico_City\n"
            f"http:\n  server_host: 127.0.0.1\n  server_port: {free_port()}\n" + extra_yaml
        )
        (tmp_path / "configuration.yaml").write_text(config)
        hub = Hub(tmp_path, clock=ShiftableClock())
        hubs.append(hub)
        await hub.start()
        assert hub.config_errors == [], hub.config_errors
        assert hub.http.running, hub.http.error
        return hub

    try:
        yield make
    finally:
        for hub in hubs:
            await hub.stop()


class Pages:
    """Opens browser pages (each in its own context) and fails the test on an uncaught page error."""

    def __init__(self, browser: Any, request: pytest.FixtureRequest) -> None:
        self._browser = browser
        self._name = re.sub(r"\W+", "_", request.node.name).strip("_")
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    async def open(
        self, url: str, *, viewport: tuple[int, int] = (1280, 900), locale: str = "en-US", **options: Any
    ) -> Any:
        """A new page in a fresh context (its own cookies and localStorage) with `url` loaded."""
        context = await self._browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, locale=locale,
            timezone_id="America/Mexico_City", color_scheme="light", **options,
        )  # fmt: skip
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda err: self.errors.append(f"{page.url}: {err}"))
        await page.goto(url)
        return page

    async def screenshot(self, page: Any, label: str = "") -> Path:
        """A full-page PNG under test-artifacts/screenshots/<test name>[-label].png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / (f"{self._name}-{label}.png" if label else f"{self._name}.png")
        await page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        self.contexts.clear()


@pytest.fixture
async def pages(browser: Any, make_hub: HubFactory, request: pytest.FixtureRequest) -> AsyncIterator[Pages]:
    """Open pages; closed before the hub stops. A JavaScript error on any page fails the test."""
    opened = Pages(browser, request)
    try:
        yield opened
    finally:
        await opened.close()
    assert not opened.errors, f"uncaught errors in the page: {opened.errors}"


@pytest.fixture
def password() -> str:
    """The password of every test user."""
    return PASSWORD
