"""JSON inputs → the values `predict()` receives, by its annotations.

Files (`Path`, `File`, `os.PathLike`, also inside `Optional`/`list`) given as URLs or data URIs
are downloaded before the call, concurrently, into the prediction's directory; strings for
`Secret` parameters are wrapped; `Input(...)` defaults are filled in for missing inputs.
"""

from __future__ import annotations

import inspect
import os
import pathlib
import tempfile
import time
import types
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import envvars
from ..input import FieldInfo
from ..types import File, Path, Secret, URLPath, is_url, open_url
from .errors import InputValueError as InputError  # TODO(merge): rename the uses

DOWNLOAD_THREADS = 8
MAX_INPUT_FILE_BYTES = 5 * 1024**3
DOWNLOAD_DEADLINE_SECONDS = 600.0


def _strip(annotation: Any) -> tuple[Any, bool]:
    """(inner type, is_list) of an annotation, without Optional/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _strip(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _strip(members[0]) if len(members) == 1 else (annotation, False)
    if origin in (list, typing.List):  # noqa: UP006
        args = typing.get_args(annotation)
        return (_strip(args[0])[0] if args else Any), True
    return annotation, False


def _nullable(annotation: Any) -> bool:
    """Whether an annotation admits None (`Optional[T]`, `T | None`, also inside Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _nullable(typing.get_args(annotation)[0])
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _kind(annotation: Any) -> str:
    inner, _ = _strip(annotation)
    if inspect.isclass(inner):
        if issubclass(inner, File):
            return "file"
        if issubclass(inner, Secret):
            return "secret"
        if issubclass(inner, pathlib.PurePath | os.PathLike):
            return "path"
    return "value"


class InputCoercer:
    """Prepares the keyword arguments of one predictor's entry function."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.signature = inspect.signature(function)
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except Exception:  # an annotation that cannot be resolved: treat values as given
            hints = {}
        self.kinds = {name: _kind(hints.get(name, Any)) for name in self.signature.parameters}
        self.lists = {name: _strip(hints.get(name, Any))[1] for name in self.signature.parameters}
        self.optional = {name for name in self.signature.parameters if _nullable(hints.get(name))}

    def downloads(self, values: dict[str, Any]) -> bool:
        """Whether preparing these inputs may download files (and so should not block a loop)."""
        return any(self.kinds.get(name) in ("path", "file") for name in values)

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
                continue
            elif name in self.optional:
                # The schema lists a bare `Optional[T]` as optional, so omitting it means None.
                arguments[name] = None
            else:
                raise InputError(f"{name}: required input is missing")
        self._download(arguments, workdir)
        return arguments

    def _refuse_local_paths(self, name: str, value: Any) -> None:
        """A client names files by URL only: a plain path would hand the model any file the
        server can read (`/etc/passwd`, `/proc/self/environ`). Defaults are the model's own."""
        if self.kinds.get(name) not in ("path", "file"):
            return
        for item in value if isinstance(value, list) else [value]:
            text = "" if item is None else str(item)
            if item is not None and not is_url(text):
                shown = text if len(text) <= 60 else text[:57] + "..."
                raise InputError(
                    f"{name}: {shown!r} is not a URL; file inputs take http://, https:// or "
                    "data: URLs"
                )

    def _coerce(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        kind = self.kinds.get(name, "value")
        if kind == "value":
            return value
        convert = {"path": Path.validate, "file": File.validate, "secret": _secret}[kind]
        try:
            if self.lists.get(name) and isinstance(value, list):
                return [convert(item) for item in value]
            return convert(value)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{name}: {exc}") from None

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
                    raise InputError(f"{name}: could not download the file: {exc}") from None
                if position is None:
                    arguments[name] = local
                else:
                    arguments[name][position] = local


def _secret(value: Any) -> Secret:
    return value if isinstance(value, Secret) else Secret(str(value))


def _fetch(url: URLPath, workdir: str) -> Path:
    """Download with a size cap, stopping as soon as it is passed (not after the whole file),
    and a deadline for the whole download (the socket timeout only bounds each read, so a
    server dripping a byte at a time would otherwise hold the prediction forever)."""
    if workdir:
        os.makedirs(workdir, exist_ok=True)
    limit = envvars.MAX_INPUT_FILE_BYTES.get_int() or MAX_INPUT_FILE_BYTES
    too_big = InputError(f"larger than {limit} bytes (PYCOG_MAX_INPUT_FILE_BYTES)")
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
                    raise InputError(
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
