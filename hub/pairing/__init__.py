"""Pairing discovered devices: the "Discovered" list and the flows that turn a row into a config entry."""

from __future__ import annotations

from .manager import EVENT_DEVICE_DISCOVERED, EVENT_DEVICE_PAIRED, PairingManager, PairingUnavailable, UnknownDiscovered
from .models import CANNOT_PAIR, Ask, Discovered, Found, Offer, Paired, PairingError, PairResult

__all__ = [
    "CANNOT_PAIR",
    "EVENT_DEVICE_DISCOVERED",
    "EVENT_DEVICE_PAIRED",
    "Ask",
    "Discovered",
    "Found",
    "Offer",
    "PairResult",
    "Paired",
    "PairingError",
    "PairingManager",
    "PairingUnavailable",
    "UnknownDiscovered",
]
