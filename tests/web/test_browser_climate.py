"""The demo's BLE climate sensors on the dashboard, in a real browser (Debian's chromium, Playwright).

The hub runs the demo's `ble_climate:` block with `DemoClimate` (hub/demo_climate.py): the simulated
adapter and beacons, the roof through the simulated proxy. A resident sees the three rooms' cards in
their areas, a temperature's page with its history chart, and the adapter named as simulated.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from browser_helpers import expect, free_port, hash_is, log_in
from waiting import until

from hub.clock import RealClock
from hub.config import CONFIG_FILE, SECRETS_FILE
from hub.demo_climate import ADAPTER_LABEL, DemoClimate, climate_block, climate_secrets
from hub.runtime import Hub

# Fixtures from tests/web/conftest.py: pages.open(url, viewport=, ...) -> page, pages.screenshot(page, label).
Pages = Any

ROOMS = ("living_room", "bedroom", "roof")
AREAS = ("Sala", "Recámara", "Azotea")
LIVING = "sensor.living_room_temperature"
HISTORY_STEPS = 60  # two hours of readings, one every two minutes (the 24 h chart's buckets are 7.2 min)


class _PastClock(RealClock):
    """The real clock, moved `offset` seconds (tests/web/conftest.py's ShiftableClock is not importable:
    every conftest is the module `conftest`)."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def _write_config(config_dir: Path) -> None:
    config = (
        "hub:\n  name: Casa Maderas\n  time_zone: America/Mexico_City\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {free_port()}\n"
    )
    (config_dir / CONFIG_FILE).write_text(config + climate_block(free_port()), encoding="utf-8")
    (config_dir / SECRETS_FILE).write_text(climate_secrets(), encoding="utf-8")
    (config_dir / SECRETS_FILE).chmod(0o600)


async def test_dashboard_shows_the_demo_climate_sensors_and_a_temperature_history(
    pages: Pages, password: str, tmp_path: Path
) -> None:
    _write_config(tmp_path)
    async with DemoClimate(tmp_path) as climate:
        clock = _PastClock()
        hub = Hub(tmp_path, clock=clock)
        climate.attach(hub)
        await hub.start()
        try:
            assert hub.config_errors == [] and hub.http.running, hub.http.error
            await until(lambda: (s := hub.states.get("sensor.bluetooth_adapter")) is not None and s.state == "scanning",
                        what="the simulated adapter to scan")  # fmt: skip
            # Two hours of the beacons' day, recorded on the clock moved into the past, then the present.
            for step in range(HISTORY_STEPS):
                clock.offset = -(HISTORY_STEPS - step) * 120.0
                climate.broadcast()
            clock.offset = 0.0
            climate.broadcast()
            await until(lambda: all((s := hub.states.get(f"sensor.{r}_temperature")) is not None
                                    and s.state not in ("unavailable", "unknown") for r in ROOMS),
                        what="every room's temperature")  # fmt: skip
            await hub.recorder.flush()
            await hub.auth.create_user("ana", "Ana", password, "admin", language="en")

            page = await pages.open(hub.http.url + "/")
            await log_in(page, "ana", password, wait_live=True)
            await expect(page).to_have_url(hash_is("overview"))
            for area in AREAS:
                await expect(page.get_by_role("heading", name=area, exact=True)).to_be_visible()
            for room in ROOMS:
                for kind in ("temperature", "humidity", "battery"):
                    value = page.get_by_test_id(f"value-sensor.{room}_{kind}")
                    await expect(value).to_be_visible()
                    await expect(value).to_have_text(re.compile(r"\d" + (" °C" if kind == "temperature" else " ?%")))
            await pages.screenshot(page, "overview")

            await page.goto(hub.http.url + f"/#/entity/{LIVING}")
            await expect(page.get_by_test_id("entity-name")).to_have_text("Living room Temperature")
            await expect(page.get_by_test_id(f"value-{LIVING}")).to_have_text(re.compile(r"^\d+(\.\d)? °C$"))
            chart = page.get_by_test_id("history-chart")
            await expect(chart).to_be_visible()
            summary = re.compile(r"over the last 24 hours: lowest [\d.]+ °C, highest [\d.]+ °C, latest [\d.]+ °C$")
            await expect(chart).to_have_attribute("aria-label", summary)
            # A line through the buckets of two hours (not a lone dot), with its min-max band.
            line = re.compile(r"^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){10,}$")
            await expect(chart.locator("path.chart-mean")).to_have_attribute("d", line)
            await expect(chart.locator("path.chart-band")).to_have_attribute("d", re.compile(r"Z$"))
            await pages.screenshot(page, "living-room-temperature")

            await page.goto(hub.http.url + "/#/entity/sensor.bluetooth_adapter")
            await expect(page.get_by_test_id("entity-name")).to_have_text(ADAPTER_LABEL)
            await expect(page.get_by_test_id("attributes")).to_contain_text("scanning_mode")
        finally:
            await pages.close()  # before the hub goes: a page must not outlive its server
            await hub.stop()
