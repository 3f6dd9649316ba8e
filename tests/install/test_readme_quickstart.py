"""The README's first command, verbatim, on a stock Debian 12 root (python3 and git only).

The root is the test base image's debootstrapped bookworm made stock again (no pip, no venv,
PEP 668 in force: script/lib/stock-rootfs), unpacked afresh for each test, with a clean clone
of this checkout in it; commands run chrooted in private mount and pid namespaces.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.install, pytest.mark.slow]

STOCK_ROOTFS = ROOT / "script" / "lib" / "stock-rootfs"
BASE_TARBALL = ROOT / ".cache" / "base-images" / "bookworm-python.tar"
NOBODY = 65534


def readme_first_command() -> str:
    """The first line of the Quickstart's shell block in README.md."""
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```sh\n(.*?)```", quickstart, re.DOTALL)
    assert block is not None, "README.md's Quickstart has no ```sh block"
    return block[1].splitlines()[0]


@dataclass(frozen=True)
class StockRoot:
    """A fresh stock Debian root with a clone of the checkout at `checkout` (a path inside)."""

    path: Path
    checkout: str

    def run(self, script: str, uid: int = 0, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        home = "/root" if uid == 0 else "/tmp"
        return subprocess.run(
            [str(STOCK_ROOTFS), "enter", str(self.path), str(uid), home, script],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def _stock_tarball() -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot and namespaces)")
    for tool in ("unshare", "chroot", "git", "tar"):
        if shutil.which(tool) is None:
            pytest.skip(f"no {tool} on this machine")
    if not BASE_TARBALL.is_file():
        pytest.skip(f"no {BASE_TARBALL} (script/lib/base-images makes it; script/test runs it)")
    made = subprocess.run(
        [str(STOCK_ROOTFS), "make"], capture_output=True, text=True, timeout=900
    )
    assert made.returncode == 0, made.stderr
    return Path(made.stdout.strip())


def _stock_root(tmp_path: Path, checkout: str, owner: int) -> Iterator[StockRoot]:
    tarball = _stock_tarball()
    root = tmp_path / "root"
    root.mkdir()
    try:
        subprocess.run(["tar", "-C", str(root), "-xf", str(tarball)], check=True, timeout=300)
        target = root / checkout.lstrip("/")
        subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=120)
        if owner != 0:
            subprocess.run(["chown", "-R", f"{owner}:{owner}", str(target)], check=True)
        yield StockRoot(root, checkout)
    finally:
        # The namespaces are gone, and their mounts with them: only plain files remain.
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stock_root(tmp_path: Path) -> Iterator[StockRoot]:
    yield from _stock_root(tmp_path, "/root/pycog", owner=0)


@pytest.fixture
def stock_root_for_nobody(tmp_path: Path) -> Iterator[StockRoot]:
    yield from _stock_root(tmp_path, "/tmp/pycog", owner=NOBODY)


@pytest.mark.timeout(900)
def test_the_readme_first_command_predicts_on_a_stock_debian(stock_root: StockRoot) -> None:
    command = readme_first_command()
    result = stock_root.run(f"cd {stock_root.checkout} && {command}")
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    assert "Hello, World!" in result.stdout
    # The system Python was left as it was: still no pip, still externally managed.
    after = stock_root.run(
        "! python3 -m pip --version 2>/dev/null && ls /usr/lib/python3.*/EXTERNALLY-MANAGED"
    )
    assert after.returncode == 0, after.stdout + after.stderr
    assert (stock_root.path / stock_root.checkout.lstrip("/") / ".venv" / "bin" / "cog").exists()


@pytest.mark.timeout(300)
def test_setup_without_root_names_the_package_to_install(stock_root_for_nobody: StockRoot) -> None:
    result = stock_root_for_nobody.run(f"cd {stock_root_for_nobody.checkout} && script/setup", uid=NOBODY)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sudo apt-get install -y python3-venv" in result.stderr
