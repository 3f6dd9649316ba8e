"""`pget multifile` manifests: one `URL DEST` pair per line."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import ManifestError

log = logging.getLogger("pget")


@dataclass(frozen=True)
class Entry:
    url: str
    dest: Path


def parse_manifest(text: str) -> list[Entry]:
    """Entries in order; blank lines skipped, repeats of the same pair dropped with a warning,
    one destination with two URLs refused."""
    entries: list[Entry] = []
    seen: dict[Path, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ManifestError(
                f"manifest line {number}: expected 'URL DEST', got {line.strip()!r}"
            )
        url, dest = fields[0], Path(fields[1])
        if not url.startswith(("http://", "https://")):
            raise ManifestError(f"manifest line {number}: {url!r} is not an http(s) URL")
        if dest in seen:
            if seen[dest] != url:
                raise ManifestError(
                    f"manifest line {number}: {dest} is the destination of two URLs "
                    f"({seen[dest]} and {url})"
                )
            log.warning("manifest line %d repeats %s %s; skipped", number, url, dest)
            continue
        seen[dest] = url
        entries.append(Entry(url, dest))
    return entries
