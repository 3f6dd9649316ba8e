"""What pip inside a build borrows from the host's pip configuration.

A build can only use what exists inside it: `http(s)` indexes carry over (as the
`PIP_INDEX_URL`/`PIP_EXTRA_INDEX_URL` build args the Dockerfile declares), the CA bundle pip
trusts is passed as a build secret (so a private or intercepting proxy keeps working), while
`file://` indexes and `find-links` directories of the host do not exist in the build and are
left out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..localenv.pip_settings import read_pip_settings

DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class HostPip:
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    ca_bundle: Path | None = None

    def build_args(self) -> dict[str, str]:
        args = {}
        if self.index_url:
            args["PIP_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            args["PIP_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        return args


def _remote(urls: str) -> tuple[str, ...]:
    return tuple(u for u in urls.split() if u.startswith(("http://", "https://")))


def host_pip() -> HostPip:
    """The host's pip settings that can work inside a build."""
    settings = read_pip_settings()
    index = _remote(settings.index_url or "")
    cert = os.environ.get("PIP_CERT") or settings.cert
    candidates = [Path(cert)] if cert else []
    candidates.append(DEFAULT_CA_BUNDLE)
    bundle = next((path for path in candidates if path.is_file()), None)
    return HostPip(
        index_url=index[0] if index else None,
        extra_index_urls=_remote(" ".join(settings.extra_index_urls)),
        ca_bundle=bundle,
    )
