"""Websocket fan-out: delivery latency of state changes to many clients, with a stalled one.

Run from the repository root:

    .venv/bin/python -m bench.web                       # 50 clients + 1 stalled, 1000 changes/s, 10 s
    .venv/bin/python -m bench.web --clients-process     # the healthy clients in a child process
    .venv/bin/python -m bench.web --compress            # clients offer permessage-deflate, as browsers do

A real `Hub` (temporary directory, `RealClock`, database, recorder, auth) serves HTTP on port 0.
Healthy clients are aiohttp websocket clients subscribed to every state; a stalled client is a
websocket on a plain socket with a 4 KiB receive buffer that authenticates, subscribes and then
never reads again, so the server's socket, its transport buffer and finally the client's queue
fill up for real. The writer applies `--rate` state changes per second over 100 entities; each
state carries its send time (`{"t": time.perf_counter_ns()}`, CLOCK_MONOTONIC, so a child process
reads the same clock), and each healthy client records receive time minus send time. By default
the clients run in the hub's own process and event loop and compete with the server for its one
thread: the harder case. `--clients-process` moves them to a child process.

Baselines in the same run: the same write loop with no client (pure state-write cost, recorder
included) and with one client. Results are printed, never asserted; `main` returns them for the
smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import platform
import struct
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.rawws import RawWebSocket
from hub.http import HttpServer
from hub.http.websocket import CLIENTS_KEY, DEFAULT_QUEUE_SIZE
from hub.runtime import Hub

ENTITIES = 100
GOAL_P99_MS = 50.0
PASSWORD = "bench horse battery"
DRAIN_TIMEOUT = 15.0  # seconds the healthy clients get, after the last write, to receive everything
ROOT = Path(__file__).resolve().parent.parent  # `bench` is a folder of the repository, not a package installed
DEFLATE = 15  # what aiohttp's client offers for permessage-deflate (browsers offer it too)


def rss_kib() -> int:
    """This process's resident set size, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("VmRSS not found")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100)
    return float(sorted_values[int(min(rank, len(sorted_values))) - 1])


# -- clients -----------------------------------------------------------------------------------


@dataclass
class HealthyClient:
    """An aiohttp websocket subscribed to every state; records each message's delivery latency."""

    ws: aiohttp.ClientWebSocketResponse
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    received: int = 0
    last_seq: int = -1
    in_order: bool = True
    task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, url: str, token: str, compress: bool) -> HealthyClient:
        ws = await session.ws_connect(url, max_msg_size=0, compress=DEFLATE if compress else 0)
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        if (await ws.receive_json())["type"] != "auth_ok":
            raise RuntimeError("client not authenticated")
        await ws.send_json({"id": 1, "type": "subscribe_states"})
        if not (await ws.receive_json())["success"]:
            raise RuntimeError("subscription refused")
        return cls(ws)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._read(), name="bench:client")

    async def _read(self) -> None:
        ws, loads, now = self.ws, orjson.loads, time.perf_counter_ns
        latencies = self.latencies_ns
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = loads(msg.data)
            if data.get("type") != "state":
                continue
            arrived = now()
            attributes = data["state"]["attributes"]
            latencies.append(arrived - attributes["t"])
            seq = attributes["seq"]
            if self.last_seq != -1 and seq != self.last_seq + 1:
                self.in_order = False
            self.last_seq = seq
            self.received += 1

    async def close(self) -> None:
        await self.ws.close()
        if self.task is not None:
            await self.task


async def connect_healthy(url: str, token: str, count: int, compress: bool) -> tuple[aiohttp.ClientSession, list[HealthyClient]]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        return session, [await HealthyClient.connect(session, url, token, compress) for _ in range(count)]
    except BaseException:
        await session.close()
        raise


