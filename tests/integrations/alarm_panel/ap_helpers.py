"""An alarm panel set up on the `hub` fixture's manual clock, with two users and the events it fires.

Zones are plain states written with `hub.states.set` (`on` = open / detected), as any binary
sensor integration would; camera events are fired on the bus in the shape docs/alarms.md gives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.auth import ROLE_ADMIN, ROLE_RESIDENT
from hub.bus import Context, Event
from hub.runtime import Hub
from integrations import alarm_panel

PASSWORD = "correct horse battery"
PANEL = "alarm_control_panel.casa"
ANA_PIN, RITA_PIN = "2468", "135790"
EVENTS = ("alarm_raised", "alarm_restored", "alarm_acknowledged", "alarm_panel_armed", "alarm_panel_disarmed")

BLOCK: dict[str, Any] = {
    "name": "Casa",
    "exit_delay": 60,
    "entry_delay": 30,
    "trigger_time": {"minutes": 5},
    "zones": [
        {"id": "front_door", "name": "Puerta principal", "number": 1, "type": "entry_exit",
         "entities": ["binary_sensor.front_door"]},
        {"id": "patio", "number": 2, "type": "perimeter", "entities": ["binary_sensor.patio_window"]},
        {"id": "living", "number": 3, "type": "interior", "entities": ["binary_sensor.living_motion"]},
        {"id": "kitchen_gas", "name": "Cocina gas", "number": 10, "type": "gas",
         "entities": ["binary_sensor.kitchen_gas"]},
        {"id": "gate_camera", "number": 20, "type": "camera", "cameras": ["camera.gate"],
         "events": ["face_unknown", "person"]},
    ],
}  # fmt: skip


@dataclass
class PanelSetup:
    """The hub, the alarm panel set up on it, its users and what it announced."""

    hub: Hub
    scoped: Any = None
    panel: Any = None
    ana: Any = None  # admin
    rita: Any = None  # resident
    events: list[Event] = field(default_factory=list)

    async def users(self) -> None:
        self.ana = await self.hub.auth.create_user("ana", "Ana López", PASSWORD, ROLE_ADMIN)
        self.rita = await self.hub.auth.create_user("rita", "Rita Mendoza", PASSWORD, ROLE_RESIDENT)

    async def start(self, *, codes: bool = True, **overrides: Any) -> Any:
        """Set up alarm_panel (block overrides in `overrides`); with `codes`, Ana and Rita get their PINs."""
        if self.ana is None:
            await self.users()
        for event_type in EVENTS:
            self.hub.bus.listen(event_type, self.events.append)
        self.scoped = self.hub.scoped("alarm_panel")
        await alarm_panel.async_setup(self.scoped, alarm_panel.CONFIG_SCHEMA({**BLOCK, **overrides}))
        self.panel = alarm_panel.get_panel(self.scoped)
        if codes:
            await self.call("set_code", {"code": ANA_PIN}, user=self.ana.id)
            await self.call("set_code", {"code": RITA_PIN}, user=self.rita.id)
        return self.panel

    async def stop(self) -> None:
        if self.scoped is not None:
            await self.scoped.scope.close()
            self.scoped = None

    async def call(self, service: str, data: dict[str, Any] | None = None, *, user: str | None = None,
                   context: Context | None = None) -> Any:  # fmt: skip
        """Call alarm_panel.<service> as `user` (a hub user id); returns the response, if any."""
        context = context or Context(user_id=user, origin="test")
        return await self.hub.services.call("alarm_panel", service, data or {}, context=context,
                                            return_response=service in ("set_code", "acknowledge"))  # fmt: skip

    def sensor(self, entity_id: str, state: str, **attributes: Any) -> Context:
        """Write a zone entity's state; returns the reading's context."""
        context = Context(origin="test")
        self.hub.states.set(entity_id, state, attributes, context=context)
        return context

    async def advance(self, seconds: float) -> None:
        await self.hub.clock.advance(seconds)  # type: ignore[attr-defined]
        await self.panel.settle()

    def state(self) -> Any:
        state = self.hub.states.get(PANEL)
        assert state is not None
        return state

    def fired(self, event_type: str) -> list[Event]:
        return [e for e in self.events if e.event_type == event_type]


@pytest.fixture
async def ap(hub: Hub) -> AsyncIterator[PanelSetup]:
    setup = PanelSetup(hub)
    yield setup
    await setup.stop()
