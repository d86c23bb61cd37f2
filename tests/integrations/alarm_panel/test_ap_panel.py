"""The alarm panel on a real hub and the manual clock: zones are states, requests are service calls."""

from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol
from ap_helpers import ANA_PIN, BLOCK, PANEL, RITA_PIN, PanelSetup

from hub.bus import Context
from hub.errors import ServiceValidationError, Unauthorized
from integrations.alarm_panel import CONFIG_SCHEMA

FRONT, PATIO, LIVING, GAS = ("binary_sensor.front_door", "binary_sensor.patio_window", "binary_sensor.living_motion",
                             "binary_sensor.kitchen_gas")  # fmt: skip


async def closed(ap: PanelSetup) -> None:
    for entity_id in (FRONT, PATIO, LIVING, GAS):
        ap.sensor(entity_id, "off")
    ap.hub.states.set("camera.gate", "idle")
    await ap.panel.settle()


async def armed_away(ap: PanelSetup) -> None:
    await ap.call("arm_away", {"entity_id": PANEL}, user=ap.rita.id)
    await ap.advance(60)
    assert ap.state().state == "armed_away"


async def test_entity_shows_what_the_alarm_card_needs(ap: PanelSetup) -> None:
    await ap.start()
    state = ap.state()
    assert state.state == "disarmed"
    assert {k: state.attributes[k] for k in ("code_arm_required", "code_format", "active_alarms", "friendly_name")} == {
        "code_arm_required": False, "code_format": "number", "active_alarms": 0, "friendly_name": "Casa"}
    assert ap.hub.states.get("binary_sensor.casa_sensor_offline").state == "off"  # type: ignore[union-attr]