async def wait_for_all(clients: list[HealthyClient], expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(c.received < expected for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


class StalledClient(RawWebSocket):
    """A raw websocket that authenticates, subscribes to every state and then stops reading."""

    async def handshake(self, token: str) -> None:
        """Authenticate and subscribe to every state; after this the client never reads on its own."""
        await self.frame()  # auth_required
        self.send({"type": "auth", "access_token": token})
        _, payload = await self.frame()
        if orjson.loads(payload).get("type") != "auth_ok":
            raise RuntimeError(f"stalled client not authenticated: {payload[:200]!r}")
        self.send({"id": 1, "type": "subscribe_states"})
        await self.frame()  # the result with the snapshot

    async def how_it_ended(self, timeout: float) -> str:
        """Read what is left; describe how the connection ended (close frame, or cut off without one)."""
        frames = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    opcode, payload = await self.frame()
                    if opcode == 8:
                        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                        return f"close frame {code} {payload[2:].decode(errors='replace')!r} after {frames} frames"
                    frames += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            return f"connection cut without a close frame after {frames} buffered frames"
        except TimeoutError:
            return f"still open ({frames} frames read)"


class ChildClients:
    """The healthy clients in a child process (`--clients-process`): same clients, own CPU."""

    def __init__(self, proc: asyncio.subprocess.Process, out: Path) -> None:
        self.proc, self.out = proc, out
        self.summary: dict[str, Any] = {}

    @classmethod
    async def start(cls, url: str, token: str, count: int, expected: int, compress: bool, out: Path) -> ChildClients:
        argv = [sys.executable, "-m", "bench.web", "--child", url, token, str(count), str(expected), str(out)]
        if compress:
            argv.append("--compress")
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT
        )
        child = cls(proc, out)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line.startswith(b"ready"):
            await child.stop()
            raise RuntimeError(f"client process did not start: {line!r}")
        return child

    async def result(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"done\n")  # writes are over: wait for the rest, then report
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        self.summary = json.loads(line)
        await self.proc.wait()
        return self.summary

    def latencies_ms(self) -> list[float]:
        values = array("d")
        values.frombytes(self.out.read_bytes())
        return sorted(values)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def child_main(url: str, token: str, count: int, expected: int, out: str, compress: bool) -> None:
    """The `--child` process: connect, say ready, receive, report (stdout: one JSON line)."""
    session, clients = await connect_healthy(url, token, count, compress)
    try:
        for client in clients:
            client.start()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        print("ready", flush=True)
        cpu0 = time.process_time()
        await reader.readline()  # "done": the parent wrote everything
        await wait_for_all(clients, expected, DRAIN_TIMEOUT)
        cpu = time.process_time() - cpu0
        latencies = array("d", (ns / 1e6 for c in clients for ns in c.latencies_ns))
        Path(out).write_bytes(latencies.tobytes())
        summary = {"delivered": [c.received for c in clients], "in_order": all(c.in_order for c in clients),
                   "cpu_seconds": cpu}  # fmt: skip
    finally:
        for client in clients:
            await client.close()
        await session.close()
    print(json.dumps(summary), flush=True)


# -- one run -----------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What one configuration (N healthy clients, S stalled) measured."""

    label: str
    clients: int
    stalled: int
    writes: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process, during the writes
    cpu_total_seconds: float = 0.0  # this process, writes plus the wait until the clients had everything
    child_cpu_seconds: float | None = None  # the client process, same span (--clients-process)
    write_lateness_ms: list[float] = field(default_factory=list)  # actual - scheduled send time, sorted
    latencies_ms: list[float] = field(default_factory=list)  # every healthy client's samples, sorted
    delivered: list[int] = field(default_factory=list)  # per healthy client
    all_in_order: bool = True
    rss_per_client_kib: float | None = None
    stalled_cut: list[dict[str, Any]] = field(default_factory=list)  # per stalled client that was cut
    stalled_ended: list[str] = field(default_factory=list)  # what each stalled client saw at the end
    stalled_max_queue: int = 0
    stalled_max_buffer: int = 0
    loop_lag_max_ms: float = 0.0
    extended: bool = False  # writes went on after the run until the stalled client was cut

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def rate(self) -> float:
        return self.writes / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_message_us(self) -> float:
        """This process's CPU per delivered message (per write when there is no client)."""
        messages = sum(self.delivered) if self.clients else self.writes
        return self.cpu_total_seconds / messages * 1e6 if messages else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def all_delivered(self) -> bool:
        return all(d == self.writes for d in self.delivered)


class Bench:
    """A started hub with its HTTP server on port 0, a user and tokens; runs the configurations."""

    def __init__(self, config_dir: Path, *, queue_size: int, pad: int, compress: bool, clients_process: bool) -> None:
        self.config_dir = config_dir
        self.queue_size = queue_size
        self.pad = "x" * pad
        self.compress = compress
        self.clients_process = clients_process
        self.hub: Hub | None = None
        self.server: HttpServer | None = None
        self.token = ""
        self.stalled_token = ""
        self.stalled_token_id = ""
        self.seq = 0
        self.entity_ids = [f"sensor.bench_{i:03d}" for i in range(ENTITIES)]

    async def start(self) -> None:
        (self.config_dir / "configuration.yaml").write_text(
            "hub:\n  name: Bench\nhttp:\n  server_host: 127.0.0.1\n  server_port: 0\n", encoding="utf-8"
        )
        hub = self.hub = Hub(self.config_dir)
        await hub.start()
        if self.queue_size != DEFAULT_QUEUE_SIZE:  # the configuration has no queue size: a server of our own
            if hub.http is not None:
                await hub.http.stop()
            hub.http = HttpServer(hub, host="127.0.0.1", port=0, ws_queue_size=self.queue_size)
            await hub.http.start()
        self.server = hub.http
        if self.server is None or not self.server.running:
            raise RuntimeError(f"the hub's HTTP server is not running: {getattr(self.server, 'error', None)}")
        await hub.auth.create_user("bench", "Bench", PASSWORD, "admin")
        self.token = (await hub.auth.login("bench", PASSWORD, address="127.0.0.1")).access_token
        stalled = await hub.auth.login("bench", PASSWORD, address="127.0.0.1", client_name="stalled")
        self.stalled_token, self.stalled_token_id = stalled.access_token, stalled.token_id
        for entity_id in self.entity_ids:
            self.write(entity_id)

    async def stop(self) -> None:
        if self.hub is not None:
            await self.hub.stop()

    def write(self, entity_id: str) -> None:
        assert self.hub is not None
        seq = self.seq
        self.seq += 1
        attributes: dict[str, Any] = {"t": time.perf_counter_ns(), "seq": seq}
        if self.pad:
            attributes["pad"] = self.pad
        self.hub.states.set(entity_id, str(seq), attributes)

    async def run(
        self, label: str, clients: int, stalled: int, rate: float, seconds: float, cut_wait: float = 0.0
    ) -> RunResult:
        """Connect the clients, write `rate` changes per second for `seconds`, let them drain.

        A stalled client that was not cut off by then gets up to `cut_wait` more seconds of writes
        (not measured) so the report can say when it was.
        """
        assert self.hub is not None and self.server is not None
        result = RunResult(label, clients, stalled)
        total = int(rate * seconds)
        url = f"{self.server.url}/api/websocket"
        gc.collect()
        rss_before = rss_kib()
        session: aiohttp.ClientSession | None = None
        healthy: list[HealthyClient] = []
        child: ChildClients | None = None
        raw: list[StalledClient] = []
        monitor: asyncio.Task[None] | None = None
        with tempfile.NamedTemporaryFile(prefix="bench-web-latencies-") as out:
            try:
                if clients and self.clients_process:
                    child = await ChildClients.start(url, self.token, clients, total, self.compress, Path(out.name))
                elif clients:
                    session, healthy = await connect_healthy(url, self.token, clients, self.compress)
                for _ in range(stalled):
                    raw.append(await StalledClient.open("127.0.0.1", self.server.port))
                    await raw[-1].handshake(self.stalled_token)
                gc.collect()
                if clients + stalled:
                    result.rss_per_client_kib = (rss_kib() - rss_before) / (clients + stalled)
                for client in healthy:
                    client.start()
                monitor = asyncio.get_running_loop().create_task(self._watch_stalled(result), name="bench:monitor")
                self.hub.watchdog.max_lag = 0.0
                cpu0 = time.process_time()
                await self._write_loop(result, rate, total)
                if child is not None:
                    summary = await child.result(DRAIN_TIMEOUT + 30)
                    result.delivered, result.all_in_order = summary["delivered"], summary["in_order"]
                    result.child_cpu_seconds = summary["cpu_seconds"]
                    result.latencies_ms = child.latencies_ms()
                else:
                    await wait_for_all(healthy, total, DRAIN_TIMEOUT)
                    result.delivered = [c.received for c in healthy]
                    result.latencies_ms = sorted(ns / 1e6 for c in healthy for ns in c.latencies_ns)
                result.cpu_total_seconds = time.process_time() - cpu0
                result.loop_lag_max_ms = self.hub.watchdog.max_lag * 1000
                if len(result.stalled_cut) < stalled and cut_wait > 0:
                    # Not cut during the run: keep writing at the same rate (unmeasured) to learn when.
                    await self._write_until(rate, cut_wait, lambda: len(result.stalled_cut) >= stalled)
                    result.extended = True
            finally:
                if monitor is not None:
                    monitor.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await monitor
                for stalled_client in raw:
                    result.stalled_ended.append(await stalled_client.how_it_ended(timeout=5.0))
                    await stalled_client.close()
                for client in healthy:
                    await client.close()
                if session is not None:
                    await session.close()
                if child is not None:
                    await child.stop()
        if healthy:
            result.all_in_order = all(c.in_order for c in healthy)
        return result

    async def _write_loop(self, result: RunResult, rate: float, total: int) -> None:
        """`total` writes at `rate` per second on schedule; late ones go out as soon as the loop can."""
        loop = asyncio.get_running_loop()
        entity_ids = self.entity_ids
        lateness = []
        cpu0, start = time.process_time(), loop.time()
        sent = 0
        while sent < total:
            now = loop.time()
            due = min(total, int((now - start) * rate) + 1)
            while sent < due:
                lateness.append(now - (start + sent / rate))
                self.write(entity_ids[sent % ENTITIES])
                sent += 1
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
        result.seconds = loop.time() - start
        result.cpu_seconds = time.process_time() - cpu0
        result.writes = total
        result.write_lateness_ms = sorted(x * 1000 for x in lateness)

    async def _write_until(self, rate: float, limit: float, done: Callable[[], bool]) -> None:
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0
        while not done() and loop.time() - start < limit:
            due = int((loop.time() - start) * rate) + 1
            while sent < due:
                self.write(self.entity_ids[sent % ENTITIES])
                sent += 1
            await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))

    async def _watch_stalled(self, result: RunResult) -> None:
        """Sample the stalled clients' server side: queue depth, unsent bytes, when and why they were cut."""
        assert self.server is not None and self.server.app is not None
        clients = self.server.app[CLIENTS_KEY]
        loop = asyncio.get_running_loop()
        start = loop.time()
        seen: set[int] = set()
        while True:
            for client in list(clients):
                if client.token_id != self.stalled_token_id:
                    continue
                result.stalled_max_queue = max(result.stalled_max_queue, client.queue.qsize())
                transport = client._transport  # noqa: SLF001 - a benchmark may look inside
                if transport is not None:
                    result.stalled_max_buffer = max(result.stalled_max_buffer, transport.get_write_buffer_size())
                if client.close_reason is not None and id(client) not in seen:
                    seen.add(id(client))
                    result.stalled_cut.append({"after_s": loop.time() - start, "reason": client.close_reason})
            await asyncio.sleep(0.005)


