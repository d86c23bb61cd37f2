"""bench.camera runs end to end at a tiny scale and really decodes and detects, then leaves nothing running.

One camera for a few seconds: the report has every row with a non-negative number, both verdict
lines and the governor lines; the run decoded frames, sent frames with the visitor's face to the
face worker, and measured CPU; afterwards the sources process and the face worker are gone and no
child process of the test remains. No timing is asserted.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench.camera import ROWS, Run, child_processes, main

NUMBER = re.compile(r"-?\d+(?:\.\d+)?|nan|inf")


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: it has ended, only its exit status is left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_one_camera_reports_every_row_and_leaves_no_process(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(child_processes())
    report = main(["--cameras", "1", "--seconds", "5", "--warmup", "0.5", "--first-visit", "0.5"])
    out = capsys.readouterr().out

    runs: dict[int, list[Run]] = report["runs"]
    assert list(runs) == [1] and len(runs[1]) == 1
    run = runs[1][0]
    (camera,) = run.results
    assert camera.first_snapshot_s is not None and camera.first_snapshot_s > 0
    assert camera.decode_fps > 0 and camera.analysed > 0
    assert camera.detections > 0 and len(camera.detect_ms) > 0  # motion sent frames to the face worker
    assert camera.face_frames > 0  # ... and it found the visitor's face
    assert camera.errors == 0 and camera.decode_cpu_s > 0 and camera.worker_cpu_s > 0
    assert run.process_cpu_s > 0 and run.worker_cpu_s > 0 and run.lag_ms
    assert run.sources is not None and run.sources.frames > 0  # the sources process reported its cost

    lines = out.splitlines()
    assert lines[2].split() == ["N=1"]
    for index, (label, _, _) in enumerate(ROWS):
        row = lines[3 + index]  # the rows follow the two title lines and the header, in ROWS's order
        assert row.startswith(label), (label, row)
        values = NUMBER.findall(row[len(label):])
        assert len(values) == 1, row
        value = float(values[0])
        assert math.isfinite(value) and value >= 0, row
    assert "!!" not in out
    assert "4 cameras within one core: not measured (no N=4 run)" in out
    assert re.search(r"^first snapshot under 1\.5 s after start .*: (PASS|MISS) \(\d+\.\d\d s\)$", out, re.MULTILINE)
    assert "governor: cpu_budget 100 % on every camera" in out and "at the default cpu_budget 25 %" in out

    # Nothing left behind: the sources process and the face worker have ended, and no new child remains.
    assert run.sources_pid is not None and run.worker_pids
    assert not alive(run.sources_pid)
    assert not any(alive(pid) for pid in run.worker_pids)
    assert set(child_processes()) - before == set()
    assert os.getpid() not in run.worker_pids
