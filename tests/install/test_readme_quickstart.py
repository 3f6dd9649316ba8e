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

    def run(
        self, script: str, uid: int = 0, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
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
    made = subprocess.run([str(STOCK_ROOTFS), "make"], capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stderr
    return Path(made.stdout.strip())


@pytest.fixture
def stock_root(tmp_path: Path) -> Iterator[StockRoot]:
    """A fresh stock root with a clone of the checkout, owned by nobody (so that an unprivileged
    user can try script/setup in it too)."""
    tarball = _stock_tarball()
    root = tmp_path / "root"
    root.mkdir()
    checkout = "/srv/pycog"
    # In memory: unpacking is quicker, and removing the tree (a venv and caches: tens of
    # thousands of files) is one umount instead of a minute of unlinking on a busy disk.
    in_memory = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6g,mode=755", "pycog-stock-root", str(root)],
        capture_output=True,
        timeout=30,
    )
    try:
        subprocess.run(["tar", "-C", str(root), "-xf", str(tarball)], check=True, timeout=300)
        target = root / checkout.lstrip("/")
        subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=120)
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(target)], check=True)
        yield StockRoot(root, checkout)
    finally:
        # The namespaces are gone, and their mounts with them: only plain files remain.
        if in_memory.returncode == 0:
            subprocess.run(["umount", "--lazy", str(root)], check=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.timeout(900)
def test_the_readme_first_command_predicts_on_a_stock_debian(stock_root: StockRoot) -> None:
    # Without root, script/setup cannot install python3-venv: it names the command and stops.
    unprivileged = stock_root.run(f"cd {stock_root.checkout} && script/setup", uid=NOBODY)
    assert unprivileged.returncode == 1, unprivileged.stdout + unprivileged.stderr
    assert "sudo apt-get install -y python3-venv" in unprivileged.stderr
    # As root, the README's first command, verbatim, does everything and predicts.
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
