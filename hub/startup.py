"""The hub's start and stop sequences (kept apart from the Hub class to keep both small)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime import Hub

_LOGGER = logging.getLogger(__name__)


async def start_hub(hub: Hub) -> None:
    """Open storage; later stages are added as the parts land."""
    await hub.db.start()


async def stop_hub(hub: Hub, timeout: float) -> None:
    """Close storage."""
    await hub.db.stop()
