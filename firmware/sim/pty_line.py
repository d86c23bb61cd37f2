"""A serial line made of two pseudo-terminals, with line timing and injectable faults.

    hub / pymodbus  <->  /dev/pts/N (side a)  ==bridge thread==  /dev/pts/M (side b)  <->  simulator

Each side is an `os.openpty()` pair in raw mode; a thread copies bytes between the two masters.
A pty ignores the baud rate (100 bytes "at 9600" take 0.15 ms), so with `enforce_timing` the
bridge holds each burst back for its character times: a burst of n bytes read from one master
is written to the other, whole, when its last byte would have left a real UART
(n * bits_per_char / baud after the line became free). Bursts queue behind each other, so the
throughput is the line's. Delivering a burst whole, not byte by byte, keeps thread scheduling
jitter out of the receivers' t1.5 inter-character checks; the bytes are still "back to back".

A "frame" for the fault methods is one burst: what the sender wrote in one go (a Modbus
client writes a request with one write, so one request = one burst).

Disconnect: a pty path cannot vanish and come back under the same name. What udev does for a
USB adapter is a stable symlink (/dev/serial/by-id/...) that disappears with the device and
comes back pointing at the new /dev/ttyUSBn. `link_a` / `link_b` are such symlinks in a
temporary directory owned by the line: `disconnect("a")` removes the link and closes that
side's pty pair (an open client then gets EIO / hang-up), `reconnect("a")` opens a new pty and
points the link at it. Code that opens `link_a` sees what the hub sees on a real unplug.
"""

from __future__ import annotations

import os
import select
import shutil
import tempfile
import threading
import time
import tty
from collections import deque
from types import TracebackType
from typing import Self

SIDES = ("a", "b")


class _Burst:
    __slots__ = ("data", "due")

    def __init__(self, data: bytes, due: float) -> None:
        self.data = data
        self.due = due


