"""manifest.json of an integration: its schema, its reader and the `Integration` it describes.

Reading a manifest never imports the integration's code: the hub decides what to set
up, in which order and what discovery routes where from these files alone.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol
from packaging.requirements import InvalidRequirement, Requirement

from .errors import PermanentError

MANIFEST_FILE = "manifest.json"

IOT_CLASSES = ("local_polling", "local_push", "cloud_polling", "cloud_push", "calculated")

# Lowercase letters, digits and single underscores; starts with a letter; no trailing underscore.
_SLUG = re.compile(r"^[a-z](?:_?[a-z0-9])*$")
# "Semver-ish": 1, 1.2, 1.2.3, 2024.6.0, 1.0.0-beta.1, 1.0.0+local, 0.3.0b1.
_VERSION = re.compile(r"^\d+(?:\.\d+){0,3}(?:[-+.]?[0-9A-Za-z][0-9A-Za-z.+-]*)?$")
_SERVICE_TYPE = re.compile(r"^_[a-z0-9-]+\._(?:tcp|udp)\.local\.?$")


class Source(str, enum.Enum):
    """Where an integration was found; later members override earlier ones."""

    builtin = "builtin"
    entry_point = "entry_point"
    custom = "custom"


class ManifestError(PermanentError):
    """A manifest.json that cannot be read or does not match the schema; names file and key."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        super().__init__("\n".join(f"{where}: {p}" for p in problems))
        self.where = where
        self.problems = list(problems)


def _slug(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected str")
    if not _SLUG.match(value):
        raise vol.Invalid(f"{value!r} is not a domain (lowercase letters, digits, single underscores)")
    return value


def _version(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected str")
    if not _VERSION.match(value):
        raise vol.Invalid(f"{value!r} is not a version like 1.2.3")
    return value


def _requirement(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected str")
    try:
        Requirement(value)
    except InvalidRequirement as err:
        raise vol.Invalid(f"{value!r} is not a PEP 508 requirement: {err}") from None
    return value


def _service_type(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected str")
    lowered = value.lower()
    if not _SERVICE_TYPE.match(lowered):
        raise vol.Invalid(f"{value!r} is not a service type like _name._tcp.local.")
    return normalize_service_type(lowered)


def _uuid(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("expected str")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise vol.Invalid(f"{value!r} is not a 128-bit UUID") from None


def _at_least_one(value: dict[str, Any]) -> dict[str, Any]:
    if not value:
        raise vol.Invalid("a bluetooth matcher needs at least one of " + ", ".join(BLUETOOTH_KEYS))
    return value


# WS-Discovery type prefixes a manifest may use; other namespaces are written `{namespace}Local`.
WSDISCOVERY_PREFIXES = {"dn": "http://www.onvif.org/ver10/network/wsdl", "tds": "http://www.onvif.org/ver10/device/wsdl"}
_WS_TYPE = re.compile(r"^(?:(?P<prefix>[a-z]+):|\{(?P<namespace>[^{}\s]+)\})(?P<local>[A-Za-z_][A-Za-z0-9_.-]*)$")


def _ws_type(value: Any) -> str:
    """`dn:NetworkVideoTransmitter` -> `{http://www.onvif.org/ver10/network/wsdl}NetworkVideoTransmitter`."""
    if not isinstance(value, str):
        raise vol.Invalid("expected str")
    match = _WS_TYPE.match(value)
    if match is None:
        raise vol.Invalid(f"{value!r} is not a WS-Discovery type like dn:NetworkVideoTransmitter or {{namespace}}Local")
    namespace = match["namespace"]
    if namespace is None:
        namespace = WSDISCOVERY_PREFIXES.get(match["prefix"])
        if namespace is None:
            known = ", ".join(sorted(WSDISCOVERY_PREFIXES))
            raise vol.Invalid(f"unknown prefix {match['prefix']!r} (known: {known}; else write {{namespace}}Local)")
    return f"{{{namespace}}}{match['local']}"


def normalize_service_type(service_type: str) -> str:
    """`_Tank._TCP.local` -> `_tank._tcp.local.` (the form the discovery index is keyed by)."""
    lowered = service_type.lower()
    return lowered if lowered.endswith(".") else lowered + "."


BLUETOOTH_KEYS = ("service_uuid", "service_data_uuid", "manufacturer_id", "local_name")

ZEROCONF_MATCHER = vol.Schema(
    {
        vol.Required("type"): _service_type,
        vol.Optional("name"): str,
        vol.Optional("properties"): {str: str},
    }
)

BLUETOOTH_MATCHER = vol.All(
    vol.Schema(
        {
            vol.Optional("service_uuid"): _uuid,
            vol.Optional("service_data_uuid"): _uuid,
            vol.Optional("manufacturer_id"): vol.All(int, vol.Range(min=0, max=0xFFFF)),
            vol.Optional("local_name"): vol.All(str, vol.Length(min=1)),
        }
    ),
    _at_least_one,
)

# A device answers a WS-Discovery Probe for these types (all of them) -> this integration.
WSDISCOVERY_MATCHER = vol.Schema({vol.Required("types"): vol.All([_ws_type], vol.Length(min=1))})

MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): _slug,
        vol.Required("name"): vol.All(str, vol.Length(min=1)),
        vol.Required("version"): _version,
        vol.Required("iot_class"): vol.In(IOT_CLASSES),
        vol.Optional("requirements", default=list): [_requirement],
        vol.Optional("dependencies", default=list): [_slug],
        vol.Optional("after_dependencies", default=list): [_slug],
        vol.Optional("config_flow", default=False): bool,
        vol.Optional("zeroconf", default=list): [ZEROCONF_MATCHER],
        vol.Optional("bluetooth", default=list): [BLUETOOTH_MATCHER],
        vol.Optional("wsdiscovery", default=list): [WSDISCOVERY_MATCHER],
        vol.Optional("documentation"): vol.All(str, vol.Url()),
        vol.Optional("codeowners", default=list): [str],
    }
)


@dataclass(frozen=True)
class Integration:
    """One integration as its manifest describes it; nothing here needs its code imported."""

    domain: str
    name: str
    version: str
    path: Path  # the package directory (holds manifest.json and __init__.py)
    module: str  # the importable module name, e.g. integrations.modbus_tank
    source: Source
    iot_class: str
    requirements: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    after_dependencies: tuple[str, ...] = ()
    config_flow: bool = False
    zeroconf: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    bluetooth: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    wsdiscovery: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    documentation: str | None = None
    codeowners: tuple[str, ...] = ()

    @property
    def manifest_path(self) -> Path:
        """Where the manifest was read from."""
        return self.path / MANIFEST_FILE


def format_path(path: Sequence[Any]) -> str:
    """['dependencies', 0] -> 'dependencies -> [0]'."""
    return " -> ".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path)


def _invalid_messages(err: vol.Invalid) -> list[str]:
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    out = []
    for error in errors:
        where = format_path(error.path)
        message = error.error_message or str(error)
        out.append(f"{where}: {message}" if where else message)
    return sorted(out)


def validate_manifest(raw: Any, where: str, expected_domain: str, what: str = "folder") -> dict[str, Any]:
    """Validate a parsed manifest; `expected_domain` is the folder or entry point name."""
    if not isinstance(raw, dict):
        raise ManifestError(where, ["expected a JSON object"])
    try:
        manifest: dict[str, Any] = MANIFEST_SCHEMA(raw)
    except vol.Invalid as err:
        raise ManifestError(where, _invalid_messages(err)) from None
    if manifest["domain"] != expected_domain:
        raise ManifestError(
            where, [f"domain: {manifest['domain']!r} does not match the {what} name {expected_domain!r}"]
        )
    return manifest


def read_manifest(
    package_dir: Path, *, module: str, source: Source, domain: str, where: str, what: str = "folder"
) -> Integration:
    """Read and validate `package_dir/manifest.json`; raises ManifestError naming `where`."""
    path = package_dir / MANIFEST_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(where, ["missing (an integration needs a manifest.json)"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(where, [f"cannot read: {err}"]) from None
    except json.JSONDecodeError as err:
        raise ManifestError(where, [f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"]) from None
    manifest = validate_manifest(raw, where, domain, what)
    return Integration(
        domain=manifest["domain"],
        name=manifest["name"],
        version=manifest["version"],
        path=package_dir,
        module=module,
        source=source,
        iot_class=manifest["iot_class"],
        requirements=tuple(manifest["requirements"]),
        dependencies=tuple(manifest["dependencies"]),
        after_dependencies=tuple(manifest["after_dependencies"]),
        config_flow=manifest["config_flow"],
        zeroconf=tuple(manifest["zeroconf"]),
        bluetooth=tuple(manifest["bluetooth"]),
        wsdiscovery=tuple(manifest["wsdiscovery"]),
        documentation=manifest.get("documentation"),
        codeowners=tuple(manifest["codeowners"]),
    )
