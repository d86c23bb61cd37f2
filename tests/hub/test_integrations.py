"""Integration manager: setup in order, not-ready retries on the clock, failures, unload releases all."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from waiting import until

from hub.bus import EVENT_INTEGRATION_LOADED, Event
from hub.clock import ManualClock
from hub.integrations import (
    IntegrationLoadError,
    IntegrationManager,
    IntegrationState,
    IntegrationStatus,
    backoff_delay,
)
from hub.loader import CUSTOM_DIR, discover
from hub.runtime import Hub

# A complete small integration: schema, and a setup that makes one of each kind of resource.
STANDARD = '''
import asyncio
import voluptuous as vol
from hub.errors import SetupRetry

DOMAIN = __name__.rsplit(".", 1)[1]
CONFIG_SCHEMA = vol.Schema({
    vol.Optional("fail_times", default=0): int,
    vol.Optional("crash", default=False): bool,
    vol.Optional("hang_unload", default=False): bool,
    vol.Optional("label", default=""): str,
})
ATTEMPTS = []
CONFIG = {}

async def async_setup(hub, config):
    ATTEMPTS.append(hub.clock.time())
    CONFIG.update(config)
    hub.bus.listen("ping", lambda event: None)   # made before failing: must be released too
    if len(ATTEMPTS) <= config["fail_times"]:
        raise SetupRetry("device asleep")
    if config["crash"]:
        raise RuntimeError("wiring is wrong")
    hub.clock.every(10, lambda: None)

    async def poll():
        while True:
            await hub.clock.sleep(30)

    hub.create_task(poll(), "poll")
    hub.services.register(DOMAIN, "ping", lambda call: None)
    hub.states.set(f"sensor.{DOMAIN}_label", config["label"] or "none")

async def async_unload(hub):
    hub.bus.fire("test_unloaded", {"domain": DOMAIN})
    if CONFIG["hang_unload"]:
        await asyncio.sleep(3600)
'''


@pytest.fixture
def make(tmp_path: Path) -> Callable[..., Path]:
    """Write a custom integration into the hub's config dir: make(domain, code=STANDARD, **manifest)."""

    def write(domain: str, code: str = STANDARD, **manifest: Any) -> Path:
        package = tmp_path / CUSTOM_DIR / domain
        package.mkdir(parents=True, exist_ok=True)
        data = {"domain": domain, "name": domain, "version": "1.2.0", "iot_class": "local_push", **manifest}
        (package / "manifest.json").write_text(json.dumps(data))
        (package / "__init__.py").write_text(code)
        return package

    return write


@pytest.fixture
async def managers(hub: Hub, tmp_path: Path) -> AsyncIterator[Callable[[], IntegrationManager]]:
    """Build a manager over what is in the config dir now; unloads everything after the test."""
    made: list[IntegrationManager] = []

    def build() -> IntegrationManager:
        found = discover(tmp_path, builtin_package=None, entry_points=[])
        manager = IntegrationManager(hub, found.integrations, problems=found.errors(), unload_timeout=1.0)
        made.append(manager)
        return manager

    yield build
    for manager in made:
        await manager.unload_all()


def state(manager: IntegrationManager, domain: str) -> IntegrationState:
    return manager.status(domain).state


async def test_setup_and_unload_release_everything(
    hub: Hub, clock: ManualClock, make: Callable[..., Path], managers: Callable[[], IntegrationManager]
) -> None:
    make("cistern")
    manager = managers()
    listeners_before = hub.bus.listener_count()
    timers_before = clock.pending
    loaded: list[Event] = []
    unloaded: list[Event] = []
    hub.bus.listen(EVENT_INTEGRATION_LOADED, loaded.append)
    hub.bus.listen("test_unloaded", unloaded.append)
    listeners_before = hub.bus.listener_count()
    assert state(manager, "cistern") is IntegrationState.not_loaded
    assert "custom_integrations.cistern" not in sys.modules  # nothing imported before setup

    result = await manager.setup(["cistern"], {"cistern": {"label": "roof"}})
    assert result["cistern"] == IntegrationStatus(
        domain="cistern", state=IntegrationState.loaded, error=None, attempts=1, next_retry=None,
        source="custom", version="1.2.0",
    )
    assert [e.data["domain"] for e in loaded] == ["cistern"]
    assert hub.states.get("sensor.cistern_label").state == "roof"  # type: ignore[union-attr]
    scoped = manager.scoped_hub("cistern")
    assert scoped is not None
    assert scoped.scope.resource_count() == 4  # listener, timer, task, service
    assert hub.bus.listener_count()["ping"] == 1
    assert hub.services.has("cistern", "ping")
    (task,) = scoped.scope.tasks
    assert task.get_name() == "cistern:poll"

    await manager.unload("cistern")
    assert state(manager, "cistern") is IntegrationState.unloaded
    assert [e.data["domain"] for e in unloaded] == ["cistern"]
    assert scoped.scope.resource_count() == 0
    assert hub.scope.resource_count() == 0
    assert task.cancelled()
    assert hub.bus.listener_count() == listeners_before
    assert not hub.services.has("cistern", "ping")
    assert clock.pending == timers_before

    await manager.reload("cistern", {"cistern": {"label": "tank"}})
    assert state(manager, "cistern") is IntegrationState.loaded
    assert hub.states.get("sensor.cistern_label").state == "tank"  # type: ignore[union-attr]


