"""The automation and order pages in a real browser (Debian's chromium, Playwright) against an in-process hub.

What a person sees: automations listed with their file errors, disabled and run from the page, the
run's trace in the detail view; an order waiting for approval on the overview and the orders page,
approved, cancelled after a confirmation, and then in the history.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from browser_helpers import EN, expect, free_port, hash_is, log_in

from hub.runtime import Hub

# Fixtures from tests/web/conftest.py: make_hub(extra_yaml, integrations) -> started Hub;
# pages.open(url, viewport=, ...) -> page, pages.screenshot(page, label).
HubFactory = Any
Pages = Any


AUTOMATIONS = """\
- id: say_hello
  alias: Say hello
  description: Tells the bus when someone says hello
  triggers:
    - trigger: event
      event_type: hello
  actions:
    - alias: Tell the bus
      event: hello_done
      event_data: {who: dashboard}
    - delay: 0.2
"""
BROKEN = """\
- id: broken
  alias: Broken
  triggers:
    - trigger: event
      event_type: never
  actions:
    - nonsense: 1
"""

TANK = "sensor.cistern_level"
TANK_ATTRS = {
    "friendly_name": "Cistern",
    "unit_of_measurement": "%",
    "tank": {"commodity": "water", "volume_l": 2000, "capacity_l": 10000, "days_until_empty": 3},
}


def resupply_yaml() -> str:
    return (
        "resupply:\n"
        "  suppliers:\n"
        "    - id: pipas\n"
        "      name: Pipas El Marqués\n"
        "      commodity: water\n"
        "      type: webhook\n"
        f"      url: http://127.0.0.1:{free_port()}/orders\n"
        "      webhook_secret: webhook-secret\n"
        "      sells: {increment: 1, minimum: 100}\n"
        "      price_per_litre: 0.12\n"
        "  tanks:\n"
        f"    - tank: {TANK}\n"
        "      supplier: pipas\n"
        "      approval: true\n"
    )


async def test_automations_list_toggle_run_and_trace(
    make_hub: HubFactory, pages: Pages, password: str, tmp_path: Path
) -> None:
    (tmp_path / "automations.yaml").write_text(AUTOMATIONS)
    hub: Hub = await make_hub()
    await hub.auth.create_user("ana", "Ana", password, "admin", language="en")
    page = await pages.open(hub.http.url + "/")
    await log_in(page, "ana", password, wait_live=True)

    await page.get_by_test_id("nav-automations").click()
    await expect(page).to_have_url(hash_is("automations"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(EN["automations.title"])
    row = page.get_by_test_id("automation-say_hello")
    await expect(row).to_contain_text("Say hello")
    await expect(row).to_contain_text("Tells the bus when someone says hello")
    await expect(row).to_contain_text(EN["automations.never"])
    await expect(page.get_by_test_id("automation-enabled-say_hello")).to_have_text(EN["automations.enabled"])

    await page.get_by_test_id("automation-toggle-say_hello").click()
    await expect(page.get_by_test_id("automation-enabled-say_hello")).to_have_text(EN["automations.disabled"])
    state = hub.states.get("automation.say_hello")
    assert state is not None and state.state == "off"
    await page.get_by_test_id("automation-toggle-say_hello").click()
    await expect(page.get_by_test_id("automation-enabled-say_hello")).to_have_text(EN["automations.enabled"])
    state = hub.states.get("automation.say_hello")
    assert state is not None and state.state == "on"

    await page.get_by_test_id("automation-run-say_hello").click()
    await expect(page.get_by_test_id("automations-message")).to_have_text(
        EN["automations.run_sent"].replace("{name}", "Say hello")
    )
    await expect(row).not_to_contain_text(EN["automations.never"])  # last run is now "… seconds ago"

    # A broken automation added to the file shows with its file:line after Reload; the good one stays.
    (tmp_path / "automations.yaml").write_text(AUTOMATIONS + BROKEN)
    await page.get_by_test_id("automations-reload").click()
    await expect(page.get_by_test_id("automations-message")).to_have_text(EN["automations.reloaded"])
    await expect(page.get_by_test_id("automations-errors")).to_contain_text(re.compile(r"automations\.yaml:\d+"))
    await expect(row).to_be_visible()
    await pages.screenshot(page, "automations")

    await page.get_by_test_id("automation-link-say_hello").click()
    await expect(page).to_have_url(hash_is("automations/say_hello"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Say hello")
    await expect(page.get_by_role("heading", level=1)).to_be_focused()
    rows = page.locator("[data-testid^='trace-row-']")
    await expect(rows).to_have_count(1)
    detail = page.get_by_test_id("trace-detail")
    await expect(page.get_by_test_id("trace-state")).to_have_text(EN["automations.state.finished"])
    await expect(page.get_by_test_id("trace-trigger")).to_contain_text("automation.trigger")
    first = page.get_by_test_id("trace-step-0")
    await expect(first).to_contain_text("Tell the bus")
    await expect(first).to_contain_text("actions/0")
    await expect(first).to_contain_text("hello_done")
    await expect(page.get_by_test_id("trace-step-1")).to_contain_text("actions/1")
    await expect(detail).to_contain_text(EN["automations.no_conditions"])

    # Run again from the detail view: the new run appears on top and is shown (the page polls).
    await page.get_by_test_id("automation-run-say_hello").click()
    await expect(rows).to_have_count(2)
    newest = await rows.first.get_attribute("data-testid")
    assert newest is not None
    await expect(page.get_by_test_id(newest.replace("trace-row-", "trace-"))).to_have_attribute("aria-pressed", "true")
    await expect(page.get_by_test_id("trace-state")).to_have_text(EN["automations.state.finished"])
    await pages.screenshot(page, "automation-trace")


async def test_orders_approve_cancel_and_history(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub: Hub = await make_hub(resupply_yaml())
    hub.states.set(TANK, "20", TANK_ATTRS)
    # A resident approves and cancels; they may not subscribe to every order event, so the page polls.
    await hub.auth.create_user("ana", "Ana", password, "admin", language="en")
    await hub.auth.create_user("luis", "Luis", password, "resident", language="en")
    order = await hub.services.call("resupply", "order_now", {"tank": TANK}, return_response=True)
    assert isinstance(order, dict) and order["status"] == "awaiting_approval", order
    order_id = order["id"]

    page = await pages.open(hub.http.url + "/")
    await log_in(page, "luis", password, wait_live=True)
    line = page.get_by_test_id("order-0")
    await expect(line).to_contain_text("Cistern")
    await expect(line).to_contain_text(EN["order.status.awaiting_approval"])
    await expect(page.get_by_test_id("order-approve-0")).to_be_visible()
    await pages.screenshot(page, "overview")

    await line.get_by_role("link").click()
    await expect(page).to_have_url(hash_is("orders"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(EN["orders.title"])
    card = page.get_by_test_id(f"open-order-{order_id}")
    await expect(card).to_contain_text("Pipas El Marqués")
    await expect(card).to_contain_text(EN["orders.delivery.water"])
    await expect(card).to_contain_text(re.compile(r"7,000\s?L"))
    await expect(card).to_contain_text(order["reason"])
    await expect(page.get_by_test_id(f"order-status-{order_id}")).to_have_text(EN["order.status.awaiting_approval"])
    await expect(page.get_by_test_id("orders-history")).to_have_text(EN["orders.none_closed"])
    await pages.screenshot(page, "orders-awaiting")

    await page.get_by_test_id(f"approve-{order_id}").click()
    await expect(page.get_by_test_id("orders-message")).to_have_text(EN["orders.approved"])
    await expect(page.get_by_test_id(f"order-status-{order_id}")).not_to_have_text(EN["order.status.awaiting_approval"])
    await expect(page.get_by_test_id(f"approve-{order_id}")).to_have_count(0)
    sensor = hub.states.get(f"{TANK}_order")
    assert sensor is not None and sensor.state in ("queued", "sent"), sensor

    await page.get_by_test_id(f"cancel-{order_id}").click()
    dialog = page.get_by_test_id("confirm-dialog")
    await expect(dialog).to_contain_text("Pipas El Marqués")
    await dialog.get_by_role("button", name=EN["common.cancel"], exact=True).click()  # changed my mind
    await expect(dialog).to_have_count(0)
    await expect(card).to_be_visible()
    await page.get_by_test_id(f"cancel-{order_id}").click()
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("orders-message")).to_have_text(EN["orders.cancelled"])
    await expect(page.get_by_test_id("orders-open")).to_have_text(EN["orders.none_open"])
    closed = page.get_by_test_id(f"closed-order-{order_id}")
    await expect(closed).to_contain_text(EN["order.status.cancelled"])
    await expect(closed).to_contain_text("Cistern")
    sensor = hub.states.get(f"{TANK}_order")
    assert sensor is not None and sensor.state == "none", sensor
    await pages.screenshot(page, "orders-history")
