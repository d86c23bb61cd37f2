"""bench.mdns runs on a few datagrams and really answers what is ours and nothing else (no timing asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench.mdns import main


def test_every_kind_is_measured_and_only_ours_are_answered(capsys: pytest.CaptureFixture[str]) -> None:
    [rows] = main(["--count", "40"])
    answered = {row.kind: (row.answered, row.count) for row in rows}
    assert answered == {
        "question for us (PTR _modbus._tcp)": (40, 40),
        "question for another device": (0, 40),
        "our host's address (A)": (40, 40),
        "garbage": (0, 40),
    }
    assert all(row.ours_us > 0 and row.zeroconf_us > 0 for row in rows)
    out = capsys.readouterr().out
    assert "x zeroconf" in out and "memory: responder built" in out
