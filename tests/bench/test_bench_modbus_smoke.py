"""bench.modbus runs end to end at a tiny duration: both clients poll, and every poll read what
the firmware holds (so a fast number is never a broken exchange). No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench.modbus import main


def test_hub_and_bare_polls_return_the_firmware_registers(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(["--baud", "9600", "19200", "--seconds", "1"])
    out = capsys.readouterr().out

    runs = report["runs"]
    assert [(r.baud, r.name) for r in runs] == [(9600, "bare"), (9600, "hub"), (19200, "bare"), (19200, "hub")]
    for run in runs:
        assert run.polls > 0, run
        assert run.errors == [] and run.bad == 0, (run.name, run.baud, run.errors)
        assert len(run.expected) == 2 and run.seen == {tuple(run.expected)}, (run.seen, run.expected)
        assert run.expected[0] not in (0, 0xFFFF)  # a real distance, not "no measurement"
    assert out.count("PASS") + out.count("BELOW") == 2 and "hub/bare" in out
