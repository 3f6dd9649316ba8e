"""JSON inputs → the values `predict()` receives, by its annotations as the schema reads them.

Files (`Path`, `File`, `os.PathLike`, also inside `Optional`/`list`/`Sequence`) given as URLs
or data URIs are downloaded before the call, concurrently, into the prediction's directory;
strings for `Secret` parameters are wrapped; `Input(...)` defaults are filled in for missing
inputs.
"""

from __future__ import annotations

import collections.abc
import inspect
import os
import tempfile
import time
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import envvars
from ..input import FieldInfo
from ..schema.errors import SchemaError
from ..schema.ir import InputType
from ..schema.runtime import annotation_input_type
from ..types import File, Path, Secret, URLPath, is_url, open_url
from .errors import InputValueError

DOWNLOAD_THREADS = 8
MAX_INPUT_FILE_BYTES = 5 * 1024**3
DOWNLOAD_DEADLINE_SECONDS = 600.0


FILES = ("Path", "File")


def _secret(value: Any) -> Secret:
    return value if isinstance(value, Secret) else Secret(str(value))


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "Path": Path.validate,
    "File": File.validate,
    "Secret": _secret,
}
"""What a JSON value becomes for an input of that primitive; the others are passed as given."""


def _reading(annotation: Any, name: str) -> InputType | None:
    """The schema's reading of the annotation (one reading: what /openapi.json describes is
    what predict() receives). None for what the schema refuses: the worker never serves such a
    predictor, a direct caller gets the values as given."""
    try:
        return annotation_input_type(annotation, f"input '{name}'")
    except SchemaError:
        return None


def _item(annotation: Any) -> Any:
    """A batched parameter's `list[T]` → T: what one request gives (the schema has refused
    any other annotation before the worker serves the predictor)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (list, collections.abc.Sequence) and args:
        return args[0]
    return annotation


class InputCoercer:
    """Prepares the keyword arguments of one predictor's entry function (for a batched one,
    `batched=True`, one request's arguments: each value of the item type)."""

    def __init__(self, function: Callable[..., Any], *, batched: bool = False) -> None:
        self.signature = inspect.signature(function)
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except Exception:  # an annotation that cannot be resolved: treat values as given
            hints = {}
        self.batched = batched
        if batched:
            hints = {name: _item(hint) for name, hint in hints.items()}
        self.types = {
            name: reading
            for name in self.signature.parameters
            if name in hints and (reading := _reading(hints[name], name)) is not None
        }
        self.optional = {name for name, reading in self.types.items() if reading.nullable}

    def _primitive(self, name: str) -> str | None:
        """The primitive a value (or each item of a list) converts to, if any."""
        reading = self.types.get(name)
        return None if reading is None or reading.kind == "union" else reading.primitive

    def downloads(self, values: dict[str, Any]) -> bool:
        """Whether preparing these inputs may download files (and so should not block a loop)."""
        return any(self._primitive(name) in FILES for name in values)

    def prepare(self, values: dict[str, Any], workdir: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        for name, parameter in self.signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if name in values:
                self._refuse_local_paths(name, values[name])
                arguments[name] = self._coerce(name, values[name])
            elif isinstance(parameter.default, FieldInfo):
                arguments[name] = self._coerce(name, parameter.default.default)
            elif parameter.default is not inspect.Parameter.empty:
                if self.batched:  # the call takes one value per request, default or not
                    arguments[name] = self._coerce(name, parameter.default)
                continue
            elif name in self.optional:
                # The schema lists a bare `Optional[T]` as optional, so omitting it means None.
                arguments[name] = None
            else:
                raise InputValueError(f"{name}: required input is missing")
        self._download(arguments, workdir)
        return arguments

    def _refuse_local_paths(self, name: str, value: Any) -> None:
        """A client names files by URL only: a plain path would hand the model any file the
        server can read (`/etc/passwd`, `/proc/self/environ`). Defaults are the model's own."""
        if self._primitive(name) not in FILES:
            return
        for item in value if isinstance(value, list) else [value]:
            text = "" if item is None else str(item)
            if item is not None and not is_url(text):
                shown = text if len(text) <= 60 else text[:57] + "..."
                raise InputValueError(
                    f"{name}: {shown!r} is not a URL; file inputs take http://, https:// or "
                    "data: URLs"
                )

    def _coerce(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        convert = CONVERTERS.get(self._primitive(name) or "")
        if convert is None:
            return value
        try:
            if self.types[name].kind == "array" and isinstance(value, list):
                return [convert(item) for item in value]
            return convert(value)
        except (ValueError, TypeError) as exc:
            raise InputValueError(f"{name}: {exc}") from None

    def _download(self, arguments: dict[str, Any], workdir: str) -> None:
        pending: list[tuple[str, int | None, URLPath]] = []
        for name, value in arguments.items():
            items = value if isinstance(value, list) else [value]
            for at, item in enumerate(items):
                if isinstance(item, URLPath):
                    pending.append((name, at if isinstance(value, list) else None, item))
        if not pending:
            return
        with ThreadPoolExecutor(min(DOWNLOAD_THREADS, len(pending))) as pool:
            futures = [
                (name, slot, pool.submit(_fetch, url, workdir)) for name, slot, url in pending
            ]
            for name, position, future in futures:
                try:
                    local = future.result()
                except Exception as exc:
                    raise InputValueError(f"{name}: could not download the file: {exc}") from None
                if position is None:
                    arguments[name] = local
                else:
                    arguments[name][position] = local


def _fetch(url: URLPath, workdir: str) -> Path:
    """Download with a size cap, stopping as soon as it is passed (not after the whole file),
    and a deadline for the whole download (the socket timeout only bounds each read, so a
    server dripping a byte at a time would otherwise hold the prediction forever)."""
    if workdir:
        os.makedirs(workdir, exist_ok=True)
    limit = envvars.MAX_INPUT_FILE_BYTES.get_int() or MAX_INPUT_FILE_BYTES
    too_big = InputValueError(f"larger than {limit} bytes (PYCOG_MAX_INPUT_FILE_BYTES)")
    allowed = envvars.INPUT_DOWNLOAD_TIMEOUT.get_float() or DOWNLOAD_DEADLINE_SECONDS
    deadline = time.monotonic() + allowed
    with open_url(url.source) as source:
        length = getattr(source, "headers", {}).get("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise too_big
        with tempfile.NamedTemporaryFile(
            suffix=url.filename, dir=workdir or None, delete=False
        ) as dest:
            size = 0
            # read1: whatever one receive gives, so the deadline is checked as bytes trickle in.
            read = getattr(source, "read1", source.read)
            while chunk := read(1 << 20):
                if time.monotonic() > deadline:
                    dest.close()
                    os.unlink(dest.name)
                    raise InputValueError(
                        f"the download took longer than {allowed:g}s (PYCOG_INPUT_DOWNLOAD_TIMEOUT)"
                    )
                size += len(chunk)
                if size > limit:
                    break
                dest.write(chunk)
    if size > limit:
        os.unlink(dest.name)
        raise too_big
    return Path(dest.name)
