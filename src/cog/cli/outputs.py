"""Showing and saving a prediction's output: files to disk, text raw, the rest as JSON."""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import urllib.parse
from pathlib import Path
from typing import Any

from .console import say, write_stdout
from .errors import CliError


def is_data_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:") and "," in value


def decode_data_url(url: str) -> tuple[bytes, str]:
    """The bytes and the media type of a `data:` URL."""
    header, _, payload = url[5:].partition(",")
    mime = header.split(";", 1)[0] or "text/plain"
    try:
        data = (
            base64.b64decode(payload)
            if header.endswith(";base64")
            else urllib.parse.unquote_to_bytes(payload)
        )
    except binascii.Error as exc:
        raise CliError(f"the model returned a malformed data URL: {exc}") from None
    return data, mime


def _extension(mime: str) -> str:
    return mimetypes.guess_extension(mime) or ".bin"


def _file_target(output_path: Path | None, default_name: str) -> Path:
    if output_path is None:
        return Path(default_name)
    if output_path.is_dir():
        return output_path / default_name
    return output_path


def save_output(output: Any, output_path: Path | None) -> list[Path]:
    """Write file outputs (data URLs) to disk and print everything else; return files written."""
    if is_data_url(output):
        data, mime = decode_data_url(output)
        target = _file_target(output_path, f"output{_extension(mime)}")
        return [_write(target, data)]
    if isinstance(output, list) and output and any(is_data_url(item) for item in output):
        return _save_list(output, output_path)
    if output_path is not None:
        text = output if isinstance(output, str) else json.dumps(output, indent=2)
        return [_write(_file_target(output_path, "output.json"), text.encode())]
    if isinstance(output, str):
        write_stdout(output if output.endswith("\n") else output + "\n")
    elif output is not None:
        write_stdout(json.dumps(output, indent=2) + "\n")
    return []


def _save_list(items: list[Any], output_path: Path | None) -> list[Path]:
    directory = output_path if output_path is not None and output_path.is_dir() else None
    stem = output_path.stem if output_path is not None and directory is None else "output"
    parent = directory or (output_path.parent if output_path is not None else Path("."))
    written = []
    for index, item in enumerate(items):
        if is_data_url(item):
            data, mime = decode_data_url(item)
            written.append(_write(parent / f"{stem}.{index}{_extension(mime)}", data))
        else:
            write_stdout((item if isinstance(item, str) else json.dumps(item)) + "\n")
    return written


def _write(target: Path, data: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    say(f"Written output to: {target}")
    return target
