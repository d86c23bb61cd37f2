"""The OpenAPI document matches the registered routes, both ways, and is structurally valid 3.1."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.http import create_app, route_table
from hub.http.openapi import build_spec
from hub.runtime import Hub

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def registered(hub: Hub) -> set[tuple[str, str]]:
    """(METHOD, path) of every aiohttp route under /api and /auth."""
    app = create_app(hub)
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        # The catch-all serves what integrations register; those are checked in test_http_views.py.
        if path.startswith(("/api", "/auth")) and path != "/api/{tail}":
            found.add((route.method, path))
    return found


def documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


def test_every_route_is_documented_and_every_documented_route_exists(hub: Hub) -> None:
    spec = build_spec(route_table())
    assert registered(hub) == documented(spec)
    assert ("GET", "/api/states/{entity_id}") in documented(spec)
    assert not any(method == "HEAD" for method, _ in registered(hub))


def check_schema(schema: Any, where: str) -> None:
    """A JSON Schema node is an object with a type, a $ref, an enum or a combinator."""
    assert isinstance(schema, dict), where
    assert {"type", "$ref", "enum", "anyOf", "oneOf", "allOf"} & set(schema), where
    if "$ref" in schema:
        assert schema["$ref"].startswith("#/components/schemas/"), where
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.{name}")
    if "items" in schema:
        check_schema(schema["items"], f"{where}[]")
    for key in ("required",):
        if key in schema:
            assert set(schema[key]) <= set(schema.get("properties", {})), where


def test_the_document_is_structurally_valid_openapi_3_1(hub: Hub) -> None:
    spec = build_spec(route_table())
    assert spec["openapi"].startswith("3.1.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    refs = set(spec["components"]["schemas"])
    operation_ids = []
    for path, item in spec["paths"].items():
        assert path.startswith("/")
        for method, op in item.items():
            assert method in METHODS
            where = f"{method.upper()} {path}"
            operation_ids.append(op["operationId"])
            assert op["summary"] and op["x-role"] in ("public", "resident", "admin"), where
            assert op["responses"], where
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status) and response["description"], where
                for media in response.get("content", {}).values():
                    check_schema(media["schema"], f"{where} {status}")
                    ref = media["schema"].get("$ref")
                    if ref:
                        assert ref.rsplit("/", 1)[1] in refs
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), where
            for param in op.get("parameters", []):
                assert param["in"] in ("path", "query") and "schema" in param, where
                if param["in"] == "path":
                    assert param["required"] is True, where
            if "requestBody" in op:
                check_schema(op["requestBody"]["content"]["application/json"]["schema"], f"{where} body")
            if op["x-role"] == "public":
                assert op["security"] == [], where
            else:
                assert "401" in op["responses"], where
            if op["x-role"] == "admin":
                assert "403" in op["responses"], where
    assert len(operation_ids) == len(set(operation_ids))


def test_the_document_passes_openapi_spec_validator(hub: Hub) -> None:
    from openapi_spec_validator import validate  # an independent implementation of the spec's rules

    validate(build_spec(route_table()))  # raises OpenAPIValidationError naming the bad part


async def test_served_at_api_openapi_json_for_any_user(api: Any) -> None:
    spec = await api.ok("GET", "/api/openapi.json", token=api.resident)
    assert spec == build_spec(route_table())
    await api.error("GET", "/api/openapi.json", 401)


@pytest.mark.parametrize("route", route_table(), ids=lambda r: f"{r.method} {r.path}")
def test_each_route_has_a_one_line_summary_and_a_documented_handler(route: Any) -> None:
    assert route.summary and "\n" not in route.summary
    assert route.handler.__doc__
