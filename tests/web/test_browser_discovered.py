"""The Discovered page in a real browser (Debian's chromium, Playwright) against GStreamer's RTSP server.

A camera "found" on the network (what the mDNS browser reports for an `_rtsp._tcp` announcement,
injected as tests/integrations/rtsp_camera/test_cam_pairing.py does) is listed; an administrator
pairs it: a wrong password is refused on the password field with nothing added, the right one adds
the camera (the row goes, the camera API lists it). A second found camera is ignored, shown again
under "Show ignored" and forgotten. A resident on a phone sees the list without the buttons.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import EN, expect, hash_is, log_in

from hub.runtime import Hub

ROOT = Path(__file__).resolve().parents[2]
CAMERA_TESTS = ROOT / "tests" / "integrations" / "rtsp_camera"
if str(CAMERA_TESTS) not in sys.path:  # the RTSP server peer and the API client live with the camera tests
    sys.path.insert(0, str(CAMERA_TESTS))

from cam_helpers import RtspServer, require_gstreamer
from hub_api import Api
from test_cam_pairing import announced

# Fixtures from tests/web/conftest.py: make_hub(extra_yaml) -> started Hub; pages.open(url, viewport=)
# -> page, pages.screenshot(page, label).
HubFactory = Any
Pages = Any

CAMERA_PASSWORD = "secret"


@pytest.fixture
def rtsp() -> Iterator[RtspServer]:
    """GStreamer's RTSP server behind Digest auth (started before the hub, so it outlives it)."""
    require_gstreamer()
    with RtspServer(auth="digest", user="admin", password=CAMERA_PASSWORD) as server:
        yield server


async def found(hub: Hub, server: RtspServer, name: str) -> str:
    """Announce a camera called `name` at the server; the id of its Discovered row."""
    txt = {"path": "/test", "serial": name.upper()}
    await hub.pairing.found(["rtsp_camera"], announced(server.port, name=name, properties=txt))
    rows = [row for row in await hub.pairing.list(ignored=True) if row.title == name]
    assert len(rows) == 1, rows
    return rows[0].id


async def open_discovered(pages: Pages, hub: Hub, user: str, password: str, **options: Any) -> Any:
    """A page logged in as `user` on #/discovered."""
    page = await pages.open(hub.http.url + "/", **options)
    await log_in(page, user, password, wait_live=True)
    await page.goto(hub.http.url + "/#/discovered")
    await expect(page).to_have_url(hash_is("discovered"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(EN["discovered.title"])
    return page


async def screenshot(pages: Pages, page: Any, label: str) -> None:
    """A full-page screenshot from the top."""
    await page.evaluate("() => window.scrollTo(0, 0)")
    await pages.screenshot(page, label)


async def test_discovered_page_pairs_ignores_and_forgets(
    rtsp: RtspServer, make_hub: HubFactory, pages: Pages, password: str
) -> None:
    hub: Hub = await make_hub()  # no rtsp_camera: block; the integration sets up for the found camera
    await hub.auth.create_user("ana", "Ana", password, "admin", language="en")
    await hub.auth.create_user("beto", "Beto", password, "resident", language="en")
    porch = await found(hub, rtsp, "Porch")

    page = await open_discovered(pages, hub, "ana", password)
    await expect(page.get_by_test_id("nav-discovered")).to_have_attribute("aria-current", "page")
    row = page.get_by_test_id(f"discovered-{porch}")
    await expect(row).to_contain_text("Porch")
    await expect(row).to_contain_text(EN["discovered.kind.camera"])
    await expect(row).to_contain_text("rtsp_camera")
    await expect(row).to_contain_text(f"127.0.0.1:{rtsp.port}")
    await expect(row).to_contain_text(EN["discovered.present"])
    await screenshot(pages, page, "list")

    # A wrong password: the camera's refusal under the password field, nothing added.
    await page.get_by_test_id(f"pair-{porch}").click()
    dialog = page.get_by_test_id("pair-dialog")
    await expect(dialog.locator("input")).to_have_count(2)  # exactly what the camera asks
    await expect(dialog.get_by_test_id("pair-field-password")).to_have_attribute("type", "password")
    await dialog.get_by_label("User name").fill("admin")
    await dialog.get_by_label("Password").fill("wrong")
    await dialog.get_by_test_id("pair-submit").click()
    refusal = dialog.get_by_test_id("pair-error-password")
    await expect(refusal).to_contain_text("the camera refused user admin")
    await expect(dialog.get_by_test_id("pair-field-password")).to_have_attribute("aria-invalid", "true")
    await expect(dialog.get_by_test_id("pair-error")).to_be_hidden()
    assert hub.config_entries.entries("rtsp_camera") == []
    await screenshot(pages, page, "refused")

    # The right one: "Added" with a link to the camera, the row gone, the camera in the camera API.
    await dialog.get_by_test_id("pair-field-password").fill(CAMERA_PASSWORD)
    await dialog.get_by_test_id("pair-submit").click()
    await expect(dialog).to_have_count(0)
    status = page.get_by_test_id("discovered-status")
    await expect(status).to_contain_text(EN["discovered.added"].replace("{title}", "Porch"))
    await expect(page.get_by_test_id("discovered-added-link")).to_have_attribute("href", "#/cameras")
    await expect(row).to_have_count(0)
    await expect(page.get_by_test_id("discovered-list")).to_contain_text(EN["discovered.none"])
    [entry] = hub.config_entries.entries("rtsp_camera")
    assert entry.source == "discovery"
    token = (await hub.auth.login("ana", password, address="127.0.0.1")).access_token
    api = Api(hub.http.url, token)
    try:
        cameras = (await api.json("GET", "/api/rtsp_camera/cameras"))["cameras"]
        assert [c["id"] for c in cameras] == ["porch"], cameras
    finally:
        await api.session.close()
    await screenshot(pages, page, "added")

    # A second camera turns up while the page is open; ignored, it leaves the list ...
    garage = await found(hub, rtsp, "Garage")
    garage_row = page.get_by_test_id(f"discovered-{garage}")
    await expect(garage_row).to_contain_text("Garage")
    await page.get_by_test_id(f"ignore-{garage}").click()
    await expect(garage_row).to_have_count(0)
    assert [r.ignored for r in await hub.pairing.list(ignored=True)] == [True]
    # ... shows under "Show ignored" with only Forget, which (after a confirmation) drops it.
    await page.get_by_test_id("show-ignored").check()
    await expect(garage_row).to_contain_text(EN["discovered.ignored"])
    await expect(page.get_by_test_id(f"pair-{garage}")).to_have_count(0)
    await screenshot(pages, page, "ignored")
    await page.get_by_test_id(f"forget-{garage}").click()
    await page.get_by_test_id("confirm-ok").click()
    await expect(garage_row).to_have_count(0)
    assert await hub.pairing.list(ignored=True) == []

    # A resident on a phone: the list and a hint, no buttons.
    driveway = await found(hub, rtsp, "Driveway")
    phone = await open_discovered(pages, hub, "beto", password, viewport=(360, 740))
    phone_row = phone.get_by_test_id(f"discovered-{driveway}")
    await expect(phone_row).to_contain_text("Driveway")
    await expect(phone.get_by_test_id("discovered-resident-hint")).to_have_text(EN["discovered.resident_hint"])
    await expect(phone_row.locator("button")).to_have_count(0)
    await expect(phone.get_by_test_id("show-ignored")).to_have_count(0)
    width = await phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways on a phone: {width}px"
    await screenshot(pages, phone, "resident-phone")
