"""The alarm dashboard in a real browser (Debian's chromium, Playwright) against an in-process hub.

What a resident sees: an alarm PIN set in the settings, the panel armed away from its card with the
exit delay counting down, a door opened (entry delay counting down, then ALARM), the alarm on
#/alarms acknowledged, a wrong PIN refused before the right one disarms, a panic sent after a
confirmation, and the command-centre link banner while the receiver does not answer.
"""

from __future__ import annotations

import re
from typing import Any

from browser_helpers import EN, ES, expect, free_port, hash_is, log_in

from hub.runtime import Hub

# Fixtures from tests/web/conftest.py: make_hub(extra_yaml, integrations) -> started Hub;
# pages.open(url, viewport=, ...) -> page, pages.screenshot(page, label).
HubFactory = Any
Pages = Any


PANEL = "alarm_control_panel.casa"
DOOR = "binary_sensor.front_door"
GAS = "binary_sensor.kitchen_gas"
DOOR_ATTRS = {"friendly_name": "Puerta principal", "device_class": "door"}
GAS_ATTRS = {"friendly_name": "Cocina gas", "device_class": "gas"}
PIN = "2468"
EXIT_DELAY = 3
ENTRY_DELAY = 4


def alarm_yaml() -> str:
    return (
        "alarm_panel:\n"
        "  name: Casa\n"
        f"  exit_delay: {EXIT_DELAY}\n"
        f"  entry_delay: {ENTRY_DELAY}\n"
        "  code_arm_required: true\n"
        "  zones:\n"
        f"    - {{id: front_door, name: Puerta principal, number: 1, type: entry_exit, entities: [{DOOR}]}}\n"
        f"    - {{id: kitchen_gas, name: Cocina gas, number: 10, type: gas, entities: [{GAS}]}}\n"
        "command_center:\n"
        '  account: "1234"\n'
        "  ack_timeout: 1\n"
        "  receivers:\n"
        f"    - {{name: primary, host: 127.0.0.1, port: {free_port()}, protocol: tcp}}\n"
    )


async def enter_pin(page: Any, pin: str) -> None:
    await expect(page.get_by_test_id("pinpad")).to_be_visible()
    await page.get_by_test_id("pin-input").fill(pin)
    await page.get_by_test_id("pin-submit").click()


