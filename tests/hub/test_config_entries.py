"""Config entries: stored in SQLite, one child scope each, set up through their integration."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.clock import ManualClock
from hub.config_entries import ConfigEntries, ConfigEntryError, EntryState
from hub.integrations import IntegrationManager, IntegrationState
from hub.loader import CUSTOM_DIR, discover
from hub.runtime import Hub

WEATHER = '''
from hub.errors import SetupRetry

DOMAIN = "weather"
SETUPS = []
UNLOADED = []
ATTEMPTS = {}

async def async_setup(hub, config):
    SETUPS.append(hub.clock.time())
    hub.bus.listen("integration_ping", lambda event: None)
    if len(SETUPS) <= config.get("fail_times", 0):
        raise SetupRetry("hub of stations offline")

async def async_setup_entry(hub, entry):
    count = ATTEMPTS[entry.entry_id] = ATTEMPTS.get(entry.entry_id, 0) + 1
    hub.bus.listen("entry_ping", lambda event: None)   # made before failing: must be released too
    if count <= entry.data.get("fail_times", 0):
        raise SetupRetry("station offline")
    if entry.data.get("crash"):
        raise ValueError("bad station")
    station = entry.data["station"]
    hub.clock.every(60, lambda: None)
    hub.services.register(DOMAIN, f"refresh_{station}", lambda call: None)
    hub.states.set(f"sensor.weather_{station}", str(entry.options.get("offset", 0)))

async def async_unload_entry(hub, entry):
    UNLOADED.append(entry.data["station"])
    hub.states.remove(f"sensor.weather_{entry.data['station']}")
'''


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    package = tmp_path / CUSTOM_DIR / "weather"
    package.mkdir(parents=True)
    manifest = {"domain": "weather", "name": "Weather", "version": "1.0", "iot_class": "local_polling", "config_flow": True}
    (package / "manifest.json").write_text(json.dumps(manifest))
    (package / "__init__.py").write_text(WEATHER)
    return tmp_path


async def start(hub: Hub) -> tuple[IntegrationManager, ConfigEntries]:
    found = discover(hub.config_dir, builtin_package=None, entry_points=[])
    manager = IntegrationManager(hub, found.integrations)
    entries = ConfigEntries(hub, manager)
    await entries.load()
    return manager, entries


@pytest.fixture
async def setup(hub: Hub, config_dir: Path) -> AsyncIterator[tuple[IntegrationManager, ConfigEntries]]:
    manager, entries = await start(hub)
    yield manager, entries
    await manager.unload_all()
    await entries.close()


def module() -> object:
    return sys.modules["custom_integrations.weather"]


async def test_add_sets_up_integration_then_entry_in_its_own_scope(
    hub: Hub, setup: tuple[IntegrationManager, ConfigEntries]
) -> None:
    manager, entries = setup
    roof = await entries.add("weather", "Roof", {"station": "roof"}, unique_id="st-1")
    assert manager.status("weather").state is IntegrationState.loaded
    assert (roof.state, roof.error, roof.attempts, roof.source) == (EntryState.loaded, None, 1, "user")
    yard = await entries.add("weather", "Yard", {"station": "yard"}, source="discovery")
    assert hub.bus.listener_count()["entry_ping"] == 2
    assert hub.states.get("sensor.weather_roof") is not None

    integration_scope = manager.scoped_hub("weather")
    assert integration_scope is not None
    assert integration_scope.scope.resource_count() == 1 + 2 * 3  # its listener + 3 per entry
    await entries.unload_entry(roof.entry_id)
    assert roof.state is EntryState.not_loaded
    assert module().UNLOADED == ["roof"]  # type: ignore[attr-defined]
    assert not hub.services.has("weather", "refresh_roof") and hub.services.has("weather", "refresh_yard")
    assert hub.bus.listener_count()["entry_ping"] == 1
    assert integration_scope.scope.resource_count() == 1 + 3
    assert manager.status("weather").state is IntegrationState.loaded

    await entries.reload_entry(roof.entry_id)
    assert roof.state is EntryState.loaded and roof.attempts == 2
    assert yard.state is EntryState.loaded


async def test_entries_survive_a_restart(tmp_path: Path, config_dir: Path) -> None:
    hub = Hub(config_dir, clock=ManualClock())
    await hub.start()
    manager, entries = await start(hub)
    roof = await entries.add("weather", "Roof", {"station": "roof", "height": 4.5}, unique_id="st-1")
    yard = await entries.add("weather", "Yard", {"station": "yard"}, source="import")
    await entries.update(yard.entry_id, options={"offset": 2}, title="Back yard")
    gone = await entries.add("weather", "Gone", {"station": "gone"})
    await entries.remove(gone.entry_id)
    assert module().UNLOADED == ["yard", "gone"]  # type: ignore[attr-defined]  # yard reloaded by update
    await manager.unload_all()
    await entries.close()
    await hub.stop()

    hub = Hub(config_dir, clock=ManualClock())
    await hub.start()
    try:
        manager, entries = await start(hub)
        loaded = {e.entry_id: e for e in entries.entries()}
        assert list(loaded) == [roof.entry_id, yard.entry_id]
        again = loaded[roof.entry_id]
        assert (again.domain, again.title, again.data, again.unique_id, again.source, again.disabled) == (
            "weather", "Roof", {"station": "roof", "height": 4.5}, "st-1", "user", False,
        )
        assert again.state is EntryState.not_loaded  # state is runtime, not stored
        assert (loaded[yard.entry_id].title, loaded[yard.entry_id].options) == ("Back yard", {"offset": 2})
        assert entries.domains() == ["weather"]
        # The hub's start sets up the integrations that have entries; the entries follow.
        await manager.setup(entries.domains())
        assert all(e.state is EntryState.loaded for e in entries.entries())
        assert hub.states.get("sensor.weather_yard").state == "2"  # type: ignore[union-attr]
        await manager.unload_all()
        assert all(e.state is EntryState.not_loaded for e in entries.entries())
        await entries.close()
    finally:
        await hub.stop()


async def test_same_unique_id_updates_instead_of_duplicating(
    hub: Hub, setup: tuple[IntegrationManager, ConfigEntries]
) -> None:
    _, entries = setup
    first = await entries.add("weather", "Roof", {"station": "roof"}, unique_id="st-1", source="discovery")
    second = await entries.add("weather", "Roof again", {"station": "attic"}, unique_id="st-1", source="discovery")
    assert second is first
    assert len(entries.entries()) == 1
    assert first.title == "Roof" and first.data == {"station": "attic"}
    assert module().UNLOADED == ["roof"]  # type: ignore[attr-defined]  # reloaded with the new data
    assert hub.states.get("sensor.weather_attic") is not None and hub.states.get("sensor.weather_roof") is None
    other_domain_same_id = await entries.add("weather", "No id", {"station": "x"})
    assert other_domain_same_id is not first
    rows = await hub.db.run(lambda db: db.execute("SELECT count(*) FROM config_entries").fetchone()[0])
    assert rows == 2


async def test_entry_retries_and_failures_are_per_entry(
    hub: Hub, clock: ManualClock, setup: tuple[IntegrationManager, ConfigEntries]
) -> None:
    _, entries = setup
    start_time = clock.time()
    slow = await entries.add("weather", "Slow", {"station": "slow", "fail_times": 2})
    bad = await entries.add("weather", "Bad", {"station": "bad", "crash": True})
    good = await entries.add("weather", "Good", {"station": "good"})
    assert (slow.state, slow.error, slow.next_retry) == (
        EntryState.retrying, "SetupRetry: station offline", start_time + 5,
    )
    assert (bad.state, bad.error) == (EntryState.failed, "ValueError: bad station")
    assert good.state is EntryState.loaded
    assert hub.bus.listener_count()["entry_ping"] == 1  # failed attempts released their listener
    await clock.advance(5)
    assert (slow.state, slow.attempts, slow.next_retry) == (EntryState.retrying, 2, start_time + 15)
    await clock.advance(10)
    assert (slow.state, slow.attempts, slow.next_retry) == (EntryState.loaded, 3, None)
    await entries.update(bad.entry_id, data={"station": "bad"})
    assert bad.state is EntryState.failed  # update reloads only loaded entries
    assert (await entries.retry_now(bad.entry_id)).state is EntryState.loaded


async def test_entry_waits_for_a_retrying_integration(
    hub: Hub, clock: ManualClock, config_dir: Path
) -> None:
    manager, entries = await start(hub)
    try:
        await manager.setup(["weather"], {"weather": {"fail_times": 1}})
        entry = await entries.add("weather", "Roof", {"station": "roof"})
        assert manager.status("weather").state is IntegrationState.retrying
        assert (entry.state, entry.error) == (EntryState.not_loaded, "waiting for integration weather (retrying)")
        await clock.advance(5)
        assert manager.status("weather").state is IntegrationState.loaded
        assert entry.state is EntryState.loaded
    finally:
        await manager.unload_all()
        await entries.close()


async def test_integration_unload_unloads_entries_and_disabled_entries_stay_down(
    hub: Hub, setup: tuple[IntegrationManager, ConfigEntries]
) -> None:
    manager, entries = setup
    listeners = hub.bus.listener_count()
    roof = await entries.add("weather", "Roof", {"station": "roof"})
    off = await entries.add("weather", "Off", {"station": "off"})
    await entries.set_disabled(off.entry_id, True)
    assert off.disabled and off.state is EntryState.not_loaded
    await manager.unload("weather")
    assert roof.state is EntryState.not_loaded
    assert module().UNLOADED == ["off", "roof"]  # type: ignore[attr-defined]
    assert hub.scope.resource_count() == 0
    assert hub.bus.listener_count() == listeners
    await manager.setup(["weather"])
    assert roof.state is EntryState.loaded and off.state is EntryState.not_loaded
    with pytest.raises(ConfigEntryError, match="integration 'nope' not found"):
        await entries.add("nope", "x", {})
    with pytest.raises(ConfigEntryError, match="not found"):
        await entries.remove("no-such-entry")
