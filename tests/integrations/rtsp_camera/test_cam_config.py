"""The rtsp_camera block: presets need a host, URLs must be rtsp://, inline credentials leave the URL."""

from __future__ import annotations

import pytest
import voluptuous as vol

from integrations.rtsp_camera.config import CONFIG_SCHEMA, split_credentials


def test_defaults_and_credentials_moved_out_of_the_url() -> None:
    config = CONFIG_SCHEMA({"cameras": [{"name": "Front door", "main_url": "rtsp://admin:p%40ss@10.0.0.2:554/live"}]})
    camera = config["cameras"][0]
    assert camera["main_url"] == "rtsp://10.0.0.2:554/live"
    assert (camera["username"], camera["password"]) == ("admin", "p@ss")
    assert camera["id"] == "front_door"
    assert camera["motion"] == {"enabled": True, "fps": 4.0, "sensitivity": 0.5, "min_area": 0.01}
    assert camera["faces"]["detect_per_s"] == 2.0 and camera["cpu_budget"] == 25.0
    assert config["snapshots"] == {"keep_days": 30.0, "max_count": 2000}
    assert CONFIG_SCHEMA(config) == config  # the hub validates a block twice (check, then setup)


def test_explicit_credentials_win_and_onvif_takes_the_url_host() -> None:
    config = CONFIG_SCHEMA({"cameras": [{"name": "Patio", "sub_url": "rtsp://u:x@[fd00::5]:8554/sub",
                                         "username": "viewer", "password": "s3cret", "onvif": {}}]})
    camera = config["cameras"][0]
    assert camera["sub_url"] == "rtsp://[fd00::5]:8554/sub"
    assert (camera["username"], camera["password"]) == ("viewer", "s3cret")
    assert camera["host"] == "fd00::5" and camera["onvif"] == {"port": 80, "enabled": True}


@pytest.mark.parametrize(("camera", "path", "message"), [
    ({"name": "a", "preset": "hikvision"}, ["cameras", 0, "host"], "required with preset hikvision"),
    ({"name": "a"}, ["cameras", 0, "main_url"], "a generic camera needs main_url or sub_url"),
    ({"name": "a", "main_url": "http://cam/x"}, ["cameras", 0, "main_url"], "must be an rtsp:// URL"),
    ({"name": "a", "main_url": "rtsp:///x"}, ["cameras", 0, "main_url"], "the URL has no host"),
    ({"name": "a", "sub_url": "rtsp://c/1", "motion": {"fps": 100}}, ["cameras", 0, "motion", "fps"], "from 0.5 to 15"),
    ({"name": "a", "sub_url": "rtsp://c/1", "cpu_budget": 0}, ["cameras", 0, "cpu_budget"], "from 1 to 100"),
    ({"name": "a", "preset": "axis", "host": "c"}, ["cameras", 0, "preset"], "must be one of"),
])  # fmt: skip
def test_errors_name_the_key(camera: dict, path: list, message: str) -> None:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA({"cameras": [camera]})
    error = info.value.errors[0] if isinstance(info.value, vol.MultipleInvalid) else info.value
    assert error.path == path
    assert message in str(error)


def test_two_cameras_with_one_id_are_refused() -> None:
    with pytest.raises(vol.Invalid, match="two cameras have the id 'garage'") as info:
        CONFIG_SCHEMA({"cameras": [{"name": "Garage", "sub_url": "rtsp://a/1"}, {"name": "garage", "sub_url": "rtsp://b/1"}]})
    assert info.value.path == ["cameras", 1, "id"]


def test_split_credentials_leaves_a_plain_url_alone() -> None:
    assert split_credentials("rtsp://cam:554/x?y=1") == ("rtsp://cam:554/x?y=1", None, None)
    assert split_credentials("rtsp://user@cam/x") == ("rtsp://cam/x", "user", None)
