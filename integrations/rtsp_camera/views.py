"""/api/rtsp_camera: cameras, the latest picture, the live view, stored detections, enrolled faces.

The contract is docs/cameras.md "HTTP API". Pictures are JPEG bodies behind the bearer token like
every endpoint; enrolment changes are admin-only, because an enrolled face silences the
unknown-face alarm.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from hub.http.common import ADMIN, RESIDENT, ApiError, Param, Route, json_response, read_json
from hub.http.openapi import ANY_OBJECT, BOOLEAN, INTEGER, NUMBER, STRING, array, nullable, obj

from .camera import Camera, snapshot_url

_LOGGER = logging.getLogger(__name__)

BOUNDARY = "frame"
MAX_PICTURE_PIXELS = 4096 * 4096  # a decompression bomb is refused before it is decoded

_NUM = nullable(NUMBER)
_TEXT = nullable(STRING)
CAMERA_SCHEMA = obj(
    {"id": STRING, "name": STRING, "entity_id": _TEXT, "area": _TEXT, "state": STRING, "reason": _TEXT,
     "since": _NUM, "fps": _NUM, "width": nullable(INTEGER), "height": nullable(INTEGER), "codec": _TEXT,
     "cpu_percent": _NUM, "budget_percent": NUMBER, "level": INTEGER, "level_label": STRING, "detect_ms": _NUM,
     "last_motion": _NUM, "last_face": _NUM, "motion": BOOLEAN, "url": STRING, "onvif": nullable(ANY_OBJECT)},
    "id", "name", "state",
)  # fmt: skip
FACE_HIT = obj({"known": BOOLEAN, "name": _TEXT, "distance": _NUM, "box": nullable(array(INTEGER))}, "known",
               extra=True)  # fmt: skip
DETECTION_SCHEMA = obj(
    {"id": INTEGER, "snapshot_id": INTEGER, "camera": STRING, "kind": STRING, "time": NUMBER,
     "faces": array(FACE_HIT), "url": STRING},
    "id", "camera", "kind", "time", "url",
)  # fmt: skip
RESIDENT_SCHEMA = obj({"id": INTEGER, "name": STRING, "samples": INTEGER, "created": NUMBER}, "id", "name")
ENROL_SCHEMA = obj(
    {"name": {"type": "string", "minLength": 1, "maxLength": 80}, "camera": STRING, "snapshot_id": INTEGER,
     "image": {"type": "string", "maxLength": 60000}},
    "name",
)  # fmt: skip


def _picture_route(path: str, handler: Any, summary: str, content_type: str, errors: tuple[int, ...]) -> Route:
    """A route whose 200 body is a picture or a stream, described as such in the OpenAPI document."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses: dict[str, Any] = {"200": {"description": summary, "content": {content_type: {"schema": {
        "type": "string", "format": "binary"}}}}}  # fmt: skip
    for status in sorted({400, 401, 500, *errors}):
        responses[str(status)] = {"description": "error", **error}
    return Route("GET", path, handler, RESIDENT, summary, extra={"responses": responses})


