"""Read a YAML document together with the line of every key, for precise error messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Problem

KeyPath = tuple[str | int, ...]


@dataclass
class Document:
    """A parsed YAML document: its value, the 1-based line of each key path, and duplicates."""

    value: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    duplicates: list[tuple[KeyPath, int]] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def parse(text: str) -> Document:
    """Parse YAML text; a syntax error becomes a ConfigError-ready Problem via `YamlSyntaxError`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        detail = exc.problem or str(exc)
        raise YamlSyntaxError(Problem("", f"invalid YAML: {detail}", line)) from None
    finally:
        loader.dispose()
    document = Document(value)
    if node is not None:
        document.lines[()] = node.start_mark.line + 1
        for path, line, duplicate in _walk(node, ()):
            if duplicate:
                document.duplicates.append((path, line))
            else:
                document.lines.setdefault(path, line)
    return document


def _walk(node: yaml.Node, path: KeyPath) -> Iterator[tuple[KeyPath, int, bool]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            yield child, key_node.start_mark.line + 1, key in seen
            seen.add(key)
            yield from _walk(value_node, child)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            yield child, item.start_mark.line + 1, False
            yield from _walk(item, child)


class YamlSyntaxError(Exception):
    """The text is not YAML; carries the Problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem
