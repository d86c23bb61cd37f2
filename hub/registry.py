"""The entity and device registries: stable entity ids and the devices behind them, in SQLite.

Both registries load every row into memory at `load()`, so lookups are plain dict reads.
Every change is committed through the database writer thread first, then applied in memory,
then announced (`entity_registry_updated` / `device_registry_updated`), so a listener never
sees a change that a crash could still undo.

RegistryError (also a ValueError)
 +-- UnknownEntry     no entity or device with that id
 +-- EntityIdInvalid  a requested entity id is malformed, of another domain, or taken
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import re
import time as _time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import sqlite_utils

from .bus import Bus, new_id
from .errors import HubError
from .states import valid_entity_id
from .storage import Database

EVENT_ENTITY_REGISTRY_UPDATED = "entity_registry_updated"
EVENT_DEVICE_REGISTRY_UPDATED = "device_registry_updated"

DISABLED_BY = (None, "user", "integration")

Pair = tuple[str, str]
Clock = Callable[[], float]  # wall time in epoch seconds, for `created`
_T = TypeVar("_T")


class _Undefined(enum.Enum):
    UNDEFINED = enum.auto()


UNDEFINED = _Undefined.UNDEFINED  # "leave unchanged", where None is a meaningful new value


class RegistryError(HubError, ValueError):
    """A registry request that cannot be honoured as asked."""


class UnknownEntry(RegistryError):
    """No entity or device with the given id is registered."""


class EntityIdInvalid(RegistryError):
    """A requested entity id is malformed, changes the domain, or is already taken."""


def _create_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE entity_registry (entity_id TEXT PRIMARY KEY, unique_id TEXT NOT NULL, "
        "platform TEXT NOT NULL, domain TEXT NOT NULL, config_entry_id TEXT, device_id TEXT, "
        "name TEXT, original_name TEXT, disabled_by TEXT, area TEXT, created REAL NOT NULL)"
    )
    db.execute("CREATE UNIQUE INDEX entity_registry_unique ON entity_registry(platform, unique_id)")
    # identifiers and connections are JSON arrays of [kind, value] pairs, sorted.
    db.execute(
        "CREATE TABLE device_registry (id TEXT PRIMARY KEY, identifiers TEXT NOT NULL, "
        "connections TEXT NOT NULL, manufacturer TEXT, model TEXT, name TEXT, name_by_user TEXT, "
        "sw_version TEXT, hw_version TEXT, via_device_id TEXT, config_entry_id TEXT, area TEXT, "
        "disabled_by TEXT, created REAL NOT NULL)"
    )


MIGRATIONS = [_create_tables]


def slugify(text: str) -> str:
    """'Cistern Level (m³)' -> 'cistern_level_m3': ASCII lowercase words joined by underscores."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def normalize_mac(value: str) -> str:
    """'AA-BB-CC-DD-EE-FF' or 'aabb.ccdd.eeff' -> 'aa:bb:cc:dd:ee:ff'; other text only lower-cased."""
    hexdigits = re.sub(r"[:\-.]", "", value.strip()).lower()
    if re.fullmatch(r"[0-9a-f]{12}", hexdigits):
        return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))
    return value.strip().lower()


def _pairs(items: Iterable[Iterable[str]], *, connections: bool = False) -> frozenset[Pair]:
    """Identifiers or connections as a frozenset of string pairs, MAC addresses normalised."""
    return frozenset((str(k), normalize_mac(str(v)) if connections and k == "mac" else str(v)) for k, v in items)


def _check_disabled_by(value: Any) -> None:
    if value is not UNDEFINED and value not in DISABLED_BY:
        raise RegistryError(f"disabled_by must be one of {DISABLED_BY}, got {value!r}")


def _changes(old: Any, wanted: dict[str, Any], *, none_keeps: bool = False) -> dict[str, Any]:
    """The wanted values that are given (not UNDEFINED, nor None if `none_keeps`) and differ from `old`'s."""
    skip = (UNDEFINED, None) if none_keeps else (UNDEFINED,)
    return {k: v for k, v in wanted.items() if v not in skip and getattr(old, k) != v}