async def test_entry_delay_disarmed_in_time_is_no_alarm(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    call = Context(user_id=ap.rita.id)
    await ap.call("arm_away", {"entity_id": PANEL}, context=call)
    state = ap.state()
    assert state.state == "arming" and state.context.id == call.id
    assert state.attributes["next_state"] == "armed_away"
    assert state.attributes["arming_until"] == ap.hub.clock.time() + 60
    assert state.attributes["changed_by"] == "Rita Mendoza"
    await ap.advance(60)
    assert ap.state().state == "armed_away" and ap.state().attributes["arming_until"] is None
    door = ap.sensor(FRONT, "on")
    await ap.panel.settle()
    state = ap.state()
    assert (state.state, state.context.id, state.attributes["pending_until"]) == (
        "pending", door.id, ap.hub.clock.time() + 30)
    await ap.advance(25)
    await ap.call("disarm", {"entity_id": PANEL, "code": RITA_PIN}, user=ap.rita.id)
    await ap.advance(600)
    assert ap.state().state == "disarmed"
    assert ap.fired("alarm_raised") == []
    [armed] = ap.fired("alarm_panel_armed")
    [disarmed] = ap.fired("alarm_panel_disarmed")
    assert armed.data == {"mode": "armed_away", "user_id": ap.rita.id, "user_number": 2,
                          "time": armed.data["time"]}  # fmt: skip
    assert (disarmed.data["mode"], disarmed.data["user_number"], disarmed.context.user_id) == (
        "armed_away", 2, ap.rita.id)


async def test_entry_delay_runs_out_raises_the_doors_alarm(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    await armed_away(ap)
    door = ap.sensor(FRONT, "on")
    opened_at = ap.hub.clock.time()
    await ap.advance(30)
    assert ap.state().state == "triggered"
    [raised] = ap.fired("alarm_raised")
    record = raised.data
    assert record["zone"] == {"id": "front_door", "number": 1, "name": "Puerta principal", "type": "entry_exit"}
    assert (record["category"], record["kind"], record["entity_id"], record["status"], record["mode"]) == (
        "intrusion", "alarm", FRONT, "active", "armed_away")
    assert (record["context_id"], raised.context.id, record["time"]) == (door.id, door.id, opened_at)
    assert record["message"] == "Intrusión: Puerta principal"
    stored = await ap.panel.store.get(record["id"])
    assert stored.as_record() == record
    assert ap.state().attributes["active_alarms"] == 1
    # The siren stops after trigger_time; the alarm stays active until disarmed with the door closed.
    await ap.advance(300)
    assert ap.state().state == "armed_away" and ap.state().attributes["active_alarms"] == 1
    ap.sensor(FRONT, "off")
    await ap.call("disarm", {"code": ANA_PIN}, user=ap.ana.id)
    [restored] = ap.fired("alarm_restored")
    assert (restored.data["id"], restored.data["status"]) == (record["id"], "restored")
    assert restored.data["restored_at"] == ap.hub.clock.time()
    assert ap.state().attributes["active_alarms"] == 0


async def test_interior_zone_is_ignored_armed_home(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    await ap.call("arm_home", {}, user=ap.rita.id)
    assert ap.state().state == "armed_home"  # no exit delay at home
    ap.sensor(LIVING, "on")
    await ap.advance(120)
    assert ap.state().state == "armed_home" and ap.fired("alarm_raised") == []
    ap.sensor(PATIO, "on")
    await ap.panel.settle()
    assert ap.state().state == "triggered"
    assert [e.data["zone"]["id"] for e in ap.fired("alarm_raised")] == ["patio"]


async def test_gas_alarms_while_disarmed_and_restores_when_clear(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    leak = ap.sensor(GAS, "on")
    await ap.panel.settle()
    assert ap.state().state == "triggered"
    [raised] = ap.fired("alarm_raised")
    assert (raised.data["category"], raised.data["message"], raised.data["mode"], raised.context.id) == (
        "gas", "Gas detectado: Cocina gas", "disarmed", leak.id)
    clear = ap.sensor(GAS, "off")
    await ap.panel.settle()
    [restored] = ap.fired("alarm_restored")
    assert (restored.data["id"], restored.context.id) == (raised.data["id"], clear.id)
    await ap.advance(300)
    assert ap.state().state == "disarmed"


async def test_panic_needs_no_code_and_names_the_user(ap: PanelSetup) -> None:
    await ap.start()
    call = Context(user_id=ap.rita.id)
    await ap.call("panic", {"entity_id": PANEL}, context=call)
    assert ap.state().state == "triggered"
    [raised] = ap.fired("alarm_raised")
    assert (raised.data["category"], raised.data["user"], raised.data["zone"], raised.context.id) == (
        "panic", 2, None, call.id)
    await ap.call("panic", {"silent": True}, user=ap.ana.id)
    duress = ap.fired("alarm_raised")[-1]
    assert (duress.data["category"], duress.data["user"]) == ("duress", 1)


async def test_wrong_codes_lock_code_entry_with_the_time(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    await armed_away(ap)
    for _ in range(4):
        with pytest.raises(ServiceValidationError, match="wrong code$") as err:
            await ap.call("disarm", {"code": "0000"}, user=ap.rita.id)
        assert err.value.path == ("code",)
    # 12:01 UTC is 06:01 in Querétaro; the lock lasts five minutes.
    with pytest.raises(ServiceValidationError, match="wrong code; code entry locked until 06:06"):
        await ap.call("disarm", {"code": "1111"}, user=ap.rita.id)
    with pytest.raises(ServiceValidationError, match="code entry locked until 06:06"):
        await ap.call("disarm", {"code": RITA_PIN}, user=ap.rita.id)  # even the right one
    assert ap.state().state == "armed_away"
    await ap.advance(301)
    await ap.call("disarm", {"code": RITA_PIN}, user=ap.rita.id)
    assert ap.state().state == "disarmed"


async def test_disarm_needs_a_code_and_arming_without_codes_is_refused(ap: PanelSetup) -> None:
    await ap.start(codes=False)
    with pytest.raises(ServiceValidationError, match="no alarm code is set yet"):
        await ap.call("arm_away", {}, user=ap.rita.id)
    await ap.call("set_code", {"code": RITA_PIN}, user=ap.rita.id)
    await ap.call("arm_home", {}, user=ap.rita.id)
    with pytest.raises(ServiceValidationError, match="code: a code is required"):
        await ap.call("disarm", {}, user=ap.rita.id)
    with pytest.raises(ServiceValidationError, match="unknown alarm panel alarm_control_panel.other"):
        await ap.call("disarm", {"entity_id": "alarm_control_panel.other", "code": RITA_PIN}, user=ap.rita.id)
    assert ap.state().state == "armed_home"


async def test_code_arm_required(ap: PanelSetup) -> None:
    await ap.start(code_arm_required=True)
    assert ap.state().attributes["code_arm_required"] is True
    with pytest.raises(ServiceValidationError, match="a code is required"):
        await ap.call("arm_home", {}, user=ap.rita.id)
    await ap.call("arm_home", {"code": RITA_PIN}, user=ap.rita.id)
    assert ap.state().state == "armed_home"


async def test_a_pin_names_its_owner_in_the_context(ap: PanelSetup) -> None:
    await ap.start()
    await ap.call("arm_home", {}, user=ap.rita.id)
    kiosk = Context(user_id=ap.rita.id)  # the tablet by the door is signed in as Rita; Ana types her PIN
    await ap.call("disarm", {"code": ANA_PIN}, context=kiosk)
    state = ap.state()
    assert (state.context.user_id, state.context.parent_id, state.attributes["changed_by"]) == (
        ap.ana.id, kiosk.id, "Ana López")
    [disarmed] = ap.fired("alarm_panel_disarmed")
    assert (disarmed.data["user_id"], disarmed.data["user_number"]) == (ap.ana.id, 1)


async def test_set_code_rules(ap: PanelSetup) -> None:
    await ap.start()
    with pytest.raises(ServiceValidationError, match="code: the code must be 4 to 8 digits"):
        await ap.call("set_code", {"code": "12a4"}, user=ap.rita.id)
    with pytest.raises(ServiceValidationError, match="current_code: give current_code"):
        await ap.call("set_code", {"code": "5555"}, user=ap.rita.id)
    with pytest.raises(ServiceValidationError, match="current_code: wrong code"):
        await ap.call("set_code", {"code": "5555", "current_code": "9999"}, user=ap.rita.id)
    answer = await ap.call("set_code", {"code": "5555", "current_code": RITA_PIN}, user=ap.rita.id)
    assert answer == {"user_number": 2}
    with pytest.raises(Unauthorized):
        await ap.call("set_code", {"code": "7777", "user_id": ap.ana.id}, user=ap.rita.id)
    await ap.call("set_code", {"code": "7777", "user_id": ap.rita.id}, user=ap.ana.id)  # an admin resets it
    await ap.call("arm_home", {}, user=ap.rita.id)
    await ap.call("disarm", {"code": "7777"}, user=ap.rita.id)
    assert ap.state().state == "disarmed"


async def test_unknown_face_at_night_alarms_with_the_snapshot(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    await ap.call("arm_night", {}, user=ap.rita.id)
    await ap.advance(60)
    known = {"entity_id": "camera.gate", "faces": [{"known": True, "name": "Rita"}], "snapshot": "/snap/1.jpg"}
    ap.hub.bus.fire("face_detected", known)
    ap.hub.bus.fire("camera_motion", {"camera": "camera.gate", "labels": ["car"]})
    await ap.panel.settle()
    assert ap.fired("alarm_raised") == [] and ap.state().state == "armed_night"
    seen = Context(origin="rtsp_camera")
    ap.hub.bus.fire("face_detected", {"entity_id": "camera.gate", "faces": [{"known": True, "name": "Rita"},
                                      {"known": False}], "snapshot": "/api/camera_proxy/camera.gate?ts=42"},
                    context=seen)  # fmt: skip
    await ap.panel.settle()
    [raised] = ap.fired("alarm_raised")
    assert (raised.data["category"], raised.data["snapshot"], raised.data["entity_id"], raised.data["context_id"]) == (
        "unknown_face", "/api/camera_proxy/camera.gate?ts=42", "camera.gate", seen.id)
    assert ap.state().state == "triggered"
    ap.hub.bus.fire("camera_motion", {"camera": "camera.gate", "person": True})
    await ap.panel.settle()
    assert [e.data["category"] for e in ap.fired("alarm_raised")] == ["unknown_face", "intrusion"]


async def test_sensor_offline_while_armed_is_a_trouble_then_restored(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    await armed_away(ap)
    lost = ap.sensor(PATIO, "unavailable")
    await ap.panel.settle()
    assert ap.state().state == "armed_away"  # a trouble does not sound the siren
    [raised] = ap.fired("alarm_raised")
    assert (raised.data["category"], raised.data["kind"], raised.data["entity_id"], raised.context.id) == (
        "sensor_offline", "trouble", PATIO, lost.id)
    trouble = ap.hub.states.get("binary_sensor.casa_sensor_offline")
    assert trouble is not None and trouble.state == "on" and trouble.attributes["entities"] == [PATIO]
    ap.sensor(PATIO, "off")
    await ap.panel.settle()
    [restored] = ap.fired("alarm_restored")
    assert restored.data["id"] == raised.data["id"]
    assert ap.hub.states.get("binary_sensor.casa_sensor_offline").state == "off"  # type: ignore[union-attr]


async def test_flapping_sensor_raises_one_alarm(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    await armed_away(ap)
    for _ in range(5):
        ap.sensor(PATIO, "on")
        await ap.advance(1)
        ap.sensor(PATIO, "off")
        await ap.advance(1)
    await ap.advance(600)  # back to armed_away: the window still flaps
    for _ in range(3):
        ap.sensor(PATIO, "on")
        ap.sensor(PATIO, "off")
    await ap.panel.settle()
    assert len(ap.fired("alarm_raised")) == 1
    assert len(await ap.panel.store.list()) == 1


async def test_tamper_attribute_is_reported(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    ap.sensor(FRONT, "off", tamper=True)
    await ap.panel.settle()
    [raised] = ap.fired("alarm_raised")
    assert (raised.data["category"], raised.data["entity_id"]) == ("tamper", FRONT)
    assert ap.hub.states.get("binary_sensor.casa_tamper").state == "on"  # type: ignore[union-attr]
    assert ap.state().state == "disarmed"  # disarmed: reported, not sounded


async def test_unload_leaves_nothing_behind(ap: PanelSetup) -> None:
    await ap.start()
    await closed(ap)
    scope = ap.scoped.scope
    await ap.stop()
    assert scope.resource_count() == 0 and ap.hub.states.get(PANEL) is None
    assert not ap.hub.services.has("alarm_panel", "disarm")


def test_config_errors_name_the_key() -> None:
    bad = {"zones": [{"id": "a", "number": 1, "type": "camera"},
                     {"id": "a", "number": 1, "type": "perimeter", "entities": ["binary_sensor.x"]},
                     {"id": "c", "number": 1000, "type": "gas", "entities": ["binary_sensor.x"]}]}  # fmt: skip
    with pytest.raises(vol.MultipleInvalid) as err:
        CONFIG_SCHEMA(bad)
    messages = {(tuple(e.path), e.msg) for e in err.value.errors}
    assert (("zones", 2, "number"), "zone number must be from 1 to 999, got 1000") in messages
    bad["zones"].pop()
    with pytest.raises(vol.MultipleInvalid) as err:
        CONFIG_SCHEMA(bad)
    messages = {(tuple(e.path), e.msg) for e in err.value.errors}
    assert messages == {(("zones", 0, "cameras"), "a camera zone needs `cameras`"),
                        (("zones", 1, "id"), "zone id 'a' is used twice"),
                        (("zones", 1, "number"), "zone number 1 is used twice")}  # fmt: skip


def test_config_defaults_and_validating_twice() -> None:
    once: Any = CONFIG_SCHEMA({**BLOCK, "modes": {"armed_night": {"exit_delay": "2m"}}})
    twice = CONFIG_SCHEMA(once)
    assert twice == once
    from integrations.alarm_panel.config import build_settings
    from integrations.alarm_panel.model import Mode

    delays = build_settings(twice).delays
    assert (delays[Mode.ARMED_AWAY].exit, delays[Mode.ARMED_HOME].exit, delays[Mode.ARMED_NIGHT].exit) == (60, 0, 120)
    assert CONFIG_SCHEMA({})["name"] == "Alarm"
