"""`--separate-weights`: finding weight files and noticing when they changed.

A weight file is a file of at least 10 MB that is not code or media (Cog's rule), outside the
directories that never enter a context. They go into their own image, copied into the model
image before the dependencies, so a code change neither re-sends nor re-pushes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MIN_WEIGHT_SIZE = 10 * 1024 * 1024
NOT_WEIGHTS = frozenset(
    ".py .ipynb .whl .txt .md .yaml .yml .json .toml .cfg .log "
    ".jpg .jpeg .png .gif .bmp .webp .tif .tiff .svg "
    ".mp4 .mov .avi .mkv .webm .mp3 .wav .flac .ogg .m4a".split()
)


def find_weights(project_dir: Path, files: list[str], min_size: int = MIN_WEIGHT_SIZE) -> list[str]:
    """The files (relative posix paths, from a context listing) that count as weights."""
    weights = []
    for rel in files:
        path = project_dir / rel
        if path.suffix.lower() in NOT_WEIGHTS or path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size >= min_size:
            weights.append(rel)
    return weights


def weights_manifest(project_dir: Path, weights: list[str]) -> str:
    """A digest that changes when a weight file is added, removed, resized or rewritten.

    Size and modification time stand in for content: hashing gigabytes on every build would
    cost more than the build it saves.
    """
    entries = []
    for rel in sorted(weights):
        stat = (project_dir / rel).stat()
        entries.append([rel, stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()