async def test_not_ready_retries_with_backoff_then_loads(
    hub: Hub, clock: ManualClock, make: Callable[..., Path], managers: Callable[[], IntegrationManager],
    caplog: pytest.LogCaptureFixture,
) -> None:
    make("gas")
    make("gas_alarm", dependencies=["gas"])
    manager = managers()
    start = clock.time()
    caplog.set_level(logging.DEBUG, logger="hub.integrations")
    await manager.setup(["gas_alarm"], {"gas": {"fail_times": 2}})

    gas = manager.status("gas")
    assert (gas.state, gas.error, gas.attempts, gas.next_retry) == (
        IntegrationState.retrying, "SetupRetry: device asleep", 1, start + 5,
    )
    waiting = manager.status("gas_alarm")
    assert (waiting.state, waiting.error) == (IntegrationState.not_loaded, "waiting for dependency gas (retrying)")
    assert "ping" not in hub.bus.listener_count()  # the failed attempt's listener was released

    await clock.advance(4.9)
    assert manager.status("gas").attempts == 1
    await clock.advance(0.1)
    gas = manager.status("gas")
    assert (gas.state, gas.attempts, gas.next_retry) == (IntegrationState.retrying, 2, start + 5 + 10)
    await clock.advance(10)
    assert state(manager, "gas") is IntegrationState.loaded
    assert manager.status("gas").attempts == 3 and manager.status("gas").next_retry is None
    # Set up once its dependency was; its module is imported in the executor, so wait for that.
    await until(lambda: state(manager, "gas_alarm") is IntegrationState.loaded, what="gas_alarm loaded")
    module = sys.modules["custom_integrations.gas"]
    assert module.ATTEMPTS == [start, start + 5, start + 15]

    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert messages == [
        (logging.WARNING, "Integration gas is not ready (SetupRetry: device asleep); retrying in 5 s"),
        (logging.INFO, "Integration gas is set up after 3 attempts"),
    ]


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]


async def test_failure_is_isolated_and_fails_dependents(
    hub: Hub, make: Callable[..., Path], managers: Callable[[], IntegrationManager],
    caplog: pytest.LogCaptureFixture,
) -> None:
    make("broken")
    make("needs_broken", dependencies=["broken"])
    make("fine")
    make("after_broken", after_dependencies=["broken"])
    manager = managers()
    with caplog.at_level(logging.ERROR, logger="hub.integrations"):
        await manager.setup(["needs_broken", "fine", "after_broken"], {"broken": {"crash": True}})
    broken = manager.status("broken")
    assert (broken.state, broken.error) == (IntegrationState.failed, "RuntimeError: wiring is wrong")
    assert (state(manager, "needs_broken"), manager.status("needs_broken").error) == (
        IntegrationState.failed, "dependency broken failed",
    )
    assert state(manager, "fine") is IntegrationState.loaded
    assert state(manager, "after_broken") is IntegrationState.loaded
    assert "ping" in hub.bus.listener_count() and hub.bus.listener_count()["ping"] == 2  # fine + after_broken
    errors = [r.getMessage() for r in caplog.records]
    assert errors == [
        "Integration broken failed: RuntimeError: wiring is wrong",
        "Integration needs_broken failed: dependency broken failed",
    ]

    # Fixed configuration, then retry: it recovers and its dependent can be set up.
    await manager.reload("broken", {"broken": {"crash": False}})
    assert state(manager, "broken") is IntegrationState.loaded
    assert (await manager.retry_now("needs_broken")).state is IntegrationState.loaded


async def test_import_error_and_missing_requirement_reported_by_name(
    make: Callable[..., Path], managers: Callable[[], IntegrationManager]
) -> None:
    make("bad_import", "import surely_not_a_module_here\n")
    make("example_weather", requirements=["surely-not-installed-pkg>=2"])
    make("old_lib", requirements=["voluptuous>=999"])
    make("fine")
    manager = managers()
    await manager.setup(["bad_import", "example_weather", "old_lib", "fine"], {})
    assert manager.status("bad_import").state is IntegrationState.failed
    assert manager.status("bad_import").error == (
        "bad_import: cannot import custom_integrations.bad_import: "
        "ModuleNotFoundError: No module named 'surely_not_a_module_here'"
    )
    assert manager.status("example_weather").error == (
        "example_weather: requirement 'surely-not-installed-pkg>=2' is not installed"
    )
    assert "custom_integrations.example_weather" not in sys.modules  # never imported
    assert "does not satisfy >=999" in (manager.status("old_lib").error or "")
    assert manager.status("fine").state is IntegrationState.loaded


