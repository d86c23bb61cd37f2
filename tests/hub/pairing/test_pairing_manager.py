"""The pairing manager with Found values injected (no network): list, update, ignore, forget, entries, pair."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pairing_fake import DOMAIN, UNREACHABLE_HOST, write_fakecam
from waiting import until

from hub.clock import ManualClock
from hub.network import FoundService
from hub.pairing import EVENT_DEVICE_DISCOVERED, EVENT_DEVICE_PAIRED, Ask, Found, PairingError
from hub.pairing.manager import EXPIRE_AT_MOST_EVERY_S, STALE_AFTER_S, check_answers
from hub.runtime import Hub


def garage(host: str = "10.0.0.7", serial: str = "SN-1", port: int = 8554) -> Found:
    return Found(source="zeroconf", type="_fakecam._tcp.local.", name="Garage", host=host, addresses=(host,),
                 port=port, properties={"serial": serial, "model": "FC-2"},
                 origin="zeroconf:Garage._fakecam._tcp.local.")  # fmt: skip


@pytest.fixture
async def paired_hub(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Hub]:
    write_fakecam(tmp_path)
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def events(hub: Hub, event_type: str) -> list[Any]:
    seen: list[Any] = []
    hub.bus.listen(event_type, seen.append)
    return seen


async def test_a_new_device_is_listed_once_and_refreshed_when_found_again(paired_hub: Hub, clock: ManualClock) -> None:
    discovered = events(paired_hub, EVENT_DEVICE_DISCOVERED)
    [row] = await paired_hub.pairing.found([DOMAIN], garage())
    assert (row.domain, row.unique_id, row.title, row.kind, row.source) == (DOMAIN, "SN-1", "Garage", "thing", "zeroconf")
    assert row.asks == (Ask("pin", "PIN", secret=True, pattern="[0-9]{4}"),) and row.details == {"model": "FC-2"}
    await paired_hub.block_till_done()
    assert [e.data["unique_id"] for e in discovered] == ["SN-1"]

    await clock.advance(60)
    await paired_hub.pairing.found([DOMAIN], garage(host="10.0.0.8"))
    [again] = await paired_hub.pairing.list()
    assert again.id == row.id and again.found.host == "10.0.0.8"
    assert again.first_seen == row.first_seen and again.last_seen == row.last_seen + 60
    await paired_hub.block_till_done()
    assert len(discovered) == 1  # found again is not news
    assert again.as_api()["host"] == "10.0.0.8" and "pin" not in str(again.as_api()["details"])


async def test_ignored_stays_ignored_and_forgotten_comes_back(paired_hub: Hub) -> None:
    pairing = paired_hub.pairing
    [row] = await pairing.found([DOMAIN], garage())
    await pairing.ignore(row.id)
    await pairing.found([DOMAIN], garage(host="10.0.0.9"))
    assert await pairing.list() == []
    [hidden] = await pairing.list(ignored=True)
    assert hidden.ignored and hidden.found.host == "10.0.0.9"

    await pairing.forget(row.id)
    assert await pairing.list(ignored=True) == []
    [back] = await pairing.found([DOMAIN], garage())
    assert not back.ignored and back.id != row.id
    assert [r.id for r in await pairing.list()] == [back.id]


async def test_a_goodbye_keeps_the_row_as_not_present_until_found_again(paired_hub: Hub) -> None:
    pairing = paired_hub.pairing
    await pairing.found([DOMAIN], garage())
    assert await pairing.removed("zeroconf:Garage._fakecam._tcp.local.") == 1
    [gone] = await pairing.list()
    assert not gone.present
    await pairing.found([DOMAIN], garage())
    [back] = await pairing.list()
    assert back.present and back.id == gone.id


async def test_pairing_checks_the_answers_then_saves_an_entry_and_drops_the_row(paired_hub: Hub) -> None:
    pairing, entries = paired_hub.pairing, paired_hub.config_entries
    paired = events(paired_hub, EVENT_DEVICE_PAIRED)
    [row] = await pairing.found([DOMAIN], garage())
    with pytest.raises(PairingError) as wrong:
        await pairing.pair(row.id, {"pin": "9999"})
    assert (wrong.value.field, wrong.value.message) == ("pin", "the device refused that PIN")
    with pytest.raises(PairingError) as malformed:
        await pairing.pair(row.id, {"pin": "12"})
    assert malformed.value.field == "pin"
    assert entries.entries(DOMAIN) == [] and len(await pairing.list()) == 1

    entry = (await pairing.pair(row.id, {"pin": "1234"})).entry
    assert (entry.domain, entry.unique_id, entry.source, entry.title) == (DOMAIN, "SN-1", "discovery", "Garage")
    assert entry.data == {"host": "10.0.0.7", "port": 8554, "pin": "1234"} and entry.state.value == "loaded"
    assert paired_hub.integrations.module(DOMAIN).SETUPS == [(entry.entry_id, entry.data)]
    assert await pairing.list() == []
    await paired_hub.block_till_done()
    assert [e.data["entry_id"] for e in paired] == [entry.entry_id]


async def test_a_configured_device_found_at_a_new_address_updates_its_entry_instead_of_listing(paired_hub: Hub) -> None:
    pairing = paired_hub.pairing
    [row] = await pairing.found([DOMAIN], garage())
    entry = (await pairing.pair(row.id, {"pin": "1234"})).entry
    await paired_hub.config_entries.update(entry.entry_id, title="Garage door")

    assert await pairing.found([DOMAIN], garage(host="10.0.0.50", port=9000)) == []
    assert await pairing.list(ignored=True) == []
    [same] = paired_hub.config_entries.entries(DOMAIN)
    assert same.entry_id == entry.entry_id and same.title == "Garage door"
    assert same.data == {"host": "10.0.0.50", "port": 9000, "pin": "1234"}
    module = paired_hub.integrations.module(DOMAIN)
    assert module.UNLOADS == [entry.entry_id] and module.SETUPS[-1] == (entry.entry_id, same.data)  # reloaded


async def test_unreachable_and_not_ours(paired_hub: Hub) -> None:
    pairing = paired_hub.pairing
    [row] = await pairing.found([DOMAIN], garage(host=UNREACHABLE_HOST))
    with pytest.raises(PairingError) as refused:
        await pairing.pair(row.id, {"pin": "1234"})
    assert refused.value.field is None and "could not reach Garage" in refused.value.message
    not_ours = Found(source="zeroconf", type="_fakecam._tcp.local.", name="Printer", host="10.0.0.3")
    assert await pairing.found([DOMAIN, "no_such_domain"], not_ours) == []
    assert [r.id for r in await pairing.list()] == [row.id]


async def test_an_integration_without_a_pairing_module_lists_nothing(tmp_path: Path, clock: ManualClock) -> None:
    write_fakecam(tmp_path, with_pairing=False, domain="fakeplain")
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        assert await hub.pairing.found(["fakeplain"], garage()) == []
        assert await hub.pairing.list() == []
        assert hub.integrations.status("fakeplain").state.value == "loaded"  # set up to be asked, like entries do
    finally:
        await hub.stop()


async def test_the_mdns_callbacks_feed_the_list(paired_hub: Hub) -> None:
    service = FoundService(type="_fakecam._tcp.local.", name="Porch", host="porch.local.", addresses=("10.0.0.21",),
                           port=554, properties={"serial": "SN-9", "model": b"\xff"}, domains=(DOMAIN,))  # fmt: skip
    scope = paired_hub.pairing.scoped.scope
    paired_hub.pairing.mdns_found(service)
    await until(lambda: not scope.tasks, "the pairing manager to look at it", 30)
    [row] = await paired_hub.pairing.list()
    assert row.found.host == "10.0.0.21" and row.found.extra == {"server": "porch.local."}
    assert row.details == {"model": "\ufffd"}  # not UTF-8 in TXT: kept as replaced text
    paired_hub.pairing.mdns_removed(service)
    await until(lambda: not scope.tasks, "the goodbye", 30)
    [gone] = await paired_hub.pairing.list()
    assert gone.id == row.id and not gone.present


def test_answers_are_checked_against_the_asks() -> None:
    asks = (Ask("user", "User"), Ask("path", "Path", pattern=r"/\S*", default="/"))
    assert check_answers(asks, {"user": "ana"}) == {"user": "ana", "path": "/"}
    for answers, field in (({}, "user"), ({"user": "a", "path": "x"}, "path"), ({"user": "a", "evil": "1"}, "evil")):
        with pytest.raises(PairingError) as caught:
            check_answers(asks, answers)
        assert caught.value.field == field


async def test_devices_unseen_for_a_day_leave_the_list_unless_still_announced_or_ignored(
    paired_hub: Hub, clock: ManualClock
) -> None:
    pairing = paired_hub.pairing
    announced = await pairing.found([DOMAIN], garage())  # mDNS, no goodbye: still there however quiet
    porch = Found(source="zeroconf", name="Porch", host="10.0.0.9", properties={"serial": "SN-2"},
                  origin="zeroconf:Porch._fakecam._tcp.local.")  # fmt: skip
    await pairing.found([DOMAIN], porch)
    await pairing.removed("zeroconf:Porch._fakecam._tcp.local.")  # said goodbye
    neighbour = Found(source="bluetooth", name="Neighbour", address="A4:C1:38:00:00:09", properties={"serial": "BT-9"})
    await pairing.found([DOMAIN], neighbour)  # heard once through the wall
    [hidden] = await pairing.found([DOMAIN], Found(source="bluetooth", address="A4:C1:38:00:00:0A",
                                                   properties={"serial": "BT-10"}))  # fmt: skip
    await pairing.ignore(hidden.id)

    await clock.advance(STALE_AFTER_S - 60)
    assert await pairing.expire() == 0 and len(await pairing.list(ignored=True)) == 4
    await clock.advance(120)
    # Stale now, but the last look was two minutes ago: a read does not write every time.
    assert len(await pairing.list(ignored=True)) == 4
    await clock.advance(EXPIRE_AT_MOST_EVERY_S)
    rows = await pairing.list(ignored=True)  # reading the list drops what went stale
    assert sorted(r.unique_id for r in rows) == ["BT-10", "SN-1"]  # the goodbye and the neighbour left
    assert [r.id for r in rows if r.unique_id == "SN-1"] == [announced[0].id]
    # Found again: listed again.
    await pairing.found([DOMAIN], neighbour)
    assert "BT-9" in [r.unique_id for r in await pairing.list()]


def test_the_host_of_a_found_device_is_ipv4_when_it_has_one_and_never_a_scopeless_link_local() -> None:
    from hub.pairing.manager import preferred_address

    # avahi announces its fe80:: address in the same answer; without a scope it cannot be dialled.
    assert preferred_address(["fe80::1c2b:3cff:fe4d:5e6f", "10.0.0.7"]) == "10.0.0.7"
    assert preferred_address(["fe80::1", "2001:db8::7"]) == "2001:db8::7"
    assert preferred_address(["fe80::1"]) is None
    assert preferred_address(["not-an-address", "192.168.1.20", "10.0.0.7"]) == "10.0.0.7"  # lowest, stable
    assert preferred_address([]) is None
