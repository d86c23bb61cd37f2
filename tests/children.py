"""A hub in a child process that a crash test kills: its stdout lines as they arrive, SIGKILL on demand."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

POLL = 0.002  # seconds between looks at the child's lines


class Child:
    """One child process started by `start_child`; `close()` always, even after a failed assertion."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read(), name=f"{name}-stdout")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode().strip())

    async def line(self, predicate: Callable[[str], bool]) -> str:
        """The first line that matches (waiting for it); AssertionError if the child ends first."""
        while True:
            for line in self.lines:
                if predicate(line):
                    return line
            assert self.proc.returncode is None and not self.reader.done(), f"child ended: {self.lines}"
            await asyncio.sleep(POLL)

    async def ready(self) -> None:
        """Until the child printed READY."""
        await self.line(lambda line: line == "READY")

    async def end(self) -> int:
        """Wait for the exit (and the last lines); the exit code, -9 when killed."""
        await self.proc.wait()
        await self.reader
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)


async def start_child(script: Path, args: list[str], *, stderr_path: Path, cwd: Path, name: str) -> Child:
    """Run `python script args...` with stdout piped to the Child and stderr into a file."""
    with stderr_path.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), *args, stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=cwd
        )
    return Child(proc, name)
