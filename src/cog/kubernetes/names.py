"""Kubernetes object names from an image reference."""

from __future__ import annotations

import re

from .errors import ManifestError

MAX_NAME_LENGTH = 50
"""Below the 63 of a DNS label, leaving room for the suffixes of derived objects (`-redis`)."""

_UNSAFE = re.compile(r"[^a-z0-9-]+")


def name_from_image(image: str) -> str:
    """`r8.im/user/my_model:v2@sha256:...` -> `my-model`: the last path part of the repository,
    as a DNS-1035 label (lowercase letters, digits and `-`, starting with a letter)."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1].split(":", 1)[0]
    name = _UNSAFE.sub("-", last.lower()).strip("-")
    name = name.lstrip("0123456789-")[:MAX_NAME_LENGTH].rstrip("-")
    if not name:
        raise ManifestError(f"cannot make a Kubernetes name from the image {image!r}: pass --name")
    return name


def check_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not re.fullmatch(r"[a-z]([a-z0-9-]*[a-z0-9])?", name):
        raise ManifestError(
            f"--name {name!r} is not a valid Kubernetes name: use lowercase letters, digits and "
            f"'-', starting with a letter, at most {MAX_NAME_LENGTH} characters"
        )
    return name
