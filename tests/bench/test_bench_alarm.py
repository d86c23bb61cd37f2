"""bench.alarm runs end to end at tiny counts, over TCP and UDP, and measures real deliveries.

No timing is asserted: this proves that every alarm and restore the panel raised reached pysiaalarm
with its own message id (so a fast number is never a lost alarm), that the whole backlog queued
during the outage was delivered once each, that the baselines ran as often as asked, and that the
report has its rows, ratios and verdict.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench.alarm import Run, main

ALARMS, BACKLOG = 4, 25
ROWS = ("raw DC-09 round trip", "hub: gas on -> ACK (raised)", "hub: gas off -> ACK (restored)",
        "of which: gas on -> alarm_raised", "raw round trips, one socket", "hub: backlog after an outage")  # fmt: skip


def check(run: Run) -> None:
    for row in (run.raw, run.raised, run.restored, run.to_event):
        assert row.bad == [], (row.name, row.bad)
        assert len(row.ms) == ALARMS and all(ms > 0 for ms in row.ms), (row.name, row.ms)
        assert row.p50 <= row.p99 <= row.max
    # Causality, not speed: each alarm was announced on the bus before the receiver ACKed it.
    assert all(event < ack for event, ack in zip(run.to_event.ms, run.raised.ms, strict=True))
    for flush in (run.raw_flush, run.backlog):
        assert flush.bad == [], (flush.name, flush.bad)  # every id once, nothing unexpected
        assert flush.count == BACKLOG and flush.seconds > 0 and flush.rate > 0
    assert run.backlog.queue_seconds > 0 and run.backlog.down_attempts >= 1  # the outage was real
    assert run.errors_logged == []


def check_report(out: str, protocol: str) -> None:
    assert f"receiver on 127.0.0.1/{protocol}" in out and "CPUs" in out
    for name in ROWS:
        assert name in out, name
    assert out.count("x /") == 2  # hub / raw ratios on the raised and restored rows
    assert "backlog queued while the receiver was down" in out
    assert "p99 under 100 ms (gas on -> ACK of the alarm): " in out
    assert out.rstrip().endswith("ms)") and ("PASS (" in out or "ABOVE (" in out)


def test_tcp_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(["--alarms", str(ALARMS), "--backlog", str(BACKLOG), "--protocol", "tcp"])
    out = capsys.readouterr().out
    [run] = report["runs"]
    check(run)
    check_report(out, "tcp")
    assert "min/median" not in out


def test_udp_repeated_prints_min_and_median(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(["--alarms", str(ALARMS), "--backlog", str(BACKLOG), "--protocol", "udp", "--repeat", "2"])
    out = capsys.readouterr().out
    assert len(report["runs"]) == 2
    for run in report["runs"]:
        check(run)
    check_report(out, "udp")
    assert "cells are min/median over runs" in out
    raw_line = next(line for line in out.splitlines() if line.startswith("raw DC-09 round trip"))
    assert raw_line.count("/") == 3  # p50, p99 and max each as min/median


def test_counts_must_be_positive() -> None:
    with pytest.raises(SystemExit):
        main(["--backlog", "0"])
