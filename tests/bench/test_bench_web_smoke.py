"""bench.web runs end to end at a tiny scale and measures real delivery.

No timing is asserted: this proves that every healthy client got every state change in order
(so a fast number is never a broken fan-out) and that the stalled client was cut off by the
server with the "client too slow" reason. The queue is tiny and the states are padded so the
stalled client's socket buffers and queue fill within a second or two.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench.web import main  # noqa: E402

TINY = ["--clients", "3", "--rate", "100", "--seconds", "1", "--stalled", "1",
        "--queue-size", "8", "--pad", "16000", "--cut-wait", "30"]  # fmt: skip
REASON = "client too slow: 8 messages queued"


def check(report: dict[str, Any], out: str) -> None:
    zero, one, main_run = report["runs"]
    assert zero.writes == one.writes == main_run.writes == 100
    assert zero.delivered == [] and zero.latencies_ms == []
    for run, clients in ((one, 1), (main_run, 3)):
        assert run.delivered == [100] * clients, run.delivered  # every message to every healthy client
        assert run.all_in_order
        assert len(run.latencies_ms) == 100 * clients and all(x >= 0 for x in run.latencies_ms)
    # The stalled client was cut off by the server, and why; what it read afterwards is either
    # that close frame or (when the close frame stayed stuck behind unread data) a cut connection.
    [cut] = main_run.stalled_cut
    assert cut["reason"] == REASON
    assert main_run.stalled_max_queue == 8
    [ended] = main_run.stalled_ended
    assert ended.startswith((f"close frame 1008 '{REASON}'", "connection cut without a close frame")), ended
    assert "p99 under 50 ms with 1 stalled client(s): " in out
    assert f"reason '{REASON}'" in out


def test_fan_out_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(TINY)
    check(report, capsys.readouterr().out)


def test_fan_out_to_a_client_process_with_compression(capsys: pytest.CaptureFixture[str]) -> None:
    report = main([*TINY, "--clients-process", "--compress"])
    out = capsys.readouterr().out
    check(report, out)
    assert report["runs"][2].child_cpu_seconds is not None and "client process CPU" in out
