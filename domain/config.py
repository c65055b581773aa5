"""Reading an operator's YAML file so that every error names its file and line.

``compose(text, source, root, error)`` parses the text into a ``Node`` tree; a ``Node`` checks
the shape of its value (``mapping``, ``require``, ``items``, ``text``, ``number``, ``level``,
``words``) and raises ``error`` with ``source:line: path: what is wrong``.  The risk policy and
the alert routing are read this way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LEVELS = ("red", "orange", "yellow", "blue")


class ConfigError(ValueError):
    """A configuration file is not valid; the message names the file and line."""


def read(path: str | Path | None, default: Path, error: type[ConfigError]) -> tuple[str, str]:
    """(text, source) of a configuration file: ``path``, or the packaged ``default``."""
    file = Path(path) if path else default
    try:
        return file.read_text(encoding="utf-8"), str(file)
    except OSError as exc:
        raise error(f"{file}: cannot read: {exc.strerror}") from None


def compose(text: str, source: str, root: str, error: type[ConfigError] = ConfigError) -> Node:
    """The root node of a YAML text (not valid YAML or empty: ``error`` with the line)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise error(f"{source}{line}: not valid YAML: {exc}") from None
    if node is None:
        raise error(f"{source}: empty")
    return Node(node, root, source, error)


class Node:
    """A YAML node with its place in the file, for messages that name the line."""

    def __init__(
        self, node: yaml.Node, path: str, source: str, error: type[ConfigError] = ConfigError
    ) -> None:
        self.node, self.path, self.source, self.error = node, path, source, error

    def _child(self, node: yaml.Node, path: str) -> Node:
        return Node(node, path, self.source, self.error)

    @property
    def is_scalar(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode)

    def fail(self, message: str) -> ConfigError:
        line = self.node.start_mark.line + 1
        return self.error(f"{self.source}:{line}: {self.path}: {message}")

    def mapping(self, keys: tuple[str, ...] | None = None) -> dict[str, Node]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail("expected a mapping")
        out: dict[str, Node] = {}
        for k, v in self.node.value:
            name = str(k.value)
            if keys is not None and name not in keys:
                raise self._child(k, f"{self.path}.{name}").fail(
                    f"unknown key (expected one of: {', '.join(keys)})"
                )
            out[name] = self._child(v, f"{self.path}.{name}")
        return out

    def require(self, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Node]:
        found = self.mapping(keys + optional)
        missing = [k for k in keys if k not in found]
        if missing:
            raise self.fail(f"missing {', '.join(missing)}")
        return found

    def items(self) -> list[Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("expected a list")
        return [self._child(v, f"{self.path}[{i}]") for i, v in enumerate(self.node.value)]

    def scalar(self) -> Any:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.fail("expected a single value")
        return yaml.safe_load(yaml.serialize(self.node))

    def text(self) -> str:
        value = self.scalar()
        if not isinstance(value, str) or not value.strip():
            raise self.fail("expected text")
        return value

    def number(self, low: float, high: float, integer: bool = False) -> float:
        value = self.scalar()
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not low <= value <= high:
            kind = "a whole number" if integer else "a number"
            raise self.fail(f"expected {kind} from {low:g} to {high:g}, got {value!r}")
        return value

    def level(self) -> str | None:
        value = self.scalar()
        if value is not None and value not in LEVELS[:3]:
            raise self.fail(f"expected red, orange, yellow or null, got {value!r}")
        return value

    def words(self) -> tuple[str, ...]:
        out = tuple(w.text() for w in self.items())
        if not out:
            raise self.fail("expected at least one word")
        return out
