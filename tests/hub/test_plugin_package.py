"""A third-party integration as a real pip package: installed, found by entry point, run, removed.

The example in examples/maderas-example-plugin is installed (not editable) into this
interpreter's environment; the checks run in fresh interpreters because entry points
are read once per process. The example's own tests run the same way, so CI runs them.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "maderas-example-plugin"
DIST = "maderas-example-plugin"


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True, text=True, timeout=300,
    )


def _backend_missing() -> str | None:
    """setuptools >= 70.1 builds wheels alone; older ones need the `wheel` package."""
    from packaging.version import Version

    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed"
    from importlib.metadata import version

    if Version(version("setuptools")) < Version("70.1") and importlib.util.find_spec("wheel") is None:
        return f"setuptools {version('setuptools')} needs `wheel` to build; install setuptools>=70.1"
    return None


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Install the example from a copy (the build writes into its source tree) and remove it after."""
    missing = _backend_missing()
    if missing:
        pytest.fail(f"cannot build the example plugin without build isolation: {missing}")
    source = tmp_path_factory.mktemp("plugin-src") / "maderas-example-plugin"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".pytest_cache"))
    _pip("uninstall", "-y", DIST)  # a leftover from an interrupted run
    result = _pip("install", "--no-deps", "--no-build-isolation", str(source))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    try:
        yield source
    finally:
        result = _pip("uninstall", "-y", DIST)
        assert result.returncode == 0, result.stderr[-2000:]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )


SCRIPT = """
    import asyncio, sys, tempfile
    import importlib.metadata as md
    from hub.clock import ManualClock
    from hub.integrations import IntegrationManager, IntegrationState
    from hub.loader import discover
    from hub.runtime import Hub

    async def main():
        dist = md.distribution("maderas-example-plugin")
        assert not any(f.name == "direct_url.json" and '"editable": true' in (f.read_text() or "")
                       for f in dist.files or []), "installed editable"
        with tempfile.TemporaryDirectory() as config_dir:
            clock = ManualClock()
            hub = Hub(config_dir, clock=clock)
            await hub.start()
            try:
                found = discover(config_dir)
                weather = found.integrations["example_weather"]
                assert weather.source.value == "entry_point", weather
                assert "maderas_example_plugin" not in sys.modules  # found without importing it
                manager = IntegrationManager(hub, found.integrations)
                listeners = hub.bus.listener_count()
                hub_timers = clock.pending
                await manager.setup(["example_weather"], {"example_weather": {"temperature": 19.5, "scan_interval": 10}})
                assert manager.status("example_weather").state is IntegrationState.loaded, manager.status("example_weather")
                module_file = sys.modules["maderas_example_plugin"].__file__
                assert "site-packages" in module_file, module_file
                assert hub.states.get("sensor.example_weather_temperature").state == "19.5"
                assert hub.services.has("example_weather", "set_temperature")
                await clock.advance(35)
                assert hub.states.get("sensor.example_weather_temperature").attributes["polls"] == 3
                scoped = manager.scoped_hub("example_weather")
                await manager.unload("example_weather")
                assert manager.status("example_weather").state is IntegrationState.unloaded
                assert scoped.scope.resource_count() == 0
                assert hub.scope.resource_count() == 0
                assert not hub.services.has("example_weather", "set_temperature")
                assert "sensor.example_weather_temperature" not in hub.states
                assert hub.bus.listener_count() == listeners
                assert clock.pending == hub_timers
            finally:
                await hub.stop()
        print("PLUGIN-OK")

    asyncio.run(main())
"""


def test_installed_plugin_is_found_set_up_and_released(installed: Path, tmp_path: Path) -> None:
    result = _run(SCRIPT, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "PLUGIN-OK" in result.stdout


def test_plugin_own_tests_pass_against_the_installed_package(installed: Path) -> None:
    # The example's pyproject.toml is pytest's config there; its src/ layout means the
    # tests can only import the installed package, never the source tree.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGIN / "tests")],
        capture_output=True, text=True, timeout=300, cwd=PLUGIN,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
