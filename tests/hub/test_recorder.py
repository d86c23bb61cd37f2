"""The recorder on a real SQLite file, driven by a manual clock."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.bus import EVENT_SERVICE_CALLED, Bus, Context
from hub.clock import ManualClock
from hub.recorder import Recorder
from hub.states import State, StateMachine
from hub.storage import Database, DatabaseLocked

DAY = 86_400.0
OpenRecorder = Callable[..., Awaitable[Recorder]]


@pytest.fixture
def bus(clock: ManualClock) -> Bus:
    return Bus(clock_time=clock.time)


@pytest.fixture
def states(bus: Bus, clock: ManualClock) -> StateMachine:
    return StateMachine(bus, clock_time=clock.time)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "hub.db"


@pytest.fixture
async def open_recorder(path: Path, bus: Bus, clock: ManualClock) -> AsyncIterator[OpenRecorder]:
    """Start a Database and a Recorder on `path`; everything started is stopped at the end."""
    opened: list[tuple[Recorder, Database]] = []

    async def open_(*, busy_timeout: float = 5.0, **options: Any) -> Recorder:
        db = Database(path, busy_timeout=busy_timeout)
        await db.start()
        recorder = Recorder(bus, db, clock=clock, **options)
        opened.append((recorder, db))
        await recorder.start()
        return recorder

    yield open_
    for recorder, db in reversed(opened):
        await recorder.stop()
        await db.stop()


@pytest.fixture
async def recorder(open_recorder: OpenRecorder) -> Recorder:
    return await open_recorder()


async def count(recorder: Recorder, table: str) -> int:
    return await recorder._db.run(lambda d: d.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def column(recorder: Recorder, sql: str) -> list[Any]:
    return await recorder._db.run(lambda d: [r[0] for r in d.execute(sql).fetchall()])


async def test_rows_are_written_only_when_the_commit_interval_ticks(
    recorder: Recorder, states: StateMachine, bus: Bus, clock: ManualClock
) -> None:
    states.set("sensor.cistern_level", "71.5", {"unit_of_measurement": "%"})
    bus.fire("water_ordered", {"litres": 5000})
    await clock.advance(0.5)
    assert recorder.pending_rows == 2
    assert await count(recorder, "states") == 0
    assert await count(recorder, "events") == 0

    # The tick queues the commit on the writer thread before the count query below.
    await clock.advance(0.5)
    assert await count(recorder, "states") == 1
    assert await count(recorder, "events") == 1
    assert recorder.pending_rows == 0


async def test_stop_commits_what_is_pending(open_recorder: OpenRecorder, states: StateMachine) -> None:
    recorder = await open_recorder()
    states.set("sensor.gas_level", "40")
    await recorder.stop()
    assert recorder._db.running
    assert await count(recorder, "states") == 1


async def test_identical_attributes_are_stored_once(
    recorder: Recorder, states: StateMachine, clock: ManualClock
) -> None:
    shared = {"unit_of_measurement": "°C", "friendly_name": "Patio"}
    states.set("sensor.patio_temperature", "20.5", shared)
    states.set("sensor.patio_temperature", "21.0", dict(shared))
    await recorder.flush()
    await clock.advance(5)
    # A later transaction finds the stored row instead of adding another.
    states.set("sensor.patio_temperature", "21.5", dict(shared))
    states.set("sensor.patio_temperature", "21.5", {"unit_of_measurement": "°C"})
    await recorder.flush()

    assert await count(recorder, "states") == 4
    assert await count(recorder, "state_attributes") == 2
    ids = await column(recorder, "SELECT attributes_id FROM states ORDER BY id")
    assert ids[0] == ids[1] == ids[2] != ids[3]


async def test_history_starts_with_the_state_in_force(
    recorder: Recorder, states: StateMachine, clock: ManualClock
) -> None:
    t0 = clock.time()
    for value in ("10", "20", "30", "40"):
        states.set("sensor.tank_level", value, {"unit_of_measurement": "%"})
        states.set("sensor.other", value)
        await clock.advance(60)
    states.remove("sensor.tank_level")
    await recorder.flush()

    def row(state: str | None, at: float) -> dict[str, Any]:
        attributes = {} if state is None else {"unit_of_measurement": "%"}
        return {"state": state, "attributes": attributes, "last_changed": at, "last_updated": at}

    assert await recorder.history("sensor.tank_level", t0 + 90, t0 + 150) == [
        row("20", t0 + 60),  # in force at the start
        row("30", t0 + 120),
    ]
    # The end is exclusive; nothing before the first row.
    assert await recorder.history("sensor.tank_level", t0 - 10, t0 + 60) == [row("10", t0)]
    assert await recorder.history("sensor.tank_level", t0 + 200, t0 + 300) == [
        row("40", t0 + 180),
        row(None, t0 + 240),  # removed
    ]
    # After a removal nothing is in force.
    assert await recorder.history("sensor.tank_level", t0 + 250, t0 + 300) == []


async def test_statistics_per_bucket_over_numeric_states_only(
    recorder: Recorder, states: StateMachine, clock: ManualClock
) -> None:
    t0 = clock.time()
    start = t0 + 60
    samples = {
        0: "999",  # before start
        60: "10", 70: "20", 80: "unavailable", 90: "30",  # bucket 0
        120: "5", 130: "unknown", 140: "nan", 150: "on", 160: "7",  # bucket 1
        # bucket 2 (180..239) has no samples
        240: "-1.5", 250: "2.5",  # bucket 3
        300: "100",  # at the end: excluded
    }  # fmt: skip
    elapsed = 0.0
    for offset, value in samples.items():
        await clock.advance(offset - elapsed)
        elapsed = offset
        states.set("sensor.flow_rate", value)
        states.set("sensor.unrelated", str(offset + 1000))
    await recorder.flush()

    assert await recorder.statistics("sensor.flow_rate", start, t0 + 300, 60) == [
        {"start": start, "min": 10.0, "mean": 20.0, "max": 30.0, "count": 3},
        {"start": start + 60, "min": 5.0, "mean": 6.0, "max": 7.0, "count": 2},
        # No sample in bucket 2: the value in force (7, the last state of bucket 1) carries on.
        {"start": start + 120, "min": 7.0, "mean": 7.0, "max": 7.0, "count": 0},
        {"start": start + 180, "min": -1.5, "mean": 0.5, "max": 2.5, "count": 2},
    ]
    assert await recorder.statistics("sensor.flow_rate", start, t0 + 300, 120) == [
        {"start": start, "min": 5.0, "mean": 72 / 5, "max": 30.0, "count": 5},
        {"start": start + 120, "min": -1.5, "mean": 0.5, "max": 2.5, "count": 2},
    ]


async def test_statistics_carry_the_value_in_force_but_not_across_unavailable_or_into_the_future(
    recorder: Recorder, states: StateMachine, clock: ManualClock
) -> None:
    t0 = clock.time()
    states.set("sensor.cistern_level", "70")  # in force before the range starts
    await clock.advance(100)
    states.set("sensor.cistern_level", "unavailable")  # bucket 1 (t0+100 .. t0+150 with start t0+50)
    await clock.advance(100)
    states.set("sensor.cistern_level", "68")  # bucket 3
    await clock.advance(30)  # now = t0 + 230
    await recorder.flush()
    result = await recorder.statistics("sensor.cistern_level", t0 + 50, t0 + 500, 50)
    assert result == [
        {"start": t0 + 50, "min": 70.0, "mean": 70.0, "max": 70.0, "count": 0},  # carried from before start
        # bucket 1 saw only 'unavailable' and bucket 2 follows it: gaps, not the old value
        {"start": t0 + 200, "min": 68.0, "mean": 68.0, "max": 68.0, "count": 1},
        # bucket 4 (t0+250) is in the future: nothing is invented there
    ]


async def test_statistics_of_a_non_numeric_entity_is_empty(
    recorder: Recorder, states: StateMachine, clock: ManualClock
) -> None:
    t0 = clock.time()
    for value in ("on", "off", "unavailable", "on"):
        states.set("binary_sensor.gate", value)
        await clock.advance(10)
    await recorder.flush()
    assert await recorder.statistics("binary_sensor.gate", t0, t0 + 100, 30) == []
    with pytest.raises(ValueError, match="bucket_seconds must be positive"):
        await recorder.statistics("binary_sensor.gate", t0, t0 + 100, 0)


async def test_events_keep_data_context_and_odd_values(recorder: Recorder, bus: Bus, clock: ManualClock) -> None:
    t0 = clock.time()
    reading = State("sensor.cistern_level", "12", {"unit_of_measurement": "%"}, t0, t0, Context(id="ctx-reading"))
    bus.fire(
        "low_water",
        {"state": reading, "price": Decimal("1.50"), "raw": b"\x01\xff", "where": Path("/tank")},
        context=Context(id="ctx-1", user_id="user-1", parent_id="ctx-reading", origin="resupply"),
    )
    await clock.advance(1)
    bus.fire("gas_ordered", {"kg": 30})
    await recorder.flush()

    [low] = await recorder.events("low_water", t0, t0 + 10)
    assert low == {
        "event_type": "low_water",
        "data": {"state": reading.as_dict() | {"attributes": {"unit_of_measurement": "%"}},
                 "price": "1.50", "raw": "01ff", "where": "/tank"},
        "origin": "local",
        "time_fired": t0,
        "context": {"id": "ctx-1", "user_id": "user-1", "parent_id": "ctx-reading", "origin": "resupply"},
    }  # fmt: skip
    assert [e["event_type"] for e in await recorder.events()] == ["low_water", "gas_ordered"]
    assert [e["event_type"] for e in await recorder.events(start=t0 + 1)] == ["gas_ordered"]
    assert [e["event_type"] for e in await recorder.events(limit=1)] == ["low_water"]
    # state_changed goes to the states table only.
    assert await recorder.events("state_changed") == []


async def test_unserialisable_event_data_is_still_recorded(recorder: Recorder, bus: Bus) -> None:
    bus.fire("counter_overflow", {"value": 2**70, "note": "past 64 bits"})
    await recorder.flush()
    [event] = await recorder.events("counter_overflow")
    assert event["data"] == {"value": str(2**70), "note": "past 64 bits"}


async def test_purge_deletes_old_rows_and_orphan_attributes_but_keeps_the_latest_state(
    open_recorder: OpenRecorder, states: StateMachine, bus: Bus, clock: ManualClock
) -> None:
    recorder = await open_recorder(commit_interval=3600, keep_days=10)
    t0 = clock.time()
    states.set("sensor.level", "1", {"v": 1})
    states.set("binary_sensor.door", "on", {"device_class": "door"})
    bus.fire("tank_refilled", {"litres": 1000})
    await clock.advance(1)
    states.set("sensor.level", "2", {"v": 1})
    await recorder.flush()
    await clock.advance(5 * DAY)
    states.set("sensor.level", "3", {"v": 3})
    await recorder.flush()

    await clock.advance(5.5 * DAY)
    assert await recorder.purge() == {"states": 2, "events": 1, "state_attributes": 1}
    assert await recorder.history("sensor.level", t0, clock.time()) == [
        {"state": "3", "attributes": {"v": 3}, "last_changed": t0 + 1 + 5 * DAY, "last_updated": t0 + 1 + 5 * DAY}
    ]
    # The door has not changed for 10.5 days: its only row is what restores it.
    assert set(await recorder.last_states()) == {"sensor.level", "binary_sensor.door"}
    assert sorted(await column(recorder, "SELECT shared_attrs FROM state_attributes")) == [
        '{"device_class":"door"}', '{"v":3}'
    ]
    assert await recorder.events() == []
    assert await recorder.purge(keep_days=0) == {"states": 0, "events": 0, "state_attributes": 0}

    # A removed entity is purged entirely, removal row included.
    states.remove("binary_sensor.door")
    await recorder.flush()
    await clock.advance(1)
    assert await recorder.purge(keep_days=0) == {"states": 2, "events": 0, "state_attributes": 1}
    assert set(await recorder.last_states()) == {"sensor.level"}


async def test_daily_purge_runs_on_its_own(
    open_recorder: OpenRecorder, states: StateMachine, clock: ManualClock
) -> None:
    recorder = await open_recorder(commit_interval=3600, keep_days=1)
    states.set("sensor.level", "1", {"v": 1})
    states.set("sensor.level", "2", {"v": 2})
    await recorder.flush()
    await recorder.wait_for_purge()  # the purge at start; a tick finding one running skips
    await clock.advance(DAY + 1)
    await recorder.wait_for_purge()
    assert await count(recorder, "states") == 2  # the first tick's cutoff is the rows' own time
    await clock.advance(DAY)
    await recorder.wait_for_purge()
    assert await column(recorder, "SELECT state FROM states") == ["2"]
    assert await count(recorder, "state_attributes") == 1


async def test_excluded_entities_domains_and_event_types_are_not_recorded(
    open_recorder: OpenRecorder, states: StateMachine, bus: Bus
) -> None:
    recorder = await open_recorder(
        exclude_entities=["sensor.wifi_password_age"], exclude_domains=["camera"], exclude_event_types=["ble_seen"]
    )
    states.set("sensor.wifi_password_age", "3")
    states.set("camera.gate", "streaming")
    states.set("sensor.gas_level", "55")
    bus.fire("ble_seen", {"address": "aa:bb"})
    bus.fire("gas_ordered", {"kg": 30})
    await recorder.flush()
    assert await column(recorder, "SELECT entity_id FROM states") == ["sensor.gas_level"]
    assert await column(recorder, "SELECT event_type FROM events") == ["gas_ordered"]


async def test_service_calls_are_excluded_by_default(recorder: Recorder, bus: Bus) -> None:
    # Their data can hold an alarm code.
    bus.fire(EVENT_SERVICE_CALLED, {"domain": "alarm_panel", "service": "disarm", "data": {"code": "1234"}})
    await recorder.flush()
    assert await count(recorder, "events") == 0


async def test_locked_commit_keeps_the_batch_for_the_next_tick(
    open_recorder: OpenRecorder, states: StateMachine, clock: ManualClock, path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    recorder = await open_recorder(busy_timeout=0.2)
    await recorder.purge()  # let the start-up purge finish before the file is locked
    t0 = clock.time()
    states.set("sensor.cistern_level", "80")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with caplog.at_level(logging.WARNING, logger="hub.recorder"):
            await clock.advance(1)  # the tick's commit waits 0.2 s for the lock, then fails
            with pytest.raises(DatabaseLocked):
                await recorder.flush()
        assert recorder.pending_rows == 1
        assert [r.getMessage() for r in caplog.records].count(
            "Recorder cannot write 1 rows yet, retrying every 1.0s: "
            f"database {path} is locked by another process: database is locked"
        ) == 1
        other.execute("ROLLBACK")
    finally:
        other.close()

    states.set("sensor.cistern_level", "79")
    await clock.advance(1)
    assert [r["state"] for r in await recorder.history("sensor.cistern_level", t0, t0 + 10)] == ["80", "79"]
    assert recorder.pending_rows == 0


async def test_full_queue_drops_the_oldest_rows_and_says_so(
    open_recorder: OpenRecorder, states: StateMachine, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = await open_recorder(max_pending_rows=3)
    with caplog.at_level(logging.ERROR, logger="hub.recorder"):
        for value in range(5):
            states.set("sensor.level", str(value))
        await recorder.flush()
    assert await column(recorder, "SELECT state FROM states ORDER BY id") == ["2", "3", "4"]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "Recorder queue is full (3 rows) because the database refuses writes; dropping the oldest rows",
        "Recorder dropped 2 rows while the database refused writes",
    ]


async def test_history_survives_a_restart(
    open_recorder: OpenRecorder, states: StateMachine, bus: Bus, clock: ManualClock
) -> None:
    first = await open_recorder()
    t0 = clock.time()
    level = states.set("sensor.gas_level", "55", {"unit_of_measurement": "%"}, context=Context(user_id="u1"))
    await clock.advance(30)
    door = states.set("binary_sensor.door", "off")
    bus.fire("gas_ordered", {"kg": 30})
    await first.stop()
    await first._db.stop()

    second = await open_recorder()
    restored = await second.last_states()
    assert restored == {"sensor.gas_level": level, "binary_sensor.door": door}
    assert restored["sensor.gas_level"].context == level.context
    assert [r["state"] for r in await second.history("sensor.gas_level", t0, t0 + 60)] == ["55"]
    assert [e["event_type"] for e in await second.events()] == ["gas_ordered"]
    assert await column(second, "SELECT version FROM schema_versions WHERE component = 'recorder'") == [1]
