"""Fixtures of ble_climate's tests: the integration set up on the hub fixture with a fake bleak scanner."""

from __future__ import annotations

from ble_helpers import ble, sims

__all__ = ["ble", "sims"]
