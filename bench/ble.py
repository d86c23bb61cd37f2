"""BLE climate pipeline: advertisements per second from arrival to state, with hundreds of devices.

Run from the repository root:

    .venv/bin/python -m bench.ble                        # 300 devices, 300 s of their traffic
    .venv/bin/python -m bench.ble --repeat 3             # best of 3 runs of every row (record with this)
    .venv/bin/python -m bench.ble --devices 30 --seconds 60

Issue 7's goal: at least 10,000 advertisements per second on one core, and an unchanged
advertisement (a repeat) costing at most a tenth of a changed one. Everything runs in this one
thread, one advertisement after another: the rates are one core's.

The radio traffic is made beforehand (not timed) from simulated beacons emitting real bytes:
BTHome plain and encrypted from firmware/sim/climate_sim.py (our beacon's own encoder), ATC1441 and
pvvx (plain and encrypted) and Mopeka Pro Plus frames built on the same simulated climate. Each
device sends a new reading every ~10 s and repeats it 5 times in between, as a BLE device repeats
one payload over its advertising interval; every advertisement gets its own dicts and bytes objects,
as a scanner would hand them over. Per advertisement the timed path is what the integration will
do: bleak's `BLEDevice` / `AdvertisementData`, `Advertisement.from_bleak`, `Tracker.seen`, then for
a new payload `ParserSet.parse` and `StateMachine.set` of temperature, humidity, battery and RSSI.
Baselines in the same run: building the bleak objects plus one dict lookup (the floor), and
bthome-ble's own `update` called directly (what the library costs without us).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bthome_ble import BTHomeBluetoothDeviceData
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from habluetooth import BluetoothServiceInfoBleak

from firmware.sim.climate_sim import ROOF, ROOM, SimulatedClimateBeacon, local_name_of
from hub.bus import EVENT_STATE_CHANGED, Bus, Event
from hub.states import StateMachine
from integrations.ble_climate.models import Advertisement
from integrations.ble_climate.parsers import ENVIRONMENT_UUID, MOPEKA_MANUFACTURER_ID, MOPEKA_UUID, ParserSet
from integrations.ble_climate.tracker import Tracker

GOAL_RATE = 10_000.0
GOAL_REPEAT_RATIO = 0.1
READING_INTERVAL_S = 10.0
REPEATS = 5
START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

KINDS = ("bthome", "bthome_enc", "atc", "pvvx", "pvvx_enc", "mopeka")
KIND_NAMES = {
    "bthome": "BTHome", "bthome_enc": "BTHome encrypted", "atc": "ATC1441", "pvvx": "pvvx",
    "pvvx_enc": "pvvx encrypted", "mopeka": "Mopeka",
}  # fmt: skip
# One cycle of 50 devices (36 / 7 / 3 / 2 / 1 / 1); the first six are one of each kind, so a tiny run
# still goes through every parser.
MIX: tuple[str, ...] = KINDS + ("bthome",) * 35 + ("bthome_enc",) * 6 + ("atc",) * 2 + ("pvvx",)

# The four states the integration writes per device: (reading key, entity suffix, attributes).
STATE_KEYS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("temperature", "temperature", {"unit_of_measurement": "°C", "device_class": "temperature"}),
    ("humidity", "humidity", {"unit_of_measurement": "%", "device_class": "humidity"}),
    ("battery", "battery", {"unit_of_measurement": "%", "device_class": "battery"}),
    ("signal_strength", "rssi", {"unit_of_measurement": "dBm", "device_class": "signal_strength"}),
)
_PVVX_AAD = b"\x11"


@dataclass(frozen=True, slots=True)
class Heard:
    """One advertisement as the radio delivered it: what the scanner puts into bleak's objects."""

    kind: str
    address: str
    name: str | None
    service_data: dict[str, bytes]
    manufacturer_data: dict[int, bytes]
    service_uuids: list[str]
    rssi: int
    time: float
    round: int
    repeat: int  # 0: a new reading; 1..REPEATS: the same payload again


