"""URL inputs are downloaded from a real local HTTP server, with a size cap."""

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cog import Path
from cog.runtime.errors import InputValueError
from cog.runtime.inputs import InputCoercer


@pytest.fixture
def files_url(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"x" * 3000)
    (tmp_path / "small.txt").write_bytes(b"small")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _predict(first: Path, second: Path) -> None: ...


def test_url_inputs_download_concurrently_into_the_workdir(files_url, tmp_path):
    workdir = tmp_path / "work"
    arguments = InputCoercer(_predict).prepare(
        {"first": f"{files_url}/small.txt", "second": f"{files_url}/big.bin"}, str(workdir)
    )
    assert arguments["first"].read_bytes() == b"small"
    assert arguments["second"].stat().st_size == 3000
    assert {p.parent for p in arguments.values()} == {workdir}


def test_a_download_over_the_cap_fails_naming_the_input(files_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PYCOG_MAX_INPUT_FILE_BYTES", "1000")
    workdir = tmp_path / "work"
    with pytest.raises(InputValueError, match="second: could not download.*larger than 1000 bytes"):
        InputCoercer(_predict).prepare(
            {"first": f"{files_url}/small.txt", "second": f"{files_url}/big.bin"}, str(workdir)
        )
    assert not any(p.stat().st_size > 1000 for p in workdir.iterdir())


def test_a_missing_file_fails_naming_the_input(files_url, tmp_path):
    with pytest.raises(InputValueError, match="first: could not download"):
        InputCoercer(_predict).prepare(
            {"first": f"{files_url}/nope", "second": f"{files_url}/small.txt"}, str(tmp_path)
        )