async def test_get_schema_imports_and_reports_failure(
    make: Callable[..., Path], managers: Callable[[], IntegrationManager]
) -> None:
    make("cistern")
    make("no_schema", "")
    make("bad_import", "raise ImportError('half-installed')\n")
    manager = managers()
    schema = manager.get_schema("cistern")
    assert schema({"label": "x"}) == {"fail_times": 0, "crash": False, "hang_unload": False, "label": "x"}
    assert manager.get_schema("no_schema") is None
    with pytest.raises(IntegrationLoadError, match="bad_import: cannot import .*half-installed"):
        manager.get_schema("bad_import")
    assert manager.status("bad_import").state is IntegrationState.failed


async def test_invalid_config_fails_with_key(
    make: Callable[..., Path], managers: Callable[[], IntegrationManager]
) -> None:
    make("cistern")
    manager = managers()
    await manager.setup(["cistern"], {"cistern": {"fail_times": "many"}})
    assert manager.status("cistern").state is IntegrationState.failed
    assert manager.status("cistern").error == "invalid config: fail_times: expected int"


async def test_cycle_missing_dependency_and_bad_manifest(
    make: Callable[..., Path], managers: Callable[[], IntegrationManager]
) -> None:
    make("a", dependencies=["b"])
    make("b", dependencies=["a"])
    make("lonely", dependencies=["ghost"])
    make("badly", iot_class="magic")
    make("fine")
    manager = managers()
    await manager.setup(["a", "lonely", "fine", "badly", "nowhere"], {})
    assert manager.status("a").error == "dependency cycle: a -> b -> a"
    assert manager.status("b").error == "dependency cycle: a -> b -> a"
    assert manager.status("lonely").error == "missing dependency 'ghost'"
    assert manager.status("nowhere").error == "integration 'nowhere' not found"
    assert manager.status("badly").state is IntegrationState.failed
    assert "custom_integrations/badly/manifest.json: iot_class" in (manager.status("badly").error or "")
    assert manager.status("fine").state is IntegrationState.loaded
    assert [s.domain for s in manager.statuses()] == ["a", "b", "badly", "fine", "lonely", "nowhere"]


async def test_unload_all_reverse_order_with_timeout(
    hub: Hub, make: Callable[..., Path], managers: Callable[[], IntegrationManager],
    caplog: pytest.LogCaptureFixture,
) -> None:
    make("base")
    make("middle", dependencies=["base"])
    make("top", dependencies=["middle"])
    make("slow")
    manager = managers()
    order: list[str] = []
    hub.bus.listen("test_unloaded", lambda e: order.append(e.data["domain"]))
    listeners = hub.bus.listener_count()
    await manager.setup(["top", "slow"], {"slow": {"hang_unload": True}})
    assert manager.loaded() == ["base", "middle", "slow", "top"]
    with caplog.at_level(logging.ERROR, logger="hub.integrations"):
        await manager.unload_all(timeout=0.05)
    assert order.index("top") < order.index("middle") < order.index("base")
    assert manager.loaded() == []
    assert "async_unload of slow did not finish within 0.05 s" in caplog.text
    assert hub.scope.resource_count() == 0
    assert hub.bus.listener_count() == listeners


async def test_unloading_a_dependency_unloads_dependents_first(
    hub: Hub, make: Callable[..., Path], managers: Callable[[], IntegrationManager]
) -> None:
    make("base")
    make("top", dependencies=["base"])
    manager = managers()
    order: list[str] = []
    hub.bus.listen("test_unloaded", lambda e: order.append(e.data["domain"]))
    await manager.setup(["top"], {})
    await manager.reload("base")
    assert order == ["top", "base"]
    assert manager.loaded() == ["base", "top"]


async def test_retry_now_skips_the_wait(
    clock: ManualClock, make: Callable[..., Path], managers: Callable[[], IntegrationManager]
) -> None:
    make("gas")
    manager = managers()
    hub_timers = clock.pending  # the hub's own (recorder commit and purge)
    await manager.setup(["gas"], {"gas": {"fail_times": 1}})
    assert state(manager, "gas") is IntegrationState.retrying
    status = await manager.retry_now("gas")
    assert (status.state, status.attempts) == (IntegrationState.loaded, 2)
    assert clock.pending == hub_timers + 1  # the integration's own 10 s timer; the retry timer is gone
