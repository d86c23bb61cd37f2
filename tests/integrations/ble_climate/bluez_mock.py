"""BlueZ on a private D-Bus for tests: a permissive dbus-daemon, python-dbusmock's bluez5 template, driven over dbus_fast.

bleak's BlueZ backend talks to this exactly as to bluetoothd: GetManagedObjects, the adapter's
discovery methods, AdvertisementMonitorManager1 for passive scanning, and the ObjectManager and
Properties signals by which BlueZ reports advertisements. The test adds devices with
`Mock.AddObject` plus an `InterfacesAdded` it emits itself, and later advertisements are
`PropertiesChanged` on org.bluez.Device1 (dbusmock's own AddDevice gives ManufacturerData a shape
bleak cannot read).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from private_bus import end, spawn, start_bus

BLUEZ = "org.bluez"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
BLUEZ_MOCK_IFACE = "org.bluez.Mock"  # the bluez5 template's own helpers (AddAdapter)
DEVICE_IFACE = "org.bluez.Device1"
OBJECT_MANAGER_IFACE = "org.freedesktop.DBus.ObjectManager"
START_TIMEOUT_S = 20.0  # generous: two cores shared by several test runs
STOP_TIMEOUT_S = 5.0
SOCKET_NAME = "system_bus_socket"
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes; a long --basetemp falls back to a short temporary directory

# A system bus that lets anyone own any name and send anything: only this test's processes reach it.


def missing_tools() -> str | None:
    """Why this machine cannot run the mock (and what to install), or None if it can."""
    if shutil.which("dbus-daemon") is None:
        return "dbus-daemon not found (apt-get install dbus-daemon)"
    for module, package in (("dbus", "dbus-python"), ("dbusmock", "python-dbusmock")):
        if importlib.util.find_spec(module) is None:
            return f"Python module {module!r} not found (pip install {package}; dbus-python builds after " \
                   "apt-get install libdbus-1-dev libglib2.0-dev pkg-config)"  # fmt: skip
    return None


def device_path(address: str, adapter: str = "hci0") -> str:
    """BlueZ's object path of a remote device: /org/bluez/hci0/dev_A4_C1_38_00_00_01."""
    return f"/org/bluez/{adapter}/dev_{address.upper().replace(':', '_')}"


def _escape_address_path(path: str) -> str:
    """A path as a D-Bus address value: bytes outside [-0-9A-Za-z_/.\\*] are %-escaped."""
    return "".join(c if re.match(r"[-0-9A-Za-z_/.\\*]", c) else "".join(f"%{b:02x}" for b in c.encode()) for c in path)


def _service_data(service_data: dict[str, bytes]) -> Variant:
    return Variant("a{sv}", {uuid: Variant("ay", bytes(data)) for uuid, data in service_data.items()})


class BluezMock:
    """A private system bus with BlueZ mocked on it; `start`, add an adapter and devices, `advertise`, `stop`."""

    def __init__(self) -> None:
        self.address: str | None = None
        self._dir: Path | None = None
        self._short_dir: str | None = None  # a temporary directory of our own for the socket, if any
        self._daemon: subprocess.Popen[bytes] | None = None
        self._bluez: subprocess.Popen[bytes] | None = None
        self._client: MessageBus | None = None
        self._added: set[str] = set()

    # -- processes -------------------------------------------------------------------------

    async def start(self, tmp_path: Path, *, bluez: bool = True, monitor_api: bool = True) -> str:
        """Start the private bus (and BlueZ, unless `bluez` is False); its address for DBUS_SYSTEM_BUS_ADDRESS."""
        self._dir = tmp_path
        socket_dir = str(tmp_path)
        if len(os.path.join(socket_dir, SOCKET_NAME)) > MAX_SOCKET_PATH:
            socket_dir = self._short_dir = tempfile.mkdtemp(prefix="dbus-")
        self.address = f"unix:path={_escape_address_path(os.path.join(socket_dir, SOCKET_NAME))}"
        self._daemon = start_bus(tmp_path, self.address)
        self._client = await self._wait(self._connect, "dbus-daemon to accept connections", self._daemon)
        if bluez:
            await self.start_bluez(monitor_api=monitor_api)
        return self.address

    async def start_bluez(self, *, monitor_api: bool = True) -> None:
        """Start dbusmock's bluez5 template on the bus; `monitor_api` False = a BlueZ without passive scanning."""
        assert self._dir is not None and self.address is not None, "start() the bus first"
        assert self._bluez is None, "BlueZ is already running"
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}
        parameters = json.dumps({"enable_monitor_api": monitor_api})
        argv = [sys.executable, "-m", "dbusmock", "--system", "--template", "bluez5", "-p", parameters]
        self._bluez = spawn(argv, self._dir / "dbusmock-bluez.log", env)
        await self._wait(self._bluez_owned, "dbusmock's BlueZ to own org.bluez", self._bluez)
        self._added.clear()

    async def stop_bluez(self) -> None:
        """BlueZ goes away (bluetoothd stopped); the bus stays."""
        process, self._bluez = self._bluez, None
        if process is not None:
            await end(process)

    async def stop(self) -> None:
        """Disconnect the test's client and end both processes; safe to call twice."""
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.wait_for_disconnect(), STOP_TIMEOUT_S)
        await self.stop_bluez()
        daemon, self._daemon = self._daemon, None
        if daemon is not None:
            await end(daemon)
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)
            self._short_dir = None

    def logs(self) -> str:
        """What the daemon and dbusmock wrote: for assertion messages."""
        if self._dir is None:
            return ""
        parts = [p.read_text(errors="replace") for p in (self._dir / "dbus-daemon.log", self._dir / "dbusmock-bluez.log")
                 if p.exists()]  # fmt: skip
        return "\n".join(parts)

    async def _connect(self) -> MessageBus | None:
        assert self.address is not None
        bus = MessageBus(bus_address=self.address)
        try:
            return await bus.connect()
        except (OSError, EOFError):  # no socket file yet, or the daemon not answering yet
            bus.disconnect()  # releases whatever was opened (a leaked socket is a ResourceWarning: an error here)
            return None

    async def _bluez_owned(self) -> bool:
        reply = await self._call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                 "NameHasOwner", "s", [BLUEZ])  # fmt: skip
        return bool(reply[0])

    async def _wait(self, probe: Callable[[], Awaitable[Any]], what: str, process: subprocess.Popen[bytes]) -> Any:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{what}: the process exited with {process.returncode}\n{self.logs()}")
            result = await probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
            await asyncio.sleep(0.05)

    # -- BlueZ objects ---------------------------------------------------------------------

    async def add_adapter(self, name: str = "hci0", alias: str = "Maderas") -> str:
        """An adapter through the template's Mock.AddAdapter (it emits InterfacesAdded); its object path."""
        reply = await self._call(BLUEZ, "/", BLUEZ_MOCK_IFACE, "AddAdapter", "ss", [name, alias])
        return str(reply[0])

    async def add_device(self, address: str, name: str | None, service_data: dict[str, bytes], rssi: int, *,
                         adapter: str = "hci0") -> str:  # fmt: skip
        """A remote device BlueZ has just heard advertising: Device1 object plus InterfacesAdded; its path."""
        path = device_path(address, adapter)
        props: dict[str, Variant] = {
            "Address": Variant("s", address.upper()),
            "AddressType": Variant("s", "public"),
            "Alias": Variant("s", name or address.upper().replace(":", "-")),
            "Adapter": Variant("o", f"/org/bluez/{adapter}"),
            "Paired": Variant("b", False),
            "Bonded": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "Connected": Variant("b", False),
            "LegacyPairing": Variant("b", False),
            "ServicesResolved": Variant("b", False),
            "RSSI": Variant("n", rssi),
            "UUIDs": Variant("as", sorted(service_data)),
            "ServiceData": _service_data(service_data),
        }
        if name is not None:
            props["Name"] = Variant("s", name)
        await self._call(BLUEZ, "/", MOCK_IFACE, "AddObject", "ssa{sv}a(ssss)", [path, DEVICE_IFACE, props, []])
        added = [Variant("o", path), Variant("a{sa{sv}}", {DEVICE_IFACE: props})]
        await self._call(BLUEZ, "/", MOCK_IFACE, "EmitSignal", "sssav",
                         [OBJECT_MANAGER_IFACE, "InterfacesAdded", "oa{sa{sv}}", added])  # fmt: skip
        self._added.add(path)
        return path

    async def advertise(
        self, address: str, service_data: dict[str, bytes], rssi: int, *, adapter: str = "hci0"
    ) -> None:
        """A later advertisement of a known device: PropertiesChanged on Device1 with ServiceData and RSSI."""
        path = device_path(address, adapter)
        assert path in self._added, f"add_device({address!r}) first"
        changed = {"ServiceData": _service_data(service_data), "RSSI": Variant("n", rssi)}
        await self._call(BLUEZ, path, MOCK_IFACE, "UpdateProperties", "sa{sv}", [DEVICE_IFACE, changed])

    async def method_calls(self, path: str, method: str) -> list[list[Any]]:
        """The arguments of each call of `method` on the mock object at `path` (dbusmock's call log)."""
        reply = await self._call(BLUEZ, path, MOCK_IFACE, "GetMethodCalls", "s", [method])
        return [[arg.value for arg in args] for _, args in reply[0]]

    async def _call(self, destination: str, path: str, interface: str, member: str, signature: str,
                    body: list[Any]) -> list[Any]:  # fmt: skip
        assert self._client is not None, "the bus is not running"
        reply = await self._client.call(Message(destination=destination, path=path, interface=interface,
                                                member=member, signature=signature, body=body))  # fmt: skip
        assert reply is not None
        if reply.message_type == MessageType.ERROR:
            raise AssertionError(f"{interface}.{member} on {path}: {reply.error_name}: {reply.body}")
        return list(reply.body)


async def forget_bleak_manager() -> None:
    """Drop bleak's BlueZ manager of this event loop: close its bus connection and let its watcher task end.

    bleak keeps one manager per loop in a module global; each test has its own loop, so without this
    the manager (and its bus-watching task) would outlive the test. bleak has no public way to do it.
    """
    from bleak.backends.bluezdbus import manager as bluez_manager

    instance = bluez_manager._global_instances.pop(asyncio.get_running_loop(), None)
    if instance is None:
        return
    bus, watcher = instance._bus, instance._bus_watcher_task
    if bus is not None:
        bus.disconnect()
    if watcher is not None:
        await asyncio.wait({watcher}, timeout=STOP_TIMEOUT_S)
        assert watcher.done(), "bleak's bus watcher did not end"


__all__ = ["BluezMock", "device_path", "forget_bleak_manager", "missing_tools"]
