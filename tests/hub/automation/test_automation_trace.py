"""Traces: JSON-safe and cut to size, the last N per automation, kept in the database across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from hub.automation.trace import MAX_VALUE_BYTES, Trace, TraceStore, json_safe
from hub.bus import Context
from hub.states import State
from hub.storage import Database


class Opaque:
    def __repr__(self) -> str:
        return "<opaque thing>"


def test_json_safe_turns_anything_into_json_and_cuts_long_values() -> None:
    moment = datetime(2026, 1, 15, 12, tzinfo=UTC)
    state = State("sensor.x", "3", {"unit": "L"}, 10.0, 10.0, Context(id="c1"))
    value = {"when": moment, "for": timedelta(minutes=10), "state": state, "set": {1}, "thing": Opaque(),
             "nan": float("nan"), 3: (1, 2)}  # fmt: skip
    safe = json_safe(value)
    orjson.dumps(safe)  # would raise on anything not JSON
    assert safe["when"] == "2026-01-15T12:00:00+00:00" and safe["for"] == 600.0 and safe["set"] == [1]
    assert safe["state"]["state"] == "3" and safe["state"]["context"]["id"] == "c1"
    assert safe["thing"] == "<opaque thing>" and safe["nan"] == "nan" and safe["3"] == [1, 2]
    long = json_safe({"text": "x" * 10_000})
    assert isinstance(long, str) and long.endswith("(truncated)") and len(long.encode()) < MAX_VALUE_BYTES + 20


def test_a_trace_round_trips_through_its_dict_form() -> None:
    trace = Trace.begin("door", 100.0, description="state of binary_sensor.door", context_id="ctx",
                        variables={"trigger": {"platform": "state", "to_state": Opaque()}, "big": "y" * 5000})
    trace.add_condition("conditions/0", True, "door is 'on'")
    index = trace.begin_step("actions/0", "notify.resident", "Tell", 100.0)
    trace.end_step(index, 101.5, result={"response": None})
    trace.finish("finished", 102.0)
    trace.finish("error", 103.0, "too late")  # a finished trace stays as it ended
    data = trace.as_dict()
    assert data["trigger"]["variables"]["trigger"]["to_state"] == "<opaque thing>"
    assert data["trigger"]["variables"]["big"].endswith("(truncated)")
    assert data["steps"] == [{"path": "actions/0", "action": "notify.resident", "alias": "Tell", "started": 100.0,
                              "duration": 1.5, "result": {"response": None}, "error": None}]  # fmt: skip
    assert data["conditions"] == [{"path": "conditions/0", "result": True, "reason": "door is 'on'"}]
    assert (data["state"], data["finished"], data["error"]) == ("finished", 102.0, None)
    assert Trace.from_dict(orjson.loads(orjson.dumps(data))).as_dict() == data
    assert trace.summary() == {"run_id": trace.run_id, "started": 100.0, "finished": 102.0, "state": "finished",
                               "trigger": "state of binary_sensor.door", "error": None}  # fmt: skip


async def test_the_store_keeps_the_newest_n_and_reads_them_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db")
    await db.start()
    store = TraceStore(db)
    await store.load()
    store.set_keep("door", 3)
    traces = []
    for n in range(5):
        trace = Trace.begin("door", 100.0 + n, description=f"run {n}", variables={}, context_id=None)
        store.add(trace)
        trace.finish("finished", 101.0 + n)
        store.save(trace)
        traces.append(trace)
    running = Trace.begin("door", 200.0, description="still going", variables={}, context_id=None)
    store.add(running)
    other = Trace.begin("light", 50.0, description="other", variables={}, context_id=None)
    other.finish("error", 51.0, "boom")
    store.save(other)
    assert [t.trigger_description for t in store.recent("door")] == ["still going", "run 4", "run 3", "run 2"]
    assert store.get("door", traces[0].run_id) is None and store.get("door", traces[4].run_id) is traces[4]
    await db.stop()  # drains the queued writes first

    db = Database(tmp_path / "hub.db")
    await db.start()
    again = TraceStore(db)
    await again.load()
    # The running trace was never saved; a stored one is read back whole.
    assert [t.trigger_description for t in again.recent("door")] == ["run 4", "run 3", "run 2"]
    assert again.get("door", traces[3].run_id).as_dict() == traces[3].as_dict()  # type: ignore[union-attr]
    assert [t.error for t in again.recent("light")] == ["boom"]
    rows = await db.run(lambda d: d.execute("SELECT COUNT(*) FROM automation_traces").fetchone()[0])
    assert rows == 4
    await db.stop()


async def test_saving_after_the_database_closed_does_not_raise(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.db")
    await db.start()
    store = TraceStore(db)
    await store.load()
    await db.stop()
    trace = Trace.begin("late", 1.0, description="late", variables={}, context_id=None)
    trace.finish("cancelled", 2.0)
    store.save(trace)
    assert store.recent("late") == [trace]
