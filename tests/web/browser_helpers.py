"""What every browser test does: Playwright's expect, route matching, logging in, a free port, the texts."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

I18N = Path(__file__).resolve().parents[2] / "web" / "static" / "i18n"
# The dashboard's texts, to find elements by what a person reads.
EN: dict[str, Any] = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
ES: dict[str, Any] = json.loads((I18N / "es-MX.json").read_text(encoding="utf-8"))


def expect(target: Any) -> Any:
    """Playwright's auto-waiting assertion (imported late: node and pytest-only runs do not need it)."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target)


def hash_is(route: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"#/{route}") + "$")


def free_port() -> int:
    """A loopback port nobody listens on (a moment ago): for the hub, or a receiver that refuses."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def live(page: Any) -> None:
    """Wait until the websocket is connected (the header's indicator says so)."""
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "connected")


async def log_in(page: Any, username: str, password: str, *, wait_live: bool = False) -> None:
    """Log in on the login page and wait for the page asked for (and, with wait_live, the websocket)."""
    await expect(page).to_have_url(hash_is("login"))
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await expect(page).not_to_have_url(hash_is("login"))
    await expect(page.get_by_test_id("connection-status")).to_be_visible()  # shown once logged in
    await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")
    if wait_live:
        await live(page)
