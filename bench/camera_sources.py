"""Camera sources for bench/camera.py: N demo cameras (hub/demo_camera.py) in a process of their own.

Run by the bench (`Sources` below is its handle), not by hand: `python -m bench.camera_sources --count 4 --visit-every 10`.
The demo cameras draw the porch and encode it with libx264 on their own threads; in the bench's
process that CPU would count as the hub's, so they live here. The process prints one JSON line
`{"pid", "cameras": [{"url", "username", "password"}]}` once every camera listens, serves until
its stdin closes, then stops the cameras and prints a second line with what they cost
(`{"cpu_s", "wall_s", "frames", "render_cpu_s", "encode_cpu_s"}`) and exits. A bench that dies
closes the pipe, so the sources never outlive it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hub.config import SECRETS_FILE
from hub.demo_camera import DemoCamera, camera_secrets

ROOT = Path(__file__).resolve().parents[1]
SOURCES_TIMEOUT_S = 60.0  # to the announce line: imports, libx264 and the first keyframe of every camera


async def serve(count: int, *, visit_every: float, first_visit: float, fps: float, width: int, height: int) -> None:
    """Start `count` cameras on loopback, announce them, serve until stdin closes, report the cost."""
    started_wall, started_cpu = time.monotonic(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="bench-camera-sources-") as directory:
        config_dir = Path(directory)
        # A password of this run's own, read by DemoCamera as `hub demo` does (no warning about a missing one).
        (config_dir / SECRETS_FILE).write_text(camera_secrets(), encoding="utf-8")
        cameras = [DemoCamera(config_dir, visit_every=visit_every, first_visit=first_visit, fps=fps, width=width,
                              height=height) for _ in range(count)]  # fmt: skip
        try:
            for camera in cameras:
                await camera.start()
            announce = {"pid": os.getpid(), "cameras": [
                {"url": camera.url, "username": camera.username, "password": camera.password} for camera in cameras]}
            print(json.dumps(announce), flush=True)
            await asyncio.to_thread(sys.stdin.buffer.read)  # until the bench closes the pipe
        finally:
            stats = [camera.encoder_stats for camera in cameras]
            for camera in cameras:
                await camera.stop()
    report = {
        "cpu_s": time.process_time() - started_cpu,
        "wall_s": time.monotonic() - started_wall,
        "frames": sum(s.frames for s in stats),
        "render_cpu_s": sum(s.render_cpu_s for s in stats),
        "encode_cpu_s": sum(s.encode_cpu_s for s in stats),
    }
    print(json.dumps(report), flush=True)


# -- the bench's side -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One demo camera in the sources process."""

    url: str
    username: str
    password: str


@dataclass(frozen=True)
class SourcesCost:
    """What the sources process spent (it shares the machine, not the hub's process)."""

    cpu_s: float
    wall_s: float
    frames: int


class Sources:
    """The camera sources process (bench/camera_sources.py): started with a pipe, ended by closing it."""

    def __init__(self, count: int, *, visit_every: float, first_visit: float, fps: float) -> None:
        self.args = [str(a) for a in ("--count", count, "--visit-every", visit_every, "--first-visit", first_visit,
                                      "--fps", fps)]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> list[Source]:
        """Start the process and return its cameras once they listen."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop(), which every run reaches
        self.process = process = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-m", "bench.camera_sources", *self.args], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)  # fmt: skip
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), SOURCES_TIMEOUT_S)
        except TimeoutError:
            process.kill()  # ends the reading thread too (EOF)
            line = b""
        if not line:
            await self.stop()
            raise RuntimeError(f"the camera sources did not start: {self._tail()}")
        return [Source(c["url"], c["username"], c["password"]) for c in json.loads(line)["cameras"]]

    async def stop(self) -> SourcesCost | None:
        """Close the pipe, wait for the process and read what it cost; kill it if it hangs."""
        process, self.process = self.process, None
        if process is None:
            return None
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            await asyncio.to_thread(process.wait, 30.0)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        rest = process.stdout.read().decode(errors="replace").strip().splitlines()
        process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        try:
            report = json.loads(rest[-1]) if rest else None
        except json.JSONDecodeError:
            report = None
        return SourcesCost(report["cpu_s"], report["wall_s"], report["frames"]) if report else None

    def _tail(self) -> str:
        if self._stderr is None:
            return "no output"
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:] or "no output"


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.camera_sources", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1, help="cameras, each on its own loopback port")
    parser.add_argument("--visit-every", type=float, default=10.0, help="seconds between visitors")
    parser.add_argument("--first-visit", type=float, default=2.0, help="seconds to the first visitor")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second of each stream")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    asyncio.run(serve(args.count, visit_every=args.visit_every, first_visit=args.first_visit, fps=args.fps,
                      width=args.width, height=args.height))  # fmt: skip


if __name__ == "__main__":
    main()
