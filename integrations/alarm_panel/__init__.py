"""The alarm panel: modes, zones, entry and exit delays, PINs, supervision, alarms with history.

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` builds the `AlarmPanel`
(panel.py) around the pure `PanelMachine` (machine.py), adds the `alarm_control_panel` entity and
the trouble sensors, registers the services and the /api/alarm_panel routes, all owned by the
integration's scope. Alarms leave as `alarm_raised` / `alarm_restored` / `alarm_acknowledged`
events (docs/alarms.md, "The event contract"); command_center listens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import voluptuous as vol

from .config import CONFIG_SCHEMA

__all__ = ["CONFIG_SCHEMA", "async_setup", "async_unload", "get_panel"]

PANEL_ATTR = "alarm_panel"  # attribute of the integration's ScopedHub


def get_panel(hub: Any) -> Any:
    """The AlarmPanel that setup stored on this ScopedHub; LookupError if none."""
    panel = getattr(hub, PANEL_ATTR, None)
    if panel is None:
        raise LookupError(f"alarm_panel is not set up on {getattr(hub, 'name', hub)!r}")
    return panel


def _code(value: Any) -> str:
    """A code as text; never echoed in an error (it may be someone's PIN)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise vol.Invalid("expected the code as text")
    text = str(value).strip()
    if not 1 <= len(text) <= 32:
        raise vol.Invalid("expected a code of 4 to 8 digits")
    return text


def _entity_ids(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise vol.Invalid("expected an entity id or a list of them")
    return values


async def async_setup(hub: Any, config: dict[str, Any]) -> None:
    """Panel, entities, services and routes."""
    from hub.entities import EntityPlatform
    from hub.errors import ServiceValidationError
    from hub.services import SupportsResponse

    from .codes import BadCode, CodeError, CodeRequired
    from .machine import NotAllowed
    from .model import Mode
    from .panel import AlarmNotFound, AlarmPanel, AlreadyAcknowledged
    from .views import routes

    panel = AlarmPanel(hub, config)
    setattr(hub, PANEL_ATTR, panel)
    await panel.start()
    platform = EntityPlatform(hub, "alarm_panel")
    await platform.add_entities([panel.entity, *panel.troubles])
    await panel.follow()

    def invalid(service: str, field: str | None, err: Exception) -> ServiceValidationError:
        return ServiceValidationError(f"alarm_panel.{service}", (field,) if field else (), str(err))

    def check_entity(service: str, data: Any) -> None:
        for wanted in data.get("entity_id") or ():
            if wanted != panel.entity.entity_id:
                raise invalid(service, "entity_id", ValueError(f"unknown alarm panel {wanted}"))

    def arming(service: str, mode: Mode) -> Callable[[Any], Awaitable[None]]:
        async def handler(call: Any) -> None:
            check_entity(service, call.data)
            try:
                await panel.arm(mode, code=call.data.get("code"), context=call.context)
            except CodeError as err:
                raise invalid(service, "code", err) from None
            except NotAllowed as err:
                raise invalid(service, None, err) from None

        return handler

    async def disarm(call: Any) -> None:
        check_entity("disarm", call.data)
        try:
            await panel.disarm(code=call.data.get("code"), context=call.context)
        except CodeError as err:
            raise invalid("disarm", "code", err) from None

    async def panic(call: Any) -> None:
        check_entity("panic", call.data)
        await panel.panic(silent=call.data["silent"], context=call.context)

    async def set_code(call: Any) -> dict[str, Any]:
        data = call.data
        try:
            number = await panel.set_code(data["code"], current_code=data.get("current_code"),
                                          user_id=data.get("user_id"), context=call.context)  # fmt: skip
        except BadCode as err:
            raise invalid("set_code", "code", err) from None
        except (CodeError, CodeRequired) as err:
            raise invalid("set_code", "current_code", err) from None
        except NotAllowed as err:
            raise invalid("set_code", None, err) from None
        return {"user_number": number}

    async def acknowledge(call: Any) -> dict[str, Any]:
        try:
            alarm = await panel.acknowledge(call.data["alarm_id"], context=call.context)
        except (AlarmNotFound, AlreadyAcknowledged) as err:
            raise invalid("acknowledge", "alarm_id", err) from None
        return dict(alarm.as_record())

    entity = vol.Optional("entity_id")
    with_code = vol.Schema({entity: _entity_ids, vol.Optional("code"): _code})
    register = hub.services.register
    for service, mode in (("arm_home", Mode.ARMED_HOME), ("arm_away", Mode.ARMED_AWAY),
                          ("arm_night", Mode.ARMED_NIGHT)):  # fmt: skip
        register("alarm_panel", service, arming(service, mode), with_code, resident=True,
                 description=f"Arm the alarm panel ({mode.value})")  # fmt: skip
    register("alarm_panel", "disarm", disarm, with_code, resident=True, description="Disarm the alarm panel (code)")
    register("alarm_panel", "panic", panic, vol.Schema({entity: _entity_ids, vol.Optional("silent", default=False): bool}),
             resident=True, description="Raise a panic alarm (no code; silent: duress, nothing visible)")  # fmt: skip
    optional = SupportsResponse.OPTIONAL
    register("alarm_panel", "set_code", set_code, vol.Schema({
        vol.Required("code"): _code, vol.Optional("current_code"): _code,
        vol.Optional("user_id"): vol.All(str, vol.Length(min=1, max=64)),
    }), supports_response=optional, resident=True, description="Set your alarm code (4 to 8 digits)")  # fmt: skip
    register("alarm_panel", "acknowledge", acknowledge,
             vol.Schema({vol.Required("alarm_id"): vol.All(str, vol.Length(min=1, max=64))}),
             supports_response=optional, resident=True, description="Acknowledge an alarm")  # fmt: skip
    for route in routes(panel):
        hub.register_view(route)


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: the worker drains on unload; listeners, timers, services and views go with it."""