async def test_alarm_pin_arm_trigger_acknowledge_disarm_panic_and_link(
    make_hub: HubFactory, pages: Pages, password: str
) -> None:
    hub: Hub = await make_hub(alarm_yaml())
    hub.states.set(DOOR, "off", DOOR_ATTRS)
    hub.states.set(GAS, "off", GAS_ATTRS)
    await hub.auth.create_user("ana", "Ana", password, "admin", language="en")
    # A resident does all of it: the alarm services and events are open to residents.
    await hub.auth.create_user("luis", "Luis", password, "resident", language="en")
    page = await pages.open(hub.http.url + "/")
    await log_in(page, "luis", password, wait_live=True)

    # The PIN first: the panel asks for it to arm (code_arm_required) and to disarm.
    await page.get_by_test_id("nav-settings").click()
    await expect(page).to_have_url(hash_is("settings"))
    await page.get_by_test_id("settings-pin").fill(PIN)
    await page.get_by_test_id("settings-pin2").fill(PIN[::-1])
    await page.get_by_test_id("settings-pin-save").click()
    await expect(page.get_by_test_id("settings-pin-message")).to_have_text(EN["settings.alarm_pin_mismatch"])
    await page.get_by_test_id("settings-pin2").fill(PIN)
    await page.get_by_test_id("settings-pin-save").click()
    await expect(page.get_by_test_id("settings-pin-message")).to_have_text(EN["settings.alarm_pin_saved"])
    await pages.screenshot(page, "settings-pin")

    # Arm away from the card: the exit delay counts down, then the panel is armed.
    await page.get_by_test_id("nav-overview").click()
    value = page.get_by_test_id(f"value-{PANEL}")
    countdown = page.get_by_test_id(f"alarm-countdown-{PANEL}")
    await expect(value).to_have_text(EN["alarm.state.disarmed"])
    await page.get_by_test_id(f"alarm-arm_away-{PANEL}").click()
    await enter_pin(page, PIN)
    await expect(value).to_have_text(EN["alarm.state.arming"])
    await expect(countdown).to_have_text(re.compile(r"^Exit delay: 0:0[0-3] left$"))
    await pages.screenshot(page, "arming")
    await expect(value).to_have_text(EN["alarm.state.armed_away"], timeout=(EXIT_DELAY + 5) * 1000)
    await expect(countdown).to_be_hidden()

    # The door opens: the entry delay counts down, nobody disarms, the alarm goes off.
    hub.states.set(DOOR, "on", DOOR_ATTRS)
    await expect(value).to_have_text(EN["alarm.state.pending"])
    await expect(countdown).to_have_text(re.compile(r"^Entry delay: 0:0[0-4] to disarm$"))
    await pages.screenshot(page, "pending")
    await expect(value).to_have_text(EN["alarm.state.triggered"], timeout=(ENTRY_DELAY + 5) * 1000)
    await expect(page.get_by_test_id(f"card-{PANEL}")).to_have_class(re.compile(r"\bis-alert\b"))
    await expect(page.get_by_test_id(f"alarm-active-{PANEL}")).to_have_text("1 active alarm")
    await expect(page.get_by_test_id("alarm-0")).to_contain_text(EN["alarm.category.intrusion"])
    await expect(page.get_by_test_id("alarm-0")).to_contain_text("1 · Puerta principal")
    # The alarm went to the command centre, whose receiver refuses the connection.
    banner = page.get_by_test_id("link-banner")
    await expect(banner).to_contain_text("Command centre link down since")
    await expect(banner).to_contain_text("refused")
    await pages.screenshot(page, "triggered")

    # The alarm page: the intrusion at the front door, acknowledged by this resident.
    await page.get_by_test_id(f"alarm-active-{PANEL}").click()
    await expect(page).to_have_url(hash_is("alarms"))
    rows = page.locator("[data-testid^='active-alarm-']")
    await expect(rows).to_have_count(1)
    row = rows.first
    testid = await row.get_attribute("data-testid")
    assert testid is not None
    alarm_id = testid.removeprefix("active-alarm-")
    await expect(row).to_contain_text(EN["alarm.category.intrusion"])
    await expect(row).to_contain_text("1 · Puerta principal")
    await expect(row).to_contain_text(EN["alarm.status.active"])
    await pages.screenshot(page, "alarm-active")
    await page.get_by_test_id(f"ack-{alarm_id}").click()
    await expect(page.get_by_test_id("alarms-message")).to_have_text(EN["alarms.acknowledged"])
    await expect(row).to_contain_text(EN["alarm.status.acknowledged"])
    await expect(row).to_contain_text(re.compile(re.escape(EN["alarms.acknowledged_by"]) + r"\s*Luis"))
    await expect(page.get_by_test_id(f"ack-{alarm_id}")).to_have_count(0)

    # Disarm from the card: a wrong PIN is refused with the server's words, the right one works.
    await page.get_by_test_id("nav-overview").click()
    await page.get_by_test_id(f"alarm-disarm-{PANEL}").click()
    await enter_pin(page, "1111")
    await expect(page.get_by_test_id("pin-error")).to_contain_text("wrong code")
    await pages.screenshot(page, "wrong-pin")
    await enter_pin(page, PIN)
    await expect(page.get_by_test_id("pinpad")).to_have_count(0)
    await expect(value).to_have_text(EN["alarm.state.disarmed"])
    state = hub.states.get(PANEL)
    assert state is not None and state.state == "disarmed", state

    # Door closed and disarmed: the intrusion is back to normal and moves to the history.
    hub.states.set(DOOR, "off", DOOR_ATTRS)
    await page.get_by_test_id("nav-alarms").click()
    past = page.get_by_test_id(f"past-alarm-{alarm_id}")
    await expect(past).to_contain_text(EN["alarm.status.restored"])
    await expect(past).to_contain_text(EN["alarms.restored_at"])
    await expect(page.get_by_test_id("alarms-active")).to_have_text(EN["alarms.none_active"])

    # Panic asks first: changing one's mind sends nothing; confirming raises a panic alarm.
    await page.get_by_test_id(f"panic-{PANEL}").click()
    dialog = page.get_by_test_id("panic-dialog")
    await expect(dialog).to_contain_text(EN["panic.text"])
    await dialog.get_by_role("button", name=EN["common.cancel"], exact=True).click()
    await expect(dialog).to_have_count(0)
    await expect(page.get_by_test_id("alarms-active")).to_have_text(EN["alarms.none_active"])
    await page.get_by_test_id(f"panic-{PANEL}").click()
    await page.get_by_test_id("panic-confirm").click()
    await expect(page.get_by_test_id("alarms-message")).to_have_text(EN["panic.sent"])
    panic = page.locator("[data-testid^='active-alarm-']")
    await expect(panic).to_have_count(1)
    await expect(panic.first).to_contain_text(EN["alarm.category.panic"])
    await pages.screenshot(page, "panic")
    state = hub.states.get(PANEL)
    assert state is not None and state.attributes["active_alarms"] == 1, state

    # In Spanish: the same page and the link banner.
    await page.get_by_test_id("lang-switch").select_option("es-MX")
    await expect(page.get_by_role("heading", level=1)).to_have_text(ES["alarms.title"])
    await expect(past).to_contain_text(ES["alarm.category.intrusion"])
    await expect(banner).to_contain_text("Enlace con el centro de mando caído desde")
    await pages.screenshot(page, "alarms-es")
