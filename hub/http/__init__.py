"""The hub's HTTP server: REST API, websocket and dashboard files (design: docs/http.md)."""

from __future__ import annotations

from .app import HttpServer, create_app, route_table
from .websocket import RESIDENT_EVENT_TYPES

__all__ = ["RESIDENT_EVENT_TYPES", "HttpServer", "create_app", "route_table"]
