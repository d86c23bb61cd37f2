"""One configured camera on the hub: its pipeline, health, ONVIF events, entities and bus events.

The pipeline (pipeline.py) decodes and analyses off the loop; this class lives on the loop and
turns what it reports into the camera's state ("streaming", or unavailable with a reason the
probe refines: "auth failed: ...", "unreachable: ..."), `camera_motion` / `face_detected` events
with stored snapshots, and the ONVIF events of cameras that detect on their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from hub.bus import Context

from .budget import WINDOW_S
from .onvif_events import CameraEvent, OnvifEvents, OnvifStatus
from .pipeline import Analysis, CameraPipeline, FaceVisits
from .presets import build_urls, redact, with_credentials
from .recognition import FaceService
from .rtsp import ProbeResult, probe
from .snapshots import SnapshotStore
from .stream import StreamStatus

_LOGGER = logging.getLogger(__name__)

EVENT_MOTION = "camera_motion"
EVENT_FACE = "face_detected"
PROBE_EVERY_S = 30.0  # while the stream is not streaming: tell why, without hammering the camera
PICTURE_EVERY_S = 10.0  # the entity's picture URL changes this often, so cards reload it


@dataclass(frozen=True)
class Urls:
    """Where the streams are (credentials apart: the URLs shown never hold the password)."""

    main: str | None
    sub: str | None

    @property
    def analysed(self) -> str:
        """The stream decoded: the sub stream when there is one."""
        url = self.sub or self.main
        assert url is not None  # the config schema guarantees one
        return url


def camera_urls(conf: dict[str, Any]) -> Urls:
    """Explicit URLs win; else the vendor preset builds them from host and channel."""
    main, sub = conf.get("main_url"), conf.get("sub_url")
    if (main is None or sub is None) and conf["preset"] != "generic" and conf.get("host"):
        built = build_urls(conf["preset"], conf["host"], conf["channel"], conf["port"])
        main, sub = main or built.main, sub or built.sub
    return Urls(main, sub)


def snapshot_url(snapshot_id: int) -> str:
    """Where the dashboard and the alarm records fetch a stored snapshot."""
    return f"/api/rtsp_camera/snapshots/{snapshot_id}.jpg"


class Camera:
    """One camera's life on the hub: pipeline, probe, ONVIF, entities and events."""

    def __init__(self, hub: Any, conf: dict[str, Any], *, faces: FaceService | None, snapshots: SnapshotStore,
                 worker_factory: Any = None) -> None:  # fmt: skip
        self.hub = hub
        self.conf = conf
        self.id: str = conf["id"]
        self.name: str = conf["name"]
        self.urls = camera_urls(conf)
        self.username: str | None = conf.get("username")
        self.password: str | None = conf.get("password")
        self.faces = faces
        self.snapshots = snapshots
        self.visits = FaceVisits()
        self.entity_id: str | None = None  # set once the camera entity is added
        self.status: StreamStatus | None = None
        self.probe_result: ProbeResult | None = None
        self.onvif_status: OnvifStatus | None = None
        self.motion = False
        self.last_motion: float | None = None
        self.last_face: float | None = None
        self.tamper = False
        self._probing = False
        self._last_probe = -1e18
        self._listeners: list[Any] = []
        self._onvif: OnvifEvents | None = None
        kwargs = {"worker_factory": worker_factory} if worker_factory is not None else {}
        self.pipeline = CameraPipeline(
            camera_id=self.id, url=with_credentials(self.urls.analysed, self.username, self.password),
            settings=conf, faces=faces, loop=asyncio.get_running_loop(), on_analysis=self._on_analysis,
            on_status=self._on_status, **kwargs,
        )  # fmt: skip

    # ---- lifecycle

    def start(self) -> None:
        """Start decoding, the first probe, the governor's windows and ONVIF (if configured)."""
        self.pipeline.start()
        self.hub.create_task(self._probe(), f"rtsp_camera probe {self.id}")
        self.hub.clock.every(WINDOW_S, self._tick)
        onvif = self.conf.get("onvif")
        if onvif and onvif["enabled"] and self.conf.get("host"):
            self._onvif = OnvifEvents(
                self.conf["host"], onvif["port"], self.username or "", self.password or "",
                on_event=self._on_onvif, on_status=self._on_onvif_status, clock_time=self.hub.clock.time,
            )  # fmt: skip
            self.hub.create_task(self._onvif.run(), f"rtsp_camera onvif {self.id}")

    async def stop(self) -> None:
        """Stop ONVIF and the pipeline's threads."""
        if self._onvif is not None:
            await self._onvif.stop()
        await self.pipeline.stop()

    def listen(self, callback: Any) -> None:
        """Call `callback()` on the loop whenever what the entities show may have changed."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in self._listeners:
            callback()

    # ---- health

    @property
    def state(self) -> str:
        """streaming / connecting / stalled / unavailable."""
        status = self.status
        if status is None:
            return "connecting"
        if status.state == "streaming":
            return "streaming"
        if status.state == "failed" or (self.probe_result is not None and not self.probe_result.ok):
            return "unavailable"
        return "stalled" if status.state == "stalled" else "connecting"

    @property
    def reason(self) -> str | None:
        """Why the camera is not streaming, in a sentence; None while it streams."""
        if self.state == "streaming":
            return None
        result = self.probe_result
        if result is not None and not result.ok:
            prefix = {"auth_failed": "auth failed", "unreachable": "unreachable", "no_video": "no video"}
            return f"{prefix.get(result.status, 'camera error')}: {result.reason}"
        if self.status is not None and self.status.reason:
            return self.status.reason
        return "connecting to the camera"

    def _on_status(self, status: StreamStatus) -> None:
        before = (self.state, self.reason)
        was_streaming = self.status is not None and self.status.state == "streaming"
        self.status = status
        if status.state == "streaming" and self.probe_result is not None and not self.probe_result.ok:
            self.probe_result = None  # frames flow: whatever the probe said is over
        # Right away when a stream that worked fails; then at most every PROBE_EVERY_S while it stays down.
        due = was_streaming or self.hub.clock.time() - self._last_probe >= PROBE_EVERY_S
        if status.state in ("failed", "stalled") and not self._probing and due:
            self.hub.create_task(self._probe(), f"rtsp_camera probe {self.id}")
        if (self.state, self.reason) != before:
            if self.state == "streaming":
                _LOGGER.info("Camera %s: streaming %s", self.name, redact(self.urls.analysed))
            else:
                level = logging.INFO if self.state == "connecting" else logging.WARNING
                _LOGGER.log(level, "Camera %s: %s (%s)", self.name, self.state, self.reason)
        self._changed()

    async def _probe(self) -> None:
        self._probing = True
        self._last_probe = self.hub.clock.time()
        try:
            result = await probe(self.urls.analysed, self.username, self.password, auth=self.conf["auth"])
        finally:
            self._probing = False
        self.probe_result = result
        self._changed()

    def _tick(self) -> None:
        level = self.pipeline.governor.level
        self.pipeline.governor_tick()
        if self.pipeline.governor.level is not level:
            self._changed()
        elif self.state == "streaming":
            self._changed()  # fps and CPU move

    # ---- analysis -> events

    def _base(self, source: str) -> dict[str, Any]:
        return {"entity_id": self.entity_id, "camera": self.id, "source": source}

    def _on_analysis(self, analysis: Analysis) -> None:
        now = self.hub.clock.time()
        result = analysis.motion
        if result.started or result.ended:
            self.motion = result.motion
            if result.started:
                self.last_motion = now
            self.hub.bus.fire(EVENT_MOTION, {**self._base("hub"), "started": result.started,
                                             "area_share": round(result.share, 4)})  # fmt: skip
            self._changed()
        if analysis.faces:
            fresh = self.visits.new_faces(analysis.faces, now)
            if fresh:
                self.last_face = now
                faces = [face.as_dict() for face in analysis.faces]
                self.hub.create_task(self._report_faces(faces, analysis.jpeg, "hub"), f"rtsp_camera faces {self.id}")

    async def _report_faces(self, faces: list[dict[str, Any]], jpeg: bytes | None, source: str) -> None:
        data = {**self._base(source), "count": len(faces), "faces": faces, "snapshot": None, "snapshot_id": None}
        if jpeg is not None:
            try:
                snapshot_id = await self.snapshots.add(self.id, "face", jpeg, {"faces": faces, "source": source})
            except Exception:  # the event matters more than its picture
                _LOGGER.exception("Camera %s: could not store the face snapshot", self.name)
            else:
                data["snapshot"] = data["snapshot_url"] = snapshot_url(snapshot_id)
                data["snapshot_id"] = snapshot_id
        who = ", ".join(f["name"] if f.get("known") else "unknown" for f in faces)
        _LOGGER.info("Camera %s: face seen (%s)%s", self.name, who,
                     f", snapshot {data['snapshot_id']}" if data["snapshot_id"] is not None else "")  # fmt: skip
        self.hub.bus.fire(EVENT_FACE, data, context=Context())
        self._changed()

    # ---- ONVIF

    def _on_onvif_status(self, status: OnvifStatus) -> None:
        if self.onvif_status is None or (status.state, status.reason) != (self.onvif_status.state, self.onvif_status.reason):
            level = logging.WARNING if status.state in ("auth_failed", "failed") else logging.INFO
            _LOGGER.log(level, "Camera %s ONVIF events: %s (%s)", self.name, status.state, status.reason)
        self.onvif_status = status
        self._changed()

    def _on_onvif(self, event: CameraEvent) -> None:
        if event.kind == "tamper":
            self.tamper = event.active
            self._changed()
            return
        if event.initial:  # the state at subscribe time is not news, but it is the state
            if event.kind == "motion":
                self.motion = event.active
                self._changed()
            return
        if event.kind in ("motion", "person"):
            if event.kind == "motion":
                self.motion = event.active
            data = {**self._base("onvif"), "started": event.active, "topic": event.topic}
            if event.kind == "person":
                data["person"] = event.active
            if event.active:
                self.last_motion = self.hub.clock.time()
            self.hub.bus.fire(EVENT_MOTION, data)
            self._changed()
        elif event.kind == "face" and event.active:
            self.last_face = self.hub.clock.time()
            self.hub.create_task(self._onvif_face(), f"rtsp_camera onvif face {self.id}")

    async def _onvif_face(self) -> None:
        """The camera saw a face: it says nothing of whom, so the hub looks at its own latest frame."""
        faces: list[dict[str, Any]] = []
        jpeg: bytes | None = None
        if self.faces is not None and self.pipeline.worker.latest is not None:
            try:
                found = await self.pipeline.faces_now(self.faces)
            except Exception:
                _LOGGER.exception("Camera %s: recognising the face ONVIF reported failed", self.name)
                found = []
            faces = [face.as_dict() for face in found]
            jpeg = await self.pipeline.jpeg()
        if not faces:
            faces = [{"known": False, "name": None, "distance": None, "box": None}]
        await self._report_faces(faces, jpeg, "onvif")

    # ---- what the API shows

    def _epoch(self, monotonic: float) -> float:
        """A worker's time.monotonic() stamp on the hub's clock."""
        return self.hub.clock.time() - (time.monotonic() - monotonic)

    def as_api(self) -> dict[str, Any]:
        """The camera's row in /api/rtsp_camera/cameras."""
        status = self.status
        usage = self.pipeline.governor.last
        level = self.pipeline.governor.level
        return {
            "id": self.id, "name": self.name, "entity_id": self.entity_id, "area": self.conf.get("area"),
            "state": self.state, "reason": self.reason, "since": self._epoch(status.since) if status else None,
            "fps": round(status.fps, 1) if status and status.state == "streaming" else None, "width": status.width if status else None,
            "height": status.height if status else None, "codec": status.codec if status else None,
            "cpu_percent": round(usage.cpu_percent, 1) if usage else None,
            "budget_percent": self.pipeline.governor.budget_percent, "level": level.index,
            "level_label": level.label, "detect_ms": _round(self.pipeline.counters.detect_ms),
            "last_motion": self.last_motion, "last_face": self.last_face, "motion": self.motion,
            "url": redact(self.urls.analysed),
            "onvif": None if self.onvif_status is None else {"state": self.onvif_status.state,
                                                             "reason": self.onvif_status.reason},
        }  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
