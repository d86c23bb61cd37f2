"""Real peers for the I/O tests: a pty pair bridged by a thread, and free TCP ports."""

from __future__ import annotations

import os
import select
import socket
import threading
import tty
from collections.abc import Iterator

import pytest


class PtyBridge:
    """Two pseudo-terminals whose masters are copied to each other: a null-modem cable."""

    def __init__(self) -> None:
        self._m1, s1 = os.openpty()
        self._m2, s2 = os.openpty()
        for fd in (s1, s2):
            tty.setraw(fd)
        self.port_a, self.port_b = os.ttyname(s1), os.ttyname(s2)
        self._slaves = (s1, s2)  # kept open so the masters never see a hang-up between opens
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-bridge", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pair = {self._m1: self._m2, self._m2: self._m1}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(pair), [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                os.write(pair[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self._m1, self._m2, *self._slaves):
            os.close(fd)


@pytest.fixture
def pty_bridge() -> Iterator[PtyBridge]:
    bridge = PtyBridge()
    yield bridge
    bridge.close()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
