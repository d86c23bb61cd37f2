"""Loader: finding integrations, manifests, requirements, dependency order, discovery routing."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from hub.loader import (
    CUSTOM_DIR,
    check_requirements,
    config_schema,
    discover,
    discovery_index,
    import_integration,
    match_bluetooth,
    match_zeroconf,
    resolve_order,
)
from hub.manifest import Integration, Source

UUID_A = "0000fcd2-0000-1000-8000-00805f9b34fb"


def write_integration(root: Path, folder: str, code: str = "", /, **manifest: Any) -> Path:
    """Write `root/<folder>/manifest.json` and `__init__.py`; keyword arguments override the manifest."""
    package = root / folder
    package.mkdir(parents=True, exist_ok=True)
    data = {"domain": folder, "name": folder.title(), "version": "1.0.0", "iot_class": "local_polling"}
    data.update(manifest)
    (package / "manifest.json").write_text(json.dumps(data))
    (package / "__init__.py").write_text(code)
    return package


def fake(domain: str, deps: tuple[str, ...] = (), after: tuple[str, ...] = (), **kw: Any) -> Integration:
    return Integration(
        domain=domain, name=domain, version="1", path=Path("/nowhere") / domain, module=f"x.{domain}",
        source=Source.custom, iot_class="calculated", dependencies=deps, after_dependencies=after, **kw,
    )


@pytest.fixture
def builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A throw-away package standing in for `integrations` (unique name, on sys.path)."""
    name = f"builtin_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "site"
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    yield name, site / name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def test_custom_integration_found_without_import(tmp_path: Path) -> None:
    write_integration(
        tmp_path / CUSTOM_DIR, "cistern", "raise RuntimeError('imported!')\n",
        requirements=["voluptuous>=0.1"], dependencies=["base"], after_dependencies=["recorder"],
        config_flow=True, documentation="https://example.org/cistern", codeowners=["@me"],
    )
    found = discover(tmp_path, builtin_package=None, entry_points=[])
    assert found.problems == []
    cistern = found.integrations["cistern"]
    assert cistern == Integration(
        domain="cistern", name="Cistern", version="1.0.0", path=tmp_path / CUSTOM_DIR / "cistern",
        module="custom_integrations.cistern", source=Source.custom, iot_class="local_polling",
        requirements=("voluptuous>=0.1",), dependencies=("base",), after_dependencies=("recorder",),
        config_flow=True, documentation="https://example.org/cistern", codeowners=("@me",),
    )
    assert "custom_integrations.cistern" not in sys.modules


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"dependencies": [1]}, "dependencies -> [0]: expected str"),
        ({"domain": "other"}, "domain: 'other' does not match the folder name 'foo'"),
        ({"iot_class": "magic"}, "iot_class: value must be one of"),
        ({"version": "one"}, "version: 'one' is not a version like 1.2.3"),
        ({"requirements": ["not a req!!"]}, "requirements -> [0]: 'not a req!!' is not a PEP 508 requirement"),
        ({"zeroconf": [{"name": "x*"}]}, "zeroconf -> [0] -> type: required key not provided"),
        ({"bluetooth": [{}]}, "bluetooth -> [0]: a bluetooth matcher needs at least one of"),
        ({"bluetooth": [{"service_uuid": "fcd2"}]}, "bluetooth -> [0] -> service_uuid: 'fcd2' is not a 128-bit UUID"),
        ({"dependancies": []}, "dependancies: extra keys not allowed"),
    ],
)
def test_invalid_manifest_names_file_and_key(tmp_path: Path, manifest: dict[str, Any], message: str) -> None:
    write_integration(tmp_path / CUSTOM_DIR, "foo", **manifest)
    found = discover(tmp_path, builtin_package=None, entry_points=[])
    assert "foo" not in found.integrations
    assert found.errors()["foo"].startswith(f"custom_integrations/foo/manifest.json: {message}")


def test_builtin_manifest_error_names_integrations_path(builtin: tuple[str, Path]) -> None:
    name, package = builtin
    write_integration(package, "foo", dependencies=[0])
    write_integration(package, "good")
    (package / "helpers").mkdir()  # no manifest: not an integration, not a problem
    found = discover(None, builtin_package=name, entry_points=[])
    assert found.errors() == {"foo": f"{name}/foo/manifest.json: dependencies -> [0]: expected str"}
    assert found.integrations["good"].module == f"{name}.good"
    assert found.integrations["good"].source is Source.builtin


