"""`hub demo` as a process inside its own network namespace: the hub finds the demo's Wi-Fi tank sensor
through real mDNS (the firmware's responder announcing, python-zeroconf browsing) and it is paired
through the API from the other end of the veth pair.

Two hosts on one link: the namespace is the house's hub box (the demo and its newcomer on the
namespace's veth address); this test process is a phone on the other end, reaching the dashboard
API across the veth. Only the namespace's interfaces carry multicast; MADERAS_MDNS is removed for
the child so the demo behaves as on a real machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
from netns import Link, link_fixture, private_link, stop_child  # noqa: F401 - the link and peer fixtures
from waiting import until

from hub.demo import write_demo_config
from hub.demo_wifi_tank import SERIAL, read_pin

PORT = 18123  # inside the namespace nothing else listens
PASSWORD = "correct horse battery"



async def test_the_demo_newcomer_is_found_by_mdns_and_paired_from_the_lan(tmp_path: Path, link: Link) -> None:
    config_dir = tmp_path / "demo"
    write_demo_config(config_dir, server_port=PORT, alarms=True, climate=True, camera=True, wifi_tank=True)
    config = config_dir / "configuration.yaml"
    config.write_text(config.read_text().replace("server_host: 127.0.0.1", f"server_host: {link.peer}", 1))
    pin = read_pin(config_dir)
    env = {k: v for k, v in os.environ.items() if k != "MADERAS_MDNS"}
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", link.ns, sys.executable, "-m", "hub", "demo", "--keep", str(config_dir),
            stdout=out, stderr=out, env=env,
        )  # fmt: skip
    base = f"http://{link.peer}:{PORT}"
    try:
        await until(lambda: b"Hub ready" in log.read_bytes() or proc.returncode is not None, "the demo to start", 60)
        assert proc.returncode is None, log.read_text()
        async with aiohttp.ClientSession() as session:

            async def call(method: str, path: str, body: Any = None, token: str | None = None, status: int = 200) -> Any:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with session.request(method, base + path, json=body, headers=headers) as response:
                    assert response.status == status, f"{method} {path}: {response.status} {await response.text()}"
                    return await response.json() if response.status != 204 else None

            made = await call("POST", "/api/onboarding", {"name": "Ana", "username": "ana", "password": PASSWORD,
                                                           "client": "api"})  # fmt: skip
            token = made["access_token"]
            network = await call("GET", "/api/network", token=token)
            assert network["mdns"]["state"] == "running" and network["mdns"]["interfaces"] == [link.peer]

            async def newcomer() -> dict[str, Any] | None:
                rows = (await call("GET", "/api/discovered", token=token))["discovered"]
                return next((r for r in rows if r["domain"] == "modbus_tank"), None)

            row = await until(newcomer, "the Wi-Fi tank sensor in Discovered", 60)
            assert row["source"] == "zeroconf" and row["host"] == link.peer
            assert row["details"]["serial"] == SERIAL and row["details"]["firmware"] == "1.1"
            assert b"mDNS is off" not in log.read_bytes()  # found by the browser, not handed over
            pair = f"/api/discovered/{row['id']}/pair"
            wrong = await call("POST", pair, {"answers": {"pin": "1"}}, token=token, status=400)
            assert wrong["error"]["field"] == "pin"
            await call("POST", pair, {"answers": {"pin": str(pin)}}, token=token, status=201)

            async def level() -> float | None:
                state = await call("GET", f"/api/states/sensor.tank_{SERIAL.lower()}_level", token=token)
                return float(state["state"]) if state["state"] not in ("unknown", "unavailable") else None

            assert 0 < await until(level, "the paired tank's level through the API", 60) <= 100
    finally:
        code = await stop_child(proc, signal.SIGINT)
    assert code == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
