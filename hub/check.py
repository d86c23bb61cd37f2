"""Validating a configuration directory against the integrations it names.

Used by `hub check-config` and by the start sequence (from an executor: this reads files
and imports the configured integrations to get their CONFIG_SCHEMA).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .config import CONFIG_FILE, CORE_SCHEMAS, ConfigError, ConfigErrors, check_config, load_yaml_partial
from .config.yaml_loader import first_failure
from .loader import Discovery, config_schema, discover


@dataclass
class CheckResult:
    """Valid blocks, every error, and per-domain problems for the integration manager."""

    config: dict[str, Any] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)
    configured: set[str] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)


def validate_configuration(config_dir: Path, discovery: Discovery) -> CheckResult:
    """Load configuration.yaml, import the configured integrations' schemas, validate every block."""
    result = CheckResult()
    try:
        raw, load_errors = load_yaml_partial(config_dir / CONFIG_FILE, config_dir=config_dir)
    except ConfigErrors as err:
        result.errors = list(err.errors)
        return result
    schemas: dict[str, Any] = {}
    for key in raw:
        domain = str(key)
        if domain in CORE_SCHEMAS:
            continue
        integration = discovery.integrations.get(domain)
        if integration is None:
            if domain in discovery.errors():
                result.configured.add(domain)
                result.problems[domain] = discovery.errors()[domain]
            continue  # check_config reports unknown integrations with a suggestion
        result.configured.add(domain)
        try:
            schemas[domain] = config_schema(integration)
        except Exception as err:  # an integration that cannot even be imported fails alone
            message = f"integration could not be imported: {type(err).__name__}: {err}"
            result.errors.append(
                ConfigError(message, file=CONFIG_FILE, line=raw.key_lines.get(key), path=(domain,), domain=domain)
            )
            result.problems[domain] = message
    known = set(discovery.integrations) | set(discovery.errors())
    validated, errors = check_config(config_dir, schemas, known, loaded=(raw, load_errors))
    result.config = validated
    result.errors.extend(errors)
    for error in errors:
        head = error.path[0] if error.path else None
        if isinstance(head, str) and head in result.configured and head not in validated:
            result.problems.setdefault(head, f"invalid configuration: {error}")
    for domain in result.configured - set(validated) - set(result.problems):
        # Left out because a !secret, !include or !env_var in its block did not resolve.
        marker = first_failure(raw.get(domain))
        reason = next(
            (e for e in errors if marker is not None and (e.file, e.line) == (marker.file, marker.line)), None
        )
        result.problems[domain] = f"invalid configuration: {reason or 'its block could not be loaded'}"
    return result


def check_configuration(config_dir: Path) -> list[ConfigError]:
    """Every error of a configuration directory (for `hub check-config`)."""
    if not (config_dir / CONFIG_FILE).exists():
        return [ConfigError(f"{CONFIG_FILE} not found in {config_dir}", file=CONFIG_FILE)]
    errors = validate_configuration(config_dir, discover(config_dir)).errors
    # automations.yaml is read by the automation engine at start, not by the block validation above.
    from .automation.config import load_automations
    from .automation.template import TemplateEngine

    # Compiles only (syntax errors with their line); nothing is rendered, so no states are needed.
    engine = TemplateEngine(SimpleNamespace(states=None, clock=None, time_zone=None))
    return errors + load_automations(config_dir, engine=engine)[1]
