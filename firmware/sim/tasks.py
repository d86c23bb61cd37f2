"""Stopping a simulator's tasks for sure.

Python 3.11's `asyncio.wait_for` can swallow a cancellation that races the awaited result (the
read completes in the same loop turn as `cancel()`), and a task looping on it then runs on while
`await task` waits forever. So a stop cancels again until the task is really done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

RECANCEL_S = 0.5  # how long one cancellation gets before it is repeated


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancel every task, repeating the cancellation until each has finished; their errors are dropped."""
    everything = list(tasks)
    pending = {task for task in everything if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
    for task in everything:
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning
