"""A python-zeroconf peer run inside a test's network namespace, driven by JSON lines.

stdin: one command a line ({"op": "register" | "update" | "unregister" | "browse" | "raw" | "quit", ...});
stdout: {"ok": ...} replies and {"event": "added" | "updated" | "removed", ...} from browsing.
Bound only to the address given on the command line, so it multicasts on the namespace's link only.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from typing import Any

from zeroconf import DNSAddress, DNSOutgoing, DNSPointer, DNSService, DNSText, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

_FLAGS_ANSWER = 0x8400  # response, authoritative
_CLASS_IN_UNIQUE = 0x8001
_TYPE_A, _TYPE_PTR, _TYPE_SRV, _TYPE_TXT = 1, 12, 33, 16


def emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


class Peer:
    """One AsyncZeroconf with the services it registered and the browsers it runs."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.zc = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
        self.infos: dict[str, AsyncServiceInfo] = {}
        self.browsers: list[AsyncServiceBrowser] = []

    def info(self, cmd: dict[str, Any]) -> AsyncServiceInfo:
        kind = cmd["type"]
        host = cmd.get("host", "peer-" + cmd["name"].lower().replace(" ", "-"))
        return AsyncServiceInfo(
            kind, f"{cmd['name']}.{kind}", port=cmd.get("port", 6053), properties=cmd.get("properties", {}),
            server=f"{host}.local.", parsed_addresses=[self.address],
        )

    async def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        op = cmd["op"]
        if op in ("register", "update"):
            info = self.info(cmd)
            if op == "register":
                await (await self.zc.async_register_service(info, cooperating_responders=True))
            else:
                await (await self.zc.async_update_service(info))
            self.infos[info.name] = info
            return {"ok": op, "name": info.name}
        if op == "unregister":
            info = self.infos.pop(f"{cmd['name']}.{cmd['type']}")
            await (await self.zc.async_unregister_service(info))
            return {"ok": op}
        if op == "browse":
            self.browsers.append(AsyncServiceBrowser(self.zc.zeroconf, [cmd["type"]], handlers=[self.on_change]))
            return {"ok": op}
        if op == "raw":
            self.send_raw(cmd)
            return {"ok": op}
        raise ValueError(f"unknown op {op}")

    def send_raw(self, cmd: dict[str, Any]) -> None:
        """Announce a service whose TXT record is broken on the wire (a length byte past the end)."""
        kind, name = cmd["type"], f"{cmd['name']}.{cmd['type']}"
        out = DNSOutgoing(_FLAGS_ANSWER)
        out.add_answer_at_time(DNSPointer(kind, _TYPE_PTR, 1, 4500, name), 0)
        out.add_answer_at_time(DNSService(name, _TYPE_SRV, _CLASS_IN_UNIQUE, 120, 0, 0, 9, "raw-peer.local."), 0)
        out.add_answer_at_time(
            DNSAddress("raw-peer.local.", _TYPE_A, _CLASS_IN_UNIQUE, 120, socket.inet_aton(self.address)), 0
        )
        out.add_answer_at_time(DNSText(name, _TYPE_TXT, _CLASS_IN_UNIQUE, 4500, bytes.fromhex(cmd["txt_hex"])), 0)
        self.zc.zeroconf.async_send(out)

    def on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            emit({"event": "removed", "name": name})
            return
        asyncio.get_running_loop().create_task(self.report(service_type, name, state_change.name.lower()))

    async def report(self, service_type: str, name: str, event: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if await info.async_request(self.zc.zeroconf, 3000):
            props = {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()}
            emit({"event": event, "name": name, "addresses": info.parsed_addresses(), "port": info.port,
                  "properties": props, "server": info.server})

    async def close(self) -> None:
        for browser in self.browsers:
            await browser.async_cancel()
        await self.zc.async_close()


async def main(address: str) -> None:
    peer = Peer(address)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit({"ok": "ready", "host": socket.gethostname()})
    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            emit(await peer.run(cmd))
        except Exception as err:  # noqa: BLE001 - the test reads the error instead of waiting for a reply
            emit({"error": f"{type(err).__name__}: {err}"})
    await peer.close()
    emit({"ok": "closed"})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
