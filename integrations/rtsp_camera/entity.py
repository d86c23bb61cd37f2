"""A camera's entities: the camera (state, picture, costs), its motion sensor and its CPU sensor."""

from __future__ import annotations

from typing import Any

from hub.entities import DeviceInfo, Entity, EntityDescription

from .camera import PICTURE_EVERY_S, Camera

CAMERA = EntityDescription(key="camera", name=None, icon="camera")
MOTION = EntityDescription(key="motion", name="Motion", device_class="motion")
CPU = EntityDescription(key="cpu", name="CPU", unit_of_measurement="%", state_class="measurement",
                        entity_category="diagnostic", suggested_display_precision=0)  # fmt: skip


def device_info(camera: Camera) -> DeviceInfo:
    """One device per camera, named like it."""
    preset = camera.conf["preset"]
    return DeviceInfo(identifiers=[("rtsp_camera", camera.id)], name=camera.name,
                      manufacturer=None if preset == "generic" else preset.capitalize(), model="RTSP camera")  # fmt: skip


class _CameraEntity(Entity):
    def __init__(self, camera: Camera, description: EntityDescription) -> None:
        self.camera = camera
        self.entity_description = description
        self.unique_id = f"{camera.id}-{description.key}"
        self.device_info = device_info(camera)

    async def async_added(self) -> None:
        self.camera.listen(self.refresh)

    def refresh(self) -> None:
        """Re-read the camera and write the state."""
        self.write_state()


class CameraEntity(_CameraEntity):
    """`camera.<name>`: streaming, or unavailable with the reason; the latest picture and the costs."""

    domain = "camera"
    has_entity_name = False

    def __init__(self, camera: Camera) -> None:
        super().__init__(camera, CAMERA)
        self.suggested_object_id = camera.id

    @property
    def name(self) -> str:
        return self.camera.name

    @property
    def native_value(self) -> Any:
        return self.camera.state

    def refresh(self) -> None:
        state = self.camera.state
        self.available = state != "unavailable"
        self.unavailable_reason = self.camera.reason if not self.available else None
        self.write_state()

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        row = self.camera.as_api()
        attributes = {key: row[key] for key in (
            "fps", "width", "height", "codec", "cpu_percent", "budget_percent", "level", "level_label", "detect_ms",
            "last_motion", "last_face", "url", "onvif", "reason",
        )}  # fmt: skip
        attributes["tamper"] = self.camera.tamper
        latest = self.camera.pipeline.worker.latest
        if latest is not None and self.hub is not None:
            # Changes every PICTURE_EVERY_S, so a card reloads the picture that often and no more.
            bucket = int(self.hub.clock.time() // PICTURE_EVERY_S)
            attributes["entity_picture"] = f"/api/rtsp_camera/{self.camera.id}/snapshot.jpg?t={bucket}"
        return attributes


class MotionSensor(_CameraEntity):
    """`binary_sensor.<name>_motion`: on while the hub's motion detector (or the camera's ONVIF events) see motion."""

    domain = "binary_sensor"

    def __init__(self, camera: Camera) -> None:
        super().__init__(camera, MOTION)

    @property
    def native_value(self) -> Any:
        return self.camera.motion

    def refresh(self) -> None:
        self.available = self.camera.state == "streaming" or self.camera.onvif_status is not None
        self.unavailable_reason = None if self.available else self.camera.reason
        self.write_state()


class CpuSensor(_CameraEntity):
    """`sensor.<name>_cpu`: the camera's share of one core over the last budget window."""

    domain = "sensor"

    def __init__(self, camera: Camera) -> None:
        super().__init__(camera, CPU)

    @property
    def native_value(self) -> Any:
        usage = self.camera.pipeline.governor.last
        return None if usage is None else round(usage.cpu_percent, 1)

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        governor = self.camera.pipeline.governor
        return {"budget_percent": governor.budget_percent, "level": governor.level.index,
                "level_label": governor.level.label}  # fmt: skip
