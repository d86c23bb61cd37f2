"""Fixtures of the camera tests: GStreamer RTSP servers (a subprocess each) and a still picture to serve."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cam_helpers import QUADRANTS, RtspServer, require_gstreamer
from PIL import Image

# Four flat quadrants: their mean colours survive H.264 compression, so a test can compare them.


@pytest.fixture
def rtsp_server() -> Iterator[Callable[..., RtspServer]]:
    """Start GStreamer RTSP servers (`rtsp_server(auth="basic", ...)`); all are killed after the test."""
    require_gstreamer()
    servers: list[RtspServer] = []

    def start(**kwargs: Any) -> RtspServer:
        server = RtspServer(**kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def still_png(tmp_path: Path) -> Path:
    """A 320x240 PNG of four flat coloured quadrants (top-left, top-right, bottom-left, bottom-right)."""
    image = Image.new("RGB", (320, 240))
    for i, colour in enumerate(QUADRANTS):
        x, y = (i % 2) * 160, (i // 2) * 120
        image.paste(colour, (x, y, x + 160, y + 120))
    path = tmp_path / "still.png"
    image.save(path)
    return path
