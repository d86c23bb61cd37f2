"""The local Bluetooth adapter: a thin adapter over bleak's BleakScanner that never takes the hub down.

A scanner that cannot start (no D-Bus system bus, no BlueZ, no adapter) becomes a status, "no
Bluetooth adapter: <reason>", and is retried in the background with a doubling backoff on the
hub's clock. Passive scanning (BlueZ's AdvertisementMonitor, with or-patterns for the service data
we parse) is preferred; where it is not supported the scanner falls back to active with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from bleak.exc import BleakDBusError, BleakError

from integrations.ble_climate.models import Advertisement

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from hub.clock import Clock

_LOGGER = logging.getLogger(__name__)

ScanningMode = Literal["passive", "active"]
ScannerState = Literal["starting", "scanning", "no_adapter", "failed", "stopped"]
DetectionCallback = Callable[["BLEDevice", "AdvertisementData"], None]

NO_ADAPTER = "no Bluetooth adapter"
BACKOFF_MIN_S = 5.0
BACKOFF_MAX_S = 300.0
START_TIMEOUT_S = 30.0  # a D-Bus call that never answers must not hold the retry loop forever
LOCAL_SOURCE = "local"

# Errors that mean "no usable adapter here (yet)": retried, never raised out of the scanner.
ADAPTER_ERRORS: tuple[type[BaseException], ...] = (FileNotFoundError, BleakError, OSError)

# BlueZ passive scanning needs or-patterns (PROTOCOLS.md 4.5): AD type + bytes at offset 0.
# 0x16 = service data with a 16-bit UUID (little-endian): BTHome, MiBeacon, ATC1441 / pvvx;
# 0xFF = manufacturer data: Mopeka's company id 0x0059.
OR_PATTERNS: tuple[tuple[int, int, bytes], ...] = (
    (0, 0x16, b"\xd2\xfc"),
    (0, 0x16, b"\x95\xfe"),
    (0, 0x16, b"\x1a\x18"),
    (0, 0xFF, b"\x59\x00"),
)


class BleScanner(Protocol):
    """The part of bleak's BleakScanner the adapter uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


ScannerFactory = Callable[[DetectionCallback, str, ScanningMode], BleScanner]


def bleak_scanner_factory(
    detection_callback: DetectionCallback, adapter: str, scanning_mode: ScanningMode
) -> BleScanner:
    """bleak's real BleakScanner on `adapter`; passive mode filtered by OR_PATTERNS."""
    from bleak import BleakScanner
    from bleak.args.bluez import BlueZScannerArgs, OrPattern
    from bleak.assigned_numbers import AdvertisementDataType

    bluez: BlueZScannerArgs = {"adapter": adapter}
    if scanning_mode == "passive":
        bluez["or_patterns"] = [
            OrPattern(start, AdvertisementDataType(kind), data) for start, kind, data in OR_PATTERNS
        ]
    return BleakScanner(detection_callback=detection_callback, scanning_mode=scanning_mode, bluez=bluez)


def describe_error(exc: BaseException) -> str:
    """A short, readable reason for a scanner that did not start."""
    if isinstance(exc, FileNotFoundError):
        return f"no D-Bus system bus ({exc.strerror or exc})"
    if isinstance(exc, BleakDBusError):
        if exc.dbus_error == "org.freedesktop.DBus.Error.ServiceUnknown":
            return f"BlueZ is not running ({exc.dbus_error})"
        return f"D-Bus error {exc}"
    if isinstance(exc, TimeoutError):
        return f"no answer from BlueZ within {START_TIMEOUT_S:g} s"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _passive_unsupported(exc: BaseException) -> bool:
    """A BleakError that is about the mode, not the bus or adapter: try active instead."""
    return isinstance(exc, BleakError) and not isinstance(exc, BleakDBusError)


@dataclass(frozen=True, kw_only=True)
class ScannerStatus:
    """What the "Bluetooth adapter" sensor shows."""

    state: ScannerState
    message: str
    adapter: str
    scanning_mode: ScanningMode | None = None  # the mode actually in use while scanning
    attempts: int = 0
    next_retry: float | None = None  # wall time of the next attempt
    warning: str | None = None  # e.g. the passive -> active fallback


