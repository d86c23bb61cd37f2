"""Local and proxy advertisements in one pipeline: repeats dropped before parsing, the best source shown, no flapping."""

from __future__ import annotations

import random
from dataclasses import replace

from ble_helpers import PROXY_ID, ROOF_ADDR, BleSetup, beacon, bleak_pair

from hub.clock import ManualClock
from integrations.ble_climate.manager import BleClimateManager, SourceMerger
from integrations.ble_climate.models import Advertisement, Reading
from integrations.ble_climate.parsers import BTHOME_UUID, ParserSet

PROXY = f"proxy:{PROXY_ID}"


def adv(source: str, rssi: int, time: float, payload: bytes = b"\x40\x02\xc4\x09") -> Advertisement:
    return Advertisement(address=ROOF_ADDR, name=None, rssi=rssi, service_data={BTHOME_UUID: payload},
                         manufacturer_data={}, service_uuids=(), time=time, source=source)  # fmt: skip


class CountingParsers(ParserSet):
    """The real parsers, counting what reaches them."""

    def __init__(self) -> None:
        super().__init__()
        self.parsed: list[Advertisement] = []

    def parse(self, adv: Advertisement) -> Reading | None:
        self.parsed.append(adv)
        return super().parse(adv)


def test_the_clearly_stronger_source_wins_and_keeps_winning_through_noise() -> None:
    merger = SourceMerger()
    noise = random.Random(7)
    winners = []
    for i in range(40):
        source, base = (("local", -80), (PROXY, -58))[i % 2]
        winners.append(merger.observe(adv(source, base + noise.randint(-4, 4), float(i))).source)
    assert winners[0] == "local"  # the only one heard so far
    assert set(winners[1:]) == {PROXY}


def test_similar_sources_do_not_take_turns() -> None:
    merger = SourceMerger()
    noise = random.Random(3)
    winners = []
    for i in range(40):
        source = ("local", PROXY)[i % 2]
        winners.append(merger.observe(adv(source, -64 + noise.randint(-3, 3), float(i))).source)
    assert set(winners) == {"local"}  # the first holder keeps it: no margin of 6 dB was ever beaten


def test_a_silent_holder_hands_over_to_a_weaker_source() -> None:
    merger = SourceMerger(window=60.0)
    merger.observe(adv(PROXY, -50, 0.0))
    assert merger.observe(adv("local", -85, 30.0)).source == PROXY
    assert merger.observe(adv("local", -85, 61.0)).source == "local"  # the proxy has not heard it for 61 s
    assert merger.best(ROOF_ADDR) is not None and merger.best(ROOF_ADDR).rssi == -85  # type: ignore[union-attr]


def test_the_same_packet_from_two_sources_is_parsed_once(clock: ManualClock) -> None:
    parsers = CountingParsers()
    manager = BleClimateManager({ROOF_ADDR: {"name": "Roof"}}, parsers=parsers)
    readings: list[tuple[Reading, str]] = []
    manager.listen(ROOF_ADDR, lambda reading, signal: readings.append((reading, signal.source)))
    sim = beacon(clock=clock)
    for step in range(5):
        device, data = bleak_pair(sim.advertise(clock.now()), rssi=-80)
        local = Advertisement.from_bleak(device, data, time=100.0 + step, source="local")
        heard_by_proxy = replace(local, rssi=-55, source=PROXY, time=100.003 + step)
        manager.handle(local)
        manager.handle(heard_by_proxy)
        manager.handle(local)  # and the local adapter reports it once more
    assert len(parsers.parsed) == 5
    assert manager.tracker.counts().dropped == 10
    assert manager.advertisements == 15
    assert len(readings) == 5 and all(r.problem is None for r, _ in readings)
    # Data came from whoever heard it first (local), the signal shown is the proxy's.
    assert [source for _, source in readings] == ["local", PROXY, PROXY, PROXY, PROXY]


async def test_states_follow_the_best_source_without_flapping(ble: BleSetup) -> None:
    await ble.start()
    manager = ble.runtime.manager
    sim = beacon(clock=ble.clock)
    signals, sources, temperatures = [], [], []
    for step in range(12):
        now = ble.clock.now()
        device, data = bleak_pair(sim.advertise(now), rssi=-82)
        if step % 3 == 2:
            ble.factory.running.deliver(device, data)  # only the local adapter caught this one
        else:
            # the proxy caught it, closer to the roof (what ProxyServer hands the manager)
            manager.handle(
                replace(Advertisement.from_bleak(device, data, time=ble.clock.time(), source=PROXY), rssi=-57)
            )
        await ble.clock.advance(10)
        signals.append(ble.state("sensor.roof_signal_strength"))
        sources.append(ble.attrs("sensor.roof_signal_strength")["source"])
        temperatures.append(ble.state("sensor.roof_temperature"))
    assert set(sources) == {PROXY}
    assert set(signals) == {"-57"}
    assert len(set(temperatures)) > 6  # every packet's values arrived, whichever source brought them
    assert "unavailable" not in temperatures