# -- report --------------------------------------------------------------------------------------


def _latency(r: RunResult) -> str:
    if not r.latencies_ms:
        return f"{'n/a':>52}"
    return f"{r.p(50):8.2f} {r.p(90):8.2f} {r.p(99):8.2f} {r.latencies_ms[-1]:8.2f}"


def format_report(runs: list[RunResult], args: argparse.Namespace) -> str:
    """The table and notes printed by `main`."""
    zero, one, main_run = runs
    where = "child process" if args.clients_process else "this process"
    header = (f"{'run':<24} {'writes/s':>8} {'CPU':>5} {'us/msg':>7} {'late p99':>9}   "
              f"{'p50':>6} {'p90':>8} {'p99':>8} {'max':>8}  (ms, at the clients)")  # fmt: skip
    lines = [header, "-" * len(header)]
    for r in runs:
        lines.append(f"{r.label:<24} {r.rate:>8.0f} {r.cpu_share:>5.0%} {r.cpu_per_message_us:>7.1f} "
                     f"{percentile(r.write_lateness_ms, 99):>6.1f} ms  {_latency(r)}")  # fmt: skip
    lines.append("")
    lines.append(f"ratios, {main_run.label} against the baselines of this run:")
    lines.append(f"  hub process CPU  x{main_run.cpu_share / zero.cpu_share:.1f} of 0 clients, "
                 f"x{main_run.cpu_share / one.cpu_share:.1f} of 1 client")  # fmt: skip
    if one.latencies_ms and main_run.latencies_ms:
        lines.append(f"  latency          p50 x{main_run.p(50) / one.p(50):.1f}, p99 x{main_run.p(99) / one.p(99):.1f} "
                     "of 1 client")  # fmt: skip
    if main_run.child_cpu_seconds is not None and main_run.seconds:
        lines.append(f"  client process CPU {main_run.child_cpu_seconds / main_run.seconds:.0%} (writes and drain, "
                     "per second of writes)")  # fmt: skip
    lines.append("")
    for r in runs[1:]:
        complete = "every healthy client got every message" if r.all_delivered else "NOT every message delivered"
        lines.append(f"{r.label}: {complete} ({min(r.delivered, default=0)}..{max(r.delivered, default=0)} of "
                     f"{r.writes}), in order: {'yes' if r.all_in_order else 'NO'}")  # fmt: skip
    for index in range(main_run.stalled):
        ended = main_run.stalled_ended[index] if index < len(main_run.stalled_ended) else "?"
        if index < len(main_run.stalled_cut):
            cut = main_run.stalled_cut[index]
            after = " (after the measured run)" if cut["after_s"] > main_run.seconds else ""
            lines.append(f"stalled client {index + 1}: cut off {cut['after_s']:.2f} s after the first write{after}, "
                         f"reason {cut['reason']!r}; it then read: {ended}")  # fmt: skip
        else:
            waited = f", nor in {args.cut_wait:g} s of further writes" if main_run.extended else ""
            lines.append(f"stalled client {index + 1}: NOT disconnected during the run{waited}; it then read: {ended}")
    if main_run.stalled:
        lines.append(f"stalled clients, server side: up to {main_run.stalled_max_queue} of {args.queue_size} messages "
                     f"queued, up to {main_run.stalled_max_buffer / 1024:.0f} KiB unsent in aiohttp's transport buffer "
                     "(plus what the kernel's socket buffers hold)")  # fmt: skip
    if main_run.rss_per_client_kib is not None:
        side = "server side only" if args.clients_process else "client and server side together"
        lines.append(f"memory per client: {main_run.rss_per_client_kib:.0f} KiB RSS ({side})")
    lines.append(f"event loop lag max (hub watchdog): {main_run.loop_lag_max_ms:.0f} ms; clients in {where}")
    p99 = main_run.p(99)
    verdict = "PASS" if main_run.latencies_ms and p99 < GOAL_P99_MS and main_run.all_delivered else "ABOVE"
    lines.append(f"p99 under {GOAL_P99_MS:g} ms with {main_run.stalled} stalled client(s): {verdict} ({p99:.1f} ms)")
    return "\n".join(lines)


