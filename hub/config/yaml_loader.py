"""YAML loading that remembers where every key and item came from.

Mappings load as :class:`NodeDict`, sequences as :class:`NodeList` and strings as
:class:`NodeStr`; each carries the file (relative to the configuration directory) and
the line, so validation can point at the exact place of a mistake. Tags: ``!secret``,
``!include`` and ``!env_var``. Problems are collected, not raised one at a time, so
the user sees every missing secret and broken include in one pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ConfigError, ConfigErrors, did_you_mean

SECRETS_FILE = "secrets.yaml"
REDACTED = "**redacted**"

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class NodeStr(str):
    """A string that remembers the file and line it was read from."""

    file: str | None
    line: int | None

    def __new__(cls, value: str, file: str | None = None, line: int | None = None) -> NodeStr:
        obj = str.__new__(cls, value)
        obj.file = file
        obj.line = line
        return obj


class SecretStr(NodeStr):
    """A value read with ``!secret``: str() gives the value, repr() never does."""

    name: str | None

    def __new__(
        cls, value: str, file: str | None = None, line: int | None = None, name: str | None = None
    ) -> SecretStr:
        obj = str.__new__(cls, value)
        obj.file, obj.line, obj.name = file, line, name
        return obj

    def __repr__(self) -> str:
        return f"SecretStr({REDACTED!r})"

    def redacted(self) -> str:
        """Return the placeholder shown instead of the value."""
        return REDACTED


class NodeDict(dict[Any, Any]):
    """A mapping that remembers its file, its line and the line of each key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.file: str | None = None
        self.line: int | None = None
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        """Return the line of ``key``, or the mapping's own line if unknown."""
        return self.key_lines.get(key, self.line)


class NodeList(list[Any]):
    """A sequence that remembers its file, its line and the line of each item."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.file: str | None = None
        self.line: int | None = None
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int | None:
        """Return the line of item ``index``, or the sequence's own line if unknown."""
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def redacted(value: Any) -> Any:
    """Return a copy of ``value`` with every SecretStr replaced by a placeholder."""
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, Mapping):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redacted(item) for item in value]
    return value


class _Loader(yaml.SafeLoader):
    """SafeLoader that builds Node* containers and knows its load context."""

    def __init__(self, text: str, *, path: Path, label: str, context: _LoadContext) -> None:
        super().__init__(text)
        self.path = path
        self.label = label
        self.context = context


def _line(node: Node) -> int:
    """Return the 1-based line of ``node``."""
    return int(node.start_mark.line) + 1


# YAML 1.1 reads `10:30` as the base-60 integer 630 and `01000` as octal 512; a time
# of day or a Mexican postal code must stay a string, so only decimal, 0x and 0b
# integers (and plain decimal floats) are resolved implicitly.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?(?:0|[1-9][0-9_]*))$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _construct_mapping(loader: _Loader, node: MappingNode) -> NodeDict:
    """Build a NodeDict, reporting duplicate keys with both lines."""
    result = NodeDict()
    result.file, result.line = loader.label, _line(node)
    own_keys = {id(key_node) for key_node, _ in node.value if key_node.tag != _MERGE_TAG}
    loader.flatten_mapping(node)  # `<<: *anchor` merges; explicit keys override merged ones
    own_lines: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = _line(key_node)
        try:
            hash(key)
        except TypeError:
            loader.context.error(loader.label, line, "a key must be a plain value, not a list or mapping")
            continue
        if id(key_node) in own_keys:
            if key in own_lines:
                loader.context.error(
                    loader.label, line, f"duplicate key '{key}' (first on line {own_lines[key]}, again on line {line})"
                )
                continue
            own_lines[key] = line
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: SequenceNode) -> NodeList:
    """Build a NodeList with the line of every item."""
    result = NodeList()
    result.file, result.line = loader.label, _line(node)
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(_line(item))
    return result


def _construct_str(loader: _Loader, node: ScalarNode) -> NodeStr:
    """Build a NodeStr."""
    return NodeStr(loader.construct_scalar(node), loader.label, _line(node))


def _tag_argument(loader: _Loader, node: Node, tag: str) -> str | None:
    """Return the scalar argument of a tag, or record an error and return None."""
    text = loader.construct_scalar(node).strip() if isinstance(node, ScalarNode) else ""
    if not text:
        loader.context.error(loader.label, _line(node), f"{tag} needs an argument")
        return None
    return text


