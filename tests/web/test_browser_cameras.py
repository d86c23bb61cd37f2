"""The cameras page in a real browser (Debian's chromium, Playwright) against a hub with real RTSP cameras.

GStreamer's RTSP server shows a face coming and going behind Digest auth; a second camera has the
wrong password. An administrator sees the first streaming with its size and CPU cost, its live
canvas painting frames, a snapshot, the face under "Recent detections" as unknown, enrols it from
there, and sees it recognised after. A resident sees the list without the means to change it.
Leaving the page ends the live view on the hub.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from browser_helpers import EN, expect, hash_is, log_in
from waiting import until

from hub.runtime import Hub
from integrations.rtsp_camera import get_runtime

ROOT = Path(__file__).resolve().parents[2]
CAMERA_TESTS = ROOT / "tests" / "integrations" / "rtsp_camera"
if str(CAMERA_TESTS) not in sys.path:  # the RTSP server peer and the test faces live with the camera tests
    sys.path.insert(0, str(CAMERA_TESTS))

from cam_helpers import RtspServer, require_gstreamer
from face_images import HEIGHT, WIDTH
from test_cam_pipeline import head_and_shoulders, write_slides

# Fixtures from tests/web/conftest.py: make_hub(extra_yaml) -> started Hub; pages.open(url, viewport=)
# -> page, pages.screenshot(page, label).
HubFactory = Any
Pages = Any

WAIT_MS = 60_000  # a face is detected on motion, recognised in a worker process, on a busy 2-core machine
FRONT, PATIO = "front_door", "patio"

# The live canvas's pixels, folded into one number (enough to tell one frame from another).
CANVAS_SUM = """(canvas) => {
  if (!canvas.width || !canvas.height) return null;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 7) sum = (sum * 31 + data[i]) % 1000000007;
  return {width: canvas.width, height: canvas.height, sum};
}"""


@pytest.fixture
def rtsp(tmp_path: Path) -> Iterator[RtspServer]:
    """GStreamer's RTSP server with the face slides (set up before the hub, so it outlives it)."""
    require_gstreamer()
    slides = write_slides(tmp_path / "slides", [None, head_and_shoulders()])
    with RtspServer(slides=slides, slide_seconds=3, width=WIDTH, height=HEIGHT, fps=10) as server:
        yield server


def cameras_yaml(server: RtspServer) -> str:
    return yaml.safe_dump({"rtsp_camera": {"cameras": [
        {"name": "Front door", "sub_url": server.url("/slides"), "username": server.user,
         "password": server.password, "area": "Entrance", "motion": {"fps": 5}, "cpu_budget": 80},
        {"name": "Patio", "sub_url": server.url("/test"), "username": server.user, "password": "wrong",
         "faces": {"enabled": False}},
    ]}})  # fmt: skip


def live_clients(hub: Hub) -> int:
    """Live views the hub is serving of the front door (the pipeline's own count)."""
    pipeline = get_runtime(hub.integrations.scoped_hub("rtsp_camera")).cameras[FRONT].pipeline
    return int(pipeline.live_clients)