def test_broken_json_and_folder_without_manifest_are_reported(tmp_path: Path) -> None:
    base = tmp_path / CUSTOM_DIR
    (base / "notes").mkdir(parents=True)
    write_integration(base, "broken")
    (base / "broken" / "manifest.json").write_text("{\n  'domain': 1\n}")
    write_integration(base, "fine")
    found = discover(tmp_path, builtin_package=None, entry_points=[])
    assert sorted(found.integrations) == ["fine"]
    messages = sorted(str(p) for p in found.problems)
    assert messages[0].startswith("custom_integrations/broken/manifest.json: invalid JSON at line 2 column 3")
    assert messages[1] == "custom_integrations/notes/manifest.json: missing; folder ignored"
    assert list(found.errors()) == ["broken"]


def test_precedence_custom_over_entry_point_over_builtin(
    tmp_path: Path, builtin: tuple[str, Path], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, package = builtin
    write_integration(package, "tank", version="1.0.0")
    write_integration(package, "gas", version="1.0.0")
    write_integration(package, "alarm", version="1.0.0")
    site = tmp_path / "site"
    write_integration(site / "thirdparty_tank_pkg", "tank", version="2.0.0")
    eps = [EntryPoint("tank", "thirdparty_tank_pkg.tank", "hub.integrations")]
    (site / "thirdparty_tank_pkg" / "__init__.py").write_text("raise RuntimeError('parent must not run')")
    monkeypatch.syspath_prepend(str(site))
    write_integration(tmp_path / CUSTOM_DIR, "gas", version="3.0.0")
    write_integration(tmp_path / CUSTOM_DIR, "alarm", iot_class="bogus")  # broken override
    with caplog.at_level(logging.WARNING, logger="hub.loader"):
        found = discover(tmp_path, builtin_package=name, entry_points=eps)
    assert found.integrations["tank"].version == "2.0.0"
    assert found.integrations["tank"].source is Source.entry_point
    assert found.integrations["tank"].module == "thirdparty_tank_pkg.tank"
    assert found.integrations["gas"].version == "3.0.0"
    assert found.integrations["gas"].source is Source.custom
    # A broken custom override is not silently replaced by the built-in it meant to override.
    assert "alarm" not in found.integrations and "iot_class" in found.errors()["alarm"]
    assert "thirdparty_tank_pkg" not in sys.modules
    overrides = [r.getMessage() for r in caplog.records if "overrides" in r.getMessage()]
    assert len(overrides) == 2 and any("gas from custom" in m for m in overrides)


def test_entry_point_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    write_integration(site, "ep_named_wrong")
    monkeypatch.syspath_prepend(str(site))
    eps = [
        EntryPoint("weather", "ep_named_wrong", "hub.integrations"),
        EntryPoint("attr", "somewhere:thing", "hub.integrations"),
        EntryPoint("ghost", "no_such_package_here", "hub.integrations"),
    ]
    found = discover(None, builtin_package=None, entry_points=eps)
    errors = found.errors()
    assert found.integrations == {}
    assert errors["weather"].endswith("domain: 'ep_named_wrong' does not match the entry point name 'weather'")
    assert "must be a module name" in errors["attr"]
    assert errors["ghost"] == "entry point ghost = no_such_package_here: package 'no_such_package_here' not found"


def test_requirements_checked_without_installing() -> None:
    ok = fake("a", requirements=("voluptuous>=0.1", "packaging", "nothing-here>=1; python_version < '3'"))
    assert check_requirements(ok) == []
    bad = fake("example_weather", requirements=("surely-not-installed-pkg>=2", "voluptuous>=999"))
    from importlib.metadata import version

    assert check_requirements(bad) == [
        "example_weather: requirement 'surely-not-installed-pkg>=2' is not installed",
        f"example_weather: requirement 'voluptuous>=999': installed {version('voluptuous')} does not satisfy >=999",
    ]


def test_order_levels_and_after_dependencies() -> None:
    integrations = {
        "base": fake("base"),
        "tank": fake("tank", ("base",)),
        "gas": fake("gas", ("base",), after=("recorder",)),
        "alarm": fake("alarm", ("tank",), after=("gas", "absent")),
        "recorder": fake("recorder"),
    }
    plan = resolve_order(integrations, ["alarm", "gas"])
    assert plan.failed == {}
    assert plan.levels == [["base"], ["gas", "tank"], ["alarm"]]  # recorder not pulled in by after_dependencies
    plan = resolve_order(integrations, ["alarm", "gas", "recorder"])
    assert plan.levels == [["base", "recorder"], ["gas", "tank"], ["alarm"]]


def test_cycle_and_missing_dependency_fail_only_those() -> None:
    integrations = {
        "a": fake("a", ("b",)),
        "b": fake("b", ("c",)),
        "c": fake("c", ("a",)),
        "d": fake("d", ("a",)),
        "e": fake("e", ("ghost",)),
        "f": fake("f"),
        "g": fake("g", ("f",), after=("a",)),
    }
    plan = resolve_order(integrations, integrations)
    cycle = "dependency cycle: a -> b -> c -> a"
    assert plan.failed == {
        "a": cycle, "b": cycle, "c": cycle,
        "d": "dependency a failed",
        "e": "missing dependency 'ghost'",
    }
    assert plan.levels == [["f"], ["g"]]
    assert resolve_order(integrations, ["nope"]).failed == {"nope": "integration 'nope' not found"}
    assert resolve_order({"s": fake("s", ("s",))}, ["s"]).failed == {"s": "dependency cycle: s -> s"}


def test_discovery_index_routes_without_import(tmp_path: Path) -> None:
    base = tmp_path / CUSTOM_DIR
    boom = "raise RuntimeError('discovery must not import me')\n"
    write_integration(
        base, "tank", boom,
        zeroconf=[{"type": "_Maderas-Tank._tcp.local", "name": "tank-*", "properties": {"model": "US-*"}}],
    )
    write_integration(base, "anytank", boom, zeroconf=[{"type": "_maderas-tank._tcp.local."}])
    write_integration(
        base, "climate", boom,
        bluetooth=[{"service_data_uuid": UUID_A.upper()}, {"manufacturer_id": 0x0499, "local_name": "ATC_*"}],
    )
    found = discover(tmp_path, builtin_package=None, entry_points=[])
    index = discovery_index(found.integrations)
    assert index == {
        "zeroconf": {
            "_maderas-tank._tcp.local.": [
                {"domain": "anytank"},
                {"domain": "tank", "name": "tank-*", "properties": {"model": "US-*"}},
            ]
        },
        "bluetooth": [
            {"domain": "climate", "service_data_uuid": UUID_A},
            {"domain": "climate", "manufacturer_id": 0x0499, "local_name": "ATC_*"},
        ],
        "wsdiscovery": [],
    }
    tank_type = "_maderas-tank._tcp.local."
    assert match_zeroconf(index, tank_type, "Tank-Roof", {"model": b"us-200"}) == ["anytank", "tank"]
    assert match_zeroconf(index, tank_type, "tank-roof", {"model": "XX"}) == ["anytank"]
    assert match_zeroconf(index, tank_type, "tank-roof", {}) == ["anytank"]
    assert match_zeroconf(index, "_http._tcp.local.", "tank-roof", {}) == []
    assert match_bluetooth(index, service_data_uuids=[UUID_A]) == ["climate"]
    assert match_bluetooth(index, manufacturer_ids=[0x0499], local_name="ATC_1234") == ["climate"]
    assert match_bluetooth(index, manufacturer_ids=[0x0499], local_name="LYWSD") == []
    assert match_bluetooth(index, manufacturer_ids=[0x0499]) == []
    assert match_bluetooth(index, service_uuids=[UUID_A]) == []
    assert not [m for m in sys.modules if m.startswith(CUSTOM_DIR)]


def test_import_follows_the_config_dir(tmp_path: Path) -> None:
    one = discover(tmp_path / "one", builtin_package=None, entry_points=[])
    assert one.integrations == {}
    write_integration(tmp_path / "one" / CUSTOM_DIR, "same", "WHO = 'one'\nCONFIG_SCHEMA = dict\n")
    write_integration(tmp_path / "two" / CUSTOM_DIR, "same", "WHO = 'two'\nfrom . import helper\n")
    (tmp_path / "two" / CUSTOM_DIR / "same" / "helper.py").write_text("X = 2\n")
    first = discover(tmp_path / "one", builtin_package=None, entry_points=[]).integrations["same"]
    second = discover(tmp_path / "two", builtin_package=None, entry_points=[]).integrations["same"]
    assert import_integration(first).WHO == "one"
    assert config_schema(first) is dict
    assert import_integration(first) is sys.modules["custom_integrations.same"]
    module = import_integration(second)
    assert module.WHO == "two" and module.helper.X == 2
    assert sys.modules["custom_integrations.same.helper"].X == 2


def test_every_builtin_manifest_is_valid() -> None:
    """The shipped integrations/ package: every manifest valid, every domain its folder name."""
    found = discover(None, entry_points=[])
    assert [str(p) for p in found.problems] == []
    assert all(i.source is Source.builtin and i.module == f"integrations.{i.domain}" for i in found.integrations.values())
    discovery_index(found.integrations)
