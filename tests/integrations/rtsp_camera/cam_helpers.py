"""GStreamer's RTSP server as a test peer: start, kill, freeze and restart it on the same port."""

from __future__ import annotations

import functools
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

import pytest

SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
# PyGObject and the GStreamer typelibs come from Debian's packages, not the venv.
SYSTEM_PYTHON = "/usr/bin/python3"
APT_PACKAGES = (
    "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly "
    "gstreamer1.0-plugins-bad gstreamer1.0-tools python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0"
)
_CHECK = """
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0"); gi.require_version("GstRtsp", "1.0")
from gi.repository import Gst, GstRtspServer, GstRtsp
Gst.init(None)
missing = [e for e in ("x264enc", "rtph264pay", "videotestsrc", "imagefreeze", "pngdec", "mulawenc", "rtppcmupay", "multifilesrc")
           if Gst.ElementFactory.find(e) is None]
print(" ".join(missing))
"""

# The still picture of conftest.py's `still_png`: four flat quadrants (top-left, top-right, bottom-left, bottom-right).
QUADRANTS = ((200, 40, 40), (40, 200, 40), (40, 40, 200), (230, 230, 230))


@functools.cache
def gstreamer_missing() -> str | None:
    """Why the GStreamer RTSP server cannot run here, or None when it can."""
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} not found"
    result = subprocess.run([SYSTEM_PYTHON, "-c", _CHECK], check=False, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "GStreamer check failed"
    if result.stdout.strip():
        return f"GStreamer elements missing: {result.stdout.strip()}"
    return None


def require_gstreamer(check: Callable[[], str | None] = gstreamer_missing) -> None:
    """Skip locally, fail under CI=true, when GStreamer's RTSP server is not installed."""
    reason = check()
    if reason is None:
        return
    message = f"GStreamer RTSP server unavailable ({reason}); apt-get install {APT_PACKAGES}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class RtspServer:
    """A gst-rtsp-server subprocess serving /test, /still and /audio; a context manager that kills it on exit."""

    def __init__(
        self,
        *,
        auth: str = "digest",
        user: str = "admin",
        password: str = "secret",
        width: int = 320,
        height: int = 240,
        fps: int = 15,
        image: Path | None = None,
        slides: Path | None = None,
        slide_seconds: int = 4,
        port: int = 0,
    ) -> None:
        self.auth, self.user, self.password = auth, user, password
        self.port = port
        self._args = ["--auth", auth, "--user", user, "--password", password]
        self._args += ["--width", str(width), "--height", str(height), "--fps", str(fps)]
        if image is not None:
            self._args += ["--image", str(image)]
        if slides is not None:
            self._args += ["--slides", str(slides), "--slide-seconds", str(slide_seconds)]
        self._proc: subprocess.Popen[str] | None = None
        # Lives as long as the server object (every restart appends to it); close() closes it.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115

    def start(self, timeout: float = 30.0) -> Self:
        """Start the server (on the port it had before, after a kill) and wait for READY."""
        assert self._proc is None, "already running"
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.Popen(
                [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), *self._args],
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
            )
            line = self._read_line(proc, deadline)
            if line.startswith("READY "):
                self._proc, self.port = proc, int(line.split()[1])
                return self
            proc.kill()
            proc.wait()
            # A port just released can be refused for a moment; a real failure repeats until the deadline.
            if time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start: {line!r}; stderr: {self.stderr()[-2000:]}")
            time.sleep(0.2)

    @staticmethod
    def _read_line(proc: subprocess.Popen[str], deadline: float) -> str:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(max(deadline - time.monotonic(), 0.1)):
                return "(no answer)"
        return proc.stdout.readline().strip()

    def kill(self) -> None:
        """Kill the server like a power cut (SIGKILL): its sockets close, the port is free again."""
        if self._proc is None:
            return
        self._proc.kill()
        self._proc.wait()
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        self._proc = None

    def freeze(self) -> None:
        """Stop the process (SIGSTOP): connections stay open but nothing more arrives, like a hung camera."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen server run again."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def restart(self) -> Self:
        """Kill (if running) and start again on the same port."""
        self.kill()
        return self.start()

    def url(self, mount: str = "/test", user: str | None = None, password: str | None = None) -> str:
        """rtsp://127.0.0.1:<port><mount>, with percent-encoded credentials when given."""
        auth = ""
        if user is not None:
            auth = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "") + "@"
        return f"rtsp://{auth}127.0.0.1:{self.port}{mount}"

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far (for failure messages)."""
        self._stderr.seek(0)
        return self._stderr.read()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Kill the server (thawing it first, so the kill is not held up) and drop its log."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
        self.kill()
        self._stderr.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
