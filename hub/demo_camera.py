"""`hub demo`'s front-door camera: a drawn porch where a visitor comes to the door, served over RTSP.

The picture is made here (numpy and Pillow): a porch drawn in code whose sky and lamp follow the
time of day, and a visitor, `demo_assets/visitor.jpg` (a head-and-shoulders crop of NASA's
portrait of astronaut Eileen Collins, public domain, as shipped in scikit-image's `astronaut`),
who walks in, stands at the door for `STAND_S` and leaves, every `visit_every` seconds. An encoder
thread compresses it once with the libx264 inside PyAV's wheel, and `hub.rtsp_sim.RtspServer` sends
it to every client, so the hub's camera pipeline (probe, PyAV, motion, dlib) meets it as it would
a real camera: nothing here needs GStreamer, a camera or a system package.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.video.codeccontext
import av.video.frame
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .config import SECRETS_FILE
from .demo_peer import DemoPeer, read_secret
from .rtsp_sim import AccessUnit, ClientStats, RtspServer, StreamInfo

_LOGGER = logging.getLogger("hub.demo")

HOST = "127.0.0.1"
PATH = "front_door"
USERNAME = "admin"
PASSWORD_SECRET = "demo_camera_password"
CAMERA_NAME = "Front door"
AREA = "Entrada"  # the demo integration's front door is in this area (integrations/demo/entities.py)
VISITOR_ASSET = "visitor.jpg"
FIRST_VISIT_S = 20.0
WALK_S = 2.5  # walking in, and out again
STAND_S = 15.0  # at the door, facing the camera
Phase = Literal["away", "arriving", "at the door", "leaving"]

CAMERA_BLOCK = """
# A camera at the front door. `hub demo` plays it (hub/demo_camera.py): an RTSP server on loopback
# streaming a drawn porch where a visitor comes to the door every {every:g} s and stays {stand:g} s,
# so motion starts, a face is seen and motion ends, through the same pipeline as a real camera.
rtsp_camera:
  cameras:
    - name: {name}
      sub_url: {url}
      main_url: {url}
      username: {user}
      password: !secret {secret}
      auth: digest
      area: {area}
      motion: {{enabled: true}}
      faces: {{enabled: true}}
      cpu_budget: 25
"""


def camera_block(port: int, *, visit_every: float = 120.0) -> str:
    """The demo's `rtsp_camera:` block for a demo camera on loopback `port`."""
    return CAMERA_BLOCK.format(every=visit_every, stand=STAND_S, name=CAMERA_NAME, url=f"rtsp://{HOST}:{port}/{PATH}",
                               user=USERNAME, secret=PASSWORD_SECRET, area=AREA)  # fmt: skip


def camera_secrets() -> str:
    """secrets.yaml lines: a new password for the demo camera."""
    return f"\n# hub demo: the front-door camera's password, made for this directory.\n" \
        f"{PASSWORD_SECRET}: {secrets.token_urlsafe(18)}\n"  # fmt: skip


def _read_password(config_dir: Path) -> str | None:
    """The camera's password from secrets.yaml, or None (blocking file I/O)."""
    return read_secret(config_dir, PASSWORD_SECRET)


# --------------------------------------------------------------------------- when the visitor comes


class VisitSchedule:
    """When the visitor is where: the first visit `first` s after start, then one every `every` s."""

    def __init__(self, start: float, *, first: float = FIRST_VISIT_S, every: float = 120.0) -> None:
        self._every = every
        self._next = start + first
        self._current: float | None = None  # when the visit under way began
        self._lock = threading.Lock()  # the encoder thread reads, the loop triggers

    @property
    def length(self) -> float:
        return 2 * WALK_S + STAND_S

    def trigger(self, now: float) -> None:
        """A visitor now, unless one is already at the door."""
        with self._lock:
            self._advance(now)
            if self._current is None:
                self._current = now

    def at(self, now: float) -> tuple[Phase, float]:
        """The phase at `now` and how far through it (0-1)."""
        with self._lock:
            self._advance(now)
            if self._current is None:
                return "away", 0.0
            into = now - self._current
        if into < WALK_S:
            return "arriving", into / WALK_S
        if into < WALK_S + STAND_S:
            return "at the door", (into - WALK_S) / STAND_S
        return "leaving", min(1.0, (into - WALK_S - STAND_S) / WALK_S)

    def _advance(self, now: float) -> None:
        if self._current is not None and now >= self._current + self.length:
            self._current = None
        if self._current is None and now >= self._next:
            self._current = self._next
        while self._next <= now or (self._current is not None and self._next < self._current + self.length):
            self._next += self._every


