"""The dashboard in a real browser: Debian's chromium driven by Playwright, against an in-process hub.

Each test asserts what a person would see (data-testid locators, expect-style waits, no sleeps)
and keeps a full-page PNG of each page at its key moment in test-artifacts/screenshots/.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import aiohttp
from browser_helpers import EN, ES, expect, hash_is, live, log_in

from hub.runtime import Hub

# Fixtures from tests/web/conftest.py: make_hub(extra_yaml, integrations) -> started Hub;
# pages.open(url, viewport=, ...) -> page, pages.screenshot(page, label).
HubFactory = Any
Pages = Any


LEVEL = "sensor.test_level"
LEVEL_ATTRS = {"unit_of_measurement": "cm", "friendly_name": "Test level"}
CISTERN = "sensor.cistern_level"
CISTERN_ATTRS = {
    "unit_of_measurement": "%",
    "friendly_name": "Cistern",
    "tank": {"commodity": "water", "volume_l": 6000, "capacity_l": 10000, "days_until_empty": 9.2},
}
DOOR = "binary_sensor.front_door"
DOOR_ATTRS = {"device_class": "door", "friendly_name": "Front door"}

BROKEN = """
async def async_setup(hub, config):
    raise RuntimeError("modbus gateway 10.0.0.7 refused the connection")
