"""The core benchmarks run end to end at a tiny scale and measure real delivery.

No timing is asserted: this only proves every benchmark ran, reported a rate, and that
its listener saw exactly what was fired (so a fast number is never a broken bus).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not part of the installed package
    sys.path.insert(0, str(ROOT))

from bench.core import BENCHMARKS, main  # noqa: E402

EXPECTED_ROWS = {key for key, _, _ in BENCHMARKS}


def test_every_benchmark_delivers_all_it_fires(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(["--scale", "0.001"])
    out = capsys.readouterr().out

    calibration = report["calibration"]
    assert calibration.items == 1000 and calibration.rate > 0

    results = {r.key: r for r in report["results"]}
    assert set(results) == EXPECTED_ROWS
    for key, base, _ in BENCHMARKS:
        result = results[key]
        assert result.items == max(1, int(base * 0.001)), key
        assert result.rate > 0, key
        assert result.delivered == result.expected == result.items, key
        assert result.name in out, key

    # The filter saw every event and the listener behind it none.
    assert results["events_filtered"].extra["listener_calls"] == 0
    # Every fresh state produced real JSON.
    assert results["json_states"].extra["total_bytes"] > 20 * results["json_states"].items

    assert "Python 3." in out and "CPUs" in out
    for verdict_source in ("events_sync", "events_filtered", "state_changed_tracker", "json_states"):
        assert results[verdict_source].verdict in ("PASS", "BELOW")
    assert results["events_coroutine"].ha_rate is None and results["state_writes"].ha_rate is None


def test_scale_must_be_positive() -> None:
    with pytest.raises(SystemExit):
        main(["--scale", "0"])