@dataclass(frozen=True)
class Stream:
    """The whole traffic, in arrival order, and what the devices need to be decoded."""

    devices: int
    seconds: float
    heard: tuple[Heard, ...]
    bindkeys: Mapping[str, bytes]
    kinds: Mapping[str, int]  # devices per kind

    @property
    def changed(self) -> int:
        return sum(1 for item in self.heard if item.repeat == 0)


# -- the simulated devices ---------------------------------------------------------------------------------


class _Device:
    """One simulated device: its climate, its address and key, and the frame layout of its kind."""

    def __init__(self, index: int, kind: str) -> None:
        self.kind = kind
        prefix = "D4:40:F0" if kind == "mopeka" else "A4:C1:38"
        self.address = f"{prefix}:{index >> 16 & 0xFF:02X}:{index >> 8 & 0xFF:02X}:{index & 0xFF:02X}"
        self.mac = bytes.fromhex(self.address.replace(":", ""))
        self.bindkey = bytes((index * 7 + i) & 0xFF for i in range(16)) if kind.endswith("_enc") else None
        self.beacon = SimulatedClimateBeacon(
            self.address, ROOF if index % 4 == 0 else ROOM, start=START, seed=index,
            bindkey=self.bindkey if kind == "bthome_enc" else None, counter_start=index * 1000,
        )  # fmt: skip
        self.cipher = AESCCM(self.bindkey, tag_length=4) if kind == "pvvx_enc" and self.bindkey else None
        self.phase = (index * 7.919) % READING_INTERVAL_S  # spread the devices over the interval

    def frame(self, now: datetime, count: int) -> tuple[str | None, dict[str, bytes], dict[int, bytes], list[str]]:
        """(name, service data, manufacturer data, service UUIDs) of the reading at `now`."""
        if self.kind in ("bthome", "bthome_enc"):
            _, payload, service_data = self.beacon.advertise(now)
            return local_name_of(payload), service_data, {}, list(service_data)
        temp_cc, hum_ch, battery = self.beacon.reading_at(now)
        millivolts = 2000 + 12 * battery
        if self.kind == "mopeka":
            # Pro Plus: battery, temperature + 40, 14-bit level with quality 3, MAC tail, accelerometer.
            level = 900 + (count * 3) % 200
            data = bytes((0x08, 0x70, (temp_cc // 100 + 40) & 0x7F, level & 0xFF, level >> 8 | 0xC0))
            manufacturer_data = {MOPEKA_MANUFACTURER_ID: data + self.mac[3:] + b"\xfa\xe3"}
            return f"M{self.address[-5:]}", {}, manufacturer_data, [MOPEKA_UUID]
        if self.kind == "atc":
            data = self.mac + struct.pack(">hBBHB", temp_cc // 10, hum_ch // 100, battery, millivolts, count & 0xFF)
        elif self.kind == "pvvx":
            data = self.mac[::-1] + struct.pack("<hHHBBB", temp_cc, hum_ch, millivolts, battery, count & 0xFF, 0)
        else:
            assert self.cipher is not None
            counter = count & 0xFF
            nonce = self.mac[::-1] + bytes((14, 0x16, 0x1A, 0x18, counter))
            sealed = self.cipher.encrypt(nonce, struct.pack("<hHBB", temp_cc, hum_ch, battery, 0), _PVVX_AAD)
            data = bytes((counter,)) + sealed
        return f"ATC_{self.address[-8:].replace(':', '')}", {ENVIRONMENT_UUID: data}, {}, [ENVIRONMENT_UUID]


def _fresh(data: Mapping[Any, bytes]) -> dict[Any, bytes]:
    """Own copies of the bytes: a scanner hands over new objects, so a repeat is compared, not identical."""
    return {key: bytes(bytearray(value)) for key, value in data.items()}


def make_stream(devices: int, seconds: float) -> Stream:
    """`devices` beacons, each a new reading every ~10 s plus REPEATS repeats of it, for `seconds`."""
    sims = [_Device(index, MIX[index % len(MIX)]) for index in range(devices)]
    rounds = max(1, int(seconds / READING_INTERVAL_S))
    step = READING_INTERVAL_S / (REPEATS + 1)
    heard: list[Heard] = []
    base = START.timestamp()
    for sim in sims:
        for round_ in range(rounds):
            offset = sim.phase + round_ * READING_INTERVAL_S
            name, service_data, manufacturer_data, uuids = sim.frame(START + timedelta(seconds=offset), round_)
            for repeat in range(REPEATS + 1):
                rssi = -60 - (round_ + repeat + len(heard)) % 15  # RSSI moves; the payload does not
                heard.append(Heard(
                    sim.kind, sim.address, name, _fresh(service_data), _fresh(manufacturer_data), list(uuids),
                    rssi, base + offset + repeat * step, round_, repeat,
                ))  # fmt: skip
    heard.sort(key=lambda item: item.time)
    bindkeys = {sim.address: sim.bindkey for sim in sims if sim.bindkey is not None}
    return Stream(devices, rounds * READING_INTERVAL_S, tuple(heard), bindkeys, Counter(sim.kind for sim in sims))


# -- what is timed -----------------------------------------------------------------------------------------


def bleak_pair(item: Heard) -> tuple[BLEDevice, AdvertisementData]:
    """bleak's real objects, as its scanner builds them for every advertisement."""
    device = BLEDevice(item.address, item.name, None)
    data = AdvertisementData(
        item.name, item.manufacturer_data, item.service_data, item.service_uuids, None, item.rssi, ()
    )
    return device, data


class Pipeline:
    """What the integration will do per advertisement: tracker, parsers, then its four states per device."""

    def __init__(self, bindkeys: Mapping[str, bytes], addresses: Iterable[str]) -> None:
        self.tracker = Tracker()
        self.parsers = ParserSet(bindkeys)
        bus = Bus(clock_time=time.time)
        self.states = StateMachine(bus, clock_time=time.time)
        # Entity ids are made once, when the device is set up, not per advertisement.
        self.entities = {
            address: tuple(
                (key, f"sensor.ble_{address.replace(':', '').lower()}_{suffix}", attributes)
                for key, suffix, attributes in STATE_KEYS
            )
            for address in addresses
        }
        self.readings = 0
        self.empty = 0  # recognised but nothing new (the library had already taken that packet id)
        self.writes = 0
        self.changes = 0
        self.problems: Counter[str] = Counter()
        bus.listen(EVENT_STATE_CHANGED, self._changed)

    def _changed(self, _event: Event) -> None:
        self.changes += 1

    def handle(self, item: Heard) -> None:
        """One advertisement from arrival to state."""
        device, data = bleak_pair(item)
        adv = Advertisement.from_bleak(device, data, time=item.time, source="local")
        if not self.tracker.seen(adv):
            return
        reading = self.parsers.parse(adv)
        if reading is None:
            self.empty += 1
            return
        if reading.problem is not None:
            self.problems[reading.problem] += 1
            return
        self.readings += 1
        values = reading.values
        set_state = self.states.set
        for key, entity_id, attributes in self.entities[reading.address]:
            value = values.get(key)
            if value is not None:
                set_state(entity_id, value, attributes)
                self.writes += 1


@dataclass
class Row:
    """One timed row: `items` handled in `seconds`."""

    name: str
    items: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def us(self) -> float:
        return self.seconds / self.items * 1e6 if self.items else 0.0


@dataclass
class Run:
    """One run's rows, keyed, and what the pipelines saw (so a fast number is never a skipped one)."""

    rows: dict[str, Row]
    mixed: Pipeline
    split: Pipeline
    library_values: int
    notes: list[str] = field(default_factory=list)


def _timed(name: str, items: Sequence[Heard], handle: Callable[[Heard], None]) -> Row:
    gc.collect()
    start = time.perf_counter()
    for item in items:
        handle(item)
    return Row(name, len(items), time.perf_counter() - start)


def floor_row(stream: Stream) -> Row:
    """The floor: bleak's objects for every advertisement and one dict lookup, nothing else."""
    last: dict[str, int] = {}

    def handle(item: Heard) -> None:
        device, data = bleak_pair(item)
        if last.get(device.address) != data.rssi:
            last[device.address] = data.rssi

    return _timed("floor: bleak objects + dict lookup", stream.heard, handle)


def split_rows(stream: Stream, pipeline: Pipeline) -> dict[str, Row]:
    """The same stream, timed in blocks: each round's new readings per kind, then all its repeats.

    Devices share no state in the pipeline, so taking one round's new readings before its repeats
    keeps every device's own order and does the same work as the arrival order.
    """
    blocks: dict[tuple[int, str], list[Heard]] = {}
    for item in stream.heard:
        blocks.setdefault((item.round, "repeat" if item.repeat else item.kind), []).append(item)
    seconds: dict[str, float] = dict.fromkeys((*KINDS, "repeat"), 0.0)
    items: dict[str, int] = dict.fromkeys((*KINDS, "repeat"), 0)
    handle = pipeline.handle
    gc.collect()
    for round_ in range(int(stream.seconds / READING_INTERVAL_S)):
        for kind in (*KINDS, "repeat"):
            block = blocks.get((round_, kind), [])
            start = time.perf_counter()
            for item in block:
                handle(item)
            seconds[kind] += time.perf_counter() - start
            items[kind] += len(block)
    rows = {
        "changed": Row("changed advertisements", sum(items[k] for k in KINDS), sum(seconds[k] for k in KINDS)),
        "repeat": Row("unchanged advertisements (repeats)", items["repeat"], seconds["repeat"]),
    }
    for kind in KINDS:
        if items[kind]:
            rows[f"kind:{kind}"] = Row(f"  changed, {KIND_NAMES[kind]}", items[kind], seconds[kind])
    return rows


def _library_handler(libs: Mapping[str, BTHomeBluetoothDeviceData], decoded: list[int]) -> Callable[[Heard], None]:
    """The library as a user of it would call it, one kept parser per device; counts what it decoded."""

    def handle(item: Heard) -> None:
        device, data = bleak_pair(item)
        info = BluetoothServiceInfoBleak.from_device_and_advertisement_data(device, data, "local", item.time, False)
        decoded.append(len(libs[item.address].update(info).entity_values))

    return handle


def library_rows(stream: Stream) -> tuple[dict[str, Row], int]:
    """bthome-ble alone on the new BTHome readings: bleak objects -> service info -> `update`."""
    rows: dict[str, Row] = {}
    values = 0
    for kind, label in (("bthome", "plain"), ("bthome_enc", "encrypted")):
        items = [item for item in stream.heard if item.kind == kind and item.repeat == 0]
        if not items:
            continue
        libs = {item.address: BTHomeBluetoothDeviceData(stream.bindkeys.get(item.address)) for item in items}
        decoded: list[int] = []
        rows[f"lib:{kind}"] = _timed(f"bthome-ble update alone, {label}", items, _library_handler(libs, decoded))
        values += sum(decoded)
    return rows, values


def one_run(stream: Stream) -> Run:
    """Every row once, each on fresh state, in one thread."""
    addresses = sorted({item.address for item in stream.heard})
    rows = {"floor": floor_row(stream)}
    mixed = Pipeline(stream.bindkeys, addresses)
    rows["mixed"] = _timed("mixed stream, arrival to state", stream.heard, mixed.handle)
    split = Pipeline(stream.bindkeys, addresses)
    rows.update(split_rows(stream, split))
    library, library_values = library_rows(stream)
    rows.update(library)
    return Run(rows, mixed, split, library_values)


# -- the report ----------------------------------------------------------------------------------------------


def _rate(rate: float) -> str:
    return f"{rate / 1e6:.2f}M/s" if rate >= 1e6 else f"{rate / 1e3:.1f}k/s"


def best(runs: Sequence[Run]) -> dict[str, Row]:
    """Per row, the fastest of the runs (the one least disturbed by the machine's other work)."""
    return {key: min((run.rows[key] for run in runs), key=lambda row: row.seconds) for key in runs[0].rows}


def format_report(stream: Stream, runs: Sequence[Run]) -> str:
    """The table with ratios to the floor and to the library, the per-kind rows, problems and verdicts."""
    rows = best(runs)
    mix = ", ".join(f"{stream.kinds[kind]} {KIND_NAMES[kind]}" for kind in KINDS if stream.kinds.get(kind))
    changed = stream.changed
    real_time = len(stream.heard) / stream.seconds
    runs_text = f"best of {len(runs)} runs" if len(runs) > 1 else "1 run"
    lines = [
        (
            f"BLE climate pipeline: {stream.devices} devices ({mix}); {stream.seconds:g} s of their traffic = "
            f"{len(stream.heard)} advertisements ({changed} new readings, {len(stream.heard) - changed} repeats; "
            f"{real_time:.0f}/s in real time)"
        ),
        f"single-threaded, one core; Python {platform.python_version()}, {os.cpu_count()} CPUs; {runs_text}",
        f"{'row':<44}{'items':>8}{'seconds':>9}{'rate':>11}{'us/item':>9}{'x floor cost':>14}",
        "-" * 95,
    ]
    floor_us = rows["floor"].us
    order = ["floor", "mixed", "changed", "repeat", *(f"kind:{k}" for k in KINDS), "lib:bthome", "lib:bthome_enc"]
    for key in order:
        row = rows.get(key)
        if row is None:
            continue
        lines.append(f"{row.name:<44}{row.items:>8}{row.seconds:>9.3f}{_rate(row.rate):>11}{row.us:>9.2f}"
                     f"{row.us / floor_us:>14.2f}")  # fmt: skip
    for kind in ("bthome", "bthome_enc"):
        ours, lib = rows.get(f"kind:{kind}"), rows.get(f"lib:{kind}")
        if ours is not None and lib is not None:
            lines.append(f"{KIND_NAMES[kind]}, new reading to state: {ours.us:.1f} us, {ours.us / lib.us:.2f}x "
                         f"bthome-ble's own update ({lib.us:.1f} us); ours - library = {ours.us - lib.us:.1f} us")  # fmt: skip
    for run in runs:
        for pipeline in (run.mixed, run.split):
            lines.extend(f"  !! {problem}: {count}" for problem, count in sorted(pipeline.problems.items()))
            if pipeline.readings != changed:
                lines.append(f"  !! {pipeline.readings} readings from {changed} new advertisements "
                             f"({pipeline.empty} empty)")  # fmt: skip
    counts = runs[0].mixed.tracker.counts()
    lines.append(f"tracker: {counts.passed} passed, {counts.dropped} dropped as repeats, {counts.devices} devices; "
                 f"states: {runs[0].mixed.writes} writes, {runs[0].mixed.changes} state_changed")  # fmt: skip
    ratio = rows["repeat"].us / rows["changed"].us
    verdict = "PASS" if ratio <= GOAL_REPEAT_RATIO else "ABOVE"
    lines.append(f"cost unchanged / changed: {ratio:.3f} ({rows['repeat'].us:.2f} / {rows['changed'].us:.2f} us; "
                 f"goal <= {GOAL_REPEAT_RATIO:g}): {verdict}")  # fmt: skip
    mixed = rows["mixed"].rate
    verdict = "PASS" if mixed >= GOAL_RATE else "BELOW"
    lines.append(f"mixed stream: {mixed:,.0f}/s on one core, {mixed / real_time:,.0f}x these devices' real-time "
                 f"traffic (goal >= {GOAL_RATE:,.0f}/s): {verdict}")  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure and print; returns the stream and runs (for the smoke test)."""
    parser = argparse.ArgumentParser(prog="python -m bench.ble", description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=300, help="simulated devices (a fixed mix of kinds)")
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="seconds of the devices' traffic to make and replay as fast as possible")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="runs, each on fresh state; rows report the best")
    args = parser.parse_args(argv)
    if args.devices < 1 or args.repeat < 1 or args.seconds < READING_INTERVAL_S:
        parser.error(f"--devices and --repeat must be at least 1, --seconds at least {READING_INTERVAL_S:g}")
    stream = make_stream(args.devices, args.seconds)
    runs = [one_run(stream) for _ in range(args.repeat)]
    print(format_report(stream, runs))
    sys.stdout.flush()
    return {"stream": stream, "runs": runs}


if __name__ == "__main__":
    main()