"""


async def add_user(hub: Hub, username: str, password: str, role: str = "admin", language: str = "en") -> None:
    await hub.auth.create_user(username, username.title(), password, role, language=language)


def set_home(hub: Hub, level: float = 41) -> None:
    """A level sensor, a water tank and a door, none in an area (one grid, "Other")."""
    hub.states.set(LEVEL, level, LEVEL_ATTRS)
    hub.states.set(CISTERN, 60, CISTERN_ATTRS)
    hub.states.set(DOOR, "off", DOOR_ATTRS)


async def scroll_width(page: Any) -> int:
    return int(await page.evaluate("document.scrollingElement.scrollWidth"))


# -- 1 ------------------------------------------------------------------------------------------


async def test_onboarding_creates_the_first_admin(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub = await make_hub()
    page = await pages.open(hub.http.url + "/")
    await expect(page).to_have_url(hash_is("onboarding"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(EN["onboarding.title"])
    await expect(page.get_by_test_id("onboarding-name")).to_be_focused()

    await page.get_by_test_id("onboarding-name").fill("Ana López")
    await page.get_by_test_id("onboarding-username").fill("ana")
    await page.get_by_test_id("onboarding-password").fill(password)
    await page.get_by_test_id("onboarding-password2").fill(password + "!")
    await page.get_by_test_id("onboarding-submit").click()
    await expect(page.get_by_test_id("onboarding-error")).to_have_text(EN["onboarding.mismatch"])
    await expect(page.get_by_test_id("onboarding-password2")).to_be_focused()
    assert hub.auth.users() == []
    await pages.screenshot(page, "onboarding")

    await page.get_by_test_id("onboarding-password2").fill(password)
    await page.get_by_test_id("onboarding-submit").click()
    await expect(page).to_have_url(hash_is("overview"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(EN["overview.title"])
    await expect(page.locator(".brand")).to_have_text("Casa Maderas")
    health = page.get_by_test_id("health")
    await expect(health).to_contain_text(EN["health.uptime"])
    await expect(health).to_contain_text(EN["health.failed"])
    await expect(page.get_by_test_id("user-menu")).to_have_text("Ana López")

    user = hub.auth.get_user_by_username("ana")
    assert user is not None and user.role == "admin" and user.name == "Ana López" and user.language == "en"
    await pages.screenshot(page, "overview")


# -- 2 ------------------------------------------------------------------------------------------


async def test_wrong_passwords_lock_the_login(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub = await make_hub()
    await add_user(hub, "ana", password)
    page = await pages.open(hub.http.url + "/#/devices")
    await expect(page).to_have_url(hash_is("login"))
    error = page.get_by_test_id("login-error")
    submit = page.get_by_test_id("login-submit")

    async def attempt(wrong: str) -> int:
        await page.get_by_test_id("login-username").fill("ana")
        await page.get_by_test_id("login-password").fill(wrong)
        async with page.expect_response(lambda r: r.url.endswith("/auth/login")) as answer:
            await submit.click()
        status = (await answer.value).status
        await expect(error).to_be_visible()
        return int(status)

    for n in range(5):
        assert await attempt(f"not the password {n}") == 401
        await expect(error).to_contain_text("invalid")  # the server's message, the same for any wrong guess
        await expect(page.get_by_test_id("login-countdown")).to_have_text("")
    assert await attempt("still not the password") == 429

    countdown = page.get_by_test_id("login-countdown")
    await expect(countdown).to_have_text(re.compile(r"^You can try again in \d+:\d\d\.$"))
    await expect(submit).to_be_disabled()
    first = await countdown.text_content()
    await expect(countdown).not_to_have_text(first or "", timeout=3000)  # it counts down
    await expect(page).to_have_url(hash_is("login"))
    await pages.screenshot(page, "login-lockout")

    # The lock is the server's: even the right password is refused, with Retry-After.
    async with aiohttp.ClientSession() as session:
        body = {"username": "ana", "password": password}
        async with session.post(hub.http.url + "/auth/login", json=body) as response:
            assert response.status == 429
            assert int(response.headers["Retry-After"]) > 0
            assert (await response.json())["error"]["code"] == "too_many_requests"


# -- 3 ------------------------------------------------------------------------------------------


async def test_state_change_is_pushed_without_reload_and_tank_card(
    make_hub: HubFactory, pages: Pages, password: str
) -> None:
    hub = await make_hub()
    await add_user(hub, "ana", password)
    set_home(hub)
    page = await pages.open(hub.http.url + "/")
    await log_in(page, "ana", password)
    value = page.get_by_test_id(f"value-{LEVEL}")
    await expect(value).to_have_text("41 cm")
    await live(page)
    await page.evaluate("window.__sameDocument = true")

    started = time.monotonic()
    hub.states.set(LEVEL, 42, LEVEL_ATTRS)
    await expect(value).to_have_text("42 cm", timeout=1000)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"shown {elapsed:.3f} s after the change"
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    tank = page.get_by_test_id(f"card-{CISTERN}")
    await expect(tank).to_have_class(re.compile(r"\bkind-tank\b"))
    await expect(page.get_by_test_id(f"value-{CISTERN}")).to_have_text("60%")
    await expect(tank).to_contain_text("6,000 L of 10,000 L")
    await expect(tank).to_contain_text("Empty in about 9.2 days")
    await expect(tank.locator("svg.gauge")).to_have_attribute("aria-label", re.compile("60%"))
    await expect(page.get_by_test_id(f"value-{DOOR}")).to_have_text(EN["binary.closed"])
    await pages.screenshot(page, "overview-desktop")


# -- 4 ------------------------------------------------------------------------------------------


async def test_language_switch_to_spanish_sticks(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub = await make_hub()
    await add_user(hub, "ana", password, language="en")
    set_home(hub)
    page = await pages.open(hub.http.url + "/")
    await log_in(page, "ana", password)
    html = page.locator("html")
    await expect(html).to_have_attribute("lang", "en")
    await expect(page.get_by_test_id("nav-overview")).to_have_text(EN["nav.overview"])

    async with page.expect_response(lambda r: r.url.endswith("/api/me") and r.request.method == "PATCH") as saved:
        await page.get_by_test_id("lang-switch").select_option("es-MX")
    assert (await saved.value).status == 200

    async def spanish() -> None:
        await expect(html).to_have_attribute("lang", "es-MX")
        for route in ("overview", "devices", "users", "settings"):
            await expect(page.get_by_test_id(f"nav-{route}")).to_have_text(ES[f"nav.{route}"])
        await expect(page.get_by_role("heading", level=1)).to_have_text(ES["overview.title"])
        await expect(page.get_by_test_id("health")).to_contain_text(ES["health.uptime"])
        await expect(page.get_by_test_id(f"card-{CISTERN}")).to_contain_text(re.compile(r"6[,.\s\u00a0]?000 l de 10[,.\s\u00a0]?000 l", re.IGNORECASE))
        await expect(page.locator(".skip-link")).to_have_text(ES["shell.skip"])
        await expect(page.get_by_test_id("lang-switch")).to_have_value("es-MX")

    await spanish()
    user = hub.auth.get_user_by_username("ana")
    assert user is not None and user.language == "es-MX"
    await page.reload()
    await expect(page.get_by_test_id("user-menu")).to_be_visible()
    await spanish()
    await pages.screenshot(page, "overview-spanish")


# -- 5 ------------------------------------------------------------------------------------------


async def test_phone_viewport_is_one_column_with_a_menu(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub = await make_hub()
    await add_user(hub, "ana", password)
    set_home(hub)
    page = await pages.open(hub.http.url + "/", viewport=(360, 740), has_touch=True, is_mobile=True)
    await log_in(page, "ana", password)
    cards = page.locator("article.card")
    await expect(cards).to_have_count(3)
    assert await scroll_width(page) <= 360

    boxes = [await cards.nth(i).bounding_box() for i in range(3)]
    assert all(b is not None for b in boxes)
    xs = {round(b["x"]) for b in boxes if b}
    assert len(xs) == 1, f"cards side by side: {boxes}"
    for above, below in itertools.pairwise(boxes):
        assert above and below and below["y"] >= above["y"] + above["height"], f"cards overlap: {boxes}"
    assert all(b and b["x"] >= 0 and b["x"] + b["width"] <= 360 for b in boxes)
    await pages.screenshot(page, "overview-phone")

    menu = page.get_by_test_id("menu-button")
    nav = page.get_by_test_id("nav-devices")
    await expect(menu).to_be_visible()
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await expect(nav).to_be_hidden()
    await menu.click()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await expect(nav).to_be_visible()
    await expect(page.get_by_test_id("lang-switch")).to_be_visible()
    assert await scroll_width(page) <= 360
    await pages.screenshot(page, "menu-open")

    await nav.click()
    await expect(page).to_have_url(hash_is("devices"))
    await expect(nav).to_be_hidden()  # the menu closes after choosing a page
    await expect(page.get_by_test_id("integrations")).to_be_visible()
    assert await scroll_width(page) <= 360

    # Spanish labels are the long ones.
    await menu.click()
    await page.get_by_test_id("lang-switch").select_option("es-MX")
    await page.get_by_test_id("nav-overview").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(ES["overview.title"])
    await expect(page.get_by_test_id(f"card-{CISTERN}")).to_be_visible()
    assert await scroll_width(page) <= 360
    await pages.screenshot(page, "overview-phone-spanish")


# -- 6 ------------------------------------------------------------------------------------------


async def test_keyboard_reaches_skip_link_then_nav(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub = await make_hub()
    await add_user(hub, "ana", password)
    set_home(hub)
    page = await pages.open(hub.http.url + "/")
    await log_in(page, "ana", password)
    await page.reload()  # start from the top of a fresh document: nothing focused
    await expect(page.get_by_test_id("nav-overview")).to_be_visible()
    await expect(page.locator("main")).not_to_have_attribute("aria-busy", "true")

    skip = page.locator(".skip-link")
    await page.keyboard.press("Tab")
    await expect(skip).to_be_focused()
    await expect(skip).to_have_text(EN["shell.skip"])
    box = await skip.bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link is off screen"

    passed: list[str] = []
    for _ in range(4):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.dataset.testid || document.activeElement.className")
        if focused == "nav-overview":
            break
        passed.append(focused)
    else:
        raise AssertionError(f"Tab never reached the navigation; focus went through {passed}")
    assert passed == ["brand"], f"between the skip link and the nav: {passed}"

    await page.keyboard.press("Tab")
    await expect(page.get_by_test_id("nav-devices")).to_be_focused()
    await pages.screenshot(page, "nav-focused")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(hash_is("devices"))
    heading = page.get_by_role("heading", level=1)
    await expect(heading).to_have_text(EN["devices.title"])
    await expect(heading).to_be_focused()  # focus follows the navigation
    await expect(page.get_by_test_id("nav-devices")).to_have_attribute("aria-current", "page")

    await skip.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("main#main")).to_be_focused()
    await expect(page).to_have_url(hash_is("devices"))  # the skip link does not change the route


# -- 7 ------------------------------------------------------------------------------------------


async def test_connection_lost_and_back(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub = await make_hub()
    await add_user(hub, "ana", password)
    set_home(hub)
    page = await pages.open(hub.http.url + "/")
    await log_in(page, "ana", password)
    value = page.get_by_test_id(f"value-{LEVEL}")
    banner = page.get_by_test_id("connection-banner")
    await expect(value).to_have_text("41 cm")
    await live(page)
    await expect(banner).to_be_hidden()
    port = hub.http.port

    await hub.http.stop()
    await expect(banner).to_be_visible()
    await expect(banner).to_have_text(EN["connection.lost"])
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "disconnected")
    hub.states.set(LEVEL, 43, LEVEL_ATTRS)  # changed while the page cannot hear
    await pages.screenshot(page, "lost")

    await hub.http.start()
    assert hub.http.running and hub.http.port == port, hub.http.error
    await expect(banner).to_have_text(EN["connection.back"], timeout=15_000)
    await live(page)
    await expect(value).to_have_text("43 cm")  # the snapshot after resubscribing
    await pages.screenshot(page, "back")

    started = time.monotonic()
    hub.states.set(LEVEL, 44, LEVEL_ATTRS)
    await expect(value).to_have_text("44 cm", timeout=1000)
    assert time.monotonic() - started < 1.0
    await expect(banner).to_be_hidden(timeout=8000)  # "Connected again" goes after 4 s


# -- 8 ------------------------------------------------------------------------------------------


async def test_failed_integration_admin_retry_and_resident_limits(
    make_hub: HubFactory, pages: Pages, password: str
) -> None:
    hub = await make_hub("broken:\n", integrations={"broken": BROKEN})
    assert hub.integrations.status("broken").state == "failed"
    await add_user(hub, "ana", password)
    await add_user(hub, "rita", password, role="resident")
    error_text = "modbus gateway 10.0.0.7 refused the connection"

    admin = await pages.open(hub.http.url + "/")
    await log_in(admin, "ana", password)
    await expect(admin.get_by_test_id("health-failed-broken")).to_be_visible()
    await admin.get_by_test_id("health-failed-broken").click()
    await expect(admin).to_have_url(hash_is("devices"))
    row = admin.get_by_test_id("integration-broken")
    await expect(row).to_contain_text(error_text)
    await expect(row).to_contain_text(EN["integration.state.failed"])
    retry = admin.get_by_test_id("retry-broken")
    await expect(retry).to_be_enabled()
    await expect(retry).to_have_text(EN["devices.retry"])
    await pages.screenshot(admin, "devices-admin")

    await retry.click()
    await expect(admin.get_by_test_id("devices-message")).to_have_text(EN["devices.retry_sent"])
    await expect(row).to_contain_text("2 attempts")
    await expect(row).to_contain_text(error_text)
    assert hub.integrations.status("broken").attempts == 2

    await admin.get_by_test_id("nav-users").click()
    await expect(admin.get_by_test_id("user-ana")).to_be_visible()
    await expect(admin.get_by_test_id("user-rita")).to_be_visible()
    await pages.screenshot(admin, "users")
    await admin.get_by_test_id("nav-settings").click()
    await expect(admin.get_by_test_id("hub-info")).to_contain_text("Casa Maderas")
    await expect(admin.get_by_test_id("settings-name")).to_have_value("Ana")
    await pages.screenshot(admin, "settings")

    resident = await pages.open(hub.http.url + "/#/devices")
    await log_in(resident, "rita", password)
    await expect(resident).to_have_url(hash_is("devices"))  # back to the page asked for
    row = resident.get_by_test_id("integration-broken")
    await expect(row).to_contain_text(error_text)
    await expect(resident.get_by_test_id("retry-broken")).to_have_count(0)
    await expect(resident.get_by_test_id("reload-broken")).to_have_count(0)
    await expect(resident.get_by_test_id("nav-users")).to_have_count(0)
    await pages.screenshot(resident, "devices-resident")

    await resident.goto(hub.http.url + "/#/users")
    await expect(resident).to_have_url(hash_is("overview"))
    await expect(resident.get_by_text(EN["users.admin_only"])).to_be_visible()
    await expect(resident.get_by_test_id("users-list")).to_have_count(0)


# -- 9 ------------------------------------------------------------------------------------------


async def test_entity_detail_draws_history(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub = await make_hub()
    await add_user(hub, "ana", password)
    # An hour of history, a change every 3 minutes, recorded on a clock moved into the past. (At
    # 5 minutes the 6 h chart, 108 s buckets, draws lone dots: it breaks the line on any gap over
    # 2.5 buckets, and a steady sensor records nothing between changes.)
    for step in range(20):
        hub.clock.offset = -(60 - 3 * step) * 60.0
        hub.states.set(LEVEL, 30 + (step % 4) * 3, LEVEL_ATTRS)
    hub.clock.offset = 0.0
    hub.states.set(LEVEL, 41, LEVEL_ATTRS)
    await hub.recorder.flush()

    page = await pages.open(hub.http.url + f"/#/entity/{LEVEL}")
    await log_in(page, "ana", password)
    await expect(page).to_have_url(hash_is(f"entity/{LEVEL}"))
    await expect(page.get_by_test_id("entity-name")).to_have_text("Test level")
    await expect(page.get_by_test_id(f"value-{LEVEL}")).to_have_text("41 cm")
    await expect(page.get_by_test_id("attributes")).to_contain_text("unit_of_measurement")

    chart = page.get_by_test_id("history-chart")
    await expect(chart).to_be_visible()
    await expect(chart).to_have_attribute("aria-label", re.compile(r"lowest 30 cm, highest 41 cm, latest \d+ cm$"))
    mean = chart.locator("path.chart-mean")
    await expect(mean).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){5,}$"))
    await expect(chart.locator("path.chart-band")).to_have_attribute("d", re.compile(r"Z$"))
    await pages.screenshot(page, "entity")

    await page.get_by_test_id("range-6h").click()
    await expect(page.get_by_test_id("range-6h")).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_test_id("range-24h")).to_have_attribute("aria-pressed", "false")
    await expect(chart).to_have_attribute("aria-label", re.compile(EN["entity.range_long.6h"]))  # redrawn
    await expect(mean).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){10,}$"))
    await pages.screenshot(page, "entity-6h")