# --------------------------------------------------------------------------- the picture


def daylight(hour: float) -> float:
    """0 at night, 1 in full day; dawn 6-8 h, dusk 18-20 h (a Mexican plateau's day, near enough)."""
    if hour < 6 or hour >= 20:
        return 0.0
    if hour < 8:
        return (hour - 6) / 2
    return 1.0 if hour < 18 else (20 - hour) / 2


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def sky_colour(hour: float) -> tuple[int, int, int]:
    """Night blue, orange around sunrise and sunset, day blue."""
    night, glow, day = (14, 20, 48), (235, 140, 85), (112, 168, 226)
    light = daylight(hour)
    if 0 < light < 1:
        return _mix(_mix(night, glow, min(1.0, light * 2)), day, max(0.0, light * 2 - 1))
    return day if light else night


def load_visitor(height: int) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    """The visitor's picture (RGB) and a soft head-and-shoulders mask (0-255), sized for a `height`-pixel frame."""
    with importlib.resources.files(__package__).joinpath("demo_assets", VISITOR_ASSET).open("rb") as file:
        image = Image.open(file).convert("RGB")
    if height != 480:  # the asset is made for 480 lines: the face is about 110 px high there
        scale = height / 480
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    w, h = image.size
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    # The asset's own background is a studio backdrop: keep the head (with the hair) and the shoulders.
    draw.ellipse((0.23 * w, 0.055 * h, 0.79 * w, 0.46 * h), fill=255)  # hair
    draw.ellipse((0.31 * w, 0.2 * h, 0.69 * w, 0.62 * h), fill=255)  # face and neck
    draw.ellipse((0.065 * w, 0.49 * h, 0.85 * w, h), fill=255)  # the suit's neck ring
    draw.polygon([(0, h), (0, 0.76 * h), (0.1 * w, 0.72 * h), (0.8 * w, 0.74 * h), (0.95 * w, 0.8 * h),
                  (w, 0.86 * h), (w, h)], fill=255)  # the shoulders
    mask = mask.filter(ImageFilter.GaussianBlur(max(1.0, 2.5 * h / 379)))
    return np.asarray(image, dtype=np.uint16), np.asarray(mask, dtype=np.uint16)[:, :, None]


