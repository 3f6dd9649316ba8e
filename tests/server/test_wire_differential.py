"""Wire details as the reference Cog 0.23.1 server sends them: error statuses, bodies and
content types, for unknown paths, wrong methods, bad envelopes and invalid inputs."""

import httpx
import pytest

from .conftest import run_server
from .test_reference_differential import reference_server

JSON = {"content-type": "application/json"}
REQUESTS = [
    ("GET", "/nope", None, {}),
    ("GET", "/predictions", None, {}),
    ("DELETE", "/predictions/abc", None, {}),
    ("GET", "/health-check/", None, {}),
    ("POST", "/predictions/", None, {}),
    ("POST", "/health-check", None, {}),
    ("POST", "/predictions", '{"input":{"text":"ABCDE","words":["a",5,null,{"a":1}]}}', JSON),
    ("POST", "/predictions", '{"input":{"count":9,"ratio":2.5,"color":"blue"}}', JSON),
    ("POST", "/predictions", '{"input":"str"}', JSON),
    ("POST", "/predictions", '{"input":{"note":null}}', JSON),
    ("POST", "/predictions", '{"input":{"value":null}}', JSON),
    ("POST", "/predictions", '{"input":{"text":null,"value":true}}', JSON),
    ("POST", "/predictions", '{"context":{"a":"b","c":1.5}}', JSON),
    ("POST", "/predictions", '{"context":["a"]}', JSON),
    ("POST", "/predictions", '{"webhook_events_filter":["bogus"]}', JSON),
    ("POST", "/predictions", '{"webhook_events_filter":[1]}', JSON),
    ("POST", "/predictions", '{\n  "id": 5\n}', JSON),
    ("POST", "/predictions", '{"id":["a"]}', JSON),
    ("POST", "/predictions", '"str"', JSON),
    ("POST", "/predictions", "{bad json", JSON),
    ("POST", "/predictions", "", JSON),
    ("POST", "/predictions", "{}", {"content-type": "text/plain"}),
    ("PUT", "/predictions/x1", '{"id":5}', JSON),
]
# Deliberate differences (docs/compatibility.md): pycog's item path also answers GET (polling),
# and its Allow header says so. Request → (our Allow, theirs).
OUR_ALLOW = {("DELETE", "/predictions/abc"): ("GET,PUT", "PUT")}


def answers(url):
    with httpx.Client(base_url=url, timeout=30) as client:
        found = []
        for method, path, body, headers in REQUESTS:
            response = client.request(method, path, content=body, headers=headers)
            media = response.headers.get("content-type")
            found.append(
                (response.status_code, media, response.headers.get("allow"), response.text)
            )
        health = client.get("/health-check").json()
        found.append("logs" in health["setup"])
        return found


@pytest.mark.reference
def test_wire_details_as_the_reference_sends_them(tmp_path):
    with reference_server("wire", tmp_path) as url:
        theirs = answers(url)
    with run_server("wire", tmp_path / "ours") as server:
        ours = answers(server.url)
    for request, their, our in zip(REQUESTS, theirs, ours, strict=False):
        if (allow := OUR_ALLOW.get(request[:2])) is not None:
            assert (our[2], their[2]) == allow
            our = (*our[:2], their[2], *our[3:])
        assert their == our, f"{request}: {their} != {our}"
    assert theirs[-1] == ours[-1] is True