class _Store:
    """What both registries share: a table, the bus event, a write lock and change events."""

    table = ""
    event = ""
    columns: tuple[str, ...] = ()

    def __init__(self, db: Database, bus: Bus, clock_time: Clock) -> None:
        self._db = db
        self._bus = bus
        self._time = clock_time
        self._lock = asyncio.Lock()  # serialises writes so two creations never pick the same id

    def _require(self, items: dict[str, _T], key: str) -> _T:
        if key not in items:
            raise UnknownEntry(f"{key} is not in the {self.table.replace('_', ' ')}")
        return items[key]

    async def _load_rows(self) -> list[tuple[Any, ...]]:
        await self._db.migrate("registry", MIGRATIONS)
        sql = f"SELECT {', '.join(self.columns)} FROM {self.table}"
        return await self._db.run(lambda db: db.execute(sql).fetchall())

    async def _write(self, values: list[Any], delete: tuple[str, Any] | None = None) -> None:
        """Optionally delete one row by (column, value), then insert or replace `values`, atomically."""
        marks = ", ".join("?" * len(values))
        insert = f"INSERT OR REPLACE INTO {self.table} ({', '.join(self.columns)}) VALUES ({marks})"

        def write(db: sqlite_utils.Database) -> None:
            if delete is not None:
                db.execute(f"DELETE FROM {self.table} WHERE {delete[0]} = ?", [delete[1]])
            db.execute(insert, values)

        await self._db.run(write)

    def _announce(self, old: Any, new: Any, **data: Any) -> None:
        """Fire the change event: action create/update, and for updates the old values that changed."""
        data["action"] = "create" if old is None else "update"
        if old is not None:
            data["changes"] = {f: getattr(old, f) for f in self.columns if getattr(old, f) != getattr(new, f)}
        self._bus.fire(self.event, data)


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """What the hub remembers about one entity, keyed by (platform, unique_id)."""

    entity_id: str
    unique_id: str
    platform: str  # the integration's domain
    domain: str  # the entity's domain, e.g. "sensor"
    config_entry_id: str | None = None
    device_id: str | None = None
    name: str | None = None  # the user's name, shown instead of the entity's own
    original_name: str | None = None
    disabled_by: str | None = None
    area: str | None = None
    created: float = 0.0

    @property
    def disabled(self) -> bool:
        """Whether the user or the integration switched this entity off."""
        return self.disabled_by is not None


