"""Hub and device in two network namespaces joined by a veth pair, the test process a phone on a third link.

    test process --veth-- namespace A: `hub run` --veth-- namespace B: the Wi-Fi tank sensor simulator
                                                                       and a python-zeroconf peer

The hub browses and announces only on the A-B link; the device announces `_modbus._tcp` there with
the firmware's own responder. The peer in B sees the hub's `_maderas._tcp` announcement (the phone
app's view); the test pairs the device through the hub's API on the other link and reads the tank.
Nothing runs on the host's own interfaces; MADERAS_MDNS is removed for the two children only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from netns import Link, PeerProcess, link_fixture, namespace_exists, second_namespace, stop_child  # noqa: F401 - the link fixture
from waiting import until

PORT = 18124
PIN = 482913
SERIAL = "MTB00002"
PASSWORD = "correct horse battery"


@pytest.fixture
def hop(link: Link) -> Iterator[Link]:
    with second_namespace(link) as made:
        yield made
    assert not namespace_exists(made.ns)


async def child(ns: str, args: list[str], log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "MADERAS_MDNS"}
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec("ip", "netns", "exec", ns, sys.executable, *args,
                                                    stdout=out, stderr=out, env=env)  # fmt: skip


@pytest.mark.parametrize("interfaces", ["the A-B link", "all"])
async def test_hub_and_device_in_two_namespaces_find_each_other_and_pair(
    tmp_path: Path, link: Link, hop: Link, interfaces: str
) -> None:
    config_dir = tmp_path / "hub"
    config_dir.mkdir()
    # "all": the hub box has two interfaces with addresses (A's two veth ends) and uses both.
    network = f"network:\n  interfaces: [{hop.host}]\n" if interfaces != "all" else ""
    (config_dir / "configuration.yaml").write_text(
        f"hub:\n  name: Casa Dos\nhttp:\n  server_host: {link.peer}\n  server_port: {PORT}\n{network}"
    )
    hub_log, sensor_log = tmp_path / "hub.log", tmp_path / "sensor.log"
    sensor = await child(hop.ns, ["-m", "firmware.sim.tank_wifi", "--host", hop.peer, "--serial", SERIAL,
                                  "--pin", str(PIN), "--capacity", "1100", "--height", "1.2", "--mdns"], sensor_log)
    hub = await child(link.ns, ["-m", "hub", "run", "--config", str(config_dir)], hub_log)
    try:
        async with PeerProcess(hop) as phone_app:  # python-zeroconf in B, bound to B's address
            await phone_app.send(op="browse", type="_maderas._tcp.local.")
            await until(lambda: b"READY" in sensor_log.read_bytes() or sensor.returncode is not None, "the sensor", 30)
            assert sensor.returncode is None, sensor_log.read_text()
            await until(lambda: b"Hub ready" in hub_log.read_bytes() or hub.returncode is not None, "the hub", 60)
            assert hub.returncode is None, hub_log.read_text()
            added = await until(lambda: [e for e in phone_app.events if e["event"] == "added"], "the hub seen from B", 30)
            assert added[0]["name"] == "Casa Dos._maderas._tcp.local."
            assert hop.host in added[0]["addresses"] and added[0]["properties"]["api_port"] == str(PORT)

            async with aiohttp.ClientSession() as session:
                base = f"http://{link.peer}:{PORT}"

                async def call(method: str, path: str, body: Any = None, token: str = "", status: int = 200) -> Any:
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    async with session.request(method, base + path, json=body, headers=headers) as response:
                        assert response.status == status, f"{method} {path}: {response.status} {await response.text()}"
                        return await response.json() if response.status != 204 else None

                token = (await call("POST", "/api/onboarding", {"name": "Ana", "username": "ana", "password": PASSWORD,
                                                                "client": "api"}))["access_token"]  # fmt: skip
                mdns = (await call("GET", "/api/network", token=token))["mdns"]
                expected = {hop.host} if interfaces != "all" else {hop.host, link.peer}
                assert mdns["state"] == "running" and set(mdns["interfaces"]) == expected

                async def found() -> dict[str, Any] | None:
                    rows = (await call("GET", "/api/discovered", token=token))["discovered"]
                    return next((r for r in rows if r["domain"] == "modbus_tank"), None)

                row = await until(found, "the tank sensor from namespace B in Discovered", 60)
                assert (row["host"], row["title"]) == (hop.peer, f"Tank sensor {SERIAL}")
                await call("POST", f"/api/discovered/{row['id']}/pair", {"answers": {"pin": "111111"}}, token=token,
                           status=400)  # fmt: skip
                await call("POST", f"/api/discovered/{row['id']}/pair", {"answers": {"pin": str(PIN)}}, token=token,
                           status=201)  # fmt: skip

                async def level() -> float | None:
                    state = await call("GET", f"/api/states/sensor.tank_{SERIAL.lower()}_level", token=token)
                    return float(state["state"]) if state["state"] not in ("unknown", "unavailable") else None

                assert await until(level, "the tank's level across the two namespaces", 60) == pytest.approx(60, abs=2)
    finally:
        sensor_code = await stop_child(sensor)
        hub_code = await stop_child(hub)
    assert hub_code == 0, hub_log.read_text()[-3000:]
    assert sensor_code in (0, -signal.SIGTERM), sensor_log.read_text()[-3000:]
    assert "Traceback" not in hub_log.read_text() + sensor_log.read_text()
