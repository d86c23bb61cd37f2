"""Config entries: devices and accounts added from the dashboard or discovery, kept in SQLite.

Each entry belongs to one integration and is set up with `async_setup_entry(hub, entry)`
in its own child scope of the integration's scope, so unloading one entry releases what
that entry started and nothing else. Entries are not-ready/failed/retried like integrations.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import sqlite_utils

from .bus import new_id
from .clock import Timer
from .errors import HubError
from .integrations import NOT_READY, IntegrationManager, IntegrationState, backoff_delay, error_text
from .scope import ScopedHub

if TYPE_CHECKING:
    from .runtime import Hub

_LOGGER = logging.getLogger(__name__)

SOURCES = ("user", "discovery", "import")
_COLUMNS = ("entry_id", "domain", "title", "unique_id", "data", "options", "source", "disabled", "created_at", "modified_at")


class EntryState(str, enum.Enum):
    """Lifecycle of one config entry."""

    not_loaded = "not_loaded"
    setting_up = "setting_up"
    loaded = "loaded"
    retrying = "retrying"
    failed = "failed"


class ConfigEntryError(HubError):
    """A config entry operation that cannot be done (unknown entry, unknown integration ...)."""


@dataclass
class ConfigEntry:
    """One configured device or account of an integration."""

    entry_id: str
    domain: str
    title: str
    data: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    unique_id: str | None = None
    source: str = "user"
    disabled: bool = False
    state: EntryState = EntryState.not_loaded
    error: str | None = None
    attempts: int = 0
    next_retry: float | None = None  # wall time of the next attempt while retrying
    created_at: float = 0.0
    modified_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API (data included: the API layer decides what to redact)."""
        return {
            "entry_id": self.entry_id, "domain": self.domain, "title": self.title, "unique_id": self.unique_id,
            "data": self.data, "options": self.options, "source": self.source, "disabled": self.disabled,
            "state": self.state.value, "error": self.error, "attempts": self.attempts, "next_retry": self.next_retry,
        }


