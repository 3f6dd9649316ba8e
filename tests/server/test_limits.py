"""No single request takes the server down: body size limits, bodies JSON cannot hold safely,
big bodies while others are served (real servers over real sockets)."""

from __future__ import annotations

import base64
import json
import socket
import threading

import httpx
import pytest

LIMIT = 1 << 20
JSON = {"Content-Type": "application/json"}


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    from .conftest import run_server

    tmp_path = tmp_path_factory.mktemp("limits")
    with run_server("echo", tmp_path, env={"PYCOG_MAX_REQUEST_BYTES": str(LIMIT)}) as server:
        yield server


def test_a_body_over_the_limit_by_its_length_is_refused_before_it_is_sent(echo):
    with _connect(echo.url) as sock:
        sock.sendall(
            b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 209715200\r\n\r\n"
        )
        # Not a byte of the body sent: the answer comes anyway, and the connection closes.
        answer = _response(sock)
    head, _, text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in head.lower()
    assert text.startswith(b"Failed to buffer the request body: length limit exceeded")
    assert b"PYCOG_MAX_REQUEST_BYTES" in text
    assert echo.health()["status"] == "READY"


def test_a_chunked_body_is_refused_once_it_passes_the_limit(echo):
    chunk = b" " * 1024
    with _connect(echo.url) as sock:
        sock.sendall(
            b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(LIMIT // len(chunk) + 1):  # one byte more than the limit is enough
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = _response(sock)  # the body has not ended: the server answered without it
    assert answer.startswith(b"HTTP/1.1 413 ")
    with echo.client() as client:
        assert client.post("/predictions", json={"input": {"text": "hi"}}).json()["output"] == "hi"


def test_a_body_at_the_limit_is_read(echo):
    text = "x" * (LIMIT - len('{"input":{"text":""}}'))
    body = b'{"input":{"text":"' + text.encode() + b'"}}'
    assert len(body) == LIMIT
    with echo.client() as client:
        response = client.post("/predictions", content=body, headers=JSON)
        assert response.status_code == 200, response.text
        too_big = client.post("/predictions", content=body + b" ", headers=JSON)
        assert too_big.status_code == 413


def test_put_predictions_has_the_same_limit(echo):
    body = b'{"input":{"text":"%s"}}' % (b"x" * LIMIT)
    with echo.client() as client:
        response = client.put("/predictions/p1", content=body, headers=JSON)
    assert response.status_code == 413
    assert response.text.startswith("Failed to buffer the request body")


DEEP = b"[" * 100_000 + b"]" * 100_000
# Each as Cog 0.23.1's server answers it (checked against it): a 400 naming the field.
REFUSED = {
    "deep nesting": (b'{"input":{"text":' + DEEP + b"}}", "input.text[0]"),
    "nesting past 127": (
        b'{"input":{"text":"a","x":' + b"[" * 126 + b"]" * 126 + b"}}",
        "input.x" + "[0]" * 125 + ": recursion limit exceeded at line 1 column 151",
    ),
    "NaN": (
        b'{"input":{"text":"a","repeat":NaN}}',
        "input.repeat: expected value at line 1 column 31",
    ),
    "-Infinity": (
        b'{"input":{"text":-Infinity}}',
        "input.text: expected value at line 1 column 18",
    ),
    "a float beyond a double": (
        b'{"input":{"text":"a","x":1e999}}',
        "input.x: number out of range at line 1 column 30",
    ),
    "an integer of 5000 digits": (
        b'{"input":{"text":"a","x":' + b"9" * 5000 + b"}}",
        "input.x: number out of range at line 1 column 5025",
    ),
    "a lone surrogate": (
        b'{"input":{"text":"\\ud800"}}',
        "input.text: unexpected end of hex escape at line 1 column 25",
    ),
    "bytes that are not UTF-8": (
        b'{"input":{"text":"\xff\xfe"}}',
        "input.text: invalid unicode code point at line 1 column 21",
    ),
    "an encoded surrogate": (
        b'{"input":{"text":"\xed\xa0\x80"}}',
        "input.text: invalid unicode code point at line 1 column 22",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_json_that_breaks_python_is_a_400_as_in_cog(echo, case):
    body, expected = REFUSED[case]
    with echo.client() as client:
        response = client.post("/predictions", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    assert response.text.startswith("Failed to parse the request body as JSON: ")
    assert expected in response.text


def test_valid_escapes_and_numbers_are_still_taken(echo):
    body = '{"input":{"text":"\\ud83d\\ude00 é","repeat":1,"x":1e308,"y":-1.5e-400}}'.encode()
    with echo.client() as client:
        response = client.post("/predictions", content=body, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json()["output"] == "😀 é"


def test_health_checks_answer_while_a_big_body_is_arriving(tmp_path):
    from .conftest import run_server

    size = 90 * 1024 * 1024
    text = b"x" * (size - len(b'{"input":{"text":""}}'))
    body = b'{"input":{"text":"' + text + b'"}}'
    with run_server("echo", tmp_path, env={"PYCOG_MAX_REQUEST_BYTES": str(size)}) as server:
        with _connect(server.url) as sock:
            sock.sendall(
                b"POST /predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
            )
            sock.sendall(body[: size // 2])
            # Half the body is in: the server answers others meanwhile.
            assert server.health()["status"] == "READY"
            finished = threading.Event()

            def probe() -> None:
                while not finished.is_set():
                    with httpx.Client(base_url=server.url, timeout=30) as client:
                        client.get("/health-check")
                    answered.append(1)

            answered: list[int] = []
            prober = threading.Thread(target=probe)
            prober.start()
            sock.sendall(body[size // 2 :])
            answer = _response(sock)
            finished.set()
            prober.join()
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answered  # health checks were answered while the rest was read and parsed


def _head(extra: bytes) -> bytes:
    return b"GET /health-check HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def test_a_request_with_too_many_headers_gets_431(echo):
    from cog.server.protocol import MAX_HEADERS

    def headers(count: int) -> bytes:  # Host, Connection and count - 2 more
        return b"Connection: close\r\n" + b"".join(b"x-h%d: v\r\n" % n for n in range(count - 2))

    with _connect(echo.url) as sock:
        sock.sendall(_head(headers(MAX_HEADERS + 1)))
        assert _response(sock).startswith(b"HTTP/1.1 431 ")
    with _connect(echo.url) as sock:
        sock.sendall(_head(headers(MAX_HEADERS)))
        assert _response(sock).startswith(b"HTTP/1.1 200 ")


def test_a_head_too_big_gets_431_before_it_ends(echo):
    from cog.server.protocol import MAX_HEAD_BYTES

    with _connect(echo.url) as sock:
        # One header that never ends: the server answers without waiting for the rest.
        sock.sendall(b"GET /health-check HTTP/1.1\r\nHost: x\r\nx-big: " + b"a" * MAX_HEAD_BYTES)
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert echo.health()["status"] == "READY"


@pytest.fixture(scope="module")
def impatient(tmp_path_factory):
    from .conftest import run_server

    tmp_path = tmp_path_factory.mktemp("idle")
    with run_server("echo", tmp_path, env={"PYCOG_IDLE_TIMEOUT": "1"}) as server:
        yield server


@pytest.mark.parametrize(
    "sent", [b"", b"GET /health-check HTTP/1.1\r\nHost: x\r\n"], ids=["nothing", "half a head"]
)
def test_a_connection_that_sends_no_whole_head_is_closed(impatient, sent):
    with _connect(impatient.url) as sock:
        sock.settimeout(20)  # far past the idle timeout: a server that never closes fails here
        sock.sendall(sent)
        assert sock.recv(1024) == b""


def test_an_idle_keep_alive_connection_is_closed(impatient):
    with _connect(impatient.url) as sock:
        sock.settimeout(20)
        sock.sendall(_head(b""))
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        rest = _response(sock)  # ends when the server closes the idle connection
    assert b"HTTP/1.1" not in rest


def test_inputs_and_outputs_bigger_than_a_worker_frame_travel_as_files(tmp_path):
    from .conftest import run_server

    frame = 1 << 20
    env = {
        "PYCOG_WORKER_FRAME_BYTES": str(frame),
        "PYCOG_MAX_REQUEST_BYTES": str(16 * frame),
        "TMPDIR": str(tmp_path),
    }
    data = base64.b64encode(b"\0" * (4 * frame)).decode()  # 5.3 MiB of JSON each way
    with run_server("big", tmp_path, env=env) as server, server.client(timeout=120) as client:
        given = client.post(
            "/predictions",
            json={"input": {"source": f"data:application/octet-stream;base64,{data}"}},
        )
        assert given.status_code == 200, given.text[:500]
        assert given.json()["output"] == f"{4 * frame} bytes"
        returned = client.post("/predictions", json={"input": {"size": 3 * frame}})
        assert returned.json()["status"] == "succeeded"
        assert returned.json()["output"] == "x" * (3 * frame)
        assert server.health()["status"] == "READY"
        small = client.post("/predictions", json={"input": {"size": 2}})
        assert small.json()["output"] == "xx"
    spilled = tmp_path / "pycog" / "spill"
    assert spilled.is_dir()  # they went through files...
    assert list(spilled.iterdir()) == []  # ...each removed once read


def test_the_echoed_input_is_without_its_large_values(tmp_path):
    from .conftest import run_server
    from .receiver import Receiver
    from .test_async_and_streams import wait_until

    data = base64.b64encode(b"\0" * 2_000_001).decode()
    inputs = {
        "source": f"data:application/octet-stream;base64,{data}",
        "token": "tok-PLAINTEXT",
        "text": "y" * (2 << 20),
    }
    env = {"PYCOG_MAX_REQUEST_BYTES": str(16 << 20)}
    with Receiver() as receiver, run_server("big", tmp_path, env=env) as server:
        with server.client(timeout=60) as client:
            answer = client.post("/predictions", json={"input": inputs}).json()
            assert answer["output"] == "2000001 bytes"
            assert answer["input"] == {
                "source": "data:application/octet-stream;base64,…(2.0 MB)",
                "token": "**********",
                "text": "y" * 64 + "…(2.1 MB)",
            }
            small = {"source": "data:text/plain;base64,aGk=", "size": 1}
            assert client.post("/predictions", json={"input": small}).json()["input"] == small
            client.post(
                "/predictions",
                json={"input": inputs, "webhook": receiver.url + "/hook"},
                headers={"Prefer": "respond-async"},
            )
            wait_until(lambda: any(hook["status"] == "succeeded" for hook in receiver.webhooks))
    assert receiver.webhooks
    for body in receiver.bodies:
        assert len(body) < 4096  # each webhook without the megabytes
    assert all(hook["input"] == answer["input"] for hook in receiver.webhooks)


BIG = 1 << 20
BIG_BODIES = {
    "a data URI": {"input": {"source": "data:;base64," + "QUJD" * BIG, "n": 1}},
    "multibyte characters across slices": {"input": {"text": "é😀x" * BIG, "other": ["a", "b"]}},
    "escapes": {"input": {"text": 'a"\\\n' * BIG}},
    "a big key": {"k" * (2 * BIG): 1, "input": {}},
    "big strings in a list": {"input": {"list": ["z" * (2 * BIG), "short", "y" * (2 * BIG)]}},
}


@pytest.mark.parametrize("value", list(BIG_BODIES.values()), ids=list(BIG_BODIES))
def test_big_bodies_parse_as_json_parses_them(value):
    from cog.server import strict_json

    body = json.dumps(value, ensure_ascii=False).encode()
    assert strict_json.loads(body) == json.loads(body)
    assert strict_json.loads(b'"' + b"q" * (2 * BIG) + b'"') == "q" * (2 * BIG)


@pytest.mark.parametrize(
    "body",
    [
        b'{"input":{"text":"' + b"x" * (2 * BIG) + b'\xff"}}',
        b'{"input":{"text":"' + b"x" * (2 * BIG) + b'\x01"}}',
        b'{"input":{"text":"' + b"x" * (2 * BIG) + b'", "n": NaN}}',
        b'{"input":{"text":"' + b"x" * (2 * BIG) + b'" "n": 1}}',
    ],
    ids=["not UTF-8", "a control character", "NaN", "a syntax error"],
)
def test_big_bodies_are_refused_as_small_ones(body):
    from cog.server import strict_json

    with pytest.raises(ValueError) as refused:
        strict_json.loads(body)
    assert "column" in str(refused.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"input":{"text":"a\\q"}}', "invalid escape at line 1 column 21"),
        (
            b'{"input":{"text":"a\x01"}}',
            "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 20",
        ),
    ],
    ids=["a bad escape", "a control character"],
)
def test_string_syntax_errors_in_cogs_words(echo, body, expected):
    with echo.client() as client:
        response = client.post("/predictions", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.text.endswith(expected)
