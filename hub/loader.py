"""Finds integrations, checks their requirements, orders them by dependencies, routes discovery.

Sources, lowest precedence first: the built-in `integrations` package, installed
distributions with an entry point in group `hub.integrations`, and
`<config_dir>/custom_integrations/<domain>/`. Nothing here imports an integration's code
except `import_integration`, which the integration manager calls at setup time.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from .manifest import MANIFEST_FILE, Integration, ManifestError, Source, normalize_service_type, read_manifest

_LOGGER = logging.getLogger(__name__)

BUILTIN_PACKAGE = "integrations"
ENTRY_POINT_GROUP = "hub.integrations"
CUSTOM_DIR = "custom_integrations"


@dataclass(frozen=True)
class Problem:
    """Something found that is not a usable integration (bad manifest, missing manifest ...)."""

    domain: str
    where: str
    message: str
    source: Source | None = None
    claims: bool = True  # a broken manifest claims its domain; a folder without one does not

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Discovery:
    """What `discover` found: usable integrations by domain, and problems to show the user."""

    integrations: dict[str, Integration] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def errors(self) -> dict[str, str]:
        """Domain -> message for every domain that was found but is not usable."""
        out: dict[str, str] = {}
        for problem in self.problems:
            if problem.claims and problem.domain not in self.integrations:
                out[problem.domain] = "; ".join(filter(None, (out.get(problem.domain), str(problem))))
        return out


def discover(
    config_dir: str | Path | None,
    *,
    builtin_package: str | None = BUILTIN_PACKAGE,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> Discovery:
    """Find every integration from the three sources; a higher-precedence one replaces a lower."""
    result = Discovery()
    found: dict[Source, dict[str, Integration]] = {}
    if builtin_package:
        found[Source.builtin] = _builtin(builtin_package, result.problems)
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    found[Source.entry_point] = _from_entry_points(entry_points, result.problems)
    if config_dir is not None:
        found[Source.custom] = _custom(Path(config_dir), result.problems)
    for source in (Source.builtin, Source.entry_point, Source.custom):
        for domain, integration in found.get(source, {}).items():
            previous = result.integrations.get(domain)
            if previous is not None:
                _LOGGER.warning(
                    "Integration %s from %s (%s) overrides the %s one (%s)",
                    domain, source.value, integration.path, previous.source.value, previous.path,
                )
            result.integrations[domain] = integration
    # A broken manifest of higher precedence claims its domain: running the lower one
    # instead would silently ignore the override the user installed.
    order = list(Source)
    for problem in result.problems:
        current = result.integrations.get(problem.domain)
        if (
            current is not None
            and problem.claims
            and problem.source is not None
            and order.index(problem.source) > order.index(current.source)
        ):
            _LOGGER.error("Integration %s is not available: %s", problem.domain, problem)
            del result.integrations[problem.domain]
    return result


def _where(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)


def _builtin(package: str, problems: list[Problem]) -> dict[str, Integration]:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return {}
    out: dict[str, Integration] = {}
    for location in spec.submodule_search_locations:
        base = Path(location)
        for child in sorted(base.iterdir()):
            if not (child / MANIFEST_FILE).is_file():
                continue  # helpers and __pycache__ are not integrations
            where = _where(child / MANIFEST_FILE, base.parent)
            try:
                integration = read_manifest(
                    child, module=f"{package}.{child.name}", source=Source.builtin, domain=child.name, where=where
                )
            except ManifestError as err:
                _report(problems, child.name, where, err, Source.builtin)
                continue
            out.setdefault(integration.domain, integration)
    return out


def _from_entry_points(
    entry_points: Iterable[importlib.metadata.EntryPoint], problems: list[Problem]
) -> dict[str, Integration]:
    out: dict[str, Integration] = {}
    for ep in entry_points:
        where_ep = f"entry point {ep.name} = {ep.value}"
        if ep.attr:
            problems.append(
                Problem(ep.name, where_ep, "the value must be a module name, not module:attribute", Source.entry_point)
            )
            continue
        package_dir = find_package_dir(ep.value)
        if package_dir is None:
            problems.append(Problem(ep.name, where_ep, f"package {ep.value!r} not found", Source.entry_point))
            continue
        where = _where(package_dir / MANIFEST_FILE, None)
        try:
            integration = read_manifest(
                package_dir, module=ep.value, source=Source.entry_point, domain=ep.name, where=where,
                what="entry point",
            )
        except ManifestError as err:
            _report(problems, ep.name, where, err, Source.entry_point)
            continue
        if ep.name in out:
            problems.append(
                Problem(ep.name, where, f"domain also provided by {out[ep.name].module}; ignored", claims=False)
            )
            continue
        out[ep.name] = integration
    return out


def _custom(config_dir: Path, problems: list[Problem]) -> dict[str, Integration]:
    base = config_dir / CUSTOM_DIR
    if not base.is_dir():
        return {}
    out: dict[str, Integration] = {}
    for child in sorted(base.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "_")):
            continue
        where = _where(child / MANIFEST_FILE, config_dir)
        if not (child / MANIFEST_FILE).is_file():
            # Not an integration; reported so a misplaced file is noticed, but it claims nothing.
            problems.append(Problem(child.name, where, "missing; folder ignored", Source.custom, claims=False))
            continue
        try:
            integration = read_manifest(
                child, module=f"{CUSTOM_DIR}.{child.name}", source=Source.custom, domain=child.name, where=where
            )
        except ManifestError as err:
            _report(problems, child.name, where, err, Source.custom)
            continue
        out[integration.domain] = integration
    return out


def _report(problems: list[Problem], domain: str, where: str, err: ManifestError, source: Source) -> None:
    message = "; ".join(err.problems)
    _LOGGER.error("Invalid manifest %s: %s", where, message)
    problems.append(Problem(domain, where, message, source))


def find_package_dir(module: str) -> Path | None:
    """The directory of package `module`, found without executing it or its parents."""
    loaded = sys.modules.get(module)
    if loaded is not None and getattr(loaded, "__path__", None):
        return Path(list(loaded.__path__)[0])
    search: Sequence[str] | None = None
    spec = None
    for part in module.split("."):
        spec = importlib.machinery.PathFinder.find_spec(part, search)
        if spec is None or not spec.submodule_search_locations:
            return None
        search = list(spec.submodule_search_locations)
    return Path(search[0]) if search else None


# -- requirements -------------------------------------------------------------------------


def check_requirements(integration: Integration) -> list[str]:
    """Messages for each requirement that is not installed in a satisfying version."""
    problems: list[str] = []
    for text in integration.requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue  # not for this platform / Python
        try:
            installed = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{integration.domain}: requirement {text!r} is not installed")
            continue
        if not req.specifier:
            continue
        try:
            ok = req.specifier.contains(Version(installed), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            problems.append(
                f"{integration.domain}: requirement {text!r}: installed {installed} does not satisfy {req.specifier}"
            )
    return problems


# -- dependency order ---------------------------------------------------------------------


@dataclass
class SetupPlan:
    """Levels of domains that may set up concurrently, and domains that cannot set up at all."""

    levels: list[list[str]]
    failed: dict[str, str]


def resolve_order(integrations: Mapping[str, Integration], domains: Iterable[str]) -> SetupPlan:
    """Close `domains` over their dependencies and sort them into setup levels."""
    failed: dict[str, str] = {}
    wanted: set[str] = set()
    queue = list(dict.fromkeys(domains))
    while queue:
        domain = queue.pop()
        if domain in wanted or domain in failed:
            continue
        if domain not in integrations:
            failed[domain] = f"integration {domain!r} not found"
            continue
        wanted.add(domain)
        queue.extend(d for d in integrations[domain].dependencies if d in integrations)
    for domain in sorted(wanted):
        missing = [d for d in integrations[domain].dependencies if d not in integrations]
        if missing:
            failed[domain] = "missing dependency " + ", ".join(repr(d) for d in missing)
    graph = {
        d: sorted(
            {*integrations[d].dependencies, *(a for a in integrations[d].after_dependencies if a in wanted)} & wanted
        )
        for d in wanted
    }
    for cycle in _cycles(graph):
        text = "dependency cycle: " + " -> ".join([*cycle, cycle[0]])
        for domain in cycle:
            failed.setdefault(domain, text)
    # A failed hard dependency fails its dependents; a failed after_dependency is just skipped.
    changed = True
    while changed:
        changed = False
        for domain in sorted(wanted - failed.keys()):
            bad = [d for d in integrations[domain].dependencies if d in failed]
            if bad:
                failed[domain] = f"dependency {bad[0]} failed"
                changed = True
    remaining = {d: [x for x in graph[d] if x not in failed] for d in wanted if d not in failed}
    levels: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        level = sorted(d for d, deps in remaining.items() if all(x in done for x in deps))
        if not level:  # unreachable: cycles were removed above
            raise AssertionError(f"unresolved order for {sorted(remaining)}")
        levels.append(level)
        done.update(level)
        for d in level:
            del remaining[d]
    return SetupPlan(levels, failed)


def _cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One cycle path per strongly connected component that has a cycle (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_path(graph, comp) for comp in components]


def _cycle_path(graph: Mapping[str, Sequence[str]], component: set[str]) -> list[str]:
    start = min(component)
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = next((n for n in graph[node] if n in component and (n == start or n not in seen)), None)
        if nxt is None or nxt == start:
            return path
        path.append(nxt)
        seen.add(nxt)
        node = nxt


# -- import -------------------------------------------------------------------------------


def config_schema(integration: Integration) -> Any:
    """Import the integration and return its CONFIG_SCHEMA, or None (for `hub check-config`)."""
    return getattr(import_integration(integration), "CONFIG_SCHEMA", None)


def import_integration(integration: Integration) -> ModuleType:
    """Import the integration's package (only the manager calls this, at setup time)."""
    if integration.source is not Source.custom:
        return importlib.import_module(integration.module)
    name = integration.module
    loaded = sys.modules.get(name)
    if loaded is not None and _same_dir(loaded, integration.path):
        return loaded
    _custom_parent(integration.path.parent)
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]  # a same-named package from another config directory
    spec = importlib.util.spec_from_file_location(
        name, integration.path / "__init__.py", submodule_search_locations=[str(integration.path)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {name} from {integration.path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _same_dir(module: ModuleType, path: Path) -> bool:
    locations = getattr(module, "__path__", None) or []
    return any(Path(p).resolve() == path.resolve() for p in locations)


def _custom_parent(base: Path) -> None:
    """Make `custom_integrations` a package rooted at this config directory's folder."""
    parent = sys.modules.get(CUSTOM_DIR)
    if parent is not None and _same_dir(parent, base):
        return
    for key in [k for k in sys.modules if k == CUSTOM_DIR or k.startswith(CUSTOM_DIR + ".")]:
        del sys.modules[key]
    spec = importlib.machinery.ModuleSpec(CUSTOM_DIR, None, is_package=True)
    spec.submodule_search_locations = [str(base)]
    module = importlib.util.module_from_spec(spec)
    sys.modules[CUSTOM_DIR] = module


# -- discovery index ----------------------------------------------------------------------


def discovery_index(integrations: Iterable[Integration] | Mapping[str, Integration]) -> dict[str, Any]:
    """Compile the zeroconf, bluetooth and WS-Discovery matchers of all manifests into one lookup."""
    values = integrations.values() if isinstance(integrations, Mapping) else integrations
    zeroconf: dict[str, list[dict[str, Any]]] = {}
    bluetooth: list[dict[str, Any]] = []
    wsdiscovery: list[dict[str, Any]] = []
    for integration in sorted(values, key=lambda i: i.domain):
        for matcher in integration.zeroconf:
            entry: dict[str, Any] = {"domain": integration.domain}
            entry.update({k: v for k, v in matcher.items() if k != "type"})
            zeroconf.setdefault(normalize_service_type(matcher["type"]), []).append(entry)
        for matcher in integration.bluetooth:
            bluetooth.append({"domain": integration.domain, **matcher})
        for matcher in integration.wsdiscovery:
            wsdiscovery.append({"domain": integration.domain, "types": tuple(matcher["types"])})
    return {"zeroconf": zeroconf, "bluetooth": bluetooth, "wsdiscovery": wsdiscovery}


def match_zeroconf(
    index: Mapping[str, Any], service_type: str, name: str, properties: Mapping[str, Any] | None = None
) -> list[str]:
    """Domains whose zeroconf matchers accept this service (name and property values are globs)."""
    props = {str(k).lower(): _text(v) for k, v in (properties or {}).items()}
    out: list[str] = []
    for entry in index.get("zeroconf", {}).get(normalize_service_type(service_type), ()):
        if "name" in entry and not fnmatch.fnmatchcase(name.lower(), entry["name"].lower()):
            continue
        if not all(_glob(props.get(key.lower()), glob) for key, glob in entry.get("properties", {}).items()):
            continue
        if entry["domain"] not in out:
            out.append(entry["domain"])
    return out


def match_bluetooth(
    index: Mapping[str, Any],
    service_uuids: Iterable[str] = (),
    service_data_uuids: Iterable[str] = (),
    manufacturer_ids: Iterable[int] = (),
    local_name: str | None = None,
) -> list[str]:
    """Domains with a bluetooth matcher whose every given field matches the advertisement."""
    uuids = {u.lower() for u in service_uuids}
    data_uuids = {u.lower() for u in service_data_uuids}
    manufacturers = set(manufacturer_ids)
    out: list[str] = []
    for entry in index.get("bluetooth", ()):
        if "service_uuid" in entry and entry["service_uuid"] not in uuids:
            continue
        if "service_data_uuid" in entry and entry["service_data_uuid"] not in data_uuids:
            continue
        if "manufacturer_id" in entry and entry["manufacturer_id"] not in manufacturers:
            continue
        if "local_name" in entry and (local_name is None or not fnmatch.fnmatchcase(local_name, entry["local_name"])):
            continue
        if entry["domain"] not in out:
            out.append(entry["domain"])
    return out


def match_wsdiscovery(index: Mapping[str, Any], types: Iterable[str]) -> list[str]:
    """Domains with a WS-Discovery matcher whose every type the device declared (`{namespace}Local` form)."""
    declared = set(types)
    out: list[str] = []
    for entry in index.get("wsdiscovery", ()):
        if all(t in declared for t in entry["types"]) and entry["domain"] not in out:
            out.append(entry["domain"])
    return out


def _glob(value: str | None, pattern: str) -> bool:
    """Case-insensitive glob match of a TXT property value; a missing property never matches."""
    return value is not None and fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
