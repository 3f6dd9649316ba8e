"""Where a weights URL really downloads from: Hugging Face, CivitAI, Replicate, plain URLs.

Endpoints are settings (`HF_ENDPOINT`-style) so mirrors, and tests, can stand in for the hubs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from ..types import Secret
from .errors import WeightsError

_HF_HUB = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/(?:blob|resolve)/(?P<rev>[^/]+)/(?P<path>.+)$")
_CIVITAI_MODEL = re.compile(r"^/models/\d+")
_CIVITAI_DOWNLOAD = re.compile(r"^/api/download/models/(?P<version>\d+)")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.lz4")


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the hubs (defaults: the real services; `HF_ENDPOINT` is honoured)."""

    huggingface: str = field(
        default_factory=lambda: os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    )
    civitai: str = "https://civitai.com"


@dataclass(frozen=True)
class Source:
    """A concrete download: the URL, headers to send, and whether it is a tar to extract."""

    url: str
    headers: dict[str, str]
    archive: bool


def _token(secret: Secret | str | None) -> str | None:
    if isinstance(secret, Secret):
        return secret.get_secret_value()
    return secret


def resolve_source(
    url: str,
    endpoints: Endpoints | None = None,
    hf_token: Secret | str | None = None,
    civitai_token: Secret | str | None = None,
) -> Source:
    """Turn a user-supplied weights URL into what to download."""
    endpoints = endpoints or Endpoints()
    archive = urlsplit(url).path.endswith(ARCHIVE_SUFFIXES)
    if url.startswith("hf://"):
        parts = url[len("hf://") :].split("/", 2)
        if len(parts) < 3 or not all(parts):
            raise WeightsError(f"{url!r}: write Hugging Face files as hf://owner/repo/path/file")
        owner, repo, path = parts
        revision = "main"
        if "@" in repo:
            repo, revision = repo.split("@", 1)
        target = f"{endpoints.huggingface}/{owner}/{repo}/resolve/{revision}/{path}"
        return Source(target, _bearer(_token(hf_token)), archive)
    split = urlsplit(url)
    if split.scheme not in ("http", "https"):
        raise WeightsError(f"{url!r}: weights URLs must be hf://, http:// or https://")
    if _is_host(split.netloc, endpoints.huggingface, "huggingface.co"):
        match = _HF_HUB.match(split.path)
        if match:
            target = (
                f"{endpoints.huggingface}/{match['repo']}/resolve/{match['rev']}/{match['path']}"
            )
            return Source(target, _bearer(_token(hf_token)), archive)
    if _is_host(split.netloc, endpoints.civitai, "civitai.com"):
        return _civitai(url, endpoints, _token(civitai_token))
    return Source(url, {}, archive)


def _is_host(netloc: str, endpoint: str, real_host: str) -> bool:
    return netloc in (urlsplit(endpoint).netloc, real_host)


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _civitai(url: str, endpoints: Endpoints, token: str | None) -> Source:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    download = _CIVITAI_DOWNLOAD.match(parts.path)
    if download:
        version = download["version"]
    elif _CIVITAI_MODEL.match(parts.path) and "modelVersionId" in query:
        version = query["modelVersionId"][0]
    else:
        raise WeightsError(
            f"{url!r}: give a CivitAI download URL or a model URL with ?modelVersionId=..."
        )
    params = {"token": token} if token else {}
    suffix = f"?{urlencode(params)}" if params else ""
    return Source(f"{endpoints.civitai}/api/download/models/{version}{suffix}", {}, False)
