"""Command centre: every alarm reaches the monitoring centre over SIA DC-09 and/or a signed HTTPS webhook.

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` builds the DC-09 links of the primary
and backup receivers (link.py, receivers.py), the webhook senders (webhook.py), the entities
(entity.py), the forwarder that turns the alarm panel's events into outbox messages and sends them
(forwarder.py), and /api/command_center/status, all owned by the integration's scope. The design
is in docs/alarms.md; the codec (dc09/, mapping.py, cap.py) has no I/O.
"""

from __future__ import annotations

from typing import Any

from .config import CONFIG_SCHEMA

__all__ = ["CONFIG_SCHEMA", "async_setup", "async_unload", "get_forwarder"]

FORWARDER_ATTR = "command_center_forwarder"  # attribute of the integration's ScopedHub
SEQUENCE_GROUP = "receivers"  # the one receiver group's key in command_center_sequences


def get_forwarder(hub: Any) -> Any:
    """The Forwarder that setup stored on this ScopedHub; LookupError if none."""
    forwarder = getattr(hub, FORWARDER_ATTR, None)
    if forwarder is None:
        raise LookupError(f"command_center is not set up on {getattr(hub, 'name', hub)!r}")
    return forwarder


async def async_setup(hub: Any, config: dict[str, Any], *, session: Any = None, read_snapshot: Any = None) -> None:
    """Links, receiver group, webhooks, entities, forwarder and route; `session` / `read_snapshot` are injectable."""
    from hub.entities import EntityPlatform

    from .dc09 import make_key
    from .entity import LinkSensor, QueuedSensor
    from .forwarder import Dc09Format, Forwarder
    from .link import Dc09Link
    from .mapping import CodeTable
    from .receivers import ReceiverGroup
    from .sequence import SequenceStore
    from .views import routes
    from .webhook import CapSettings, WebhookSender

    account = config["account"]
    # str(): a !secret value is a SecretStr; make_key's errors give lengths, never the key.
    key = make_key(str(config["key"]), config["key_format"]) if config.get("key") else None
    links = [
        Dc09Link(r["host"], r["port"], r["protocol"], key=key, account=account, line=config["line"],
                 receiver=config["receiver"], ack_timeout=config["ack_timeout"], clock=hub.clock, name=r["name"])
        for r in config["receivers"]
    ]  # fmt: skip
    codes = config["codes"]
    table = CodeTable().with_overrides(cid=codes) if config["format"] == "ADM-CID" else CodeTable().with_overrides(sia=codes)

    platform = EntityPlatform(hub, "command_center")
    queued = QueuedSensor(account)
    forwarder: Forwarder | None = None

    def recovered() -> None:
        if forwarder is not None:
            forwarder.link_recovered()

    group = ReceiverGroup(
        links, SequenceStore(hub.db, SEQUENCE_GROUP), clock=hub.clock, spawn=hub.create_task, time_zone=hub.time_zone,
        attempts_before_failover=config["attempts_before_failover"],
        return_after=config["return_after"].total_seconds(),
        supervision_interval=config["supervision_interval"].total_seconds(),
        on_recovered=recovered, fire=hub.bus.fire,
    )  # fmt: skip
    link_sensor = LinkSensor(account, group.status, hub.time_zone)
    await platform.add_entities([link_sensor, queued])
    group.on_status = link_sensor.show

    webhooks = []
    if config["webhooks"]:
        if session is None:
            import aiohttp

            session = aiohttp.ClientSession()
            hub.on_unload(session.close)
        site = config["site"]
        circle = (site["latitude"], site["longitude"], site["radius_km"]) if "latitude" in site else None
        cap = CapSettings(sender=config.get("cap_sender") or f"maderas-hub-{account}",
                          area_desc=site.get("name") or f"Domicilio abonado {account}", circle=circle)  # fmt: skip
        # hub.name of a ScopedHub is the scope's; the home's name is in the core config.
        hub_info = {"name": (hub.config or {}).get("hub", {}).get("name", "Maderas Hub"), "account": account}
        for hook in config["webhooks"]:
            webhooks.append(WebhookSender(
                name=hook["name"], url=hook["url"], secret=str(hook["secret"]), session=session, clock=hub.clock.time,
                hub_info=hub_info, cap=cap if hook["cap"] else None, attach_snapshot=hook["attach_snapshot"],
                base_url=config.get("external_url"), timeout=hook["timeout"], read_snapshot=read_snapshot,
            ))  # fmt: skip

    await group.start()
    hub.on_unload(group.stop)
    forwarder = Forwarder(hub, group=group, dc09=Dc09Format(config["format"], account, table), webhooks=webhooks,
                          report_open_close=config["report_open_close"], queued=queued)  # fmt: skip
    setattr(hub, FORWARDER_ATTR, forwarder)
    await forwarder.start()
    for route in routes(forwarder, hub.time_zone):
        hub.register_view(route)


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: channels, listeners, timers, connections, views and the session go with it."""
