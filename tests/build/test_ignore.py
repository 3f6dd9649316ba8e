"""Which project files enter a build context."""

from __future__ import annotations

from pathlib import Path

from cog.build.ignore import IgnoreRules, context_files, parse_dockerignore


def write(root: Path, rel: str, content: str = "x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


def test_dockerignore_patterns_exceptions_and_always_excluded(tmp_path: Path) -> None:
    for rel in [
        "predict.py",
        "cog.yaml",
        "data/a.csv",
        "data/keep.csv",
        "notes/x.md",
        "sub/notes/y.md",
        "logs/today.log",
        "deep/a/b/c.tmp",
        ".git/HEAD",
        ".cog/openapi_schema.json",
        "pkg/__pycache__/m.cpython-311.pyc",
        "pkg/m.py",
        ".venv/bin/python",
        "env2/pyvenv.cfg",
        "env2/lib/site.py",
        ".mypy_cache/x",
        "pkg/stale.pyc",
    ]:
        write(tmp_path, rel)
    (tmp_path / ".dockerignore").write_text(
        "# comment\n/data\n!data/keep.csv\nnotes\n**/*.tmp\nlogs/*.log\n"
    )
    files = context_files(tmp_path, IgnoreRules.for_project(tmp_path))
    assert set(files) == {
        ".dockerignore",
        "cog.yaml",
        "predict.py",
        "data/keep.csv",
        "sub/notes/y.md",
        "pkg/m.py",
    }


def test_pattern_semantics() -> None:
    rules = IgnoreRules(parse_dockerignore("*.bin\n**/cache\na?c\n[xy].txt\n"))
    assert rules.excluded("w.bin") and not rules.excluded("dir/w.bin")  # `*` stays at root
    assert rules.excluded("cache/f") and rules.excluded("x/y/cache/f")
    assert rules.excluded("abc") and not rules.excluded("abbc")
    assert rules.excluded("x.txt") and not rules.excluded("z.txt")
