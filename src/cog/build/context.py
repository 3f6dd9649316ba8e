"""The build context pycog streams to the engine as a tar archive.

Layout (see `cog.build.dockerfile`):

    Dockerfile
    .cog_build/…     files generated for this build (requirements, schema, pycog wheel)
    project/…        the project, minus .dockerignore'd files and what never belongs in an image

Streaming our own archive, rather than pointing the engine at the project directory, keeps the
staging files out of `/src` without needing `docker buildx` named contexts.
"""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .dockerfile import PROJECT_DIR, STAGING_DIR, WEIGHTS_DIR


@dataclass
class BuildContext:
    """Files of one build: generated ones in memory or on disk, plus project files."""

    dockerfile: str
    staged: dict[str, bytes | Path] = field(default_factory=dict)  # path under .cog_build/
    project_dir: Path | None = None
    project_files: list[str] = field(default_factory=list)
    project_prefix: str = PROJECT_DIR

    def write(self, fileobj: IO[bytes]) -> None:
        """Write the context as an uncompressed tar stream (the engine reads it as it comes)."""
        with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "Dockerfile", self.dockerfile.encode())
            for name, content in sorted(self.staged.items()):
                arcname = f"{STAGING_DIR}/{name}"
                if isinstance(content, Path):
                    _add_path(tar, content, arcname)
                else:
                    _add_bytes(tar, arcname, content)
            if self.project_dir is not None:
                for rel in self.project_files:
                    prefix = f"{self.project_prefix}/" if self.project_prefix else ""
                    _add_path(tar, self.project_dir / rel, prefix + rel)

    def size(self) -> int:
        """Bytes of file content the context carries (for progress messages)."""
        total = len(self.dockerfile)
        for content in self.staged.values():
            total += content.stat().st_size if isinstance(content, Path) else len(content)
        if self.project_dir is not None:
            for rel in self.project_files:
                total += (self.project_dir / rel).lstat().st_size
        return total


def weights_context(dockerfile: str, project_dir: Path, files: list[str]) -> BuildContext:
    """The context of a `--separate-weights` image: the weight files under `weights/`."""
    return BuildContext(
        dockerfile=dockerfile,
        project_dir=project_dir,
        project_files=files,
        project_prefix=WEIGHTS_DIR,
    )


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Ownership of the build user means nothing in the image; root owns /src as in Cog.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_bytes(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(_normalise(info), io.BytesIO(data))


def _add_path(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    info = _normalise(tar.gettarinfo(os.fspath(path), arcname))
    if info.isreg():
        with open(path, "rb") as handle:
            tar.addfile(info, handle)
    else:
        tar.addfile(info)
