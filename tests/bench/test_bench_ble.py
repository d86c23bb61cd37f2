"""bench.ble runs end to end on a tiny stream and really takes every advertisement to state.

No timing is asserted: this proves that every kind of device is in the stream, that each new
reading became a reading with no device problem and each repeat was dropped (so a fast number is
never a skipped advertisement), that the states hold what the simulated beacons measured, and that
the report has its rows, ratios and verdicts.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench.ble import KIND_NAMES, KINDS, READING_INTERVAL_S, REPEATS, START, Pipeline, Stream, _Device, main

DEVICES, SECONDS = 6, 30  # one device of each kind, three readings each
STATES_PER_READING = {"bthome": 4, "bthome_enc": 4, "atc": 4, "pvvx": 4, "pvvx_enc": 4, "mopeka": 3}  # no humidity


def check_pipeline(stream: Stream, pipeline: Pipeline) -> None:
    changed = [item for item in stream.heard if item.repeat == 0]
    assert pipeline.problems == {} and pipeline.empty == 0
    assert pipeline.readings == len(changed)
    counts = pipeline.tracker.counts()
    assert (counts.passed, counts.dropped, counts.devices) == (len(changed), len(changed) * REPEATS, DEVICES)
    assert pipeline.writes == sum(STATES_PER_READING[item.kind] for item in changed)
    assert 0 < pipeline.changes <= pipeline.writes


def check_states(pipeline: Pipeline) -> None:
    """The last reading of the BTHome, encrypted BTHome and pvvx devices is what their beacon measured."""
    rounds = int(SECONDS / READING_INTERVAL_S)
    for index in (0, 1, 3, 4):  # bthome, bthome_enc, pvvx, pvvx_enc
        device = _Device(index, KINDS[index])
        temp_cc, hum_ch, battery = device.beacon.reading_at(
            START + timedelta(seconds=device.phase + (rounds - 1) * READING_INTERVAL_S)
        )
        object_id = device.address.replace(":", "").lower()
        state = pipeline.states.get
        temperature, humidity = state(f"sensor.ble_{object_id}_temperature"), state(f"sensor.ble_{object_id}_humidity")
        battery_state, rssi = state(f"sensor.ble_{object_id}_battery"), state(f"sensor.ble_{object_id}_rssi")
        assert temperature is not None and humidity is not None and battery_state is not None and rssi is not None
        assert float(temperature.state) == pytest.approx(temp_cc / 100), KINDS[index]
        assert float(humidity.state) == pytest.approx(hum_ch / 100), KINDS[index]
        assert int(float(battery_state.state)) == battery
        assert temperature.attributes["unit_of_measurement"] == "°C"
        assert -75 <= int(rssi.state) <= -60


def test_tiny_stream_every_kind_to_state(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(["--devices", str(DEVICES), "--seconds", str(SECONDS), "--repeat", "2"])
    out = capsys.readouterr().out
    stream: Stream = report["stream"]
    assert dict(stream.kinds) == dict.fromkeys(KINDS, 1)
    assert len(stream.heard) == DEVICES * (SECONDS // 10) * (REPEATS + 1)
    assert [item.time for item in stream.heard] == sorted(item.time for item in stream.heard)
    assert len(report["runs"]) == 2
    for run in report["runs"]:
        check_pipeline(stream, run.mixed)
        check_pipeline(stream, run.split)
        check_states(run.mixed)
        assert run.library_values > 0  # bthome-ble decoded the BTHome readings on its own too
        assert run.rows["changed"].items + run.rows["repeat"].items == run.rows["mixed"].items == len(stream.heard)
        assert all(run.rows[f"kind:{kind}"].items == SECONDS // 10 for kind in KINDS)
    assert "best of 2 runs" in out and "single-threaded, one core" in out
    for name in ("floor: bleak objects + dict lookup", "mixed stream, arrival to state", "changed advertisements",
                 "unchanged advertisements (repeats)", "bthome-ble update alone, plain",
                 "bthome-ble update alone, encrypted", *(f"changed, {KIND_NAMES[kind]}" for kind in KINDS)):  # fmt: skip
        assert name in out, name
    assert "!!" not in out
    assert "bthome-ble's own update" in out
    assert "cost unchanged / changed: " in out and "goal <= 0.1): " in out
    assert "(goal >= 10,000/s): " in out and ("PASS" in out.splitlines()[-1] or "BELOW" in out.splitlines()[-1])


def test_repeats_carry_the_same_payload_in_new_objects() -> None:
    report = main(["--devices", "2", "--seconds", "10"])
    stream: Stream = report["stream"]
    first = [item for item in stream.heard if item.address == stream.heard[0].address]
    assert [item.repeat for item in first] == list(range(REPEATS + 1))
    assert all(item.service_data == first[0].service_data for item in first)
    # A scanner hands over new objects each time: the tracker must compare bytes, not identities.
    assert all(item.service_data[key] is not first[0].service_data[key]
               for item in first[1:] for key in item.service_data)  # fmt: skip