class _Side:
    """One pty pair: the master the bridge uses, the slave fd kept open so the pty persists."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class PtyLine:
    """Two pty ends joined by a bridge thread; see the module docstring.

    `device_path_a` / `device_path_b` are the /dev/pts/N paths; `link_a` / `link_b` are stable
    symlinks to them that `disconnect()` / `reconnect()` remove and recreate.
    """

    def __init__(self, baud: int = 9600, bits_per_char: int = 11, enforce_timing: bool = True) -> None:
        self.baud = baud
        self.bits_per_char = bits_per_char
        self.enforce_timing = enforce_timing
        self.delivered = {"a": 0, "b": 0}  # bytes written to each side's master
        self._lock = threading.Lock()
        self._sides: dict[str, _Side | None] = {"a": _Side(), "b": _Side()}
        # Queues keyed by the destination side.
        self._queues: dict[str, deque[_Burst]] = {"a": deque(), "b": deque()}
        self._line_free = {"a": 0.0, "b": 0.0}
        # Pending faults, keyed by the destination side or "any".
        self._drop = {"any": 0, "a": 0, "b": 0}
        self._corrupt = {"any": 0, "a": 0, "b": 0}
        self._delay: dict[str, list[float]] = {"any": [], "a": [], "b": []}
        self._dir = tempfile.mkdtemp(prefix="ptyline-")
        self.link_a = os.path.join(self._dir, "a")
        self.link_b = os.path.join(self._dir, "b")
        for side in SIDES:
            self._link(side)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._stop = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ptyline-bridge", daemon=True)
        self._thread.start()

    # -- public API -------------------------------------------------------------------------

    @property
    def device_path_a(self) -> str:
        return self._side("a").path

    @property
    def device_path_b(self) -> str:
        return self._side("b").path

    def char_time_s(self) -> float:
        return self.bits_per_char / self.baud

    def set_baud(self, baud: int) -> None:
        """Change the line rate (both ends of a real bus must then agree)."""
        self.baud = baud

    def drop_next(self, n: int = 1, towards: str | None = None) -> None:
        """Lose the next `n` frames travelling towards side `towards` (None: either way)."""
        with self._lock:
            self._drop[towards or "any"] += n

    def corrupt_next(self, n: int = 1, towards: str | None = None) -> None:
        """Flip the last byte (CRC high byte) of the next `n` frames: the receiver sees a CRC error."""
        with self._lock:
            self._corrupt[towards or "any"] += n

    def delay_next(self, seconds: float, towards: str | None = None) -> None:
        """Hold the next frame back by `seconds` on top of its line time (later ones queue behind)."""
        with self._lock:
            self._delay[towards or "any"].append(seconds)

    def inject_garbage(self, data: bytes, to: str = "b") -> None:
        """Put `data` on the line now, as noise arriving at side `to` ("a" or "b")."""
        self._enqueue(to, bytes(data), time.monotonic())

    def disconnect(self, side: str = "a") -> None:
        """The adapter on `side` vanishes: its link goes and its pty pair is closed."""
        with self._lock:
            current = self._sides[side]
            self._sides[side] = None
            self._queues[side].clear()
        try:
            os.unlink(self._link_path(side))
        except FileNotFoundError:
            pass
        if current is not None:
            current.close()
        self._wake()

    def reconnect(self, side: str = "a") -> str:
        """The adapter comes back as a new pty; the link points at it. Returns the new pts path."""
        fresh = _Side()
        with self._lock:
            old = self._sides[side]
            self._sides[side] = fresh
            self._queues[side].clear()
        if old is not None:
            old.close()
        self._link(side)
        self._wake()
        return fresh.path

    def close(self) -> None:
        """Stop and join the bridge, close every fd, remove the link directory."""
        if self._closed:
            return
        self._closed = True
        self._stop = True
        self._wake()
        self._thread.join(timeout=5)
        for side in SIDES:
            pair = self._sides[side]
            if pair is not None:
                pair.close()
            self._sides[side] = None
        os.close(self._wake_r)
        os.close(self._wake_w)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------

    def _side(self, side: str) -> _Side:
        pair = self._sides[side]
        if pair is None:
            raise OSError(f"side {side} is disconnected")
        return pair

    def _link_path(self, side: str) -> str:
        return self.link_a if side == "a" else self.link_b

    def _link(self, side: str) -> None:
        link = self._link_path(side)
        tmp = link + ".new"
        os.symlink(self._side(side).path, tmp)
        os.replace(tmp, link)

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def _enqueue(self, to: str, data: bytes, now: float, extra_delay: float = 0.0) -> None:
        with self._lock:
            if self._sides[to] is None:
                return  # nobody on that side: the bytes go nowhere
            if self.enforce_timing:
                start = max(now, self._line_free[to])
                due = start + len(data) * self.bits_per_char / self.baud + extra_delay
                self._line_free[to] = due
            else:
                due = now + extra_delay
                if self._queues[to]:
                    due = max(due, self._queues[to][-1].due)
            self._queues[to].append(_Burst(data, due))
        self._wake()

    def _from_master(self, source: str, data: bytes, now: float) -> None:
        dest = "b" if source == "a" else "a"
        with self._lock:
            drop = _take(self._drop, dest)
            corrupt = not drop and _take(self._corrupt, dest)
            delays = self._delay[dest] or self._delay["any"]
            extra = delays.pop(0) if delays else 0.0
        if drop:
            return
        if corrupt:
            data = data[:-1] + bytes((data[-1] ^ 0xFF,))
        self._enqueue(dest, data, now, extra)

    def _run(self) -> None:
        while not self._stop:
            now = time.monotonic()
            timeout = 0.5
            with self._lock:
                masters = {s: p.master for s, p in self._sides.items() if p is not None}
                for queue in self._queues.values():
                    if queue:
                        # Floor: a burst the receiver will not take yet must not spin us.
                        timeout = min(timeout, max(0.0002, queue[0].due - now))
            try:
                readable, _, _ = select.select([self._wake_r, *masters.values()], [], [], timeout)
            except (OSError, ValueError):
                continue  # a side was closed under us by disconnect(); take the new fds
            now = time.monotonic()
            for source, fd in masters.items():
                if fd not in readable:
                    continue
                try:
                    data = os.read(fd, 4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    continue  # EIO while nobody holds the slave open, or a closed side
                if data:
                    self._from_master(source, data, now)
            if self._wake_r in readable:
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
            self._deliver(time.monotonic())

    def _deliver(self, now: float) -> None:
        with self._lock:
            for dest, queue in self._queues.items():
                pair = self._sides[dest]
                while queue and queue[0].due <= now:
                    burst = queue[0]
                    if pair is None:
                        queue.popleft()
                        continue
                    try:
                        written = os.write(pair.master, burst.data)
                    except BlockingIOError:
                        break  # the receiver is not reading; try again on the next pass
                    except OSError:
                        queue.popleft()
                        continue
                    self.delivered[dest] += written
                    if written < len(burst.data):
                        burst.data = burst.data[written:]
                        break
                    queue.popleft()


def _take(counters: dict[str, int], dest: str) -> bool:
    """Use up one pending fault for a frame towards `dest`, the specific one first."""
    for key in (dest, "any"):
        if counters[key]:
            counters[key] -= 1
            return True
    return False
