"""Suite-wide fixtures: leak checks, CI strictness and a hub on a manual clock."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.clock import ManualClock
from hub.loader import CUSTOM_DIR
from hub.runtime import MDNS_ENV, Hub

IN_CI = os.environ.get("CI") == "true"
# No test may multicast on the host's real interfaces: every Hub made in this process, and every
# `hub run` / `hub demo` child (they inherit the environment), starts without mDNS. mDNS tests
# pass `mdns=True` and bind a private veth address (tests/hub/network/netns.py).
os.environ[MDNS_ENV] = "off"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI=true a skipped test is a failed test: every peer must be installed there."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (not allowed): {reason}"


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread running after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 3.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        # The loop's default executor threads go when pytest-asyncio closes the loop.
        leaked = [t for t in leaked if not t.name.startswith("asyncio_")]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if leaked:
        pytest.fail(f"test leaked threads: {[t.name for t in leaked]}")


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks pending on its loop."""
    loop = asyncio.get_running_loop()
    before = asyncio.all_tasks(loop)
    yield
    for _ in range(3):
        await asyncio.sleep(0)
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks(loop) if t is not current and t not in before and not t.done()]
    for task in leaked:
        task.cancel()
    if leaked:
        pytest.fail(f"test leaked tasks: {sorted(t.get_name() for t in leaked)}")


@pytest.fixture(autouse=True)
def _forget_custom_modules() -> Iterator[None]:
    """Custom integrations of one test's config directory must not leak into the next test."""
    yield
    for name in [n for n in sys.modules if n == CUSTOM_DIR or n.startswith(CUSTOM_DIR + ".")]:
        del sys.modules[name]


@pytest.fixture
def quiet_pymodbus() -> Iterator[None]:
    """pymodbus logs every timeout and bad frame at ERROR; tests that cause them on purpose use this."""
    logger = logging.getLogger("pymodbus")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock starting at 2026-01-15 12:00 UTC."""
    return ManualClock()


@pytest.fixture
async def hub(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Hub]:
    """A started hub on a manual clock in an empty config directory."""
    instance = Hub(tmp_path, clock=clock)
    await instance.start()
    yield instance
    await instance.stop()
