"""Run voluptuous schemas on annotated YAML and turn failures into located ConfigErrors."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import voluptuous as vol

from .errors import ConfigError, ConfigErrors, PathElement, did_you_mean
from .yaml_loader import REDACTED, NodeDict, NodeList, SecretStr

_MISSING = object()

# voluptuous wording -> the wording a resident editing YAML understands.
_REWORDED = {
    "expected a dictionary": "expected a mapping",
    "expected dict": "expected a mapping",
    "not a valid value": "invalid value",
}
_NO_GOT = ("required key not provided", "unknown key")


def validate(
    domain: str | None,
    schema: Any,
    data: Any,
    *,
    file: str | None = None,
    line: int | None = None,
) -> Any:
    """Validate ``data`` with ``schema``; raise ConfigErrors with one located error per problem.

    ``file``/``line`` locate the block itself (the line of its top-level key) and are
    used when a problem has no deeper position, such as a missing required key.
    """
    original = schema if isinstance(schema, vol.Schema) else vol.Schema(schema)
    compiled = _exhaustive(original)
    secrets = sorted({str(s) for s in _secrets(data) if str(s)}, key=len, reverse=True)
    try:
        return compiled(data)
    except vol.Invalid as exc:
        raw = list(_flatten(exc))
    except Exception as exc:  # noqa: BLE001 - a buggy validator must fail its block, not the hub
        message = _scrub(f"the schema itself failed ({type(exc).__name__}: {exc})", secrets)
        raise ConfigErrors(
            [ConfigError(message, file=file, line=line, path=(domain,) if domain else (), domain=domain)]
        ) from exc
    errors = [_convert(domain, original, data, err, file, line, secrets) for err in raw]
    errors.sort(key=lambda error: (error.file != file, error.line or 0))
    raise ConfigErrors(errors)


class _EachItem:
    """List-of-one-schema validator that reports every failing item, not just the first."""

    def __init__(self, item: Any) -> None:
        self.item = item

    def __voluptuous_compile__(self, schema: vol.Schema) -> Any:
        # Compiled by the enclosing Schema so nested dicts inherit its extra/required settings.
        validate_item = schema._compile(self.item)

        def validate_each(path: list[Any], data: Any) -> Any:
            if not isinstance(data, list):
                raise vol.SequenceTypeInvalid("expected a list", path)
            out: list[Any] = []
            errors: list[vol.Invalid] = []
            for index, value in enumerate(data):
                try:
                    result = validate_item([*path, index], value)
                except vol.MultipleInvalid as exc:
                    errors.extend(exc.errors)
                except vol.Invalid as exc:
                    errors.append(exc)
                else:
                    if result is not vol.Remove:
                        out.append(result)
            if errors:
                raise vol.MultipleInvalid(errors)
            return type(data)(out)

        return validate_each


def _exhaustive(node: Any) -> Any:
    """Rebuild a schema so lists report all failing items (voluptuous stops a list at the first)."""
    if type(node) is vol.Schema:
        return vol.Schema(_exhaustive(node.schema), required=node.required, extra=node.extra)
    if type(node) is dict:
        return {key: _exhaustive(value) for key, value in node.items()}
    if type(node) is list:
        return _EachItem(_exhaustive(node[0])) if len(node) == 1 else [_exhaustive(item) for item in node]
    validators = getattr(node, "validators", None)
    if hasattr(node, "__voluptuous_compile__") and isinstance(validators, (list, tuple)):
        clone = copy.copy(node)  # All/Any/Union: same options, rebuilt sub-validators
        clone.validators = type(validators)(_exhaustive(inner) for inner in validators)
        return clone
    return node


def _flatten(exc: vol.Invalid) -> Iterator[vol.Invalid]:
    """Yield the leaf errors of a possibly nested MultipleInvalid."""
    if isinstance(exc, vol.MultipleInvalid):
        for inner in exc.errors:
            yield from _flatten(inner)
    else:
        yield exc


def _secrets(data: Any) -> Iterator[SecretStr]:
    """Yield every SecretStr inside ``data``."""
    if isinstance(data, SecretStr):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _secrets(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            yield from _secrets(value)


def _scrub(message: str, secrets: Sequence[str]) -> str:
    """Replace any secret value that a validator may have echoed."""
    for secret in secrets:
        message = message.replace(secret, REDACTED)
    return message


def _convert(
    domain: str | None,
    schema: vol.Schema,
    data: Any,
    err: vol.Invalid,
    file: str | None,
    line: int | None,
    secrets: Sequence[str],
) -> ConfigError:
    """Build one ConfigError from one voluptuous error."""
    raw_path = [element.schema if isinstance(element, vol.Marker) else element for element in err.path]
    path, (err_file, err_line), value = _locate(data, raw_path, file, line)
    message = err.error_message
    if message == "extra keys not allowed":
        message = "unknown key"
        if raw_path:
            message += did_you_mean(str(raw_path[-1]), _schema_keys(schema.schema, raw_path[:-1]))
    else:
        message = _REWORDED.get(message, message)
        if value is not _MISSING and not message.startswith(_NO_GOT) and "got " not in message:
            head, hint, tail = message.partition(" (did you mean")
            message = f"{head}, got {_describe(value)}{hint}{tail}"
    full_path: tuple[PathElement, ...] = ((domain,) if domain else ()) + tuple(path)
    return ConfigError(_scrub(message, secrets), file=err_file, line=err_line, path=full_path, domain=domain)


def _locate(
    data: Any, raw_path: list[Any], file: str | None, line: int | None
) -> tuple[list[PathElement], tuple[str | None, int | None], Any]:
    """Walk ``data`` along the path: rendered path, deepest known (file, line), value or _MISSING."""
    if file is None and isinstance(data, (NodeDict, NodeList)):
        file, line = data.file, data.line
    where = (file, line)
    node: Any = data
    path: list[PathElement] = []
    for position, element in enumerate(raw_path):
        if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            if isinstance(node, NodeList):
                where = (node.file, node.line_of(element))
            path.append(element)
            node = node[element]
        elif isinstance(node, dict) and _has_key(node, element):
            if isinstance(node, NodeDict):
                where = (node.file, node.key_lines.get(element, node.line))
            path.append(str(element))
            node = node[element]
        else:
            path.extend(e if isinstance(e, int) and not isinstance(e, bool) else str(e) for e in raw_path[position:])
            return path, where, _MISSING
    return path, where, node


def _has_key(mapping: dict[Any, Any], key: Any) -> bool:
    """Return whether ``key`` is in ``mapping``, tolerating unhashable keys."""
    try:
        return key in mapping
    except TypeError:
        return False


def _describe(value: Any) -> str:
    """Describe an offending value briefly, never revealing a secret."""
    if isinstance(value, SecretStr):
        return f"!secret {value.name}" if value.name else REDACTED
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(str(value))
    return repr(value)


def _sub_schemas(node: Any) -> list[Any]:
    """Unwrap Schema/All/Any wrappers into the plain schemas they combine."""
    if isinstance(node, vol.Schema):
        return _sub_schemas(node.schema)
    validators = getattr(node, "validators", None)
    if isinstance(validators, (list, tuple)):
        return [leaf for inner in validators for leaf in _sub_schemas(inner)]
    return [node]


def _schema_keys(schema: Any, path: list[Any]) -> list[str]:
    """Best effort: the string keys a schema accepts at ``path`` (for did-you-mean)."""
    nodes = [schema]
    for element in path:
        following: list[Any] = []
        for leaf in (leaf for node in nodes for leaf in _sub_schemas(node)):
            if isinstance(leaf, dict):
                for key, value in leaf.items():
                    if (key.schema if isinstance(key, vol.Marker) else key) == element:
                        following.append(value)
            elif isinstance(leaf, list) and isinstance(element, int):
                following.extend(leaf)
        nodes = following
    keys: list[str] = []
    for leaf in (leaf for node in nodes for leaf in _sub_schemas(node)):
        if isinstance(leaf, dict):
            for key in leaf:
                name = key.schema if isinstance(key, vol.Marker) else key
                if isinstance(name, str) and name not in keys:
                    keys.append(name)
    return keys
