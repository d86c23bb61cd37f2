"""A BLE proxy found over mDNS, paired through /api/discovered: the hub makes its token, the simulator uses it.

The proxy is "found" by handing the pairing manager the `FoundService` the mDNS browser would report
for the simulator's `_maderas-proxy._tcp` announcement (its real announcement is covered by
tests/firmware/sim/test_proxy_sim_mdns.py); the simulator then dials the hub's proxy endpoint on
loopback with the token the 201 answer revealed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ble_helpers import ROOF_ADDR, HubSite, beacon, free_port, hub_site
from waiting import until

from firmware.ble_proxy import protocol
from firmware.sim.proxy_sim import FIRMWARE, PROXY_SERVICE_TYPE, SimulatedProxy
from hub.clock import ManualClock
from hub.loader import discovery_index, match_zeroconf
from hub.network import FoundService
from hub.pairing import Found, PairingUnavailable
from integrations.ble_climate import pairing
from integrations.ble_climate.runtime import WAITING_FOR_PROXY

PROXY_ID = "attic-proxy"
ENTITY = "binary_sensor.ble_proxy_attic_proxy"
YAML_PROXY = {"id": "garage-proxy", "token": "garage-token-0042-secret"}


def announced(proxy_id: str, hub_port: int, domains: tuple[str, ...]) -> FoundService:
    """What the hub's mDNS browser reports for the simulator's announcement (ProxyAnnouncement)."""
    return FoundService(
        type=PROXY_SERVICE_TYPE, name=proxy_id, host=f"maderas-proxy-{proxy_id}.local.", addresses=("127.0.0.1",),
        port=0, properties={"id": proxy_id, "fw": FIRMWARE, "proto": str(protocol.VERSION), "hub_port": str(hub_port)},
        domains=domains,
    )  # fmt: skip


@pytest.fixture
async def site(tmp_path: Path, clock: ManualClock) -> AsyncIterator[HubSite]:
    # Only a YAML proxy-less block would leave the endpoint closed until the first pairing; one test
    # below covers that, this one has a YAML proxy beside the paired one.
    block = {"proxy_port": free_port(), "proxy_host": "127.0.0.1", "devices": {ROOF_ADDR: {"name": "Roof"}}}
    async with hub_site(tmp_path, clock, block) as made:
        yield made


def simulated(sims: list[SimulatedProxy], port: int, token: str, proxy_id: str = PROXY_ID) -> SimulatedProxy:
    # A refused simulator waits a second before it dials again, so the test stops it while it sleeps
    # rather than in the middle of a connection attempt.
    sim = SimulatedProxy("127.0.0.1", port, proxy_id=proxy_id, token=token, batch_interval=0.02, backoff_min=1.0)
    sims.append(sim)
    sim.start()
    return sim


async def listed(site: HubSite, proxy_id: str) -> dict[str, Any]:
    async def row() -> dict[str, Any] | None:
        body = await site.api("GET", "/api/discovered")
        return next((r for r in body["discovered"] if r["unique_id"] == proxy_id), None)

    return await until(row, f"proxy {proxy_id} in the Discovered list")


def refused_with(sim: SimulatedProxy, code: int, times: int = 1) -> bool:
    return sum(error.code == code for error in sim.refusals) >= times


async def test_a_found_proxy_is_paired_with_a_token_the_hub_makes_and_refused_after_removal(
    site: HubSite, sims: list[SimulatedProxy]
) -> None:
    hub = site.hub
    port = site.runtime.server.port
    assert not site.runtime.server.listening  # no YAML proxy: nothing listens until a proxy is paired
    index = discovery_index(hub.discovery.integrations)
    domains = tuple(match_zeroconf(index, PROXY_SERVICE_TYPE, PROXY_ID, {"id": PROXY_ID}))
    assert domains == ("ble_climate",)
    hub.pairing.mdns_found(announced(PROXY_ID, port, domains))  # the browser's callback
    row = await listed(site, PROXY_ID)
    assert (row["domain"], row["title"], row["kind"], row["asks"]) == ("ble_climate", f"BLE proxy {PROXY_ID}",
                                                                       "ble_proxy", [])  # fmt: skip
    assert row["details"] == {"firmware": FIRMWARE, "protocol": str(protocol.VERSION), "hub_port": str(port)}

    made = await site.api("POST", f"/api/discovered/{row['id']}/pair", {"answers": {}}, status=201)
    token = made["reveal"]["Proxy token"]
    assert list(made["reveal"]) == ["Proxy token"] and len(token) >= 16
    entry = hub.config_entries.get(made["entry_id"])
    assert (entry.unique_id, entry.title, entry.data) == (PROXY_ID, f"BLE proxy {PROXY_ID}",
                                                          {"proxy_id": PROXY_ID, "token": token})  # fmt: skip
    assert token not in str(await site.api("GET", "/api/config_entries"))  # shown once, never listed
    state = hub.states.get(ENTITY)
    assert state is not None and state.state == "off" and state.attributes["status"] == WAITING_FOR_PROXY
    assert site.runtime.server.listening

    sim = simulated(sims, port, token)
    await until(lambda: (s := hub.states.get(ENTITY)) is not None and s.state == "on", "the paired proxy to connect")
    assert hub.states.get(ENTITY).attributes["status"] == "connected"  # type: ignore[union-attr]
    roof = beacon(ROOF_ADDR, clock=site.clock)
    temperature_cc, _, _ = roof.reading_at(site.clock.now())
    sim.feed_beacon(roof, site.clock.now(), rssi=-71)
    await until(lambda: (s := hub.states.get("sensor.roof_temperature")) is not None and s.state != "unavailable",
                "the roof reading through the paired proxy")  # fmt: skip
    assert float(hub.states.get("sensor.roof_temperature").state) == pytest.approx(temperature_cc / 100, abs=0.05)  # type: ignore[union-attr]
    assert hub.states.get("sensor.roof_signal_strength").attributes["source"] == f"proxy:{PROXY_ID}"  # type: ignore[union-attr]

    impostor = simulated(sims, port, "another-token-long-enough")
    await until(lambda: refused_with(impostor, protocol.E_AUTH), "the wrong token refused")
    await impostor.stop()
    assert impostor.sessions == 0

    sessions = sim.sessions
    await site.api("DELETE", f"/api/config_entries/{entry.entry_id}", status=204)
    assert hub.states.get(ENTITY) is None and hub.entities.entries_for_config_entry(entry.entry_id) == []
    # Its live link is closed with the error, and its next attempt is refused: the hub no longer knows it.
    await until(lambda: refused_with(sim, protocol.E_UNKNOWN_PROXY, times=2), "the removed proxy refused twice")
    await sim.stop()
    assert sim.sessions == sessions

    # Still announcing: listed again, and pairing again makes another token.
    hub.pairing.mdns_found(announced(PROXY_ID, port, domains))
    again = await listed(site, PROXY_ID)
    remade = await site.api("POST", f"/api/discovered/{again['id']}/pair", {"answers": {}}, status=201)
    assert remade["reveal"]["Proxy token"] != token
    await until(lambda: hub.states.get(ENTITY) is not None, "the re-paired proxy's sensor")
    assert hub.states.get(ENTITY).attributes["status"] == WAITING_FOR_PROXY  # type: ignore[union-attr]


async def test_a_yaml_proxy_is_not_offered_and_wins_over_an_entry(tmp_path: Path, clock: ManualClock) -> None:
    block = {"proxy_port": free_port(), "proxy_host": "127.0.0.1", "proxies": [YAML_PROXY]}
    async with hub_site(tmp_path, clock, block) as site:
        hub = site.hub
        scoped = hub.integrations.scoped_hub("ble_climate")
        yaml_one = Found(source="zeroconf", type=PROXY_SERVICE_TYPE, name="garage-proxy",
                         properties={"id": "garage-proxy"})  # fmt: skip
        assert await pairing.async_discovered(scoped, yaml_one) is None
        assert await pairing.async_discovered(scoped, Found(source="zeroconf", type=PROXY_SERVICE_TYPE,
                                                            properties={"id": "no spaces allowed"})) is None
        assert await pairing.async_discovered(scoped, Found(source="zeroconf", type="_http._tcp.local.",
                                                            properties={"id": "x"})) is None
        entry = await hub.config_entries.add("ble_climate", "BLE proxy garage-proxy",
                                             {"proxy_id": "garage-proxy", "token": "entry-token-long-enough"},
                                             unique_id="garage-proxy", source="discovery")  # fmt: skip
        assert hub.entities.entries_for_config_entry(entry.entry_id) == []
        assert hub.states.get("binary_sensor.ble_proxy_garage_proxy").attributes["status"] == "disconnected"  # type: ignore[union-attr]
        await hub.config_entries.remove(entry.entry_id)
        assert hub.states.get("binary_sensor.ble_proxy_garage_proxy") is not None  # the YAML proxy stays


async def test_no_token_is_made_while_the_proxy_endpoint_is_off() -> None:
    runtime = SimpleNamespace(server=None, yaml_proxies=frozenset())
    hub = SimpleNamespace(ble_climate_runtime=runtime)
    found = Found(source="zeroconf", type=PROXY_SERVICE_TYPE, name=PROXY_ID, properties={"id": PROXY_ID})
    with pytest.raises(PairingUnavailable, match="proxy_port is 0"):
        await pairing.async_pair(hub, found, {})
