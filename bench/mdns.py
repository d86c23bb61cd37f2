"""What the firmware's mDNS responder costs per datagram, against python-zeroconf reading the same bytes.

Run from the repository root:

    .venv/bin/python -m bench.mdns                  # 20,000 datagrams of each kind, about 10 s
    .venv/bin/python -m bench.mdns --count 2000 --repeat 3

The responder (firmware/mdns/responder.py) runs on an ESP32 beside the tank sensor's measurement
loop, and every mDNS datagram on the home network reaches it: most are questions for other
devices, a few are for it, some are garbage. Per kind, the time of `Responder.handle()` on one
running responder is measured on CPython here. The baseline in the same run is python-zeroconf's
`DNSIncoming` parsing the same datagrams (the parser the hub uses, compiled with Cython where the
wheel has it): the ratio says how far our pure-Python reading and answering is from a tuned parser.
On the board MicroPython is tens of times slower than CPython; the ratio carries over, the
microseconds do not. Memory: tracemalloc's peak while answering, and the responder's own size.
Printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from zeroconf import DNSIncoming, DNSOutgoing, DNSQuestion

from firmware.mdns.responder import RUNNING, Responder, Service

ADDRESS = "192.168.1.30"
ASKER = ("192.168.1.50", 5353)
TXT = {"vendor": "maderas", "model": "maderas_tank_v1", "fw": "1.1", "unit": "1", "serial": "MT0A1B2C"}
QTYPE_PTR, QTYPE_A, CLASS_IN, FLAGS_QUERY = 12, 1, 1, 0


def query(name: str, qtype: int = QTYPE_PTR) -> bytes:
    out = DNSOutgoing(FLAGS_QUERY, multicast=True)
    out.add_question(DNSQuestion(name, qtype, CLASS_IN))
    return out.packets()[0]


def running_responder() -> Responder:
    """A responder past probing and announcing, as on a board that has been up for a while."""
    responder = Responder("maderas-tank-mt0a1b2c", ADDRESS, [Service("Maderas tank MT0A1B2C", "_modbus._tcp", 502, TXT)],
                          rand=lambda n: 0)  # fmt: skip
    now = 0
    responder.start(now)
    while responder.state != RUNNING and now < 60_000:
        responder.poll(now)
        now += 50
    if responder.state != RUNNING:
        raise RuntimeError(f"the responder did not reach running (state {responder.state})")
    return responder


@dataclass
class Row:
    kind: str
    ours_us: float
    zeroconf_us: float
    answered: int
    count: int


def kinds(count: int, seed: int) -> dict[str, list[bytes]]:
    """The datagrams of each kind (distinct bytes per datagram where it matters)."""
    rng = random.Random(seed)
    for_us = query("_modbus._tcp.local.")
    other = [query(f"_other{i % 50}._tcp.local.") for i in range(count)]
    garbage = [bytes(rng.getrandbits(8) for _ in range(rng.randint(12, 120))) for _ in range(min(count, 2000))]
    return {
        "question for us (PTR _modbus._tcp)": [for_us] * count,
        "question for another device": other,
        "our host's address (A)": [query("maderas-tank-mt0a1b2c.local.", QTYPE_A)] * count,
        "garbage": (garbage * (count // len(garbage) + 1))[:count],
    }


def per_datagram_us(packets: list[bytes], handle: Callable[[bytes, int], int]) -> tuple[float, int]:
    answered = 0
    start = time.perf_counter()
    for i, packet in enumerate(packets):
        answered += handle(packet, i)
    return (time.perf_counter() - start) / len(packets) * 1e6, answered


def answerer(responder: Responder) -> Callable[[bytes, int], int]:
    """handle() with a new "now" per datagram, 1.1 s apart: the once-a-second rate limit never holds an answer."""
    return lambda packet, i: len(responder.handle(packet, *ASKER, 100_000 + 1100 * i))


def parse(packet: bytes, i: int) -> int:
    """The baseline: python-zeroconf reading the datagram."""
    return len(DNSIncoming(packet).questions)


def measure(count: int, seed: int) -> list[Row]:
    rows: list[Row] = []
    for kind, packets in kinds(count, seed).items():
        ours, answered = per_datagram_us(packets, answerer(running_responder()))
        theirs, _parsed = per_datagram_us(packets, parse)
        rows.append(Row(kind, ours, theirs, answered, len(packets)))
    return rows


def memory(count: int) -> tuple[int, int]:
    """(peak bytes while answering `count` questions for us, bytes allocated to build the running responder)."""
    tracemalloc.start()
    responder = running_responder()
    built, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    packet = query("_modbus._tcp.local.")
    for i in range(count):
        responder.handle(packet, *ASKER, 100_000 + 1100 * i)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, built


def main(argv: list[str] | None = None) -> list[list[Row]]:
    parser = argparse.ArgumentParser(prog="python -m bench.mdns", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="datagrams of each kind")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    runs = [measure(args.count, args.seed) for _ in range(args.repeat)]
    print(f"{'datagram':38} {'ours us':>9} {'zeroconf us':>12} {'x zeroconf':>11} {'answered':>9}")
    for i, row in enumerate(runs[0]):
        ours = min(run[i].ours_us for run in runs)
        theirs = min(run[i].zeroconf_us for run in runs)
        print(f"{row.kind:38} {ours:9.2f} {theirs:12.2f} {ours / theirs:11.2f} {row.answered:>5}/{row.count}")
    peak, built = memory(min(args.count, 2000))
    print(f"memory: responder built {built / 1024:.1f} KiB; peak while answering {peak / 1024:.1f} KiB (tracemalloc)")
    return runs


if __name__ == "__main__":
    main()