class LiveRequests:
    """The page's fetches of live views: every URL asked for, and those still open."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        self.open: set[Any] = set()
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, request: Any) -> None:
        if request.url.endswith("/live"):
            self.urls.append(request.url)
            self.open.add(request)

    def _end(self, request: Any) -> None:
        self.open.discard(request)


async def open_cameras(pages: Pages, hub: Hub, user: str, password: str, **options: Any) -> tuple[Any, LiveRequests]:
    """A page logged in as `user` on #/cameras, its live fetches watched from the start."""
    page = await pages.open(hub.http.url + "/", **options)
    requests = LiveRequests(page)
    await log_in(page, user, password, wait_live=True)
    await page.goto(hub.http.url + "/#/cameras")
    await expect(page).to_have_url(hash_is("cameras"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(EN["cameras.title"])
    return page, requests


async def screenshot(pages: Pages, page: Any, label: str) -> None:
    """A full-page screenshot from the top (scrolled, the sticky header would be drawn mid-page)."""
    await page.evaluate("() => window.scrollTo(0, 0)")
    await pages.screenshot(page, label)


async def test_cameras_page_live_snapshot_detections_and_enrolment(
    rtsp: RtspServer, make_hub: HubFactory, pages: Pages, password: str
) -> None:
    hub: Hub = await make_hub(cameras_yaml(rtsp))
    await hub.auth.create_user("ana", "Ana", password, "admin", language="en")
    await hub.auth.create_user("beto", "Beto", password, "resident", language="en")
    page, requests = await open_cameras(pages, hub, "ana", password)

    # The front door streams, with its size and what it costs; the patio says why it does not.
    card = page.get_by_test_id(f"camera-{FRONT}")
    await expect(page.get_by_test_id(f"camera-status-{FRONT}")).to_have_text(EN["cameras.state.streaming"],
                                                                             timeout=WAIT_MS)  # fmt: skip
    await expect(card).to_contain_text(f"{WIDTH}×{HEIGHT} · H264")
    await expect(page.get_by_test_id(f"camera-cpu-{FRONT}")).to_have_text(
        re.compile(r"^[\d.]+ % of a core \(budget 80 %\)"), timeout=WAIT_MS
    )
    patio = page.get_by_test_id(f"camera-status-{PATIO}")
    await expect(patio).to_contain_text(EN["cameras.state.unavailable"] + ": auth failed", timeout=WAIT_MS)
    await expect(patio).to_contain_text("admin")
    await expect(page.get_by_test_id(f"camera-{PATIO}")).to_contain_text(EN["cameras.live_off"])

    # The live canvas paints the camera's frames at 5 fps or more, and they change.
    canvas = page.get_by_test_id(f"live-{FRONT}")
    await expect(canvas).to_be_visible(timeout=WAIT_MS)
    first = await canvas.evaluate(CANVAS_SUM)
    assert first is not None and (first["width"], first["height"]) == (WIDTH, HEIGHT), first
    await expect(page.get_by_test_id(f"camera-fps-{FRONT}")).to_have_text(re.compile(r"^Live: \d+(\.\d)? fps$"))

    async def measured_fps() -> float | None:
        match = re.search(r"([\d.]+) fps", await page.get_by_test_id(f"camera-fps-{FRONT}").inner_text())
        return float(match.group(1)) if match and float(match.group(1)) >= 5.0 else None

    await until(measured_fps, what="the live view at 5 fps or more", timeout=WAIT_MS / 1000)

    async def changed() -> bool:
        now = await canvas.evaluate(CANVAS_SUM)
        return now is not None and now["sum"] != first["sum"]

    await until(changed, what="the live canvas showing a new picture", timeout=WAIT_MS / 1000)
    await until(lambda: live_clients(hub) == 1, what="one live viewer on the hub", timeout=WAIT_MS / 1000)
    assert {url.removeprefix(hub.http.url) for url in requests.urls} == {f"/api/rtsp_camera/{FRONT}/live"}

    # A snapshot on demand, in a dialog.
    await page.get_by_test_id(f"camera-snapshot-{FRONT}").click()
    dialog = page.get_by_test_id("camera-snapshot-dialog")
    picture = dialog.locator("img.snapshot-large")
    await expect(picture).to_be_visible()
    assert await picture.evaluate("(img) => img.naturalWidth") == WIDTH
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    # The patio has no picture to show: the dialog says why, in the hub's words.
    await page.get_by_test_id(f"camera-snapshot-{PATIO}").click()
    await expect(dialog.locator(".notice-error")).to_contain_text("no picture from Patio: auth failed")
    await expect(dialog.locator("img.snapshot-large")).to_be_hidden()
    await page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)

    # The face, a stranger, under "Recent detections" with its picture; enrolled from there as Ana.
    unknown = page.locator("li.detection").filter(has=page.locator(".badge", has_text=EN["cameras.unknown"]))
    await expect(unknown.first).to_be_visible(timeout=WAIT_MS)
    thumb = unknown.first.locator("img.detection-img")
    await expect(thumb).to_be_visible()
    assert await thumb.evaluate("(img) => img.naturalWidth") > 0
    await screenshot(pages, page, "admin")
    await unknown.first.get_by_role("button", name=EN["cameras.this_is"]).click()
    await expect(page.get_by_test_id("enrol-source")).to_have_value("detection")
    await expect(page.get_by_test_id("enrol-detection")).to_contain_text("Front door")
    await page.get_by_test_id("enrol-name").fill("Ana")
    await page.get_by_test_id("enrol-submit").click()
    message = page.get_by_test_id("cameras-message")
    enrolled = EN["cameras.enrol.done"].format(name="Ana")
    await expect(message).to_have_text(enrolled, timeout=WAIT_MS)
    faces = page.get_by_test_id("faces")
    await expect(faces.locator("li.item")).to_have_count(1)
    await expect(faces).to_contain_text("Ana")
    await expect(faces.locator("[data-testid^='face-delete-']")).to_have_count(1)

    # The next visit of the same face is Ana's.
    known = page.locator("li.detection").filter(has=page.locator(".badge-ok", has_text="Ana"))
    await expect(known.first).to_be_visible(timeout=WAIT_MS)
    # The page read the camera list again before it read that detection (refresh() does both, in
    # that order, and a face event changes the camera entity): the success message is still there.
    await expect(message).to_have_text(enrolled)
    await screenshot(pages, page, "admin-known")

    # Leaving the page ends the live view: the fetch is aborted and the hub stops encoding for it.
    await page.get_by_test_id("nav-overview").click()
    await expect(page).to_have_url(hash_is("overview"))
    await until(lambda: not requests.open, what="the page's /live fetch to end", timeout=WAIT_MS / 1000)
    await until(lambda: live_clients(hub) == 0, what="the hub's live viewer gone", timeout=WAIT_MS / 1000)
    asked = len(requests.urls)

    # A resident on a phone: the cameras, detections and faces, no enrolment and no removal.
    phone, _ = await open_cameras(pages, hub, "beto", password, viewport=(360, 780))
    await expect(phone.get_by_test_id(f"camera-status-{FRONT}")).to_have_text(EN["cameras.state.streaming"])
    await expect(phone.get_by_test_id(f"live-{FRONT}")).to_be_visible(timeout=WAIT_MS)
    await expect(phone.get_by_test_id(f"camera-fps-{FRONT}")).to_have_text(re.compile(r"^Live: "))
    faces = phone.get_by_test_id("faces")
    await expect(faces).to_contain_text("Ana")
    await expect(phone.get_by_text(EN["cameras.faces_admin_only"])).to_be_visible()
    await expect(phone.get_by_test_id("enrol-form")).to_have_count(0)
    await expect(phone.locator("[data-testid^='face-delete-']")).to_have_count(0)
    await expect(phone.locator("li.detection").first).to_be_visible()
    await expect(phone.locator("[data-testid^='detection-enrol-']")).to_have_count(0)
    width = await phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways on a phone ({width} px)"
    await screenshot(pages, phone, "resident-phone")
    assert len(requests.urls) == asked, "the admin's page fetched a live view again after leaving the cameras"