def _construct_secret(loader: _Loader, node: Node) -> SecretStr | None:
    """Resolve ``!secret NAME`` from secrets.yaml."""
    name = _tag_argument(loader, node, "!secret")
    if name is None:
        return None
    return loader.context.secret(name, loader.label, _line(node), loader.path)


def _construct_include(loader: _Loader, node: Node) -> Any:
    """Resolve ``!include FILE`` relative to the including file."""
    relative = _tag_argument(loader, node, "!include")
    if relative is None:
        return None
    return loader.context.include(loader.path.parent / relative, relative, loader.label, _line(node))


def _construct_env_var(loader: _Loader, node: Node) -> NodeStr | None:
    """Resolve ``!env_var NAME [default]``."""
    text = _tag_argument(loader, node, "!env_var")
    if text is None:
        return None
    name, _, default = text.partition(" ")
    value = loader.context.environ.get(name)
    if value is None and default.strip():
        value = default.strip()
    if value is None:
        loader.context.error(
            loader.label, _line(node), f"environment variable '{name}' is not set and has no default"
        )
        return None
    return NodeStr(value, loader.label, _line(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
class LoadFailed:
    """Stands where a !secret, !include or !env_var could not be resolved; its error is recorded.

    Keeping a marker in the tree (rather than failing the whole file) lets the hub drop only
    the top-level block that contains it and run every other block.
    """

    __slots__ = ("file", "line")

    def __init__(self, file: str | None, line: int | None) -> None:
        self.file = file
        self.line = line

    def __repr__(self) -> str:
        return "<not loaded>"


def _or_failed(construct: Callable[[_Loader, Node], Any]) -> Callable[[_Loader, Node], Any]:
    """Turn a tag constructor that recorded an error into a LoadFailed marker."""

    def wrapper(loader: _Loader, node: Node) -> Any:
        before = len(loader.context.errors)
        value = construct(loader, node)
        if len(loader.context.errors) > before:
            return LoadFailed(loader.label, _line(node))
        return value

    return wrapper


def first_failure(value: Any) -> LoadFailed | None:
    """The first LoadFailed marker inside a loaded value, or None."""
    if isinstance(value, LoadFailed):
        return value
    children: Any = ()
    if isinstance(value, dict):
        children = (x for kv in value.items() for x in kv)
    elif isinstance(value, list):
        children = value
    for child in children:
        found = first_failure(child)
        if found is not None:
            return found
    return None


def contains_failure(value: Any) -> bool:
    """Whether a loaded value holds a LoadFailed marker anywhere inside it."""
    return first_failure(value) is not None


_Loader.add_constructor("!secret", _or_failed(_construct_secret))
_Loader.add_constructor("!include", _or_failed(_construct_include))
_Loader.add_constructor("!env_var", _or_failed(_construct_env_var))

_BROKEN = object()  # secrets.yaml exists but could not be read: report that once, not per secret


class _LoadContext:
    """State shared by every file read in one load: errors, include stack, secrets."""

    def __init__(self, config_dir: Path, environ: Mapping[str, str] | None) -> None:
        self.config_dir = config_dir.resolve()
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.errors: list[ConfigError] = []
        self._stack: list[Path] = []
        self._secrets: Any = None
        self._secrets_loaded = False

    def error(self, file: str | None, line: int | None, message: str, column: int | None = None) -> None:
        """Record one problem and keep going."""
        self.errors.append(ConfigError(message, file=file, line=line, column=column))

    def label(self, path: Path) -> str:
        """Name ``path`` relative to the configuration directory when it lies inside it."""
        try:
            return path.resolve().relative_to(self.config_dir).as_posix()
        except ValueError:
            return str(path)

    def load_file(self, path: Path) -> Any:
        """Parse one file; return None (with errors recorded) when it cannot be read."""
        label = self.label(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.error(label, None, "file not found")
            return None
        except UnicodeDecodeError as exc:
            self.error(label, None, f"file is not valid UTF-8 (byte {exc.start})")
            return None
        except OSError as exc:
            self.error(label, None, f"cannot read file: {exc.strerror or exc}")
            return None
        self._stack.append(path.resolve())
        loader = _Loader(text, path=path, label=label, context=self)
        try:
            return loader.get_single_data()
        except yaml.MarkedYAMLError as exc:
            self._syntax_error(label, exc)
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            self.error(label, line, f"invalid YAML: unacceptable character #x{exc.character:04x}")
        finally:
            loader.dispose()
            self._stack.pop()
        return None

    def _syntax_error(self, label: str, exc: yaml.MarkedYAMLError) -> None:
        """Record a parser error with line, column and yaml's own wording."""
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.problem and exc.context:
            message += f" ({exc.context}"
            if exc.context_mark is not None and exc.context_mark is not mark:
                message += f" on line {exc.context_mark.line + 1}"
            message += ")"
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        self.error(label, line, message, column)

    def include(self, target: Path, relative: str, label: str, line: int) -> Any:
        """Load an included file, refusing loops and missing files."""
        resolved = target.resolve()
        if resolved in self._stack:
            chain = [self.label(p) for p in self._stack[self._stack.index(resolved):]] + [self.label(resolved)]
            self.error(label, line, f"include loop: {' -> '.join(chain)}")
            return None
        if not target.is_file():
            self.error(label, line, f"cannot include '{relative}': file not found")
            return None
        data = self.load_file(target)
        if data is None:
            data = NodeDict()
            data.file, data.line = self.label(target), 1
        return data

    def secret(self, name: str, label: str, line: int, requested_in: Path) -> SecretStr | None:
        """Look ``name`` up in secrets.yaml; never put a value in a message."""
        secrets_path = self.config_dir / SECRETS_FILE
        if requested_in.resolve() == secrets_path.resolve():
            self.error(label, line, f"secret '{name}': !secret cannot be used inside {SECRETS_FILE}")
            return None
        secrets = self._load_secrets(secrets_path)
        if secrets is None:
            self.error(label, line, f"secret '{name}' requested but {SECRETS_FILE} was not found")
            return None
        if secrets is _BROKEN:
            return None
        if name not in secrets:
            message = f"secret '{name}' is not defined in {SECRETS_FILE}"
            self.error(label, line, message + did_you_mean(name, (str(key) for key in secrets)))
            return None
        value = secrets[name]
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.error(label, line, f"secret '{name}' in {SECRETS_FILE} must be a string or a number")
            return None
        return SecretStr(str(value), label, line, name)

    def _load_secrets(self, secrets_path: Path) -> Any:
        """Read secrets.yaml once per load: a mapping, None when absent, or _BROKEN."""
        if self._secrets_loaded:
            return self._secrets
        self._secrets_loaded = True
        if not secrets_path.is_file():
            self._secrets = None
            return None
        before = len(self.errors)
        data = self.load_file(secrets_path)
        if data is None and len(self.errors) == before:
            data = NodeDict()
        if len(self.errors) > before:
            self._secrets = _BROKEN
        elif not isinstance(data, dict):
            self.error(self.label(secrets_path), 1, f"{SECRETS_FILE} must be a mapping of names to values")
            self._secrets = _BROKEN
        else:
            self._secrets = data
        return self._secrets


def load_yaml(path: Path | str, *, config_dir: Path | str, environ: Mapping[str, str] | None = None) -> NodeDict:
    """Load a configuration file whose top level is a mapping; raise ConfigErrors listing every problem."""
    data, errors = load_yaml_partial(path, config_dir=config_dir, environ=environ)
    if errors:
        raise ConfigErrors(errors)
    return data


def load_yaml_document(
    path: Path | str, *, config_dir: Path | str, environ: Mapping[str, str] | None = None
) -> tuple[Any, list[ConfigError]]:
    """Load a file whose top level may be anything (automations.yaml is a list).

    Returns (data, errors): data is None when the file could not be read or parsed; otherwise
    unresolved tags are LoadFailed markers, and `errors` lists them.
    """
    context = _LoadContext(Path(config_dir), environ)
    data = context.load_file(Path(path))
    return data, context.errors


def load_yaml_partial(
    path: Path | str, *, config_dir: Path | str, environ: Mapping[str, str] | None = None
) -> tuple[NodeDict, list[ConfigError]]:
    """Load like `load_yaml`, but keep what loaded: unresolved tags become LoadFailed markers.

    Raises ConfigErrors only when the file itself cannot be parsed into a mapping.
    """
    path = Path(path)
    context = _LoadContext(Path(config_dir), environ)
    data = context.load_file(path)
    if data is None and context.errors:
        raise ConfigErrors(context.errors)
    label = context.label(path)
    if data is None:
        empty = NodeDict()
        empty.file, empty.line = label, 1
        return empty, []
    if not isinstance(data, NodeDict):
        line = getattr(data, "line", 1)
        problem = ConfigError("the top level must be a mapping of names to settings", file=label, line=line)
        raise ConfigErrors([*context.errors, problem])
    return data, context.errors
