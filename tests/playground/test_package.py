"""The page ships in the wheel, whole: every asset from the package, nothing from a CDN."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "cog" / "playground" / "static"
# What the page loads from outside the package, written as an attribute, an import or a CSS url.
REMOTE_ASSET = re.compile(
    r"""(src|href)=["']?(https?:)?//|from\s+["'](https?:)?//|url\(\s*["']?(https?:)?//|@import"""
)
PAGE_BUDGET_BYTES = 60_000  # the page is small on purpose; a framework would blow this


def assets() -> list[Path]:
    return sorted(path for path in STATIC.rglob("*") if path.is_file())


def test_the_page_loads_nothing_from_outside_the_package() -> None:
    for path in assets():
        text = path.read_text()
        assert not REMOTE_ASSET.search(text), f"{path.name} loads a remote asset"
        for imported in re.findall(r"""from\s+["'](\./[^"']+)["']""", text):
            assert (path.parent / imported).is_file(), f"{path.name} imports missing {imported}"


def test_the_page_is_small() -> None:
    size = sum(path.stat().st_size for path in assets())
    assert size < PAGE_BUDGET_BYTES, f"the page's assets are {size} bytes"


@pytest.mark.slow
def test_the_wheel_holds_every_asset(tmp_path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(tmp_path),
        str(ROOT),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("pycog-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"cog/playground/{path.relative_to(STATIC.parent)}" for path in assets()}
    assert expected <= names, expected - names
    assert {"cog/playground/static/index.html", "cog/playground/static/js/main.js"} <= names
