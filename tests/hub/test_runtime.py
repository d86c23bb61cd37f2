"""The Hub end to end: configuration -> storage -> integrations, bad input, stop, watchdog."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest

from hub.clock import ManualClock
from hub.integrations import IntegrationState
from hub.loader import CUSTOM_DIR
from hub.runtime import Hub, HubState, LoopWatchdog
from hub.storage import DatabaseInUse

WORKS = '''
import voluptuous as vol
DOMAIN = __name__.rsplit(".", 1)[1]
CONFIG_SCHEMA = vol.Schema({vol.Optional("level", default=50): vol.All(int, vol.Range(0, 100))})

async def async_setup(hub, config):
    hub.states.set(f"sensor.{DOMAIN}_level", config["level"], {"unit_of_measurement": "%"})
    hub.clock.every(30, lambda: None)
'''

RAISES = '''
async def async_setup(hub, config):
    raise RuntimeError("the wiring is wrong")
'''


def write_integration(config_dir: Path, domain: str, code: str, **manifest: object) -> None:
    package = config_dir / CUSTOM_DIR / domain
    package.mkdir(parents=True)
    data = {"domain": domain, "name": domain.title(), "version": "1.0.0", "iot_class": "local_polling", **manifest}
    (package / "manifest.json").write_text(json.dumps(data))
    (package / "__init__.py").write_text(code)


async def test_start_runs_what_can_run_and_reports_the_rest(tmp_path: Path, clock: ManualClock) -> None:
    write_integration(tmp_path, "cistern", WORKS)
    write_integration(tmp_path, "rooftop", WORKS)
    write_integration(tmp_path, "broken", RAISES)
    write_integration(tmp_path, "needs_broken", WORKS, dependencies=["broken"])
    (tmp_path / "configuration.yaml").write_text(
        "hub:\n  name: Casa Maderas\n"
        "cistern:\n  level: 80\n"
        "rooftop:\n  level: 150\n"
        "broken:\n"
        "needs_broken:\n"
    )
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        assert hub.state is HubState.running and hub.name == "Casa Maderas"
        statuses = {s.domain: s for s in hub.integrations.statuses()}
        assert statuses["cistern"].state is IntegrationState.loaded
        assert hub.states.get("sensor.cistern_level").state == "80"
        assert [str(e) for e in hub.config_errors] == [
            "configuration.yaml:6: rooftop -> level: value must be at most 100, got 150"
        ]
        assert statuses["rooftop"].state is IntegrationState.failed
        assert "configuration.yaml:6" in statuses["rooftop"].error
        assert statuses["broken"].state is IntegrationState.failed
        assert statuses["broken"].error == "RuntimeError: the wiring is wrong"
        assert statuses["needs_broken"].state is IntegrationState.failed
        assert "broken" in statuses["needs_broken"].error
    finally:
        await hub.stop()
    assert hub.state is HubState.stopped


async def test_malformed_yaml_still_starts_core(tmp_path: Path, clock: ManualClock) -> None:
    (tmp_path / "configuration.yaml").write_text("hub:\n  name: [unclosed\n")
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        assert hub.state is HubState.running
        assert len(hub.config_errors) == 1
        assert str(hub.config_errors[0]).startswith("configuration.yaml:3:1: invalid YAML: expected ',' or ']'")
        hub.states.set("sensor.alive", 1)
        await hub.outbox.enqueue("test", {"still": "durable"})
    finally:
        await hub.stop()


async def test_first_start_writes_default_config(tmp_path: Path, clock: ManualClock) -> None:
    hub = Hub(tmp_path / "new", clock=clock)
    await hub.start()
    await hub.stop()
    assert (tmp_path / "new" / "configuration.yaml").exists()
    assert hub.config_errors == []


async def test_second_hub_on_same_directory_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    first = Hub(tmp_path, clock=clock)
    await first.start()
    try:
        second = Hub(tmp_path, clock=ManualClock())
        with pytest.raises(DatabaseInUse, match="in use by another hub process"):
            await second.start()
        assert second.state is HubState.stopped
        first.states.set("sensor.still_fine", 1)
        assert first.state is HubState.running
    finally:
        await first.stop()


async def test_corrupt_database_is_moved_aside(tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "hub.db").write_bytes(b"this is not sqlite" * 500)
    hub = Hub(tmp_path, clock=clock)
    with caplog.at_level(logging.ERROR):
        await hub.start()
    try:
        assert hub.db.recovered_from is not None and hub.db.recovered_from.exists()
        assert "is corrupt" in caplog.text and hub.db.recovered_from.name in caplog.text
        assert hub.state is HubState.running
    finally:
        await hub.stop()


async def test_history_survives_restart(tmp_path: Path, clock: ManualClock) -> None:
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    hub.states.set("sensor.cistern_volume", 8000)
    await clock.advance(1)
    hub.states.set("sensor.cistern_volume", 7990)
    await hub.stop()  # stop flushes the batch that has not reached its commit tick
    again = Hub(tmp_path, clock=clock)
    await again.start()
    try:
        rows = await again.recorder.history("sensor.cistern_volume", 0, clock.time() + 1)
        assert [r["state"] for r in rows] == ["8000", "7990"]
    finally:
        await again.stop()


async def test_stop_is_bounded_when_an_unload_hangs(tmp_path: Path) -> None:
    write_integration(
        tmp_path,
        "stuck",
        "import asyncio\nasync def async_setup(hub, config):\n    pass\n"
        "async def async_unload(hub):\n    await asyncio.sleep(3600)\n",
    )
    (tmp_path / "configuration.yaml").write_text("stuck:\n")
    hub = Hub(tmp_path)
    await hub.start()
    hub.states.set("sensor.kept", 1)
    started = time.monotonic()
    await hub.stop(timeout=1.0)
    assert time.monotonic() - started < 2.0
    assert not hub.db.running


async def test_watchdog_reports_a_blocked_loop(caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(threshold=0.1, interval=0.01)
    watchdog.start()
    try:
        await asyncio.sleep(0.03)
        assert watchdog.blocked_count == 0
        with caplog.at_level(logging.WARNING):
            time.sleep(0.15)  # deliberately block the loop
            await asyncio.sleep(0.03)
        assert watchdog.blocked_count == 1 and watchdog.max_lag >= 0.14
        assert "Event loop was blocked for" in caplog.text
    finally:
        watchdog.stop()


async def test_missing_secret_fails_only_its_integration(tmp_path: Path, clock: ManualClock) -> None:
    write_integration(tmp_path, "cistern", WORKS)
    write_integration(tmp_path, "gas", "async def async_setup(hub, config):\n    hub.states.set('sensor.gas_ok', 1)\n")
    (tmp_path / "secrets.yaml").write_text("other: x\n")
    (tmp_path / "configuration.yaml").write_text("cistern:\n  level: 70\ngas:\n  token: !secret gas_token\n")
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        assert [str(e) for e in hub.config_errors] == ["configuration.yaml:4: secret 'gas_token' is not defined in secrets.yaml"]
        assert hub.integrations.status("cistern").state is IntegrationState.loaded
        gas = hub.integrations.status("gas")
        assert gas.state is IntegrationState.failed
        assert gas.error == "invalid configuration: configuration.yaml:4: secret 'gas_token' is not defined in secrets.yaml"
        assert "sensor.gas_ok" not in hub.states
    finally:
        await hub.stop()
