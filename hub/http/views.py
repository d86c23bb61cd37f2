"""Endpoints that integrations add at run time (resupply's orders, later alarms and cameras).

aiohttp freezes its router when the server starts, but an integration may be set up, unloaded
or reloaded while the hub runs. So the app has one catch-all route after the core table, and
this registry decides what it serves: `ViewRegistry.register(route)` (through
`ScopedHub.register_view`, released on unload) makes `route` answer at once, unregistering makes
it 404 again. The registered `Route`s also appear in /api/openapi.json, so the fuzzer and the
OpenAPI validator see them like core routes, and the authentication middleware applies their
role like any other.

Paths are aiohttp-style templates (`/api/resupply/orders/{order_id}/approve`); a placeholder
matches one path segment. An integration's paths must start with `/api/<its domain>/` so two
integrations never fight over a path. Core routes are matched first, so none can be shadowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .common import Route

_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class _Registered:
    route: Route
    pattern: re.Pattern[str]
    owner: str


def compile_path(path: str) -> re.Pattern[str]:
    """`/a/{x}/b` -> a regex with a named group per placeholder, each matching one segment."""
    out, last = [], 0
    for match in _PLACEHOLDER.finditer(path):
        out.append(re.escape(path[last : match.start()]))
        out.append(f"(?P<{match.group(1)}>[^/]+)")
        last = match.end()
    out.append(re.escape(path[last:]))
    return re.compile("".join(out) + r"\Z")


class ViewRegistry:
    """Routes added by integrations; matched by the app's catch-all route in registration order."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], _Registered] = {}

    def register(self, route: Route, *, owner: str) -> Callable[[], None]:
        """Serve `route` until the returned function is called; ValueError for a clash or a bad path."""
        if not route.path.startswith(f"/api/{owner}/"):
            raise ValueError(f"integration {owner!r} may only add paths under /api/{owner}/, not {route.path!r}")
        key = (route.method.upper(), route.path)
        if key in self._views:
            raise ValueError(f"{route.method} {route.path} is already served by {self._views[key].owner!r}")
        entry = _Registered(route, compile_path(route.path), owner)
        self._views[key] = entry

        def unregister() -> None:
            if self._views.get(key) is entry:
                del self._views[key]

        return unregister

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], set[str]]:
        """The route for `method path` with its parameters, or None and the methods the path allows."""
        allowed: set[str] = set()
        method = method.upper()
        for (route_method, _), entry in self._views.items():
            found = entry.pattern.match(path)
            if found is None:
                continue
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return entry.route, found.groupdict(), allowed
            allowed.add(route_method)
        return None, {}, allowed

    def routes(self) -> tuple[Route, ...]:
        """Every registered route, for the OpenAPI document."""
        return tuple(entry.route for entry in self._views.values())

    def __len__(self) -> int:
        return len(self._views)


__all__ = ["ViewRegistry", "compile_path"]
