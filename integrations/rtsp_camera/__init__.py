"""RTSP cameras: health, snapshots, live view, motion and faces, ONVIF events (docs/cameras.md).

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` opens the stores (snapshots and
enrolled faces in the hub's database), the face worker process, one `Camera` per configured
camera (camera.py: pipeline, probe, ONVIF, events), their entities (entity.py) and the
/api/rtsp_camera routes (views.py), all owned by the integration's scope. A camera paired from
the Discovered list (pairing.py) is a config entry: `async_setup_entry` adds it to the same
cameras, owned by the entry's scope, so unloading the entry takes it and its entities away.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from . import config

__all__ = ["CONFIG_SCHEMA", "async_setup", "async_setup_entry", "async_unload", "async_unload_entry", "get_runtime"]


def _cameras_optional(value: Any) -> Any:
    """No `rtsp_camera:` block (or one without `cameras:`) is fine: cameras may all be paired ones."""
    if isinstance(value, dict) and "cameras" not in value:
        return {**value, "cameras": []}
    return value


CONFIG_SCHEMA = vol.All(_cameras_optional, config.CONFIG_SCHEMA)

RUNTIME_ATTR = "rtsp_camera_runtime"  # attribute of the integration's ScopedHub
PRUNE_EVERY_S = 3600.0
SNAPSHOT_DIR = "camera_snapshots"


class Runtime:
    """What setup built: cameras by id, the stores and the face worker, for views and tests."""

    def __init__(self, cameras: dict[str, Any], snapshots: Any, faces_store: Any, face_service: Any) -> None:
        self.cameras = cameras
        self.snapshots = snapshots
        self.faces_store = faces_store
        self.face_service = face_service

    async def reload_gallery(self) -> None:
        """Match against the enrolled faces as they are in the database now."""
        if self.face_service is not None:
            self.face_service.set_gallery(await self.faces_store.gallery())


def get_runtime(hub: Any) -> Runtime:
    """The Runtime that setup stored on this ScopedHub; LookupError if none."""
    runtime = getattr(hub, RUNTIME_ATTR, None)
    if runtime is None:
        raise LookupError(f"rtsp_camera is not set up on {getattr(hub, 'name', hub)!r}")
    return runtime


async def async_setup(hub: Any, config: dict[str, Any], *, worker_factory: Any = None) -> None:
    """Stores, face worker, cameras, entities and routes; `worker_factory` replaces the PyAV worker in tests."""
    import asyncio

    from hub.entities import EntityPlatform

    from .camera import Camera
    from .entity import CameraEntity, CpuSensor, MotionSensor
    from .recognition import FaceService, FaceStore
    from .snapshots import SnapshotStore
    from .views import routes

    snapshots = SnapshotStore(hub.config_dir / SNAPSHOT_DIR, hub.db, time=hub.clock.time)
    await snapshots.start()
    faces_store = FaceStore(hub.db, time=hub.clock.time)
    await faces_store.start()
    wants_faces = any(camera["faces"]["enabled"] for camera in config["cameras"])
    face_service = FaceService(max_distance=config["face_match_distance"]) if wants_faces else None
    if face_service is not None:
        hub.on_unload(lambda: asyncio.to_thread(face_service.close))
    runtime = Runtime({}, snapshots, faces_store, face_service)
    await runtime.reload_gallery()

    for conf in config["cameras"]:
        camera = Camera(hub, conf, faces=face_service, snapshots=snapshots, worker_factory=worker_factory)
        runtime.cameras[camera.id] = camera
    setattr(hub, RUNTIME_ATTR, runtime)

    platform = EntityPlatform(hub, "rtsp_camera")
    entities: list[Any] = []
    for camera in runtime.cameras.values():
        main = CameraEntity(camera)
        entities += [main, MotionSensor(camera), CpuSensor(camera)]
    await platform.add_entities(entities)
    for entity in entities:
        if isinstance(entity, CameraEntity):
            entity.camera.entity_id = entity.entity_id
            await _suggest_area(hub, entity)

    for route in routes(runtime.cameras, runtime):
        hub.register_view(route)

    for camera in runtime.cameras.values():
        camera.start()
        hub.on_unload(camera.stop)

    keep = config["snapshots"]

    async def prune() -> None:
        removed = await snapshots.prune(hub.clock.time(), keep["keep_days"], keep["max_count"])
        if removed:
            hub.logger.info("Pruned %d camera snapshots (keeping %g days, at most %d)", removed,
                            keep["keep_days"], keep["max_count"])  # fmt: skip

    hub.clock.every(PRUNE_EVERY_S, lambda: hub.create_task(prune(), "rtsp_camera prune"))
    hub.create_task(prune(), "rtsp_camera prune")


async def _suggest_area(hub: Any, entity: Any) -> None:
    """The configured area on a camera device the user has not placed yet (the user's choice wins after)."""
    area = entity.camera.conf.get("area")
    entry = entity.device_entry
    if area and entry is not None and entry.area is None:
        await hub.devices.async_update(entry.id, area=area)


async def async_setup_entry(hub: Any, entry: Any) -> None:
    """A paired camera: a Camera in the integration's cameras, with its entities, owned by the entry's scope."""
    from hub.entities import EntityPlatform

    from .camera import Camera
    from .config import CAMERA_SCHEMA, _check_camera
    from .entity import CameraEntity, CpuSensor, MotionSensor
    from .pairing import camera_conf

    parent = hub.integrations.scoped_hub("rtsp_camera")
    runtime = get_runtime(parent)
    conf = _check_camera(CAMERA_SCHEMA(camera_conf(entry.data)))
    if conf["id"] in runtime.cameras:
        raise ValueError(f"a camera with the id {conf['id']!r} is already set up (rename one in configuration.yaml)")
    camera = Camera(hub, conf, faces=None, snapshots=runtime.snapshots)
    runtime.cameras[camera.id] = camera
    hub.on_unload(lambda: runtime.cameras.pop(camera.id, None))
    platform = EntityPlatform(hub, "rtsp_camera", config_entry_id=entry.entry_id)
    main = CameraEntity(camera)
    await platform.add_entities([main, MotionSensor(camera), CpuSensor(camera)])
    camera.entity_id = main.entity_id
    camera.start()
    hub.on_unload(camera.stop)


async def async_unload_entry(hub: Any, entry: Any) -> None:
    """Nothing beyond the entry's scope: it stops the camera, drops it from the cameras and removes its entities."""


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: cameras, the face worker, timers, routes and entities are released by it."""
