"""The runtime type-checks clean (STYLE: typed, mypy clean on hub/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_clean_on_hub() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "hub"], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
