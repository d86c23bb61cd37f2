"""TankSensor end to end: measurements and Modbus requests through on_uart_bytes."""

from __future__ import annotations

from tank_fakes import FakeClock, FakeHardware, hexbytes

from firmware.tank_sensor.device import TankSensor
from firmware.tank_sensor.modbus_slave import with_crc
from firmware.tank_sensor.registers import MemoryStore

CHAR_9600 = 1146
T35_9600 = 4011


def exchange(sensor: TankSensor, clock: FakeClock, request: bytes, bytewise: bool = True) -> bytes:
    """Send a request at 9600 baud, let t3.5 pass, return what the sensor answers."""
    reply = b""
    if bytewise:
        for byte in request:
            reply += sensor.on_uart_bytes(bytes([byte]), clock.advance(CHAR_9600))
    else:
        reply += sensor.on_uart_bytes(request, clock.advance(len(request) * CHAR_9600))
    reply += sensor.on_uart_bytes(b"", clock.advance(T35_9600))
    clock.advance(T35_9600)
    return reply


def measure(sensor: TankSensor, hw: FakeHardware, echoes: list[int | None]) -> None:
    for echo in echoes:
        hw.echoes.append(echo)
        sensor.poll_measurement()


def test_reply_vector_round_trip(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    sensor = TankSensor(hw, store, fake_clock, firmware_version=0x000A)
    measure(sensor, hw, [5831])
    reply = exchange(sensor, fake_clock, hexbytes("01 03 00 00 00 02 C4 0B"))
    assert reply == hexbytes("01 03 04 00 0A 00 01 1B F1")


def test_full_read_of_the_measurement_block(
    hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock
) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    hw.temperature = 215  # 21.5 degC
    measure(sensor, hw, [5831, 5831, 5831, 1200, None])
    fake_clock.advance(70_000_000)  # 70 s of uptime
    sensor.on_uart_bytes(hexbytes("01 03 00 00 00 01 84 0B"), fake_clock.advance(9_000))  # bad CRC
    fake_clock.advance(T35_9600)
    reply = exchange(sensor, fake_clock, with_crc(hexbytes("01 03 00 00 00 0A")), bytewise=False)
    expected_values = "01 01  00 02  FF FF  FF FF  00 D7  00 01  00 01  00 01  00 00  00 46"
    assert reply == with_crc(hexbytes("01 03 14" + expected_values))


def test_request_fed_byte_by_byte_and_whole_give_the_same_reply(
    hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock
) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    measure(sensor, hw, [5831] * 5)
    request = with_crc(hexbytes("01 03 00 02 00 02"))
    expected = with_crc(hexbytes("01 03 04 03 E9 01 F4"))  # 1001 mm, 500 per-mille
    assert exchange(sensor, fake_clock, request) == expected
    assert exchange(sensor, fake_clock, request, bytewise=False) == expected


def test_no_reply_until_t35_of_silence(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    request = hexbytes("01 03 00 00 00 01 84 0A")
    assert sensor.on_uart_bytes(request, fake_clock.advance(8 * CHAR_9600)) == b""
    assert not sensor.bus_idle(fake_clock.now_us)
    assert sensor.on_uart_bytes(b"", fake_clock.advance(T35_9600 - 10)) == b""
    assert sensor.on_uart_bytes(b"", fake_clock.advance(10)) == with_crc(hexbytes("01 03 02 01 01"))
    assert sensor.bus_idle(fake_clock.now_us)


def test_unit_id_and_baud_survive_a_reboot(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    request = with_crc(hexbytes("01 10 00 10 00 02 04 00 2A 00 04"))  # unit 42, 19200 baud
    assert exchange(sensor, fake_clock, request) == with_crc(hexbytes("01 10 00 10 00 02"))
    sensor.reply_sent()

    rebooted_hw = FakeHardware()
    rebooted = TankSensor(rebooted_hw, store, fake_clock)
    assert rebooted_hw.bauds == [19200]
    assert (rebooted.registers.unit_id, rebooted.baud) == (42, 19200)
    # At 19200 the timing halves; old unit id 1 is now someone else.
    assert rebooted.on_uart_bytes(with_crc(hexbytes("01 03 00 10 00 01")), fake_clock.advance(5_000)) == b""
    assert rebooted.on_uart_bytes(b"", fake_clock.advance(2_006)) == b""
    rebooted.on_uart_bytes(with_crc(hexbytes("2A 03 00 10 00 02")), fake_clock.advance(5_000))
    reply = rebooted.on_uart_bytes(b"", fake_clock.advance(2_006))
    assert reply == with_crc(hexbytes("2A 03 04 00 2A 00 04"))


def test_baud_change_is_applied_only_after_the_reply(
    hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock
) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    request = with_crc(hexbytes("01 06 00 11 00 07"))  # 115200
    hw.rx.append(request)
    sensor.service_uart(fake_clock.advance(8 * CHAR_9600))
    assert hw.events == ["baud 9600"]
    assert sensor.service_uart(fake_clock.advance(T35_9600)) == request
    assert hw.events == ["baud 9600", "write " + request.hex(" "), "baud 115200"]
    assert sensor.framer.baud == 115200


def test_baud_change_waits_for_reply_sent(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    request = with_crc(hexbytes("01 06 00 11 00 04"))
    assert exchange(sensor, fake_clock, request) == request
    assert (hw.bauds, sensor.baud, sensor.pending_baud) == ([9600], 9600, 19200)
    assert sensor.registers.read_holding(0x0011, 1) == [4]
    sensor.reply_sent()
    assert (hw.bauds, sensor.baud, sensor.pending_baud) == ([9600, 19200], 19200, None)


def test_broadcast_baud_change_applies_at_once(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    assert exchange(sensor, fake_clock, with_crc(hexbytes("00 06 00 11 00 05"))) == b""
    assert hw.bauds == [9600, 38400]


def test_mode_and_mount_height_over_modbus(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    store.set("pressure_full_scale_mm", 5000)
    sensor = TankSensor(hw, store, fake_clock)
    measure(sensor, hw, [5831] * 3)
    # Mount height 4000 mm: the same 1001 mm distance is now 750 per-mille, at once.
    exchange(sensor, fake_clock, with_crc(hexbytes("01 06 00 12 0F A0")))
    assert sensor.registers.read_holding(0x0001, 3) == [0x01, 1001, 750]
    # Pressure mode: old ultrasonic samples are dropped until the next poll.
    exchange(sensor, fake_clock, with_crc(hexbytes("01 06 00 13 00 01")))
    assert sensor.registers.read_holding(0x0001, 3) == [0x10, 0xFFFF, 0xFFFF]
    hw.shunt.append(1_800_000)  # 12 mA -> 2500 mm of water
    sensor.poll_measurement()
    assert sensor.registers.read_holding(0x0001, 3) == [0x11, 1500, 625]


def test_no_echo_through_the_registers(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    measure(sensor, hw, [5831, None, None])
    assert sensor.registers.read_holding(0x0001, 5) == [0x02, 0xFFFF, 0xFFFF, 200, 2]


def test_crc_errors_counted_through_the_uart(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    sensor = TankSensor(hw, store, fake_clock)
    for _ in range(3):
        assert exchange(sensor, fake_clock, hexbytes("01 03 00 00 00 01 84 0B")) == b""
    assert exchange(sensor, fake_clock, with_crc(hexbytes("01 03 00 06 00 01"))) == with_crc(
        hexbytes("01 03 02 00 03")
    )


def test_factory_reset(hw: FakeHardware, store: MemoryStore, fake_clock: FakeClock) -> None:
    store.data.update({"unit_id": 9, "baud_code": 0, "mount_mm": 700, "mode": 1})
    sensor = TankSensor(hw, store, fake_clock)
    assert hw.bauds == [1200]
    sensor.factory_reset()
    assert hw.bauds == [1200, 9600]
    assert store.data == {"unit_id": 1, "baud_code": 3, "mount_mm": 2000, "mode": 0, "commodity": 0, "capacity_l": 0,
                          "tank_height_mm": 0}
