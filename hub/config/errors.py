"""Configuration errors: every one names the file, the line and the key path.

Error tree::

    ConfigError            one problem at one place (permanent: the user must edit a file)
    ConfigErrors           every problem found in one pass, so the user fixes them all at once
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

PathElement = str | int


def format_path(path: Sequence[PathElement]) -> str:
    """Render a key path as ``a -> b[0] -> c``."""
    text = ""
    for element in path:
        if isinstance(element, int) and not isinstance(element, bool):
            text += f"[{element}]"
        else:
            text += f" -> {element}" if text else str(element)
    return text


class ConfigError(Exception):
    """One configuration problem, located by file, line and key path."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: Iterable[PathElement] = (),
        domain: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        # Only YAML syntax errors know a column; validation errors point at a key's line.
        self.column = column
        self.path: tuple[PathElement, ...] = tuple(path)
        self.domain = domain
        super().__init__(message)

    @property
    def location(self) -> str:
        """Return ``file:line[:column]`` (or less when unknown)."""
        parts = [self.file or "<unknown>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        prefix = self.location
        if self.path:
            prefix += f": {format_path(self.path)}"
        return f"{prefix}: {self.message}"

    def __repr__(self) -> str:
        return f"ConfigError({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigError):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        return (self.message, self.file, self.line, self.column, self.path, self.domain)


class ConfigErrors(Exception):
    """Every configuration problem found in one pass."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors: list[ConfigError] = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)

    def __repr__(self) -> str:
        return f"ConfigErrors({len(self.errors)} errors)"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(word, [str(c) for c in candidates], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
