"""Automations react to resupply: order events trigger them, templates read the order."""

from __future__ import annotations

from typing import Any

from resupply_helpers import TANK, Setup, until

from hub.clock import ManualClock

AUTOMATIONS = """
- id: water_delivered
  alias: Water delivered
  triggers:
    - trigger: event
      event_type: order_delivered
      event_data: {commodity: water}
  actions:
    - event: household_notice
      event_data:
        message: "{{ trigger.event.data.tank_name }}: {{ trigger.event.data.delivered_l | int }} L of {{ trigger.event.data.quantity_l | int }} L"
        short: "{{ trigger.event.data.short }}"
- id: ask_approval
  triggers:
    - trigger: state
      entity_id: sensor.cistern_level_order
      to: awaiting_approval
  actions:
    - event: household_notice
      event_data: {message: "approve the order for {{ state_attr('sensor.cistern_level_order', 'quantity_l') | int }} L"}
"""


async def test_order_events_trigger_automations(resupply_setup: Setup, clock: ManualClock) -> None:
    setup, notices = resupply_setup, []
    setup.hub.bus.listen("household_notice", lambda e: notices.append(dict(e.data)))
    (setup.hub.config_dir / "automations.yaml").write_text(AUTOMATIONS, encoding="utf-8")
    await setup.hub.automations.reload()
    await setup.start(approval=True, confirm_for=0)
    setup.level(20)
    await setup.run_for(120)
    order = await until(lambda: setup.manager.store.open_for(TANK))
    await until(lambda: notices, what="the approval notice")
    assert notices == [{"message": "approve the order for 7000 L"}]
    await setup.manager.approve(order.id)
    await until(lambda: setup.service.orders(), what="sent")
    setup.refilled(6900)
    await until(lambda: len(notices) == 2, what="the delivery notice")
    assert notices[1] == {"message": "Cistern: 6900 L of 7000 L", "short": False}
    traces: Any = setup.hub.automations.traces("water_delivered")
    assert traces and traces[0]["state"] == "finished"
