"""The Hub: composition root that builds, starts and stops every part of the runtime.

Clock, database path and other seams are injected here and nowhere else. Start order:
configuration -> storage -> registries, recorder, outbox -> integrations in dependency
order. Stop runs the other way round and finishes within a bounded time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import time as _time
from collections.abc import Coroutine
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .bus import EVENT_HUB_STARTED, EVENT_HUB_STOP, Bus
from .clock import Clock, RealClock
from .http.views import ViewRegistry
from .scope import Scope, ScopedHub
from .services import ServiceRegistry
from .states import StateMachine, StateTracker
from .storage import Database

_LOGGER = logging.getLogger(__name__)

DB_FILENAME = "hub.db"
MDNS_ENV = "MADERAS_MDNS"
_OFF = {"off", "0", "false", "no"}


class HubState(str, enum.Enum):
    """Lifecycle of the hub process."""

    not_running = "not_running"
    starting = "starting"
    running = "running"
    stopping = "stopping"
    stopped = "stopped"


class Hub:
    """Owns the bus, states, services, storage and integrations of one home."""

    def __init__(
        self,
        config_dir: str | Path,
        *,
        clock: Clock | None = None,
        db_path: str | Path | None = None,
        watchdog_threshold: float = 0.1,
        mdns: bool | None = None,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.clock = clock or RealClock()
        self.scope = Scope("hub")
        self.bus = Bus(clock_time=self.clock.time, task_factory=self._listener_task)
        self.states = StateMachine(self.bus, clock_time=self.clock.time)
        self.tracker = StateTracker(self.bus)
        self.services = ServiceRegistry(self.bus)
        self.db = Database(db_path or self.config_dir / DB_FILENAME)
        self.state = HubState.not_running
        self.name = "Maderas Hub"
        self.time_zone: tzinfo = ZoneInfo("America/Mexico_City")
        self.config: dict[str, Any] = {}
        self.config_errors: list[Any] = []
        self.started_at: float | None = None
        self.watchdog = LoopWatchdog(threshold=watchdog_threshold)
        self._stop_event = asyncio.Event()
        self._listener_tasks: set[asyncio.Task[Any]] = set()
        # Filled in by start(); typed loosely so hub/ keeps one direction of imports.
        self.recorder: Any = None
        self.outbox: Any = None
        self.entities: Any = None
        self.devices: Any = None
        self.config_entries: Any = None
        self.integrations: Any = None
        self.discovery: Any = None
        self.auth: Any = None  # hub.auth.AuthManager
        self.automations: Any = None  # hub.automation.AutomationManager, after integrations
        self.http: Any = None  # hub.http.HttpServer, started last and stopped first
        self.views = ViewRegistry()  # endpoints integrations add (served by the HTTP server's catch-all)
        # mDNS announce/browse: None = on unless MADERAS_MDNS=off (the test suite sets it, so no test
        # multicasts on the host); `network: mdns: false` in the config turns it off as well.
        self.mdns_allowed = mdns if mdns is not None else os.environ.get(MDNS_ENV, "on").lower() not in _OFF
        self.mdns: Any = None  # hub.network.MdnsService once started (after HTTP: it announces the port)
        self.pairing: Any = None  # hub.pairing.PairingManager: the Discovered list and pairing flows
        # A stand-in for bleak's BleakScanner, set only by `hub demo` (no radio there); None = bleak.
        self.bluetooth_scanner_factory: Any = None

    # -- tasks ----------------------------------------------------------------------------

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a named task owned by the hub itself (cancelled on stop)."""
        return self.scope.create_task(coro, name)

    def _listener_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._listener_tasks.add(task)
        task.add_done_callback(self._listener_tasks.discard)
        return task

    def scoped(self, name: str) -> ScopedHub:
        """A view of the hub whose listeners, timers, tasks and services are owned by `name`."""
        return ScopedHub(self, self.scope.child(name))

    async def block_till_done(self, timeout: float = 10.0) -> None:
        """Wait until no listener task is pending (tests use this after firing events)."""
        deadline = _time.monotonic() + timeout
        while True:
            await asyncio.sleep(0)
            pending = [t for t in self._listener_tasks if not t.done()]
            if not pending:
                return
            remaining = deadline - _time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(pending)} listener tasks still running: {[t.get_name() for t in pending]}")
            await asyncio.wait(pending, timeout=remaining)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load configuration, open storage, start core services and set up integrations."""
        from .startup import start_hub  # the start sequence lives beside, to keep this module small

        self.state = HubState.starting
        self.watchdog.start()
        try:
            await start_hub(self)
        except BaseException:
            await self.stop()
            raise
        self.state = HubState.running
        self.started_at = self.clock.time()
        self.bus.fire(EVENT_HUB_STARTED)

    async def stop(self, timeout: float = 4.0) -> None:
        """Unload integrations, flush history, close storage; bounded by `timeout` per stage."""
        from .startup import stop_hub

        if self.state in (HubState.stopping, HubState.stopped):
            return
        self.state = HubState.stopping
        self.bus.fire(EVENT_HUB_STOP)
        try:
            await stop_hub(self, timeout)
        finally:
            for task in list(self._listener_tasks):
                task.cancel()
            # Integrations were unloaded above; this only catches what their unload left behind.
            await self.scope.close(timeout=0.5)
            self.watchdog.stop()
            self.state = HubState.stopped
            self._stop_event.set()

    async def wait_stopped(self) -> None:
        """Wait until `stop` has finished."""
        await self._stop_event.wait()


class LoopWatchdog:
    """Logs when the event loop was blocked longer than `threshold` seconds."""

    def __init__(self, threshold: float = 0.1, interval: float = 0.05) -> None:
        self.threshold = threshold
        self.interval = interval
        self.max_lag = 0.0
        self.blocked_count = 0
        self._handle: asyncio.TimerHandle | None = None
        self._expected = 0.0

    def start(self) -> None:
        """Begin measuring on the running loop (real time, not the hub clock)."""
        loop = asyncio.get_running_loop()
        self._expected = loop.time() + self.interval
        self._handle = loop.call_at(self._expected, self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        lag = now - self._expected
        if lag > self.max_lag:
            self.max_lag = lag
        if lag > self.threshold:
            self.blocked_count += 1
            _LOGGER.warning("Event loop was blocked for %.0f ms", lag * 1000)
        self._expected = now + self.interval
        self._handle = loop.call_at(self._expected, self._tick)

    def stop(self) -> None:
        """Stop measuring."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