async def run_all(args: argparse.Namespace) -> list[RunResult]:
    """The two baselines and the configuration asked for, on one hub."""
    with tempfile.TemporaryDirectory(prefix="maderas-bench-web-") as tmp:
        bench = Bench(Path(tmp), queue_size=args.queue_size, pad=args.pad, compress=args.compress,
                      clients_process=args.clients_process)  # fmt: skip
        await bench.start()
        try:
            return [
                await bench.run("0 clients (writes only)", 0, 0, args.rate, args.seconds),
                await bench.run("1 client", 1, 0, args.rate, args.seconds),
                await bench.run(f"{args.clients} clients + {args.stalled} stalled", args.clients, args.stalled,
                                args.rate, args.seconds, args.cut_wait),
            ]  # fmt: skip
        finally:
            await bench.stop()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the three configurations, print the report, return the results (the smoke test reads them)."""
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="healthy websocket clients (default 50)")
    parser.add_argument("--rate", type=float, default=1000, help="state changes per second (default 1000)")
    parser.add_argument("--seconds", type=float, default=10, help="length of each run (default 10)")
    parser.add_argument("--stalled", type=int, default=1, help="clients that stop reading (default 1)")
    parser.add_argument("--queue-size", type=int, default=DEFAULT_QUEUE_SIZE,
                        help=f"the server's per-client queue (default {DEFAULT_QUEUE_SIZE}, the hub's)")  # fmt: skip
    parser.add_argument("--pad", type=int, default=0, help="extra bytes in each state's attributes (default 0)")
    parser.add_argument("--cut-wait", type=float, default=60,
                        help="if a stalled client is still connected after the run, keep writing (unmeasured) up "
                             "to this many seconds to see when it is cut off (default 60; 0: do not)")  # fmt: skip
    parser.add_argument("--clients-process", action="store_true", help="run the healthy clients in a child process")
    parser.add_argument("--compress", action="store_true", help="clients offer permessage-deflate, as browsers do")
    parser.add_argument("--child", nargs=5, metavar="X", help=argparse.SUPPRESS)  # the --clients-process child
    args = parser.parse_args(argv)
    if args.child:
        url, token, count, expected, out = args.child
        asyncio.run(child_main(url, token, int(count), int(expected), out, args.compress))
        return {}
    if args.clients < 1 or args.stalled < 0 or args.rate <= 0 or args.seconds <= 0 or args.queue_size < 1:
        parser.error("--clients, --rate, --seconds and --queue-size must be positive, --stalled not negative")

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs (load average {load}), "
          f"aiohttp {aiohttp.__version__}, orjson {orjson.__version__}")  # fmt: skip
    where = "a child process" if args.clients_process else "the hub's own process and event loop (the harder case)"
    print(f"{args.clients} clients + {args.stalled} stalled, {args.rate:g} state changes/s over {ENTITIES} entities for "
          f"{args.seconds:g} s, queue {args.queue_size}, pad {args.pad} B, compression "
          f"{'offered' if args.compress else 'off'}; clients in {where}")  # fmt: skip
    sys.stdout.flush()
    hub_logger = logging.getLogger("hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)  # the watchdog's "loop blocked" warnings are summarised instead
    try:
        runs = asyncio.run(run_all(args))
    finally:
        hub_logger.setLevel(level)
    print(format_report(runs, args))
    return {"runs": runs, "args": args}


if __name__ == "__main__":
    main()
