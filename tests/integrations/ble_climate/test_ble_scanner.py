"""The local scanner: bleak's real objects from simulated beacons become states; no adapter is a status, retried."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from ble_helpers import BINDKEY, ROOF_ADDR, BleSetup, FakeScannerFactory, beacon, bleak_pair
from bleak.exc import BleakDBusError, BleakError

from hub.clock import ManualClock
from integrations.ble_climate.models import Advertisement
from integrations.ble_climate.scanner import (
    NO_ADAPTER,
    LocalScanner,
    ScannerStatus,
    bleak_scanner_factory,
)

ADAPTER = "sensor.bluetooth_adapter"
SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"


async def test_simulated_beacon_through_bleak_objects_becomes_states(ble: BleSetup) -> None:
    await ble.start()
    assert ble.state(ADAPTER) == "scanning"
    assert ble.attrs(ADAPTER)["scanning_mode"] == "passive"
    assert ble.factory.running.adapter == "hci0"
    sim = beacon(clock=ble.clock)
    temperature_cc, humidity_ch, battery = sim.reading_at(ble.clock.now())
    ble.hear(sim, rssi=-71)
    assert float(ble.state("sensor.roof_temperature")) == pytest.approx(temperature_cc / 100, abs=0.05)
    assert float(ble.state("sensor.roof_humidity")) == pytest.approx(humidity_ch / 100, abs=0.05)
    assert ble.state("sensor.roof_battery") == str(battery)
    assert ble.state("sensor.roof_signal_strength") == "-71"
    assert ble.attrs("sensor.roof_signal_strength")["source"] == "local"
    assert ble.state("sensor.roof_last_seen") == ble.clock.now().isoformat()
    assert ble.attrs("sensor.roof_temperature")["unit_of_measurement"] == "°C"
    assert ble.attrs("sensor.roof_signal_strength")["entity_category"] == "diagnostic"


async def test_encrypted_beacon_with_its_bindkey(ble: BleSetup) -> None:
    await ble.start(devices={ROOF_ADDR: {"name": "Roof", "bindkey": BINDKEY.hex()}})
    sim = beacon(clock=ble.clock, bindkey=BINDKEY)
    ble.hear(sim)
    temperature_cc, _, _ = sim.reading_at(ble.clock.now())
    assert float(ble.state("sensor.roof_temperature")) == pytest.approx(temperature_cc / 100, abs=0.05)
    assert "problem" not in ble.attrs("sensor.roof_temperature")


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (FileNotFoundError(2, "No such file or directory"), "no D-Bus system bus (No such file or directory)"),
        (BleakDBusError(SERVICE_UNKNOWN, []), f"BlueZ is not running ({SERVICE_UNKNOWN})"),
    ],
)
async def test_no_adapter_is_a_status_and_a_later_retry_succeeds(
    ble: BleSetup, caplog: pytest.LogCaptureFixture, failure: BaseException, reason: str
) -> None:
    ble.factory.failures = [failure, failure]
    with caplog.at_level(logging.WARNING):
        await ble.start()
    assert ble.state(ADAPTER) == "no_adapter"
    attrs = ble.attrs(ADAPTER)
    assert attrs["status"] == f"{NO_ADAPTER}: {reason}"
    assert attrs["attempts"] == 1
    assert attrs["next_retry"] == ble.clock.now().replace(second=5).isoformat()
    assert [r.getMessage() for r in caplog.records if NO_ADAPTER in r.getMessage()] == [
        f"{NO_ADAPTER} hci0: {reason}; retrying in the background"
    ]
    # The rest of the integration runs: the device entities exist and wait.
    assert ble.state("sensor.roof_temperature") == "unavailable"
    assert ble.hub.states.get("sensor.roof_temperature") is not None

    await ble.clock.advance(5)  # second attempt fails too; the next is 10 s later
    assert ble.attrs(ADAPTER)["attempts"] == 2
    await ble.clock.advance(9)
    assert ble.state(ADAPTER) == "no_adapter"
    await ble.clock.advance(1)
    assert ble.state(ADAPTER) == "scanning"
    assert ble.attrs(ADAPTER)["attempts"] == 3
    sim = beacon(clock=ble.clock)
    ble.hear(sim)
    assert ble.state("sensor.roof_temperature") != "unavailable"


async def test_passive_not_supported_falls_back_to_active_with_a_warning(
    ble: BleSetup, caplog: pytest.LogCaptureFixture
) -> None:
    ble.factory.passive_failure = BleakError("passive scanning on Linux requires BlueZ >= 5.56 with --experimental")
    with caplog.at_level(logging.WARNING):
        await ble.start()
    assert ble.state(ADAPTER) == "scanning"
    assert ble.attrs(ADAPTER)["scanning_mode"] == "active"
    assert "passive scanning is not supported here" in ble.attrs(ADAPTER)["warning"]
    assert ble.factory.running.mode == "active"
    assert any("scanning actively" in r.getMessage() for r in caplog.records)


async def test_a_missing_adapter_is_not_mistaken_for_passive_unsupported(ble: BleSetup) -> None:
    # bleak raises the same plain BleakError for "no such adapter" as for "passive not supported";
    # only an active start that works proves it was the mode.
    missing = BleakError("adapter 'hci0' not found")
    ble.factory.passive_failure = missing
    ble.factory.failures = [missing]  # the active attempt fails too
    await ble.start()
    assert ble.state(ADAPTER) == "no_adapter"
    assert "adapter 'hci0' not found" in ble.attrs(ADAPTER)["status"]
    assert not ble.attrs(ADAPTER).get("warning")
    ble.factory.passive_failure = None  # the adapter is plugged in: passive works
    await ble.clock.advance(5)
    assert ble.state(ADAPTER) == "scanning"
    assert ble.factory.running.mode == "passive"  # passive was tried again, and no warning stuck
    assert ble.attrs(ADAPTER)["scanning_mode"] == "passive" and not ble.attrs(ADAPTER).get("warning")


async def test_unload_stops_the_scanner_and_removes_states(ble: BleSetup) -> None:
    await ble.start()
    scanner = ble.factory.running
    await ble.stop()
    assert scanner.stopped
    assert ble.hub.states.get(ADAPTER) is None
    assert ble.hub.states.get("sensor.roof_temperature") is None


async def test_a_failing_pipeline_never_escapes_the_detection_callback(clock: ManualClock) -> None:
    statuses: list[ScannerStatus] = []

    def broken(adv: Advertisement) -> None:
        raise RuntimeError("bug downstream")

    factory = FakeScannerFactory()
    scanner = LocalScanner(clock=clock, on_advertisement=broken, on_status=statuses.append, factory=factory)
    await scanner.run()
    sim = beacon(clock=clock)
    factory.running.deliver(*bleak_pair(sim.advertise(clock.now())))  # must not raise
    assert statuses[-1].state == "scanning"
    await scanner.stop()
    assert statuses[-1].state == "stopped"


async def test_real_bleak_scanner_without_dbus_is_reported_as_no_adapter(clock: ManualClock) -> None:
    """A real-component check: bleak's BleakScanner on this machine (no system bus) fails its start()."""
    statuses: list[ScannerStatus] = []
    made: list[Any] = []

    def factory(callback: Any, adapter: str, mode: Any) -> Any:
        scanner = bleak_scanner_factory(callback, adapter, mode)
        made.append(scanner)
        return scanner

    scanner = LocalScanner(clock=clock, on_advertisement=lambda adv: None, on_status=statuses.append, factory=factory)
    task = asyncio.create_task(scanner.run())
    await clock.advance(0)
    try:
        assert type(made[0]).__name__ == "BleakScanner"
        assert statuses[-1].state == "no_adapter"
        assert statuses[-1].message.startswith(f"{NO_ADAPTER}: ")
        assert "D-Bus" in statuses[-1].message or "BlueZ" in statuses[-1].message
        assert not scanner.scanning
        await clock.advance(5)  # retried on the hub's clock, still no bus
        assert statuses[-1].attempts == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await scanner.stop()
