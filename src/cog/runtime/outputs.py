"""Return values and yielded items → JSON, with files left on disk for the server.

A file output becomes `{"__cog_file__": "/abs/path"}`; the server turns it into a data URL or
uploads it. Dataclasses (cog.BaseModel), pydantic models, enums, datetimes, numpy values,
tuples, sets and generators are converted as Cog does.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import io
import itertools
import os
import pathlib
import types
from typing import Any

FILE_MARKER = "__cog_file__"
_counter = itertools.count()


def encode(value: Any, workdir: str) -> Any:
    """A JSON-compatible form of `value`."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, pathlib.PurePath):
        return {FILE_MARKER: os.path.abspath(value)}
    if isinstance(value, io.IOBase):
        return {FILE_MARKER: _save_file_object(value, workdir)}
    if isinstance(value, enum.Enum):
        return encode(value.value, workdir)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name), workdir) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return encode(value.model_dump(), workdir)
    if hasattr(value, "dict") and hasattr(value, "__fields__"):
        return encode(value.dict(), workdir)
    if isinstance(value, dict):
        return {str(key): encode(item, workdir) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset | types.GeneratorType):
        return [encode(item, workdir) for item in value]
    if hasattr(value, "tolist"):
        return encode(value.tolist(), workdir)
    if hasattr(value, "item"):
        return encode(value.item(), workdir)
    raise TypeError(f"cannot encode an output of type {type(value).__name__} as JSON")


def _save_file_object(handle: io.IOBase, workdir: str) -> str:
    name = getattr(handle, "name", "")
    extension = os.path.splitext(str(name))[1] if isinstance(name, str) else ""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, f"{next(_counter)}{extension or '.bin'}")
    if hasattr(handle, "seek") and handle.seekable():
        handle.seek(0)
    with open(path, "wb") as target:
        while chunk := handle.read(1 << 20):
            target.write(chunk if isinstance(chunk, bytes) else chunk.encode())
    return path
