"""The file resolver in process: file markers in an output become data URLs, wherever they are."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest

from cog.runtime.outputs import FILE_MARKER
from cog.server.errors import UploadError
from cog.server.files import FileResolver


def _resolver() -> FileResolver:
    return FileResolver(None, lambda: httpx.AsyncClient())


def test_markers_nested_in_lists_and_objects_become_data_urls(tmp_path: Path) -> None:
    image = tmp_path / "out.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    output = {"images": [{FILE_MARKER: str(image)}], "count": 1, "note": {"a": "b"}}
    resolved = asyncio.run(_resolver().resolve(output))
    url = resolved["images"][0]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == image.read_bytes()
    assert resolved["count"] == 1 and resolved["note"] == {"a": "b"}


def test_a_dict_with_the_marker_and_other_keys_is_data_not_a_file(tmp_path: Path) -> None:
    value = {FILE_MARKER: "x", "other": 1}
    assert asyncio.run(_resolver().resolve(value)) == value


def test_a_missing_file_is_an_upload_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.txt"
    with pytest.raises(UploadError, match="gone.txt does not exist"):
        asyncio.run(_resolver().resolve({FILE_MARKER: str(missing)}))
