"""Every module imports on its own in a fresh interpreter: no import cycles, no side effects."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["hub", "integrations", "firmware"]


def all_modules() -> list[str]:
    names: list[str] = []
    for package in PACKAGES:
        names.append(package)
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            names.append(info.name)
    return sorted(names)


def test_module_list_is_not_empty() -> None:
    modules = all_modules()
    assert {"hub.bus", "hub.states", "hub.runtime", "hub.cli"} <= set(modules)


@pytest.mark.parametrize("module", all_modules())
def test_module_imports_alone(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_hub_never_imports_integrations() -> None:
    offenders = []
    for path in (ROOT / "hub").rglob("*.py"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("import integrations", "from integrations")):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}")
    assert offenders == []
