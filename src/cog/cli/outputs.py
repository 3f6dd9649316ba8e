"""Showing and saving a prediction's output: files to disk, text raw, the rest as JSON."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from .. import data_url
from ..data_url import is_data_url
from .console import say, warn, write_stdout
from .errors import CliError


def decode_data_url(url: str) -> tuple[bytes, str]:
    """The bytes and the media type of a `data:` URL."""
    try:
        return data_url.decode(url), data_url.media_type(url)
    except ValueError as exc:
        raise CliError(f"the model returned a malformed data URL: {exc}") from None


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
        text = output if isinstance(output, str) else go_json(output)
        return [_write(_file_target(output_path, "output.json"), text.encode())]
    if isinstance(output, str):
        write_stdout(output if output.endswith("\n") else output + "\n")
    elif output is None:
        warn("No output generated")
    else:
        write_stdout(go_json(output) + "\n")
    return []


def _list_destination(output_path: Path | None) -> tuple[Path, str]:
    """Where the files of a list output go, and their stem (`<stem>.<index><suffix>`)."""
    if output_path is None:
        return Path("."), "output"
    if output_path.is_dir():
        return output_path, "output"
    return output_path.parent, output_path.stem


def _save_list(items: list[Any], output_path: Path | None) -> list[Path]:
    parent, stem = _list_destination(output_path)
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


def go_json(value: Any, *, fields: bool = False) -> str:
    """Indented JSON as Cog's Go CLI prints it: sorted map keys, integral numbers without a
    fraction, `<`, `>` and `&` escaped. `fields`: the top level is a Go struct, whose fields
    keep their declared order."""
    shaped = {key: _go_shape(item) for key, item in value.items()} if fields else _go_shape(value)
    text = json.dumps(shaped, indent=2, ensure_ascii=False)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escape)
    return text


def _go_shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _go_shape(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_go_shape(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def json_response(result: dict[str, Any], output_path: Path | None) -> dict[str, Any]:
    """What `--json` prints: Cog's response (`status`, `output`, `error`, `metrics` when there
    are some), with file outputs written to disk and replaced by their paths."""
    output = result.get("output")
    if result.get("status") == "succeeded" and output is not None:
        output = _files_to_paths(output, _json_files_target(output_path))
    response: dict[str, Any] = {
        "status": result.get("status"),
        "output": output,
        "error": result.get("error") or "",
    }
    if result.get("metrics"):
        response["metrics"] = result["metrics"]
    return response


def _json_files_target(output_path: Path | None) -> Path | None:
    """Files of a JSON-mode output are named after `-o` without its `.json` suffix."""
    if output_path is None or output_path.is_dir():
        return output_path
    return output_path.with_suffix("") if output_path.suffix == ".json" else output_path


def _files_to_paths(output: Any, target: Path | None) -> Any:
    if is_data_url(output):
        data, mime = decode_data_url(output)
        path = _file_target(target, f"output{_extension(mime)}")
        if not path.suffix:  # `-o result.json` names the file `result` + its type's suffix
            path = path.with_name(path.name + _extension(mime))
        return str(_write(path, data))
    if isinstance(output, list) and any(is_data_url(item) for item in output):
        parent, stem = _list_destination(target)
        paths: list[Any] = []
        for index, item in enumerate(output):
            if is_data_url(item):
                data, mime = decode_data_url(item)
                paths.append(str(_write(parent / f"{stem}.{index}{_extension(mime)}", data)))
            else:
                paths.append(item)
        return paths
    return output


def write_json_response(response: dict[str, Any], output_path: Path | None) -> None:
    """Print the JSON response, or write it to `-o` (Cog's `Written output to: PATH`)."""
    text = go_json(response, fields=True) + "\n"
    if output_path is None:
        write_stdout(text)
        return
    target = output_path / "output.json" if output_path.is_dir() else output_path
    if target.suffix != ".json":
        warn(f"--output value does not have a .json suffix: {target.name}")
    _write(target, text.encode())
