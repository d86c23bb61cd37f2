"""The demo stand-ins' shared lifecycle: `async with` stops a peer whose start failed half-way."""

from __future__ import annotations

import pytest

from hub.demo_peer import DemoPeer


class HalfStarting(DemoPeer):
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.opened: list[str] = []

    async def start(self) -> None:
        self.opened.append("port")
        if self.fail:
            raise OSError("address already in use")
        self.opened.append("thread")

    async def stop(self) -> None:
        self.opened.clear()


async def test_a_failed_start_is_stopped_and_the_error_kept() -> None:
    peer = HalfStarting(fail=True)
    with pytest.raises(OSError, match="already in use"):
        async with peer:
            pytest.fail("the body must not run after a failed start")
    assert peer.opened == []


async def test_a_started_peer_is_stopped_on_leaving() -> None:
    async with HalfStarting(fail=False) as peer:
        assert peer.opened == ["port", "thread"]
    assert peer.opened == []
