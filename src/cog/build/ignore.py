"""`.dockerignore` semantics, and what never enters a build context.

Patterns follow Docker's rules: paths are relative to the context root (a leading `/` is
dropped), `*` and `?` stay within one path segment, `**` spans any number of segments, a
pattern that matches a directory excludes everything under it, `!pattern` re-includes, and the
last matching pattern wins.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

# Never sent to the engine, whatever .dockerignore says: version control, pycog's own state,
# caches and virtual environments (also recognised by their pyvenv.cfg, whatever their name).
ALWAYS_EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".cog",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".ipynb_checkpoints",
    }
)
ALWAYS_EXCLUDED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    negated: bool


def _translate(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            # `**/` matches zero or more directories; a trailing `**` matches everything.
            if pattern.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
            else:
                out.append(".*")
                i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append(pattern[i : end + 1].replace("[!", "[^"))
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def parse_dockerignore(text: str) -> list[Pattern]:
    """The patterns of a .dockerignore file, comments and blank lines removed."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated:
            line = line[1:].strip()
        line = posixpath.normpath(line.lstrip("/"))
        if line in ("", "."):
            continue
        patterns.append(Pattern(_translate(line), negated))
    return patterns


class IgnoreRules:
    """Decides which project files go into a build context."""

    def __init__(self, patterns: list[Pattern], extra_excluded: frozenset[str] = frozenset()):
        self.patterns = patterns
        self.extra_excluded = extra_excluded  # exact relative paths (e.g. separate weights)

    @classmethod
    def for_project(cls, project_dir: Path) -> IgnoreRules:
        path = project_dir / ".dockerignore"
        return cls(parse_dockerignore(path.read_text()) if path.is_file() else [])

    def excluded(self, relpath: str) -> bool:
        """Whether a file (or directory) at `relpath` (posix, relative) stays out."""
        parts = relpath.split("/")
        if any(part in ALWAYS_EXCLUDED_DIRS for part in parts[:-1]) or parts[-1] in (
            ALWAYS_EXCLUDED_DIRS
        ):
            return True
        if relpath.endswith(ALWAYS_EXCLUDED_SUFFIXES) or relpath in self.extra_excluded:
            return True
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for pattern in self.patterns:
            if any(pattern.regex.match(prefix) for prefix in prefixes):
                result = not pattern.negated
        return result

    def can_prune(self, relpath: str) -> bool:
        """Whether a directory can be skipped whole (no `!` pattern could re-include below)."""
        if relpath.split("/")[-1] in ALWAYS_EXCLUDED_DIRS:
            return True
        return self.excluded(relpath) and not any(p.negated for p in self.patterns)


def is_virtualenv(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


def context_files(project_dir: Path, rules: IgnoreRules) -> list[str]:
    """Relative posix paths of the files (and symlinks) of the project that enter the context."""
    found: list[str] = []
    for root, dirs, files in os.walk(project_dir):
        rel_root = os.path.relpath(root, project_dir)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/")
        kept = []
        for name in sorted(dirs):
            rel = f"{rel_root}/{name}" if rel_root else name
            full = os.path.join(root, name)
            if os.path.islink(full):
                if not rules.excluded(rel):
                    found.append(rel)
            elif not (rules.can_prune(rel) or is_virtualenv(full)):
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            rel = f"{rel_root}/{name}" if rel_root else name
            if not rules.excluded(rel):
                found.append(rel)
    return found
