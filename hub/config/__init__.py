"""Configuration: YAML with file:line in every error, secrets, shared schema pieces.

Everything here does blocking file I/O; the runtime calls it from an executor.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from .core_schema import CORE_SCHEMAS
from .default_config import DEFAULT_CONFIGURATION, DEFAULT_SECRETS
from .errors import ConfigError, ConfigErrors, did_you_mean, format_path
from .validation import validate
from .yaml_loader import (
    REDACTED,
    SECRETS_FILE,
    NodeDict,
    NodeList,
    NodeStr,
    SecretStr,
    contains_failure,
    load_yaml,
    load_yaml_partial,
    redacted,
)

CONFIG_FILE = "configuration.yaml"

__all__ = [
    "CONFIG_FILE",
    "CORE_SCHEMAS",
    "REDACTED",
    "SECRETS_FILE",
    "ConfigError",
    "ConfigErrors",
    "NodeDict",
    "NodeList",
    "NodeStr",
    "SecretStr",
    "check_config",
    "format_path",
    "load_configuration",
    "load_yaml",
    "redacted",
    "validate",
    "write_default_config",
]


def load_configuration(config_dir: Path | str, *, environ: Mapping[str, str] | None = None) -> NodeDict:
    """Read <config_dir>/configuration.yaml with its includes and secrets; raise ConfigErrors."""
    return load_yaml(Path(config_dir) / CONFIG_FILE, config_dir=config_dir, environ=environ)


def check_config(
    config_dir: Path | str,
    integration_schemas: Mapping[str, Any],
    known_domains: Collection[str],
    *,
    environ: Mapping[str, str] | None = None,
    loaded: tuple[NodeDict, list[ConfigError]] | None = None,
) -> tuple[dict[str, Any], list[ConfigError]]:
    """Load and validate every block; return the valid blocks and every error found.

    `loaded` is what `load_yaml_partial` already returned for this directory (the start
    sequence reads the file once to learn which integrations to import, then validates).

    Core blocks that are absent are returned with their defaults. A block that fails
    is left out of the result; the others are kept. An integration whose schema is
    None accepts any mapping.
    """
    if loaded is None:
        try:
            loaded = load_yaml_partial(Path(config_dir) / CONFIG_FILE, config_dir=config_dir, environ=environ)
        except ConfigErrors as exc:
            return {}, exc.errors
    config, load_errors = loaded
    known = {*known_domains, *integration_schemas}
    validated: dict[str, Any] = {}
    errors: list[ConfigError] = list(load_errors)
    for key, block in config.items():
        name, line = str(key), config.key_lines.get(key)
        if contains_failure(block):
            continue  # a secret, include or variable in it did not resolve: already reported
        if not isinstance(key, str) or (name not in CORE_SCHEMAS and name not in known):
            suggestion = did_you_mean(name, [*CORE_SCHEMAS, *sorted(known)])
            errors.append(
                ConfigError(
                    f"unknown integration '{name}'{suggestion}", file=config.file, line=line, path=(name,), domain=name
                )
            )
            continue
        schema = CORE_SCHEMAS[name] if name in CORE_SCHEMAS else integration_schemas.get(name)
        try:
            validated[name] = _validate_block(name, schema, block, config.file, line)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
    for name, schema in CORE_SCHEMAS.items():
        if name not in config:
            validated[name] = schema({})
    return validated, errors


def _validate_block(name: str, schema: Any, block: Any, file: str | None, line: int | None) -> Any:
    """Validate one top-level block; an empty block counts as an empty mapping."""
    if block is None:
        block = NodeDict()
        block.file, block.line = file, line
    if schema is None:
        if not isinstance(block, dict):
            kind = "a list" if isinstance(block, list) else repr(block)
            raise ConfigErrors(
                [ConfigError(f"expected a mapping, got {kind}", file=file, line=line, path=(name,), domain=name)]
            )
        return block
    return validate(name, schema, block, file=file, line=line)


def write_default_config(config_dir: Path | str) -> bool:
    """Write a commented configuration.yaml (and secrets.yaml) unless one exists; True if written."""
    directory = Path(config_dir)
    directory.mkdir(parents=True, exist_ok=True)
    if not _create(directory / CONFIG_FILE, DEFAULT_CONFIGURATION, mode=0o644):
        return False
    _create(directory / SECRETS_FILE, DEFAULT_SECRETS, mode=0o600)
    return True


def _create(target: Path, text: str, *, mode: int) -> bool:
    """Create ``target`` with ``text`` atomically; never overwrite: False if it already exists."""
    if target.exists():
        return False
    # Write a temporary file and hard-link it into place: readers never see a half-written
    # file, and link() fails instead of clobbering a file that appeared meanwhile.
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.link(temp, target)
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)
    return True
