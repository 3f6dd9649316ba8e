"""Long strings encoded a slice at a time give json.dumps's bytes exactly."""

import json

import pytest

from cog.runtime.json_slices import SLICE, carries_much, dumps_in_slices

LONG = "a" * SLICE + '"é\\\n\x01😀' + "b" * (SLICE // 2)
VALUES = [
    LONG,
    {"output": LONG, "n": 1.5, "id": "x", "nested": {"k": [LONG, 2, None, True]}},
    [LONG, {"é": LONG}],
    {"small": "short", "none": None},
]


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("value", VALUES, ids=["string", "object", "list", "small"])
def test_the_bytes_are_json_dumps_bytes(value, ensure_ascii):
    expected = json.dumps(value, ensure_ascii=ensure_ascii, separators=(",", ":")).encode()
    assert dumps_in_slices(value, ensure_ascii=ensure_ascii) == expected


def test_only_long_strings_count_as_much():
    assert carries_much({"output": [LONG]})
    assert not carries_much({"output": ["a" * SLICE]})
