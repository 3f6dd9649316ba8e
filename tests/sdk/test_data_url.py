"""`data:` URLs: the one module that reads and writes them."""

from __future__ import annotations

import os

import pytest

from cog import data_url


def test_a_file_encodes_piece_by_piece_as_a_whole(tmp_path):
    payload = os.urandom((3 << 20) * 2 + 5)  # more than two pieces, not a multiple of 3
    path = tmp_path / "weights.png"
    path.write_bytes(payload)
    url = data_url.encode_file(path)
    assert url == data_url.encode(payload, "image/png")
    assert data_url.media_type(url) == "image/png"
    assert data_url.decode(url) == payload


def test_unknown_files_are_octet_streams(tmp_path):
    path = tmp_path / "blob.unknownext"
    path.write_bytes(b"\x00\x01")
    assert data_url.encode_file(path).startswith("data:application/octet-stream;base64,")
    assert data_url.encode_file(path, "text/csv").startswith("data:text/csv;base64,")


def test_percent_encoded_and_undeclared_media_types():
    assert data_url.decode("data:,a%20b") == b"a b"
    assert data_url.media_type("data:,a") == "text/plain"
    assert data_url.media_type("data:image/gif;base64,R0lG") == "image/gif"


def test_recognition():
    assert data_url.is_data_url("data:,x")
    assert not data_url.is_data_url("data:no-comma")
    assert not data_url.is_data_url(b"data:,x")
    assert not data_url.is_data_url("https://example.com/data:,x")


def test_malformed_urls_are_value_errors():
    with pytest.raises(ValueError, match="no comma"):
        data_url.decode("data:text/plain;base64")
    with pytest.raises(ValueError, match="malformed base64"):
        data_url.decode("data:;base64,abc")