class PorchScene:
    """Draws the porch (cached per minute of the day) and the visitor where the schedule puts them."""

    def __init__(self, width: int, height: int, schedule: VisitSchedule, clock: Callable[[], datetime]) -> None:
        self.width, self.height = width, height
        self.schedule = schedule
        self._clock = clock
        self._visitor, self._mask = load_visitor(height)
        self._font = ImageFont.load_default(size=max(10, height // 30))
        self._background: tuple[int, npt.NDArray[np.uint8]] | None = None

    def background(self, when: datetime) -> npt.NDArray[np.uint8]:
        """The porch at this minute of the day (read-only, shared between frames)."""
        minute = when.hour * 60 + when.minute
        if self._background is None or self._background[0] != minute:
            image = self._draw(minute / 60)
            image.flags.writeable = False
            self._background = (minute, image)
        return self._background[1]

    def _draw(self, hour: float) -> npt.NDArray[np.uint8]:
        w, h = self.width, self.height
        light = daylight(hour)
        shade = 0.35 + 0.65 * light

        def lit(colour: tuple[int, int, int]) -> tuple[int, int, int]:
            return (round(colour[0] * shade), round(colour[1] * shade), round(colour[2] * shade))

        image = Image.new("RGB", (w, h), lit((214, 196, 160)))
        draw = ImageDraw.Draw(image)
        sky = sky_colour(hour)
        draw.rectangle((0, 0, w, 0.17 * h), fill=sky)
        if light == 0:
            for x, y in ((0.1, 0.05), (0.3, 0.1), (0.55, 0.03), (0.8, 0.08), (0.92, 0.12)):
                draw.point((x * w, y * h), fill=(230, 230, 240))
        draw.rectangle((0, 0.17 * h, w, 0.22 * h), fill=lit((96, 60, 40)))  # the eave
        draw.rectangle((0, 0.82 * h, w, h), fill=lit((176, 96, 64)))  # terracotta floor
        for x in range(0, w, max(8, w // 10)):
            draw.line((x, 0.82 * h, x + (x - w / 2) * 0.4, h), fill=lit((140, 74, 50)), width=1)
        door = (0.35 * w, 0.26 * h, 0.65 * w, 0.82 * h)
        draw.rectangle((door[0] - 0.015 * w, door[1] - 0.02 * h, door[2] + 0.015 * w, door[3]), fill=lit((236, 228, 210)))
        draw.rectangle(door, fill=lit((112, 64, 32)))
        for top, bottom in ((0.3, 0.53), (0.57, 0.78)):
            for left, right in ((0.37, 0.49), (0.51, 0.63)):
                draw.rectangle((left * w, top * h, right * w, bottom * h), outline=lit((80, 44, 22)), width=2)
        draw.ellipse((0.615 * w, 0.54 * h, 0.63 * w, 0.56 * h), fill=lit((200, 170, 60)))  # the knob
        draw.rectangle((0.42 * w, 0.83 * h, 0.58 * w, 0.88 * h), fill=lit((90, 80, 60)))  # the mat
        draw.rectangle((0.69 * w, 0.33 * h, 0.74 * w, 0.37 * h), fill=lit((40, 60, 90)))  # house number plate
        draw.text((0.697 * w, 0.333 * h), "27", fill=(240, 240, 240), font=self._font)
        lamp = (0.75 * w, 0.24 * h, 0.79 * w, 0.3 * h)
        lamp_on = light < 0.5
        draw.rectangle(lamp, fill=(255, 226, 150) if lamp_on else (70, 70, 70), outline=(30, 30, 30), width=2)
        draw.ellipse((0.1 * w, 0.62 * h, 0.2 * w, 0.82 * h), fill=lit((60, 120, 50)))  # a plant in a pot
        draw.rectangle((0.12 * w, 0.74 * h, 0.18 * w, 0.82 * h), fill=lit((150, 80, 50)))
        # Flat colours on purpose: a grain of +-7 doubled the keyframes (140 KB) and the bit rate.
        pixels = np.asarray(image, dtype=np.int16)
        if lamp_on:  # the lamp's pool of warm light on the wall and the floor
            ys, xs = np.ogrid[0:h, 0:w]
            cx, cy = 0.77 * w, 0.27 * h
            glow = np.exp(-(((xs - cx) / (0.3 * w)) ** 2 + ((ys - cy) / (0.45 * h)) ** 2)) * (1 - light * 2) * 90
            pixels = pixels + (glow[:, :, None] * np.array([1.0, 0.8, 0.45])).astype(np.int16)
        return np.clip(pixels, 0, 255).astype(np.uint8)

    def render(self, now: float) -> npt.NDArray[np.uint8]:
        """The picture at time.monotonic() `now`: the porch, the visitor if one is there, and the time."""
        when = self._clock()
        frame = np.array(self.background(when))
        phase, progress = self.schedule.at(now)
        if phase != "away":
            self._paste(frame, phase, progress, now)
        image = Image.fromarray(frame)
        ImageDraw.Draw(image).text((8, 6), f"{CAMERA_NAME}  {when:%Y-%m-%d %H:%M:%S}", fill=(255, 255, 255),
                                   font=self._font, stroke_width=2, stroke_fill=(0, 0, 0))  # fmt: skip
        return np.asarray(image)

    def _paste(self, frame: npt.NDArray[np.uint8], phase: Phase, progress: float, now: float) -> None:
        vh, vw = self._visitor.shape[:2]
        centre, door = self.width / 2, self.width / 2
        if phase == "arriving":
            eased = 1 - (1 - progress) ** 2
            centre = -vw / 2 + (door + vw / 2) * eased
            lift = abs(math.sin(now * 2 * math.pi * 1.6)) * 6  # steps
        elif phase == "leaving":
            centre = door + (self.width + vw / 2 - door) * progress**2
            lift = abs(math.sin(now * 2 * math.pi * 1.6)) * 6
        else:
            lift = 1 + math.sin(now * 2 * math.pi * 0.3)  # breathing
        left, top = round(centre - vw / 2), round(self.height - vh - lift)
        x0, x1 = max(0, left), min(self.width, left + vw)
        y0, y1 = max(0, top), min(self.height, top + vh)
        if x0 >= x1 or y0 >= y1:
            return
        person = self._visitor[y0 - top : y1 - top, x0 - left : x1 - left]
        alpha = self._mask[y0 - top : y1 - top, x0 - left : x1 - left]
        under = frame[y0:y1, x0:x1].astype(np.uint16)
        frame[y0:y1, x0:x1] = ((person * alpha + under * (255 - alpha)) // 255).astype(np.uint8)


# --------------------------------------------------------------------------- the encoder


@dataclass(frozen=True)
class EncoderStats:
    """What the encoder thread has cost: pictures made and its CPU seconds, drawing and compressing apart."""

    frames: int
    render_cpu_s: float
    encode_cpu_s: float
    video_s: float  # seconds of video made (frames / fps)


class H264Encoder:
    """One thread that draws and encodes the scene at `fps` while anybody watches, and rests otherwise.

    Access units go to `on_unit` on the event loop. libx264 runs on this thread only
    (`thread_count=1`), so `time.thread_time()` here is the whole cost of the picture.
    """

    def __init__(self, scene: PorchScene, *, fps: float, loop: asyncio.AbstractEventLoop,
                 on_unit: Callable[[AccessUnit], None]) -> None:  # fmt: skip
        self.scene, self.fps = scene, fps
        self._loop, self._on_unit = loop, on_unit
        self._stop = threading.Event()
        self._watched = threading.Event()
        self._keyframe = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready: asyncio.Future[StreamInfo] = loop.create_future()
        self._frames = 0
        self._render_cpu = self._encode_cpu = 0.0

    async def start(self) -> StreamInfo:
        """Start the thread; return the stream's parameters once its first keyframe is encoded."""
        self._thread = threading.Thread(target=self._run, name="demo-camera-encoder", daemon=True)
        self._thread.start()
        return await self._ready

    async def stop(self) -> None:
        self._stop.set()
        self._watched.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)

    def set_viewers(self, count: int) -> None:
        (self._watched.set if count else self._watched.clear)()

    def request_keyframe(self) -> None:
        self._keyframe.set()

    @property
    def stats(self) -> EncoderStats:
        return EncoderStats(self._frames, self._render_cpu, self._encode_cpu, self._frames / self.fps)

    def _post(self, callback: Callable[..., object], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass  # the loop has closed: nobody is left to watch

    def _run(self) -> None:
        try:
            context = self._open()
            unit = self._encode(context, time.monotonic(), keyframe=True)
            info = self._info(unit)
        except Exception as err:  # noqa: BLE001 - the thread must never die silently: start() raises it
            self._post(self._settle, None, err)
            return
        self._post(self._settle, info, None)
        period = 1 / self.fps
        due = time.monotonic()
        try:
            while self._watched.wait() and not self._stop.is_set():
                now = time.monotonic()
                if due < now - period:
                    due = now  # back from a rest (or late): no burst of frames to catch up
                if self._stop.wait(max(0.0, due - now)):
                    break
                keyframe = self._keyframe.is_set()
                self._keyframe.clear()
                unit = self._encode(context, due, keyframe=keyframe)
                self._post(self._on_unit, unit)
                due += period
        except Exception:
            _LOGGER.exception("The demo camera's encoder failed; the camera shows no more pictures")

    def _settle(self, info: StreamInfo | None, error: BaseException | None) -> None:
        if not self._ready.done():
            (self._ready.set_exception(error) if error is not None else self._ready.set_result(info))  # type: ignore[arg-type]

    def _open(self) -> av.video.codeccontext.VideoCodecContext:
        gop = max(1, round(self.fps))  # a keyframe every second: a client joining waits no longer
        context = av.CodecContext.create("libx264", "w")
        assert isinstance(context, av.video.codeccontext.VideoCodecContext)
        context.width, context.height, context.pix_fmt = self.scene.width, self.scene.height, "yuv420p"
        rate = Fraction(self.fps).limit_denominator(1001)
        context.time_base, context.framerate = 1 / rate, rate
        context.gop_size, context.max_b_frames, context.thread_count = gop, 0, 1
        context.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23",
                           "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"}  # fmt: skip
        context.open()
        return context

    def _encode(self, context: av.video.codeccontext.VideoCodecContext, due: float, *, keyframe: bool) -> AccessUnit:
        cpu = time.thread_time()
        picture = self.scene.render(due)
        drawn = time.thread_time()
        frame = av.video.frame.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = self._frames
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        packets = context.encode(frame)
        data = b"".join(bytes(packet) for packet in packets)
        key = any(packet.is_keyframe for packet in packets)
        done = time.thread_time()
        self._frames += 1
        self._render_cpu += drawn - cpu
        self._encode_cpu += done - drawn
        return AccessUnit.from_annexb(data, key, due)

    def _info(self, unit: AccessUnit) -> StreamInfo:
        sps = next((n for n in unit.nals if n[0] & 0x1F == 7), None)
        pps = next((n for n in unit.nals if n[0] & 0x1F == 8), None)
        if sps is None or pps is None:
            raise RuntimeError("libx264 gave no SPS/PPS with its first keyframe")
        return StreamInfo(sps, pps, self.scene.width, self.scene.height, self.fps)


# --------------------------------------------------------------------------- the camera


class DemoCamera(DemoPeer):
    """The demo's front-door camera: an RTSP server on loopback with Digest auth, showing the porch.

    `start()` reads the password from secrets.yaml (`camera_secrets()` wrote it; without one, a
    password is made for this run), starts the encoder thread and listens. It writes nothing.
    `trigger_visit()` sends the visitor now; otherwise one comes `first_visit` s after start and
    every `visit_every` s. `camera_block()` is the `rtsp_camera:` YAML that points the hub here.
    """

    def __init__(self, config_dir: Path, *, port: int = 0, visit_every: float = 120.0, fps: float = 10,
                 first_visit: float = FIRST_VISIT_S, width: int = 640, height: int = 480, host: str = HOST,
                 queue_frames: int | None = None, clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.config_dir = config_dir
        self.port, self.host = port, host
        self.visit_every, self.first_visit, self.fps = visit_every, first_visit, fps
        self.size = (width, height)
        self.username = USERNAME
        self.password = ""
        self._queue_frames = queue_frames or max(2, round(fps))
        self._clock = clock or (lambda: datetime.now().astimezone())  # the sky and the time shown in the picture
        self.schedule = VisitSchedule(time.monotonic(), first=first_visit, every=visit_every)
        self.server: RtspServer | None = None
        self._encoder: H264Encoder | None = None

    @property
    def url(self) -> str:
        """rtsp://127.0.0.1:<port>/front_door, without credentials."""
        return f"rtsp://{self.host}:{self.port}/{PATH}"

    @property
    def phase(self) -> Phase:
        """Where the visitor is now."""
        return self.schedule.at(time.monotonic())[0]

    @property
    def encoder_stats(self) -> EncoderStats:
        return self._encoder.stats if self._encoder is not None else EncoderStats(0, 0.0, 0.0, 0.0)

    def clients(self) -> list[ClientStats]:
        """The clients playing the stream, with their queues."""
        return self.server.clients() if self.server is not None else []

    def trigger_visit(self) -> None:
        """The visitor comes to the door now (unless already there)."""
        self.schedule.trigger(time.monotonic())

    def camera_block(self) -> str:
        """The `rtsp_camera:` block for configuration.yaml pointing at this camera's port."""
        if not self.port:
            raise RuntimeError("the demo camera has no port yet: start it, or give it one")
        return camera_block(self.port, visit_every=self.visit_every)

    async def start(self) -> None:
        password = await asyncio.to_thread(_read_password, self.config_dir)
        if password is None:
            password = secrets.token_urlsafe(18)
            _LOGGER.warning("No %s in %s: the demo camera uses a password made for this run", PASSWORD_SECRET,
                            SECRETS_FILE)  # fmt: skip
        self.password = password
        width, height = self.size
        loop = asyncio.get_running_loop()
        self.schedule = VisitSchedule(time.monotonic(), first=self.first_visit, every=self.visit_every)
        scene = await asyncio.to_thread(PorchScene, width, height, self.schedule, self._clock)
        encoder = self._encoder = H264Encoder(scene, fps=self.fps, loop=loop, on_unit=self._publish)
        info = await encoder.start()
        self.server = RtspServer(info, path=PATH, username=self.username, password=password, host=self.host,
                                 port=self.port, queue_frames=self._queue_frames, on_viewers=encoder.set_viewers,
                                 on_keyframe=encoder.request_keyframe)  # fmt: skip
        await self.server.start()
        self.port = self.server.port
        _LOGGER.info("Demo camera: %s (H.264 %dx%d at %g fps, Digest user %s); a visitor every %g s",
                     self.url, width, height, self.fps, self.username, self.visit_every)  # fmt: skip

    async def stop(self) -> None:
        """Close the server and its connections, then end the encoder thread."""
        server, self.server = self.server, None
        if server is not None:
            await server.stop()
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            await encoder.stop()
            stats = encoder.stats
            if stats.frames > 1:
                _LOGGER.info("Demo camera: %d frames, drawing %.0f%% and encoding %.0f%% of a core while watched",
                             stats.frames, 100 * stats.render_cpu_s / stats.video_s,
                             100 * stats.encode_cpu_s / stats.video_s)  # fmt: skip

    def _publish(self, unit: AccessUnit) -> None:
        if self.server is not None:
            self.server.publish(unit)