class LocalScanner:
    """Starts bleak, turns its callbacks into `Advertisement`s, and keeps trying while there is no adapter."""

    def __init__(
        self,
        *,
        clock: Clock,
        on_advertisement: Callable[[Advertisement], None],
        on_status: Callable[[ScannerStatus], None] | None = None,
        factory: ScannerFactory = bleak_scanner_factory,
        adapter: str = "hci0",
        scanning_mode: ScanningMode = "passive",
        source: str = LOCAL_SOURCE,
        backoff_min: float = BACKOFF_MIN_S,
        backoff_max: float = BACKOFF_MAX_S,
    ) -> None:
        self._clock = clock
        self._on_advertisement = on_advertisement
        self._on_status = on_status
        self._factory = factory
        self.adapter = adapter
        self._mode: ScanningMode = scanning_mode
        self.source = source
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._scanner: BleScanner | None = None
        self._warning: str | None = None
        self._callback_errors = 0
        self.status = ScannerStatus(state="starting", message="starting", adapter=adapter)

    @property
    def scanning(self) -> bool:
        """True once bleak's scanner has started."""
        return self._scanner is not None

    async def run(self) -> None:
        """Start, retrying with backoff while the adapter is missing; returns once scanning."""
        delay = self._backoff_min
        attempts = 0
        while True:
            attempts += 1
            try:
                await self._start_once()
            except ADAPTER_ERRORS as exc:
                reason = describe_error(exc)
                if attempts == 1:
                    _LOGGER.warning("%s %s: %s; retrying in the background", NO_ADAPTER, self.adapter, reason)
                else:
                    _LOGGER.debug("%s %s (attempt %d): %s", NO_ADAPTER, self.adapter, attempts, reason)
                self._set_status(ScannerStatus(
                    state="no_adapter", message=f"{NO_ADAPTER}: {reason}", adapter=self.adapter,
                    attempts=attempts, next_retry=self._clock.time() + delay, warning=self._warning,
                ))  # fmt: skip
                await self._clock.sleep(delay)
                delay = min(self._backoff_max, delay * 2)
                continue
            except Exception as exc:  # a bug, not a missing adapter: say so once and stop trying
                _LOGGER.exception("Bluetooth scanner on %s failed", self.adapter)
                self._set_status(ScannerStatus(state="failed", message=f"scanner failed: {describe_error(exc)}",
                                               adapter=self.adapter, attempts=attempts))  # fmt: skip
                return
            if attempts > 1:
                _LOGGER.info("Bluetooth adapter %s is scanning after %d attempts", self.adapter, attempts)
            self._set_status(ScannerStatus(
                state="scanning", message=f"scanning ({self._mode})", adapter=self.adapter,
                scanning_mode=self._mode, attempts=attempts, warning=self._warning,
            ))  # fmt: skip
            return

    async def _start_once(self) -> None:
        if self._mode == "passive":
            try:
                await self._start(self._mode)
                return
            except ADAPTER_ERRORS as exc:
                if not _passive_unsupported(exc):
                    raise
                passive_error = exc
            # Active scanning works on every BlueZ and asks devices for scan responses: more traffic,
            # the same readings. bleak also raises a plain BleakError for a missing adapter ("adapter
            # 'hci0' not found"), so only an active start that works proves passive was the problem;
            # if it fails too, that error is the reason and passive is tried again on the next attempt.
            await self._start("active")
            self._warning = f"passive scanning is not supported here ({passive_error}); scanning actively"
            # Kept for later attempts, so the warning is logged once.
            _LOGGER.warning("Bluetooth adapter %s: %s", self.adapter, self._warning)
            self._mode = "active"
            return
        await self._start(self._mode)

    async def _start(self, mode: ScanningMode) -> None:
        scanner = self._factory(self._detected, self.adapter, mode)
        try:
            await asyncio.wait_for(scanner.start(), START_TIMEOUT_S)
        except BaseException:
            with contextlib.suppress(Exception):
                await scanner.stop()
            raise
        self._scanner = scanner

    async def stop(self) -> None:
        """Stop bleak's scanner if it runs; errors on the way out are logged, not raised."""
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            try:
                await scanner.stop()
            except Exception as exc:  # noqa: BLE001 - the adapter may have gone with the scan
                _LOGGER.debug("stopping the Bluetooth scanner on %s: %s", self.adapter, describe_error(exc))
        self._set_status(ScannerStatus(state="stopped", message="stopped", adapter=self.adapter))

    def _detected(self, device: BLEDevice, data: AdvertisementData) -> None:
        """bleak's detection callback: one Advertisement into the pipeline; nothing escapes."""
        try:
            adv = Advertisement.from_bleak(device, data, time=self._clock.time(), source=self.source)
            self._on_advertisement(adv)
        except Exception:  # an exception here would end up in bleak's D-Bus handler
            self._callback_errors += 1
            if self._callback_errors == 1:
                _LOGGER.exception("Bluetooth advertisement from %s could not be handled", device.address)

    def _set_status(self, status: ScannerStatus) -> None:
        self.status = status
        if self._on_status is not None:
            self._on_status(status)


__all__ = [
    "ADAPTER_ERRORS",
    "NO_ADAPTER",
    "OR_PATTERNS",
    "BleScanner",
    "LocalScanner",
    "ScannerFactory",
    "ScannerStatus",
    "bleak_scanner_factory",
    "describe_error",
]
