"""The `hub` command as a person uses it: real processes, real signals."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import __version__

HUB = [sys.executable, "-m", "hub"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HUB, *args], capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def start(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A running hub process; killed if still alive at the end, pipes always closed."""
    with subprocess.Popen(
        [*HUB, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 20) -> list[str]:
    """Read stderr until a line containing `needle` (the hub logs to stderr)."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    proc.kill()
    raise AssertionError(f"{needle!r} not seen; output:\n{''.join(lines)}")


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"maderas-hub {__version__}"


def test_check_config_prints_every_error_and_fails(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "hub:\n  time_zone: Mars/Olympus\nrecorder:\n  purge_keep_days: -3\nmodbus_tnak:\n  buses: []\n"
    )
    result = run("check-config", "-c", str(tmp_path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("configuration.yaml:2: hub -> time_zone: unknown time zone, got 'Mars/Olympus'")
    assert lines[1].startswith("configuration.yaml:4: recorder -> purge_keep_days:")
    assert lines[2].startswith("configuration.yaml:5: modbus_tnak: unknown integration 'modbus_tnak'")
    assert len(lines) == 3
    assert "3 error(s)" in result.stderr


def test_check_config_reads_automations_too(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("hub:\n  name: Casa\n")
    (tmp_path / "automations.yaml").write_text(
        "- id: ok\n  triggers: [{trigger: event, event_type: x}]\n  actions: [{event: y}]\n"
        "- id: broken\n  triggers: [{trigger: event, event_type: x}]\n"
        "  actions:\n    - event: y\n      event_data: {n: '{{ 1 + }}'}\n"
    )
    result = run("check-config", "-c", str(tmp_path))
    assert result.returncode == 1, result.stdout
    [line] = result.stdout.splitlines()
    assert line.startswith("automations.yaml:8: automation 'broken' -> actions[0] -> event_data -> n:"), line
    assert "template syntax error" in line


def test_check_config_missing_directory_and_valid_default(tmp_path: Path) -> None:
    result = run("check-config", "-c", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "configuration.yaml not found" in result.stdout
    from hub.config import write_default_config

    write_default_config(tmp_path)
    result = run("check-config", "-c", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_writes_default_config_and_stops_cleanly_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    config_dir = tmp_path / "home"
    with start("run", "-c", str(config_dir)) as proc:
        lines = wait_for_line(proc, "Hub ready")
        assert any("Wrote a default configuration" in line for line in lines)
        assert (config_dir / "configuration.yaml").exists()
        sent = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - sent
    assert code == 0
    assert elapsed < 5.0, f"stop took {elapsed:.1f} s"
    # The lock is released: a second run starts on the same directory.
    with start("run", "-c", str(config_dir)) as second:
        wait_for_line(second, "Hub ready")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0


def test_run_refuses_a_directory_in_use(tmp_path: Path) -> None:
    with start("run", "-c", str(tmp_path)) as first:
        wait_for_line(first, "Hub ready")
        result = run("run", "-c", str(tmp_path))
        assert result.returncode == 1
        assert "in use by another hub process (pid" in result.stderr
        assert "Traceback" not in result.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0


def test_demo_starts_and_cleans_up() -> None:
    with start("demo") as proc:
        lines = wait_for_line(proc, "Hub ready")
        demo_dirs = [line.split("Demo configuration in ")[1].split(" ")[0] for line in lines if "Demo configuration in" in line]
        assert demo_dirs and os.path.isdir(demo_dirs[0])
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(demo_dirs[0])
