"""The worker's conversions: JSON inputs → predict() arguments, return values → JSON."""

import base64
import datetime
import enum
import io
import pathlib
from collections.abc import Sequence
from typing import List, Optional  # noqa: UP035

import pytest

from cog import BaseModel, File, Input, Path, Secret
from cog.runtime.errors import InputValueError
from cog.runtime.inputs import InputCoercer
from cog.runtime.outputs import FILE_MARKER, encode


class Color(enum.Enum):
    RED = "red"


class Result(BaseModel):
    color: Color
    when: datetime.date
    pair: tuple[int, int]
    image: Path


def test_encode_converts_what_json_cannot_hold(tmp_path):
    image = tmp_path / "out.png"
    image.write_bytes(b"png")
    result = Result(color=Color.RED, when=datetime.date(2024, 1, 2), pair=(1, 2), image=image)
    encoded = encode({"result": result, "tags": {"a"}, "gen": (i for i in range(2))}, "")
    assert encoded == {
        "result": {
            "color": "red",
            "when": "2024-01-02",
            "pair": [1, 2],
            "image": {FILE_MARKER: str(image)},
        },
        "tags": ["a"],
        "gen": [0, 1],
    }


def test_encode_saves_file_objects_into_the_workdir(tmp_path):
    handle = io.BytesIO(b"bytes")
    handle.name = "report.txt"
    encoded = encode(handle, str(tmp_path))
    saved = pathlib.Path(encoded[FILE_MARKER])
    assert saved.parent == tmp_path and saved.suffix == ".txt"
    assert saved.read_bytes() == b"bytes"


def test_encode_names_what_it_cannot_convert():
    with pytest.raises(TypeError, match="object"):
        encode(object(), "")


def _predict(
    image: Path,
    maybe: Path | None = None,
    many: list[File] | None = None,
    token: Secret = Input(default="s"),
    count: int = Input(default=3),
) -> None: ...


def _data_uri(payload: bytes) -> str:
    return "data:text/plain;base64," + base64.b64encode(payload).decode()


def test_inputs_are_coerced_by_annotation(tmp_path):
    coercer = InputCoercer(_predict)
    arguments = coercer.prepare(
        {"image": _data_uri(b"one"), "many": [_data_uri(b"two"), _data_uri(b"three")]},
        str(tmp_path),
    )
    assert pathlib.Path(arguments["image"]).read_bytes() == b"one"
    assert "maybe" not in arguments  # plain defaults are left to Python
    assert [item.read() for item in arguments["many"]] == [b"two", b"three"]
    assert isinstance(arguments["token"], Secret)
    assert arguments["token"].get_secret_value() == "s"
    assert arguments["count"] == 3
    assert coercer.downloads({"image": "x"}) and not coercer.downloads({"count": 1})


def test_a_missing_required_input_is_named(tmp_path):
    with pytest.raises(InputValueError, match="image"):
        InputCoercer(_predict).prepare({}, str(tmp_path))


def _annotated(
    sequence: Sequence[Path],
    old: List[File],  # noqa: UP006
    maybe: Optional[List[Secret]],  # noqa: UP006, UP045
    either: str | int,
) -> None: ...


def test_coercion_reads_annotations_as_the_schema_does(tmp_path):
    arguments = InputCoercer(_annotated).prepare(
        {
            "sequence": [_data_uri(b"a"), _data_uri(b"b")],
            "old": [_data_uri(b"c")],
            "maybe": ["key"],
            "either": "text",
        },
        str(tmp_path),
    )
    assert [type(item) for item in arguments["sequence"]] == [Path, Path]
    assert [item.read_text() for item in arguments["sequence"]] == ["a", "b"]
    assert [item.read() for item in arguments["old"]] == [b"c"]
    assert [item.get_secret_value() for item in arguments["maybe"]] == ["key"]
    assert arguments["either"] == "text"
    missing = InputCoercer(_annotated).prepare({"sequence": [], "old": [], "either": 1}, "")
    assert missing["maybe"] is None  # Optional: omitted means None, as the schema says