def routes(cameras: dict[str, Camera], runtime: Any) -> tuple[Route, ...]:
    """The routes, bound to one setup's cameras and stores (released on unload)."""

    def camera_of(request: web.Request) -> Camera:
        camera = cameras.get(request.match_info["camera_id"])
        if camera is None:
            raise ApiError(404, f"no camera {request.match_info['camera_id']!r}")
        return camera

    async def list_cameras(request: web.Request) -> web.Response:
        return json_response({"cameras": [camera.as_api() for camera in cameras.values()]})

    async def snapshot(request: web.Request) -> web.Response:
        camera = camera_of(request)
        data = await camera.pipeline.jpeg()
        if data is None:
            raise ApiError(503, f"no picture from {camera.name}: {camera.reason or 'no frame yet'}")
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def live(request: web.Request) -> web.StreamResponse:
        camera = camera_of(request)
        if camera.pipeline.worker.latest is None:
            raise ApiError(503, f"no picture from {camera.name}: {camera.reason or 'no frame yet'}")
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}", "Cache-Control": "no-store",
        })  # fmt: skip
        await response.prepare(request)
        try:
            async for jpeg in camera.pipeline.live():
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                # write() waits while the client's socket is full: a slow viewer skips frames, never queues them.
                await response.write(head + jpeg + b"\r\n")
        except (ConnectionResetError, ConnectionError):
            pass  # the viewer left
        return response

    async def detections(request: web.Request) -> web.Response:
        camera = request.query.get("camera")
        if camera is not None and camera not in cameras:
            raise ApiError(400, f"no camera {camera!r}", field="camera")
        try:
            limit = min(max(int(request.query.get("limit", "24")), 1), 200)
        except ValueError:
            raise ApiError(400, "limit must be a whole number", field="limit") from None
        rows = await runtime.snapshots.list(camera, limit)
        out = []
        for row in rows:
            meta = row.meta if isinstance(row.meta, Mapping) else {}
            out.append({"id": row.id, "snapshot_id": row.id, "camera": row.camera, "kind": row.kind, "time": row.time,
                        "faces": meta.get("faces", []), "url": snapshot_url(row.id)})  # fmt: skip
        return json_response({"detections": out})

    async def stored(request: web.Request) -> web.Response:
        try:
            snapshot_id = int(request.match_info["snapshot_id"])
            data = await runtime.snapshots.get(snapshot_id)
        except (ValueError, KeyError):
            raise ApiError(404, "no such snapshot (it may have been pruned)") from None
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    async def list_faces(request: web.Request) -> web.Response:
        return json_response({"faces": [r.as_api() for r in await runtime.faces_store.residents()]})

    async def enrol(request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            raise ApiError(400, "name is required", field="name")
        if runtime.face_service is None:
            raise ApiError(409, "face recognition is off on every camera")
        sources = [key for key in ("camera", "snapshot_id", "image") if body.get(key) is not None]
        if len(sources) != 1:
            raise ApiError(400, "give exactly one of camera, snapshot_id or image")
        image = await _picture_for(body, cameras, runtime)
        found, _ = await _analyse(runtime.face_service, image)
        if not found:
            raise ApiError(400, "no face found in the picture")
        if len(found) > 1:
            raise ApiError(400, f"{len(found)} faces found: use a picture with one face")
        face = found[0]
        assert face.descriptor is not None
        try:
            await runtime.faces_store.add(body["name"], face.descriptor, source=sources[0])
        except ValueError as err:
            raise ApiError(400, str(err), field="name") from None
        await runtime.reload_gallery()
        residents = await runtime.faces_store.residents()
        resident = next(r for r in residents if r.name == body["name"].strip())
        _LOGGER.info("Enrolled a face of %s (%d samples)", resident.name, resident.samples)
        return json_response(resident.as_api(), status=201)

    async def forget(request: web.Request) -> web.Response:
        try:
            face_id = int(request.match_info["face_id"])
        except ValueError:
            raise ApiError(404, "no such face") from None
        if not await runtime.faces_store.remove(face_id):
            raise ApiError(404, "no such face")
        await runtime.reload_gallery()
        return web.Response(status=204)

    return (
        Route("GET", "/api/rtsp_camera/cameras", list_cameras, RESIDENT, "Cameras with their health and costs",
              response=obj({"cameras": array(CAMERA_SCHEMA)}, "cameras")),
        _picture_route("/api/rtsp_camera/{camera_id}/snapshot.jpg", snapshot, "The camera's latest picture",
                       "image/jpeg", (404, 503)),
        _picture_route("/api/rtsp_camera/{camera_id}/live", live, "The live view: JPEG frames, multipart",
                       f"multipart/x-mixed-replace; boundary={BOUNDARY}", (404, 503)),
        Route("GET", "/api/rtsp_camera/detections", detections, RESIDENT, "Stored face snapshots, newest first",
              response=obj({"detections": array(DETECTION_SCHEMA)}, "detections"),
              query=(Param("camera", {"type": "string"}, "one camera's only"),
                     Param("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "default 24"))),
        _picture_route("/api/rtsp_camera/snapshots/{snapshot_id}.jpg", stored, "A stored snapshot", "image/jpeg",
                       (404,)),
        Route("GET", "/api/rtsp_camera/faces", list_faces, RESIDENT, "Residents whose faces are enrolled",
              response=obj({"faces": array(RESIDENT_SCHEMA)}, "faces")),
        Route("POST", "/api/rtsp_camera/faces", enrol, ADMIN, "Enrol a resident's face", request=ENROL_SCHEMA,
              response=RESIDENT_SCHEMA, status=201, errors=(409,)),
        Route("DELETE", "/api/rtsp_camera/faces/{face_id}", forget, ADMIN, "Forget a resident's face",
              status=204, errors=(404,)),
    )  # fmt: skip


async def _analyse(service: Any, image: np.ndarray) -> tuple[list[Any], float]:
    result: tuple[list[Any], float] = await asyncio.to_thread(service.analyze, image, recognise=True)
    return result


async def _picture_for(body: dict[str, Any], cameras: dict[str, Camera], runtime: Any) -> np.ndarray:
    """The RGB picture to enrol from: a camera's current frame, a stored snapshot, or an upload."""
    if body.get("camera") is not None:
        camera = cameras.get(str(body["camera"]))
        if camera is None:
            raise ApiError(400, f"no camera {body['camera']!r}", field="camera")
        frame = camera.pipeline.worker.latest
        if frame is None:
            raise ApiError(409, f"no picture from {camera.name} right now: {camera.reason or 'no frame yet'}")
        return frame.image
    if body.get("snapshot_id") is not None:
        try:
            data = await runtime.snapshots.get(int(body["snapshot_id"]))
        except (KeyError, ValueError, TypeError):
            raise ApiError(400, "no such snapshot (it may have been pruned)", field="snapshot_id") from None
        return _decode(data, "snapshot_id")
    try:
        data = base64.b64decode(str(body["image"]), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "image is not base64", field="image") from None
    return _decode(data, "image")


def _decode(data: bytes, field: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.format not in ("JPEG", "PNG"):
                raise ApiError(400, f"{field} must be a JPEG or PNG picture, got {picture.format}", field=field)
            if picture.width * picture.height > MAX_PICTURE_PIXELS:
                raise ApiError(400, f"{field} is too large ({picture.width}x{picture.height})", field=field)
            return np.ascontiguousarray(np.asarray(picture.convert("RGB")))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ApiError(400, f"{field} is not a picture the hub can read", field=field) from None
