"""A real origin server with failure injection, shared by the download tests."""

import hashlib
import io
import os
import tarfile

import pytest

from .origin import Origin, OriginServer, OriginSettings

SIZE = 6_000_000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tar(entries: dict[str, bytes], compression: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}" if compression else "w") as archive:
        for name, payload in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def payloads():
    members = {f"weights/part{i}.bin": os.urandom(700_000) for i in range(4)}
    members["config.json"] = b'{"layers": 2}'
    return {
        "model.bin": os.urandom(SIZE),
        "small.bin": os.urandom(1000),
        "empty.bin": b"",
        "archive.tar": make_tar(members),
        "archive.tar.gz": make_tar(members, "gz"),
        "archive.tar.bz2": make_tar(members, "bz2"),
        "archive.tar.xz": make_tar(members, "xz"),
        "members": members,
    }


@pytest.fixture()
def origin(payloads):
    files = {name: data for name, data in payloads.items() if isinstance(data, bytes)}
    with OriginServer(Origin(files, OriginSettings(fail_first=2, drop_after=150_000))) as server:
        yield server
