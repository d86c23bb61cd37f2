"""The dashboard's own checks (node's test runner): module syntax, CSP rules, i18n keys, pure logic."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dashboard_node_suite() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (.ci/run installs it)")
    tests = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "web" / "tests").glob("*.test.js"))
    assert tests, "no dashboard tests found"
    result = subprocess.run([node, "--test", *tests], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