def _create_table(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE config_entries (entry_id TEXT PRIMARY KEY, domain TEXT NOT NULL, title TEXT NOT NULL, "
        "unique_id TEXT, data TEXT NOT NULL, options TEXT NOT NULL, source TEXT NOT NULL, "
        "disabled INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, modified_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE UNIQUE INDEX config_entries_unique_id ON config_entries(domain, unique_id) "
        "WHERE unique_id IS NOT NULL"
    )


MIGRATIONS = [_create_table]


class _Runtime:
    """What an entry holds while the hub runs (never stored)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.scoped: ScopedHub | None = None
        self.timer: Timer | None = None
        self.failures = 0
        self.complained = False


class ConfigEntries:
    """Stores config entries and sets them up and down through their integrations."""

    def __init__(self, hub: Hub, manager: IntegrationManager, *, setup_timeout: float = 300.0) -> None:
        self._hub = hub
        self._manager = manager
        self._entries: dict[str, ConfigEntry] = {}
        self._runtime: dict[str, _Runtime] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.setup_timeout = setup_timeout
        manager.add_setup_hook(self._integration_loaded)
        manager.add_unload_hook(self._integration_unloading)

    # -- storage ------------------------------------------------------------------------

    async def load(self) -> None:
        """Create or migrate the table and read every entry (call once the database is open)."""
        await self._hub.db.migrate("config_entries", MIGRATIONS)
        rows = await self._hub.db.run(
            lambda db: db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM config_entries ORDER BY created_at, entry_id"
            ).fetchall()
        )
        for row in rows:
            values = dict(zip(_COLUMNS, row))
            entry = ConfigEntry(
                entry_id=values["entry_id"], domain=values["domain"], title=values["title"],
                data=orjson.loads(values["data"]), options=orjson.loads(values["options"]),
                unique_id=values["unique_id"], source=values["source"], disabled=bool(values["disabled"]),
                created_at=values["created_at"], modified_at=values["modified_at"],
            )
            self._entries[entry.entry_id] = entry
            self._runtime[entry.entry_id] = _Runtime()

    async def _save(self, entry: ConfigEntry) -> None:
        row = (
            entry.entry_id, entry.domain, entry.title, entry.unique_id,
            orjson.dumps(entry.data).decode(), orjson.dumps(entry.options).decode(),
            entry.source, int(entry.disabled), entry.created_at, entry.modified_at,
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        sql = (
            f"INSERT INTO config_entries ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
            f"ON CONFLICT(entry_id) DO UPDATE SET {updates}"
        )
        await self._hub.db.run(lambda db: db.execute(sql, row))

    # -- queries ------------------------------------------------------------------------

    def get(self, entry_id: str) -> ConfigEntry:
        """The entry with this id; ConfigEntryError if there is none."""
        try:
            return self._entries[entry_id]
        except KeyError:
            raise ConfigEntryError(f"config entry {entry_id} not found") from None

    def entries(self, domain: str | None = None) -> list[ConfigEntry]:
        """All entries (of one domain), oldest first."""
        return [e for e in self._entries.values() if domain is None or e.domain == domain]

    def domains(self) -> list[str]:
        """Domains that have an enabled entry (the hub sets these integrations up at start)."""
        return sorted({e.domain for e in self._entries.values() if not e.disabled})

    def find(self, domain: str, unique_id: str) -> ConfigEntry | None:
        """The entry of `domain` with this unique id, if any."""
        return next((e for e in self._entries.values() if e.domain == domain and e.unique_id == unique_id), None)

    # -- changes ------------------------------------------------------------------------

    async def add(
        self,
        domain: str,
        title: str,
        data: Mapping[str, Any],
        *,
        unique_id: str | None = None,
        source: str = "user",
        options: Mapping[str, Any] | None = None,
    ) -> ConfigEntry:
        """Store a new entry and set it up; an existing (domain, unique_id) gets the new data instead."""
        if domain not in self._manager.integrations:
            raise ConfigEntryError(f"integration {domain!r} not found")
        if source not in SOURCES:
            raise ConfigEntryError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        if unique_id is not None:
            existing = self.find(domain, unique_id)
            if existing is not None:
                # Rediscovery of a known device (e.g. a new IP address): keep the user's title.
                return await self.update(existing.entry_id, data=data)
        now = self._hub.clock.time()
        entry = ConfigEntry(
            entry_id=new_id(), domain=domain, title=title, data=dict(data), options=dict(options or {}),
            unique_id=unique_id, source=source, created_at=now, modified_at=now,
        )
        await self._save(entry)
        self._entries[entry.entry_id] = entry
        self._runtime[entry.entry_id] = _Runtime()
        return await self.setup_entry(entry.entry_id)

    async def update(
        self,
        entry_id: str,
        data: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        title: str | None = None,
    ) -> ConfigEntry:
        """Change data, options or title; a loaded entry whose data or options changed is reloaded."""
        entry = self.get(entry_id)
        changed = (data is not None and dict(data) != entry.data) or (
            options is not None and dict(options) != entry.options
        )
        if not changed and (title is None or title == entry.title):
            return entry
        # Unload with the old data (the integration may need it to let go), set up with the new.
        reload = changed and entry.state in (EntryState.loaded, EntryState.retrying)
        if reload:
            await self.unload_entry(entry_id)
        if data is not None:
            entry.data = dict(data)
        if options is not None:
            entry.options = dict(options)
        if title is not None:
            entry.title = title
        entry.modified_at = self._hub.clock.time()
        await self._save(entry)
        return await self.setup_entry(entry_id) if reload else entry

    async def set_disabled(self, entry_id: str, disabled: bool) -> ConfigEntry:
        """Disable (unload and keep) or enable (and set up) an entry."""
        entry = self.get(entry_id)
        if entry.disabled == disabled:
            return entry
        if disabled:
            await self.unload_entry(entry_id)
        entry.disabled = disabled
        entry.modified_at = self._hub.clock.time()
        await self._save(entry)
        return entry if disabled else await self.setup_entry(entry_id)

    async def remove(self, entry_id: str) -> None:
        """Unload the entry, then delete it."""
        self.get(entry_id)
        await self.unload_entry(entry_id)
        await self._hub.db.run(lambda db: db.execute("DELETE FROM config_entries WHERE entry_id = ?", [entry_id]))
        del self._entries[entry_id]
        del self._runtime[entry_id]

    # -- setup and unload -----------------------------------------------------------------

    async def setup_entry(self, entry_id: str) -> ConfigEntry:
        """Set the entry up, setting its integration up first if needed."""
        entry = self.get(entry_id)
        if entry.disabled:
            return entry
        if self._manager.status(entry.domain).state is not IntegrationState.loaded:
            await self._manager.setup([entry.domain])  # its setup hook may set this entry up
        await self._setup(entry, (EntryState.not_loaded, EntryState.failed))
        return entry

    async def _setup(self, entry: ConfigEntry, allow: tuple[EntryState, ...]) -> None:
        runtime = self._runtime.get(entry.entry_id)
        if runtime is None:
            return  # removed meanwhile
        async with runtime.lock:
            if entry.state not in allow or entry.disabled or entry.entry_id not in self._entries:
                return
            self._cancel_timer(entry, runtime)
            status = self._manager.status(entry.domain)
            if status.state is IntegrationState.loaded:
                await self._attempt(entry, runtime)
            elif status.state is IntegrationState.failed:
                self._fail(entry, runtime, f"integration {entry.domain} failed: {status.error}")
            else:  # set up by the integration's setup hook once it loads
                entry.state, entry.error = EntryState.not_loaded, f"waiting for integration {entry.domain} ({status.state.value})"

    async def _attempt(self, entry: ConfigEntry, runtime: _Runtime) -> None:
        module = self._manager.module(entry.domain)
        parent = self._manager.scoped_hub(entry.domain)
        setup = getattr(module, "async_setup_entry", None)
        if parent is None or setup is None or not inspect.iscoroutinefunction(setup):
            self._fail(entry, runtime, f"integration {entry.domain} has no `async def async_setup_entry`")
            return
        entry.state, entry.next_retry = EntryState.setting_up, None
        entry.attempts += 1
        runtime.scoped = parent.scoped(f"{entry.domain}:{entry.entry_id}")
        try:
            async with asyncio.timeout(self.setup_timeout):
                await setup(runtime.scoped, entry)
        except NOT_READY as err:
            await self._close_scope(runtime)
            self._schedule_retry(entry, runtime, err)
            return
        except Exception as err:  # noqa: BLE001 - a broken entry fails alone
            await self._close_scope(runtime)
            self._fail(entry, runtime, error_text(err), exc=err)
            return
        except BaseException:
            await self._close_scope(runtime)
            entry.state = EntryState.not_loaded
            raise
        if runtime.complained:
            _LOGGER.info("Config entry %s (%s) is set up after %d attempts", entry.title, entry.domain, entry.attempts)
        entry.state, entry.error, runtime.failures, runtime.complained = EntryState.loaded, None, 0, False

    def _schedule_retry(self, entry: ConfigEntry, runtime: _Runtime, err: BaseException) -> None:
        runtime.failures += 1
        delay = backoff_delay(runtime.failures)
        entry.state, entry.error = EntryState.retrying, error_text(err)
        entry.next_retry = self._hub.clock.time() + delay
        log = _LOGGER.debug if runtime.complained else _LOGGER.warning
        log("Config entry %s (%s) is not ready (%s); retrying in %.0f s", entry.title, entry.domain, entry.error, delay)
        runtime.complained = True
        runtime.timer = self._hub.clock.call_later(delay, self._retry_due, entry.entry_id)

    def _retry_due(self, entry_id: str) -> None:
        entry = self._entries.get(entry_id)
        if entry is None:
            return
        self._runtime[entry_id].timer = None
        task = asyncio.get_running_loop().create_task(
            self._setup(entry, (EntryState.retrying,)), name=f"config_entries:retry:{entry_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fail(self, entry: ConfigEntry, runtime: _Runtime, message: str, exc: BaseException | None = None) -> None:
        self._cancel_timer(entry, runtime)
        if not (entry.state is EntryState.failed and entry.error == message):
            _LOGGER.error("Config entry %s (%s) failed: %s", entry.title, entry.domain, message, exc_info=exc)
        entry.state, entry.error, entry.next_retry = EntryState.failed, message, None
        runtime.complained = True

    def _cancel_timer(self, entry: ConfigEntry, runtime: _Runtime) -> None:
        if runtime.timer is not None:
            runtime.timer.cancel()
            runtime.timer = None
        entry.next_retry = None

    async def _close_scope(self, runtime: _Runtime) -> None:
        if runtime.scoped is not None:
            scoped, runtime.scoped = runtime.scoped, None
            await scoped.scope.close()

    async def unload_entry(self, entry_id: str) -> ConfigEntry:
        """Call the integration's async_unload_entry and release everything the entry started."""
        entry = self.get(entry_id)
        runtime = self._runtime[entry_id]
        self._cancel_timer(entry, runtime)
        async with runtime.lock:
            if entry.state is EntryState.loaded and runtime.scoped is not None:
                unload = getattr(self._manager.module(entry.domain), "async_unload_entry", None)
                if unload is not None:
                    try:
                        async with asyncio.timeout(self._manager.unload_timeout):
                            await unload(runtime.scoped, entry)
                    except Exception:  # noqa: BLE001 - the scope below still releases everything
                        _LOGGER.exception("Unloading config entry %s (%s) failed", entry.title, entry.domain)
            await self._close_scope(runtime)
            entry.state, entry.error, runtime.failures = EntryState.not_loaded, None, 0
        return entry

    async def reload_entry(self, entry_id: str) -> ConfigEntry:
        """Unload and set up again (e.g. after its options changed)."""
        await self.unload_entry(entry_id)
        return await self.setup_entry(entry_id)

    async def retry_now(self, entry_id: str) -> ConfigEntry:
        """Try a retrying or failed entry again at once."""
        entry = self.get(entry_id)
        await self._setup(entry, (EntryState.retrying, EntryState.failed))
        return entry

    async def _integration_loaded(self, domain: str) -> None:
        for entry in self.entries(domain):
            await self._setup(entry, (EntryState.not_loaded, EntryState.failed))

    async def _integration_unloading(self, domain: str) -> None:
        for entry in self.entries(domain):
            await self.unload_entry(entry.entry_id)

    async def close(self) -> None:
        """Cancel pending retries (the hub calls this on stop, after unloading integrations)."""
        for entry_id, runtime in self._runtime.items():
            self._cancel_timer(self._entries[entry_id], runtime)
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
