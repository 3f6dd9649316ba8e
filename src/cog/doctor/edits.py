"""Source edits at AST positions, applied back to front so earlier positions stay valid.

Positions are `ast`'s: 1-based lines, UTF-8 byte columns; edits work on the encoded text.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    replacement: str = ""


class Source:
    """A file's text with byte offsets for AST positions."""

    def __init__(self, text: str) -> None:
        self.data = text.encode()
        self.line_starts = [0]
        for index, byte in enumerate(self.data):
            if byte == 0x0A:
                self.line_starts.append(index + 1)

    def offset(self, line: int, column: int) -> int:
        return self.line_starts[line - 1] + column

    def node(self, node: ast.expr | ast.alias, replacement: str) -> Edit:
        """Replace exactly the node's text."""
        assert node.end_lineno is not None and node.end_col_offset is not None
        return Edit(
            self.offset(node.lineno, node.col_offset),
            self.offset(node.end_lineno, node.end_col_offset),
            replacement,
        )

    def lines(self, node: ast.stmt, replacement: str = "") -> Edit:
        """Replace the whole lines a statement spans (with their newline)."""
        end_line = node.end_lineno or node.lineno
        end = self.line_starts[end_line] if end_line < len(self.line_starts) else len(self.data)
        return Edit(self.line_starts[node.lineno - 1], end, replacement)

    def name_after(self, node: ast.stmt, keyword: str, name: str, replacement: str) -> Edit:
        """Replace the name a `class`/`def` statement defines (ast keeps no position for it)."""
        start = self.offset(node.lineno, node.col_offset)
        at = self.data.index(keyword.encode(), start) + len(keyword)
        at = self.data.index(name.encode(), at)
        return Edit(at, at + len(name.encode()), replacement)

    def apply(self, edits: list[Edit]) -> str:
        data = self.data
        for edit in sorted(edits, key=lambda e: e.start, reverse=True):
            data = data[: edit.start] + edit.replacement.encode() + data[edit.end :]
        return data.decode()


def referenced_names(tree: ast.Module) -> set[str]:
    """Every Name the module reads or writes outside import statements."""
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def from_import(module: str, names: list[str]) -> str:
    return f"from {module} import {', '.join(names)}\n"


def alias_text(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def insertion_line(tree: ast.Module) -> int:
    """The 0-based line a new import goes on: after the docstring and `__future__` imports."""
    line = 0
    for node in tree.body:
        is_docstring = (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if is_docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            line = node.end_lineno or node.lineno
            continue
        break
    return line
