"""Waiting in real time for something that happens on real sockets or the database thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(predicate: Callable[[], Any], what: str = "condition", timeout: float = 10.0) -> Any:
    """Poll `predicate()` (a coroutine's result is awaited) until it is truthy; return that value.

    Time on the hub's manual clock does not move here: this waits for I/O, not for timers.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
