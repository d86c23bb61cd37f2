"""Water and LP-gas resupply: order from the household's supplier before a tank runs out.

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` builds one supplier adapter per
supplier on one aiohttp session, the `ResupplyManager` (manager.py), the entities, the services
and the /api/resupply routes, all owned by the integration's scope. The design, the lifecycle
and the supplier API are in docs/resupply.md.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from .config import CONFIG_SCHEMA

__all__ = ["CONFIG_SCHEMA", "async_setup", "async_unload", "get_manager"]

MANAGER_ATTR = "resupply_manager"  # attribute of the integration's ScopedHub


def get_manager(hub: Any) -> Any:
    """The ResupplyManager that setup stored on this ScopedHub; LookupError if none."""
    manager = getattr(hub, MANAGER_ATTR, None)
    if manager is None:
        raise LookupError(f"resupply is not set up on {getattr(hub, 'name', hub)!r}")
    return manager


async def async_setup(hub: Any, config: dict[str, Any], *, session: Any = None, smtp_send: Any = None) -> None:
    """Suppliers, manager, entities, services and routes; `session` / `smtp_send` are injectable for tests."""
    import aiohttp

    from hub.entities import EntityPlatform

    from .errors import OrderStateError
    from .manager import ResupplyManager
    from .sensor import MonthSpendSensor, TankOrderSensor
    from .suppliers import build_supplier
    from .views import routes

    if session is None:
        session = aiohttp.ClientSession()
        hub.on_unload(session.close)
    suppliers = {s["id"]: build_supplier(s, session=session, smtp_send=smtp_send, clock=hub.clock.time)
                 for s in config["suppliers"]}  # fmt: skip
    manager = ResupplyManager(hub, config, suppliers)
    setattr(hub, MANAGER_ATTR, manager)

    platform = EntityPlatform(hub, "resupply")
    for tank in config["tanks"]:
        supplier = manager.supplier_config[tank["supplier"]]
        state = hub.states.get(tank["tank"])
        name = state.attributes.get("friendly_name", tank["tank"]) if state is not None else tank["tank"]
        manager.order_sensors[tank["tank"]] = TankOrderSensor(tank["tank"], str(name), supplier["name"])
    for supplier in config["suppliers"]:
        manager.spend_sensors[supplier["id"]] = MonthSpendSensor(supplier["id"], supplier["name"],
                                                                 supplier["currency"])  # fmt: skip
    await platform.add_entities([*manager.order_sensors.values(), *manager.spend_sensors.values()])
    await manager.start()
    await manager.refresh_sensors()

    async def order_now(call: Any) -> dict[str, Any]:
        try:
            order = await manager.order_now(call.data["tank"], call.data.get("quantity_l"), context=call.context)
        except OrderStateError as err:
            raise vol.Invalid(str(err)) from None
        return order.as_api()

    async def approve(call: Any) -> dict[str, Any]:
        return (await manager.approve(call.data["order_id"], context=call.context)).as_api()

    async def cancel(call: Any) -> dict[str, Any]:
        return (await manager.cancel(call.data["order_id"], context=call.context)).as_api()

    from hub.services import SupportsResponse

    optional = SupportsResponse.OPTIONAL
    hub.services.register("resupply", "order_now", order_now, vol.Schema({
        vol.Required("tank"): vol.In(sorted(manager.plans)),
        vol.Optional("quantity_l"): vol.All(vol.Coerce(float), vol.Range(min=1)),
    }), supports_response=optional, resident=True, description="Order a refill for a tank now")  # fmt: skip
    order_id = vol.Schema({vol.Required("order_id"): vol.All(str, vol.Length(min=1, max=64))})
    hub.services.register("resupply", "approve", approve, order_id, supports_response=optional, resident=True,
                          description="Approve an order awaiting approval")  # fmt: skip
    hub.services.register("resupply", "cancel", cancel, order_id, supports_response=optional, resident=True,
                          description="Cancel an open order")  # fmt: skip
    for route in routes(manager):
        hub.register_view(route)


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: channels, listeners, timers, views and the session are released by it."""
