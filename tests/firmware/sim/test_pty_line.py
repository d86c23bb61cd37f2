"""PtyLine: bytes cross both ways, line timing is enforced, faults act on the next frame."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from sim_helpers import open_raw, read_for

from firmware.sim.pty_line import PtyLine


@pytest.fixture
def line() -> Iterator[PtyLine]:
    with PtyLine(9600) as pty_line:
        yield pty_line


@pytest.fixture
def ends(line: PtyLine) -> Iterator[tuple[int, int]]:
    a, b = open_raw(line.device_path_a), open_raw(line.device_path_b)
    yield a, b
    os.close(a)
    os.close(b)


def test_paths_are_ptys_and_links_point_at_them(line: PtyLine) -> None:
    assert line.device_path_a.startswith("/dev/pts/")
    assert line.device_path_b.startswith("/dev/pts/")
    assert line.device_path_a != line.device_path_b
    assert os.path.realpath(line.link_a) == line.device_path_a
    assert os.path.realpath(line.link_b) == line.device_path_b


def test_bytes_cross_both_ways_unchanged(ends: tuple[int, int]) -> None:
    a, b = ends
    payload = bytes(range(256))  # raw mode: no byte is eaten or translated
    os.write(a, payload)
    assert read_for(b, 256, 2.0) == payload
    os.write(b, b"\x00\x11\r\n\x03")
    assert read_for(a, 5, 1.0) == b"\x00\x11\r\n\x03"


def test_100_bytes_at_9600_take_at_least_100_ms(ends: tuple[int, int]) -> None:
    """11 bits x 100 / 9600 = 114.6 ms on a real line; asserted as a lower bound only."""
    a, b = ends
    started = time.monotonic()
    os.write(a, bytes(100))
    assert len(read_for(b, 100, 2.0)) == 100
    assert time.monotonic() - started >= 0.100


def test_without_timing_the_pty_is_much_faster() -> None:
    with PtyLine(9600, enforce_timing=False) as fast:
        a, b = open_raw(fast.device_path_a), open_raw(fast.device_path_b)
        try:
            started = time.monotonic()
            os.write(a, bytes(100))
            assert len(read_for(b, 100, 2.0)) == 100
            assert time.monotonic() - started < 0.100
        finally:
            os.close(a)
            os.close(b)


def test_bursts_queue_behind_each_other(ends: tuple[int, int]) -> None:
    a, b = ends
    started = time.monotonic()
    for _ in range(4):
        os.write(a, bytes(25))
        time.sleep(0.001)
    assert len(read_for(b, 100, 2.0)) == 100
    assert time.monotonic() - started >= 0.100


def test_drop_next_loses_whole_frames(line: PtyLine, ends: tuple[int, int]) -> None:
    a, b = ends
    line.drop_next(2)
    os.write(a, b"first")
    read_for(b, 1, 0.05)
    os.write(b, b"second")
    read_for(a, 1, 0.05)
    os.write(a, b"third")
    assert read_for(b, 5, 1.0) == b"third"
    assert read_for(a, 1, 0.05) == b""


def test_corrupt_next_flips_the_last_byte(line: PtyLine, ends: tuple[int, int]) -> None:
    a, b = ends
    line.corrupt_next()
    os.write(a, b"\x01\x03\x00\x00\x00\x01\x84\x0a")
    assert read_for(b, 8, 1.0) == b"\x01\x03\x00\x00\x00\x01\x84\xf5"
    os.write(a, b"\x01\x02")
    assert read_for(b, 2, 1.0) == b"\x01\x02"


def test_inject_garbage_arrives_at_the_chosen_side(line: PtyLine, ends: tuple[int, int]) -> None:
    a, b = ends
    line.inject_garbage(b"\xff\x00\xaa", to="a")
    assert read_for(a, 3, 1.0) == b"\xff\x00\xaa"
    line.inject_garbage(b"\x55")
    assert read_for(b, 1, 1.0) == b"\x55"


def test_delay_next_holds_one_frame_back(line: PtyLine, ends: tuple[int, int]) -> None:
    a, b = ends
    line.delay_next(0.2)
    started = time.monotonic()
    os.write(a, b"late")
    assert read_for(b, 4, 1.0) == b"late"
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    os.write(a, b"soon")
    assert read_for(b, 4, 1.0) == b"soon"
    assert time.monotonic() - started < 0.2


def test_disconnect_removes_the_link_and_reconnect_brings_a_new_pty(line: PtyLine) -> None:
    b = open_raw(line.device_path_b)
    a = open_raw(line.link_a)
    try:
        line.disconnect("a")
        assert not os.path.lexists(line.link_a)
        with pytest.raises(OSError):
            _ = line.device_path_a
        # The open client sees the hang-up: EIO (or end of file) instead of data.
        try:
            assert read_for(a, 1, 0.2) == b""
        except OSError:
            pass
        os.write(b, b"lost")  # nobody on side a: the bytes go nowhere
        time.sleep(0.05)  # let the bridge take them before side a exists again
        new_path = line.reconnect("a")
        assert os.path.realpath(line.link_a) == new_path == line.device_path_a
        os.close(a)
        a = open_raw(line.link_a)
        os.write(b, b"back")
        assert read_for(a, 4, 1.0) == b"back"
        os.write(a, b"ok")
        assert read_for(b, 2, 1.0) == b"ok"
    finally:
        os.close(a)
        os.close(b)


def test_close_is_idempotent() -> None:
    line = PtyLine(19200)
    line.close()
    line.close()
    assert not os.path.lexists(line.link_a)


def test_faults_can_pick_a_direction(line: PtyLine, ends: tuple[int, int]) -> None:
    a, b = ends
    line.drop_next(towards="a")
    os.write(a, b"to-b")
    assert read_for(b, 4, 1.0) == b"to-b"
    os.write(b, b"to-a")
    assert read_for(a, 1, 0.1) == b""
    os.write(b, b"next")
    assert read_for(a, 4, 1.0) == b"next"
