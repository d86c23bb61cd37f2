"""Services: schemas that name the field, responses, not-found."""

from __future__ import annotations

import pytest
import voluptuous as vol

from hub.bus import EVENT_SERVICE_CALLED, Bus, Context
from hub.errors import HubError, ServiceNotFound, ServiceValidationError
from hub.services import ServiceCall, ServiceRegistry, SupportsResponse

ARM_SCHEMA = vol.Schema({vol.Required("code"): str, vol.Optional("mode", default="away"): vol.In(["home", "away"])})


@pytest.fixture
def registry() -> ServiceRegistry:
    return ServiceRegistry(Bus(clock_time=lambda: 0.0))


async def test_call_validates_and_passes_defaults(registry: ServiceRegistry) -> None:
    calls: list[ServiceCall] = []

    async def arm(call: ServiceCall) -> None:
        calls.append(call)

    registry.register("alarm_panel", "arm", arm, ARM_SCHEMA)
    ctx = Context(user_id="ana")
    assert await registry.call("alarm_panel", "arm", {"code": "1234"}, context=ctx) is None
    assert calls[0].data == {"code": "1234", "mode": "away"} and calls[0].context is ctx


async def test_validation_error_names_the_field(registry: ServiceRegistry) -> None:
    registry.register("alarm_panel", "arm", lambda call: None, ARM_SCHEMA)
    with pytest.raises(ServiceValidationError) as err:
        await registry.call("alarm_panel", "arm", {"code": "1", "mode": "night"})
    assert err.value.path == ("mode",)
    assert str(err.value).startswith("alarm_panel.arm: mode: value must be one of")
    with pytest.raises(ServiceValidationError, match=r"^alarm_panel.arm: code: required key not provided$"):
        await registry.call("alarm_panel", "arm", {})
    with pytest.raises(ServiceValidationError, match=r"^alarm_panel.arm: bogus: unknown field$"):
        await registry.call("alarm_panel", "arm", {"code": "1", "bogus": 1})


async def test_response_data(registry: ServiceRegistry) -> None:
    registry.register(
        "resupply", "quote", lambda call: {"litres": call.data["litres"] * 2}, supports_response=SupportsResponse.ONLY
    )
    assert await registry.call("resupply", "quote", {"litres": 5}, return_response=True) == {"litres": 10}
    with pytest.raises(HubError, match="only returns data"):
        await registry.call("resupply", "quote", {"litres": 5})
    registry.register("x", "y", lambda call: None)
    with pytest.raises(HubError, match="does not return data"):
        await registry.call("x", "y", return_response=True)


async def test_not_found_and_unregister(registry: ServiceRegistry) -> None:
    unregister = registry.register("a", "b", lambda call: None)
    assert registry.has("a", "b")
    unregister()
    assert not registry.has("a", "b")
    with pytest.raises(ServiceNotFound, match="service a.b not found"):
        await registry.call("a", "b")


async def test_call_fires_service_called_with_context() -> None:
    bus = Bus(clock_time=lambda: 0.0)
    registry = ServiceRegistry(bus)
    seen = []
    bus.listen(EVENT_SERVICE_CALLED, seen.append)
    registry.register("a", "b", lambda call: None)
    await registry.call("a", "b", {"k": 1})
    assert seen[0].data == {"domain": "a", "service": "b", "data": {"k": 1}}


def test_describe_lists_fields(registry: ServiceRegistry) -> None:
    def arm(call: ServiceCall) -> None:
        """Arm the panel."""

    registry.register("alarm_panel", "arm", arm, ARM_SCHEMA, owner="alarm_panel")
    assert registry.describe() == {
        "alarm_panel": {
            "arm": {"description": "Arm the panel.", "fields": ["code", "mode"], "response": "none", "owner": "alarm_panel", "resident": False}
        }
    }


def test_resident_flag(registry: ServiceRegistry) -> None:
    registry.register("alarm_panel", "disarm", lambda call: None, resident=True)
    registry.register("hub", "restart", lambda call: None)
    assert registry.resident_allowed("alarm_panel", "disarm") is True
    assert registry.resident_allowed("hub", "restart") is False
    assert registry.resident_allowed("no", "such") is False
