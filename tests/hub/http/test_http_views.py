"""Routes integrations register while the hub runs: served, authenticated, documented, released."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from hub.http.common import ADMIN, PUBLIC, RESIDENT, Route, json_response
from hub.http.openapi import STRING, obj
from hub.http.views import ViewRegistry, compile_path


async def _echo(request: web.Request) -> web.Response:
    return json_response({"order_id": request.match_info["order_id"], "method": request.method})


async def _public(request: web.Request) -> web.Response:
    return json_response({"ok": True})


ORDER = Route("POST", "/api/shop/orders/{order_id}/approve", _echo, RESIDENT, "Approve",
              response=obj({"order_id": STRING, "method": STRING}))  # fmt: skip
PURGE = Route("DELETE", "/api/shop/orders/{order_id}/approve", _echo, ADMIN, "Admin only")
HOOK = Route("POST", "/api/shop/callback", _public, PUBLIC, "Signed callback")


def test_paths_match_one_segment_per_placeholder() -> None:
    pattern = compile_path("/api/shop/orders/{order_id}/approve")
    assert pattern.match("/api/shop/orders/o1/approve").groupdict() == {"order_id": "o1"}  # type: ignore[union-attr]
    assert pattern.match("/api/shop/orders/o1/x/approve") is None
    assert pattern.match("/api/shop/orders/o1/approve/more") is None


def test_an_integration_stays_under_its_own_prefix_and_paths_do_not_clash() -> None:
    views = ViewRegistry()
    with pytest.raises(ValueError, match="only add paths under /api/other/"):
        views.register(ORDER, owner="other")
    views.register(ORDER, owner="shop")
    with pytest.raises(ValueError, match="already served by 'shop'"):
        views.register(ORDER, owner="shop")


async def test_registered_route_is_served_with_roles_and_released(api: Any) -> None:
    hub = api.hub
    # Registered after the app was built and frozen: still served.
    release = [hub.views.register(r, owner="shop") for r in (ORDER, PURGE, HOOK)]
    body = await api.ok("POST", "/api/shop/orders/o42/approve", token=api.resident)
    assert body == {"order_id": "o42", "method": "POST"}
    await api.error("POST", "/api/shop/orders/o42/approve", 401)  # no token
    await api.error("DELETE", "/api/shop/orders/o42/approve", 403, token=api.resident)
    assert (await api.ok("DELETE", "/api/shop/orders/o42/approve"))["method"] == "DELETE"
    assert await api.ok("POST", "/api/shop/callback", token=None) == {"ok": True}  # public
    response = await api.call("GET", "/api/shop/orders/o42/approve", token=api.admin)
    assert response.status == 405 and set(response.headers["Allow"].split(",")) == {"DELETE", "POST"}
    spec = await api.ok("GET", "/api/openapi.json")
    assert "/api/shop/orders/{order_id}/approve" in spec["paths"]
    for unregister in release:
        unregister()
    await api.error("POST", "/api/shop/orders/o42/approve", 404, token=api.resident)
    assert "/api/shop/orders/{order_id}/approve" not in (await api.ok("GET", "/api/openapi.json"))["paths"]


async def test_wrong_method_on_a_core_path_is_still_405_and_unknown_paths_404(api: Any) -> None:
    response = await api.call("DELETE", "/api/states", token=api.admin)
    assert response.status == 405 and "GET" in response.headers["Allow"]
    await api.error("GET", "/api/nothing/here", 404, token=api.admin)


async def test_scoped_hub_releases_its_views_on_unload(hub: Any) -> None:
    scoped = hub.scoped("shop")
    scoped.register_view(ORDER)
    assert len(hub.views) == 1
    await scoped.scope.close()
    assert len(hub.views) == 0
