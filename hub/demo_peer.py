"""The shape every `hub demo` stand-in shares: a started-then-stopped async context manager."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

import yaml

from .config import SECRETS_FILE


def read_secret(config_dir: Path, key: str) -> str | None:
    """One value of the directory's secrets.yaml as text, or None when it or the file is missing (blocking I/O)."""
    try:
        data = yaml.safe_load((config_dir / SECRETS_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return None if value is None else str(value)


class DemoPeer:
    """A demo stand-in beside the hub (suppliers, receiver, beacons, camera): `async with` starts it and
    always stops it, also when the start failed half-way, so no port, thread or task is left behind."""

    async def start(self) -> None:
        """Open what the stand-in serves (ports, threads, tasks)."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Close everything `start` opened; safe after a partial start and when called twice."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
