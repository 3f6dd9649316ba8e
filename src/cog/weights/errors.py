"""Errors of downloads and the weights cache.

CogError
└── WeightsError           a download or cache operation failed
    ├── DownloadError      the origin (or every cache host) failed past the retries
    │   └── Stopped        a transfer stopped because its download already failed
    ├── DestinationExists  the destination exists and --force was not given
    ├── UnsafeArchiveEntry a tar entry would land outside the target (names the entry)
    ├── ArchiveError       a -x archive is empty, not a tar, corrupt or truncated
    ├── WriteError         a destination file cannot be written (names it)
    └── ManifestError      a multifile manifest line is malformed (names the line)
"""

from __future__ import annotations

from ..errors import CogError


class WeightsError(CogError):
    """Base of download and weights-cache errors."""


class DownloadError(WeightsError):
    """Raised when a URL cannot be downloaded completely."""


class Stopped(DownloadError):
    """Raised in transfers still running when their download has already failed."""


class DestinationExists(WeightsError):
    """Raised when the destination exists and overwriting was not asked for."""


class UnsafeArchiveEntry(WeightsError):
    """Raised when a tar entry would escape the target directory or is a device file."""


class ArchiveError(WeightsError):
    """Raised when a downloaded archive is empty, not a tar, corrupt or truncated."""


class WriteError(WeightsError):
    """Raised when a file cannot be written: disk full, file too large, read-only, not
    allowed (not a network error: no retry)."""


class ManifestError(WeightsError):
    """Raised for a malformed multifile manifest."""
