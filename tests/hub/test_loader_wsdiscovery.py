"""The manifest's `wsdiscovery` matchers: validated, resolved to `{namespace}Local`, routed without import."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hub.loader import CUSTOM_DIR, discover, discovery_index, match_wsdiscovery
from hub.manifest import ManifestError, Source, read_manifest

NVT = "{http://www.onvif.org/ver10/network/wsdl}NetworkVideoTransmitter"
DEVICE = "{http://www.onvif.org/ver10/device/wsdl}Device"


def write(base: Path, domain: str, matchers: object) -> Path:
    package = base / domain
    package.mkdir(parents=True)
    manifest = {"domain": domain, "name": domain, "version": "1.0.0", "iot_class": "local_push", "wsdiscovery": matchers}
    (package / "manifest.json").write_text(json.dumps(manifest))
    (package / "__init__.py").write_text("raise RuntimeError('discovery must not import me')\n")
    return package


def test_wsdiscovery_matchers_route_by_every_type_without_import(tmp_path: Path) -> None:
    base = tmp_path / CUSTOM_DIR
    write(base, "cams", [{"types": ["dn:NetworkVideoTransmitter"]}])
    write(base, "onvifdev", [{"types": ["dn:NetworkVideoTransmitter", "tds:Device"]}])
    write(base, "other", [{"types": ["{urn:example:thing}Printer"]}])
    index = discovery_index(discover(tmp_path, builtin_package=None, entry_points=[]).integrations)
    assert index["wsdiscovery"] == [
        {"domain": "cams", "types": (NVT,)},
        {"domain": "onvifdev", "types": (NVT, DEVICE)},
        {"domain": "other", "types": ("{urn:example:thing}Printer",)},
    ]
    assert match_wsdiscovery(index, [NVT]) == ["cams"]
    assert match_wsdiscovery(index, [DEVICE, NVT]) == ["cams", "onvifdev"]
    assert match_wsdiscovery(index, ["{urn:example:thing}Printer"]) == ["other"]
    assert match_wsdiscovery(index, ["NetworkVideoTransmitter"]) == []  # an undeclared prefix is not ours
    assert not [m for m in sys.modules if m.startswith(CUSTOM_DIR)]


@pytest.mark.parametrize(
    ("matchers", "problem"),
    [
        ([{"types": []}], "wsdiscovery -> [0] -> types"),
        ([{"types": ["xx:Camera"]}], "unknown prefix 'xx'"),
        ([{"types": ["NetworkVideoTransmitter"]}], "is not a WS-Discovery type"),
        ([{}], "wsdiscovery -> [0] -> types: required key not provided"),
    ],
)
def test_a_bad_wsdiscovery_matcher_names_the_key(tmp_path: Path, matchers: object, problem: str) -> None:
    package = write(tmp_path, "cams", matchers)
    with pytest.raises(ManifestError) as caught:
        read_manifest(package, module="x.cams", source=Source.custom, domain="cams", where="cams/manifest.json")
    assert problem in str(caught.value)


def test_rtsp_camera_answers_onvif_cameras_and_rtsp_announcements() -> None:
    index = discovery_index(discover(None, entry_points=[]).integrations)
    assert "rtsp_camera" in match_wsdiscovery(index, [NVT])
    assert {"domain": "rtsp_camera"} in index["zeroconf"]["_rtsp._tcp.local."]