class EntityRegistry(_Store):
    """Maps (integration, unique id) to a stable entity id and the user's settings for it."""

    table = "entity_registry"
    event = EVENT_ENTITY_REGISTRY_UPDATED
    columns = tuple(f.name for f in dataclasses.fields(RegistryEntry))

    def __init__(self, db: Database, bus: Bus, *, clock_time: Clock = _time.time) -> None:
        super().__init__(db, bus, clock_time)
        self._entries: dict[str, RegistryEntry] = {}
        self._by_unique: dict[Pair, str] = {}

    async def load(self) -> None:
        """Create the tables if needed and read every entry into memory."""
        self._entries = {row[0]: RegistryEntry(*row) for row in await self._load_rows()}
        self._by_unique = {(e.platform, e.unique_id): e.entity_id for e in self._entries.values()}

    def get(self, entity_id: str) -> RegistryEntry | None:
        """The entry of an entity id, or None."""
        return self._entries.get(entity_id)

    def get_by_unique_id(self, platform: str, unique_id: str) -> RegistryEntry | None:
        """The entry an integration registered under `unique_id`, or None."""
        entity_id = self._by_unique.get((platform, unique_id))
        return None if entity_id is None else self._entries[entity_id]

    def entries_for_device(self, device_id: str) -> list[RegistryEntry]:
        """Entries of the entities of one device."""
        return [e for e in self._entries.values() if e.device_id == device_id]

    def entries_for_config_entry(self, config_entry_id: str) -> list[RegistryEntry]:
        """Entries created by one config entry."""
        return [e for e in self._entries.values() if e.config_entry_id == config_entry_id]

    def all(self) -> list[RegistryEntry]:
        """Every entry."""
        return list(self._entries.values())

    def generate_entity_id(self, domain: str, suggested_object_id: str) -> str:
        """A free `domain.object_id` from a suggestion: slugified, then suffixed _2, _3 ..."""
        base = f"{domain}.{slugify(suggested_object_id) or 'unnamed'}"
        candidate, n = base, 1
        while candidate in self._entries:
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    async def async_get_or_create(
        self, domain: str, platform: str, unique_id: str, *, suggested_object_id: str | None,
        original_name: str | None = None, device_id: str | None = None,
        config_entry_id: str | None = None, disabled_by: str | None = None,
    ) -> RegistryEntry:
        """The entry for (platform, unique_id), created with a fresh entity id on first sight.

        Later calls never change the entity id or disabled_by; they refresh original_name,
        device_id and config_entry_id when given values differ (None leaves them as they are).
        """
        if not valid_entity_id(f"{domain}.x"):
            raise RegistryError(f"invalid entity domain {domain!r}")
        _check_disabled_by(disabled_by)
        unique_id = str(unique_id)
        async with self._lock:
            old = self.get_by_unique_id(platform, unique_id)
            if old is None:
                entity_id = self.generate_entity_id(domain, suggested_object_id or f"{platform} {unique_id}")
                return await self._save(None, RegistryEntry(
                    entity_id, unique_id, platform, domain, config_entry_id, device_id,
                    original_name=original_name, disabled_by=disabled_by, created=self._time(),
                ))
            if old.domain != domain:
                raise RegistryError(
                    f"{platform} unique id {unique_id!r} is already used by {old.entity_id}; "
                    "unique ids must be unique within an integration, across entity domains"
                )
            wanted = {"original_name": original_name, "device_id": device_id, "config_entry_id": config_entry_id}
            changes = _changes(old, wanted, none_keeps=True)
            return await self._save(old, dataclasses.replace(old, **changes)) if changes else old

    async def async_update(
        self, entity_id: str, *, name: str | None | _Undefined = UNDEFINED,
        new_entity_id: str | _Undefined = UNDEFINED, disabled_by: str | None | _Undefined = UNDEFINED,
        area: str | None | _Undefined = UNDEFINED,
    ) -> RegistryEntry:
        """Apply a user's changes: display name, entity id, disabled flag, area."""
        _check_disabled_by(disabled_by)
        async with self._lock:
            old = self._require(self._entries, entity_id)
            if new_entity_id is not UNDEFINED and new_entity_id != entity_id:
                self._check_new_entity_id(old, new_entity_id)
            wanted = {"name": (name or None) if name is not UNDEFINED else UNDEFINED,
                      "entity_id": new_entity_id, "disabled_by": disabled_by, "area": area}
            changes = _changes(old, wanted)
            return await self._save(old, dataclasses.replace(old, **changes)) if changes else old

    async def async_remove(self, entity_id: str) -> None:
        """Forget an entity; the next registration of its unique id gets a fresh entity id."""
        async with self._lock:
            entry = self._require(self._entries, entity_id)
            await self._db.run(lambda db: db.execute("DELETE FROM entity_registry WHERE entity_id = ?", [entity_id]))
            del self._entries[entity_id]
            self._by_unique.pop((entry.platform, entry.unique_id), None)
            self._bus.fire(self.event, {"action": "remove", "entity_id": entity_id})

    def _check_new_entity_id(self, old: RegistryEntry, new_entity_id: str) -> None:
        if not isinstance(new_entity_id, str) or not valid_entity_id(new_entity_id):
            raise EntityIdInvalid(
                f"cannot rename {old.entity_id} to {new_entity_id!r}: an entity id is domain.object_id "
                "in lowercase letters, digits and single underscores, e.g. sensor.cistern_level"
            )
        if new_entity_id.partition(".")[0] != old.domain:
            raise EntityIdInvalid(
                f"cannot rename {old.entity_id} to {new_entity_id}: the domain must stay {old.domain!r}"
            )
        if new_entity_id in self._entries:
            raise EntityIdInvalid(f"cannot rename {old.entity_id} to {new_entity_id}: that entity id is taken")

    async def _save(self, old: RegistryEntry | None, new: RegistryEntry) -> RegistryEntry:
        """Commit `new` (replacing `old`), then update memory and announce the change."""
        old_id = old.entity_id if old is not None else None
        renamed = {"old_entity_id": old_id} if old_id not in (None, new.entity_id) else {}
        await self._write([getattr(new, f) for f in self.columns], ("entity_id", old_id) if renamed else None)
        if old_id is not None:
            del self._entries[old_id]
        self._entries[new.entity_id] = new
        self._by_unique[(new.platform, new.unique_id)] = new.entity_id
        self._announce(old, new, entity_id=new.entity_id, **renamed)
        return new


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One physical (or logical) device that entities belong to."""

    id: str
    identifiers: frozenset[Pair]  # (integration domain, id within it)
    connections: frozenset[Pair] = frozenset()  # ("mac", "aa:bb:cc:dd:ee:ff"), ("serial", "/dev/ttyUSB0:3")
    manufacturer: str | None = None
    model: str | None = None
    name: str | None = None
    name_by_user: str | None = None
    sw_version: str | None = None  # firmware version
    hw_version: str | None = None
    via_device_id: str | None = None  # the hub, gateway or proxy this device is reached through
    config_entry_id: str | None = None
    area: str | None = None
    disabled_by: str | None = None
    created: float = 0.0

    @property
    def display_name(self) -> str | None:
        """The user's name for the device if they gave one, else the integration's."""
        return self.name_by_user or self.name


class DeviceRegistry(_Store):
    """Devices matched by identifiers or connections; removing one removes its entities."""

    table = "device_registry"
    event = EVENT_DEVICE_REGISTRY_UPDATED
    columns = tuple(f.name for f in dataclasses.fields(DeviceEntry))

    def __init__(self, db: Database, bus: Bus, entities: EntityRegistry, *, clock_time: Clock = _time.time) -> None:
        super().__init__(db, bus, clock_time)
        self._entities = entities
        self._devices: dict[str, DeviceEntry] = {}
        self._index: dict[tuple[str, str, str], str] = {}  # ("identifier"|"connection", kind, value) -> id

    async def load(self) -> None:
        """Create the tables if needed and read every device into memory."""
        self._devices, self._index = {}, {}
        for row in await self._load_rows():
            ids, conns = (_pairs(orjson.loads(row[i]), connections=i == 2) for i in (1, 2))
            self._remember(DeviceEntry(row[0], ids, conns, *row[3:]))

    def get(self, device_id: str) -> DeviceEntry | None:
        """The device with this id, or None."""
        return self._devices.get(device_id)

    def get_by_identifier(self, identifier: Pair) -> DeviceEntry | None:
        """The device known by (domain, id), or None."""
        device_id = self._index.get(("identifier", *identifier))
        return None if device_id is None else self._devices[device_id]

    def get_by_connection(self, connection: Pair) -> DeviceEntry | None:
        """The device known by (type, value), e.g. ("mac", "AA-BB-CC-DD-EE-FF"), or None."""
        (pair,) = _pairs([connection], connections=True)
        device_id = self._index.get(("connection", *pair))
        return None if device_id is None else self._devices[device_id]

    def all(self) -> list[DeviceEntry]:
        """Every device."""
        return list(self._devices.values())

    async def async_get_or_create(
        self, *, identifiers: Iterable[Pair] = (), connections: Iterable[Pair] = (),
        manufacturer: str | None = None, model: str | None = None, name: str | None = None,
        sw_version: str | None = None, hw_version: str | None = None,
        via_device: Pair | None = None, config_entry_id: str | None = None,
    ) -> DeviceEntry:
        """The device matching any identifier or connection, updated with the given fields (None keeps)."""
        ids, conns = _pairs(identifiers), _pairs(connections, connections=True)
        if not ids and not conns:
            raise RegistryError("a device needs at least one identifier or connection")
        async with self._lock:
            old = self._match(ids, conns)
            via = self.get_by_identifier(via_device) if via_device is not None else None
            fields = {
                "manufacturer": manufacturer, "model": model, "name": name, "sw_version": sw_version,
                "hw_version": hw_version, "config_entry_id": config_entry_id,
                "via_device_id": via.id if via is not None and (old is None or via.id != old.id) else None,
            }
            if old is None:
                return await self._save(None, DeviceEntry(new_id(), ids, conns, created=self._time(), **fields))
            changes = _changes(old, fields, none_keeps=True)
            # Adopt new identifiers and connections, but never ones another device already owns.
            ids = old.identifiers | {p for p in ids if self._index.get(("identifier", *p), old.id) == old.id}
            conns = old.connections | {p for p in conns if self._index.get(("connection", *p), old.id) == old.id}
            changes.update(_changes(old, {"identifiers": ids, "connections": conns}))
            return await self._save(old, dataclasses.replace(old, **changes)) if changes else old

    async def async_update(
        self, device_id: str, *, name_by_user: str | None | _Undefined = UNDEFINED,
        area: str | None | _Undefined = UNDEFINED, disabled_by: str | None | _Undefined = UNDEFINED,
    ) -> DeviceEntry:
        """Apply a user's changes: display name, area, disabled flag."""
        _check_disabled_by(disabled_by)
        async with self._lock:
            old = self._require(self._devices, device_id)
            wanted = {"name_by_user": (name_by_user or None) if name_by_user is not UNDEFINED else UNDEFINED,
                      "area": area, "disabled_by": disabled_by}
            changes = _changes(old, wanted)
            return await self._save(old, dataclasses.replace(old, **changes)) if changes else old

    async def async_remove(self, device_id: str) -> None:
        """Forget a device and every entity registered on it; devices behind it lose their link."""
        self._require(self._devices, device_id)
        for entry in self._entities.entries_for_device(device_id):
            await self._entities.async_remove(entry.entity_id)
        async with self._lock:
            self._require(self._devices, device_id)

            def write(db: sqlite_utils.Database) -> None:
                db.execute("DELETE FROM device_registry WHERE id = ?", [device_id])
                db.execute("UPDATE device_registry SET via_device_id = NULL WHERE via_device_id = ?", [device_id])

            await self._db.run(write)
            del self._devices[device_id]
            self._index = {k: v for k, v in self._index.items() if v != device_id}
            for child in [d for d in self._devices.values() if d.via_device_id == device_id]:
                self._devices[child.id] = dataclasses.replace(child, via_device_id=None)
            self._bus.fire(self.event, {"action": "remove", "device_id": device_id})

    def _match(self, ids: frozenset[Pair], conns: frozenset[Pair]) -> DeviceEntry | None:
        """The device owning any of these identifiers (checked first) or connections."""
        keys = [("identifier", *p) for p in sorted(ids)] + [("connection", *p) for p in sorted(conns)]
        device_id = next((self._index[k] for k in keys if k in self._index), None)
        return None if device_id is None else self._devices[device_id]

    def _remember(self, entry: DeviceEntry) -> None:
        self._devices[entry.id] = entry
        self._index.update({("identifier", *p): entry.id for p in entry.identifiers})
        self._index.update({("connection", *p): entry.id for p in entry.connections})

    async def _save(self, old: DeviceEntry | None, new: DeviceEntry) -> DeviceEntry:
        """Commit `new`, then update memory and announce the change."""
        values = [getattr(new, f) for f in self.columns]
        values[1:3] = [orjson.dumps(sorted(pairs)).decode() for pairs in (new.identifiers, new.connections)]
        await self._write(values)
        self._remember(new)
        self._announce(old, new, device_id=new.id)
        return new
