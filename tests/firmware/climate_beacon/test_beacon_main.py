"""One wake cycle of the beacon firmware with fake `machine` and `bluetooth`: bytes, counter, sleep."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from beacon_fakes import FakeBluetooth, FakeI2C, FakeMachine, FakeRTC, SleepLog, decoded, service_info, sht3x_frame
from bthome_ble import BTHomeBluetoothDeviceData

from firmware.climate_beacon import bthome, config
from firmware.climate_beacon.main import BeaconState, battery_percent, parse_bindkey, run
from firmware.sim.climate_sim import cryptography_aes_ecb, service_data_of

KEY_HEX = "231d39c1d7cc1ab1aee224cd096db932"
MAC = bytes.fromhex("5448E68F80A5")
MAC_TEXT = "54:48:E6:8F:80:A5"


def make_cfg(tmp_path: Path, **overrides: Any) -> SimpleNamespace:
    values = {k: getattr(config, k) for k in dir(config) if k.isupper()}
    values.update(COUNTER_FILE=str(tmp_path / "counter"), COUNTER_BLOCK=4)
    values.update(overrides)
    return SimpleNamespace(**values)


def boot(cfg: SimpleNamespace, machine: FakeMachine, bt: FakeBluetooth, frames: int = 1) -> None:
    """One power-on or deep-sleep wake-up: run() builds everything anew and does one cycle."""
    machine.i2c.reads.extend(sht3x_frame(0x6666, 0x8000) for _ in range(frames))
    run(cfg, machine, bt, aes_ecb_encrypt=cryptography_aes_ecb, sleep_ms=SleepLog(), cycles=1)


def test_one_wake_cycle_plain(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    machine, bt = FakeMachine(FakeI2C(0x44)), FakeBluetooth(MAC)
    boot(cfg, machine, bt)
    (payload,) = bt.radio.advertised()
    data = service_data_of(payload)["0000fcd2-0000-1000-8000-00805f9b34fb"]
    # packet 0, battery 3.2 V on a 2.9..3.4 V scale = 60 %, 25.00 degC, 50.00 %
    assert data == bytes.fromhex("40 0000 013C 02C409 038813")
    kinds = [c[0] for c in bt.radio.calls]
    assert kinds == ["active", "advertise", "advertise", "active"]
    assert bt.radio.calls[1][1] == cfg.ADV_INTERVAL_US and bt.radio.calls[1][3] is False  # non-connectable
    assert bt.radio.calls[2][1] is None and bt.radio.is_active is False  # stopped, radio off
    assert machine.sleeps == [("deep", cfg.INTERVAL_S * 1000)]


def test_counter_persists_across_deep_sleep_and_increases(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, BINDKEY=KEY_HEX)
    machine, bt = FakeMachine(FakeI2C(0x44)), FakeBluetooth(MAC)
    parser = BTHomeBluetoothDeviceData(bindkey=bytes.fromhex(KEY_HEX))
    counters = []
    for wake in range(6):
        boot(cfg, machine, bt)
        payload = bt.radio.advertised()[-1]
        data = service_data_of(payload)["0000fcd2-0000-1000-8000-00805f9b34fb"]
        counters.append(int.from_bytes(data[-8:-4], "little"))
        values = decoded(parser, service_info(MAC_TEXT, payload, 60.0 * wake))
        assert values["temperature"] == pytest.approx(25.0) and values["packet_id"] == wake
    assert counters == [0, 1, 2, 3, 4, 5]
    assert parser.bindkey_verified is True
    # The flash mark stays one block ahead of what was sent: written at 0 and at 4 only.
    assert (tmp_path / "counter").read_text() == "8"


def test_power_loss_resumes_at_the_flash_mark(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, BINDKEY=KEY_HEX)
    machine, bt = FakeMachine(FakeI2C(0x44)), FakeBluetooth(MAC)
    for _ in range(3):
        boot(cfg, machine, bt)
    machine.rtc.data = b""  # power loss clears RTC memory
    boot(cfg, machine, bt)
    data = service_data_of(bt.radio.advertised()[-1])["0000fcd2-0000-1000-8000-00805f9b34fb"]
    assert int.from_bytes(data[-8:-4], "little") == 4  # never reuses 0..2 (nonce reuse)


def test_state_take_writes_flash_once_per_block(tmp_path: Path) -> None:
    rtc = FakeRTC()
    state = BeaconState(rtc, str(tmp_path / "c"), block=10)
    taken = [state.take() for _ in range(25)]
    assert taken == list(range(25))
    assert (tmp_path / "c").read_text() == "30"
    assert BeaconState(rtc, str(tmp_path / "c"), block=10).take() == 25


def test_sensor_failure_still_advertises_battery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_cfg(tmp_path, SLEEP="light", MAC=MAC_TEXT)
    machine, bt = FakeMachine(FakeI2C(0x44, fail=True)), FakeBluetooth(b"\x00" * 6)
    run(cfg, machine, bt, aes_ecb_encrypt=cryptography_aes_ecb, sleep_ms=SleepLog(), cycles=2)
    first, second = bt.radio.advertised()
    assert service_data_of(first)["0000fcd2-0000-1000-8000-00805f9b34fb"] == bytes.fromhex("40 0000 013C")
    assert service_data_of(second)["0000fcd2-0000-1000-8000-00805f9b34fb"] == bytes.fromhex("40 0001 013C")
    assert machine.sleeps == [("light", 60000), ("light", 60000)]
    assert "does not answer" in capsys.readouterr().out


def test_configured_mac_goes_into_the_nonce(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, BINDKEY=KEY_HEX, MAC=MAC_TEXT)
    machine, bt = FakeMachine(FakeI2C(0x44)), FakeBluetooth(b"\x11" * 6)
    boot(cfg, machine, bt)
    data = service_data_of(bt.radio.advertised()[0])["0000fcd2-0000-1000-8000-00805f9b34fb"]
    body, counter, mic = data[1:-8], data[-8:-4], data[-4:]
    nonce = bthome.mac_bytes(MAC_TEXT) + b"\xd2\xfc\x41" + counter
    plain = bthome.ccm_decrypt(cryptography_aes_ecb, bytes.fromhex(KEY_HEX), nonce, body + mic)
    assert plain == bytes.fromhex("0000 013C 02C409 038813")


def test_battery_percent_and_bindkey_parsing() -> None:
    assert [battery_percent(mv, 2900, 3400) for mv in (2500, 2900, 3150, 3400, 3600)] == [0, 0, 50, 100, 100]
    assert parse_bindkey("") is None and parse_bindkey(KEY_HEX) == bytes.fromhex(KEY_HEX)
    with pytest.raises(ValueError, match="32 hex"):
        parse_bindkey("abcd")
