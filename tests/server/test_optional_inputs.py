"""A bare `Optional[T]` (no default) is optional in the schema, so omitting it gives None."""

from __future__ import annotations

import base64


def test_omitted_bare_optionals_are_none(serve):
    with serve("optional_inputs") as server, server.client() as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["Input"]
        assert "required" not in schema or not {"label", "weight", "scan"} & set(schema["required"])
        answer = client.post("/predictions", json={"input": {"repeat": 1}}).json()
        assert answer["status"] == "succeeded", answer
        assert answer["output"] == "label=None weight=None scan=none"


def test_given_bare_optionals_are_used(serve):
    data = "data:text/plain;base64," + base64.b64encode(b"inside").decode()
    with serve("optional_inputs") as server, server.client() as client:
        inputs = {"label": "x", "weight": 1.5, "scan": data, "repeat": 1}
        answer = client.post("/predictions", json={"input": inputs}).json()
        assert answer["status"] == "succeeded", answer
        assert answer["output"] == "label='x' weight=1.5 scan=inside"
