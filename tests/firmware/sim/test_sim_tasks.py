"""cancel_and_wait stops a task even when one cancellation is swallowed (Python 3.11's wait_for race)."""

from __future__ import annotations

import asyncio

from firmware.sim.tasks import cancel_and_wait


async def test_a_swallowed_cancellation_is_repeated_until_the_task_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed == 1:
                    continue  # what wait_for does when the read finished in the same turn
                raise

    async def failing() -> None:
        raise ValueError("dropped, not reported as never retrieved")

    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(failing())]
    await asyncio.sleep(0)
    await cancel_and_wait(tasks)
    assert swallowed == 2 and tasks[0].cancelled() and isinstance(tasks[1].exception(), ValueError)
