"""Files, secrets and URL inputs, with URLs served by a real local HTTP server."""

import http.server
import io
import pathlib
import pickle
import threading

import pytest

from cog import File, Path, Secret, URLFile, URLPath
from cog.types import decode_data_url, get_filename


@pytest.fixture(scope="module")
def origin():
    """A real HTTP server on a free loopback port; records the User-Agent it was sent."""
    seen: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen["user-agent"] = self.headers.get("User-Agent", "")
            body = b"weights:" + self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_secret_masks_itself():
    secret = Secret("hunter2")
    assert str(secret) == "**********"
    assert repr(secret) == "Secret(**********)"
    assert f"{secret}" == "**********"
    assert secret.get_secret_value() == "hunter2"
    assert "hunter2" not in repr([secret, {"k": secret}])
    assert str(Secret()) == ""
    assert Secret().get_secret_value() is None


def test_path_is_a_posix_path():
    path = Path("/tmp/x.png")
    assert isinstance(path, pathlib.PosixPath)
    assert path.suffix == ".png"
    assert Path.validate(path) is path
    assert Path.validate("relative/file.txt") == Path("relative/file.txt")


def test_url_path_downloads_once_and_keeps_the_url_as_str(origin, tmp_path, monkeypatch):
    base, seen = origin
    monkeypatch.setenv("COG_USER_AGENT", "pycog-test/1")
    value = Path.validate(f"{base}/models/lora%20v2.safetensors")
    assert isinstance(value, URLPath)
    assert str(value) == f"{base}/models/lora%20v2.safetensors"
    assert value.filename == "lora v2.safetensors"
    local = value.convert(str(tmp_path))
    assert local.read_bytes() == b"weights:/models/lora%20v2.safetensors"
    assert local.name.endswith("lora v2.safetensors")
    assert value.convert() == local
    assert seen["user-agent"] == "pycog-test/1"
    value.unlink()
    assert not local.exists()


def test_data_url_inputs():
    value = Path.validate("data:text/plain;base64,aGVsbG8=")
    assert isinstance(value, URLPath)
    assert value.filename == "file.txt"
    local = value.convert()
    try:
        assert local.read_bytes() == b"hello"
    finally:
        value.unlink()
    assert decode_data_url("data:,a%20b") == b"a b"
    with pytest.raises(ValueError, match="no comma"):
        decode_data_url("data:text/plain;base64")


def test_filenames_are_made_safe_and_short():
    long_name = "a" * 300 + ".safetensors"
    name = get_filename(f"https://x.test/{long_name}")
    assert len(name.encode()) <= 200
    assert name.endswith("~.safetensors")
    assert get_filename("https://x.test/dir/a%2Fb.bin") == "a_b.bin"
    assert get_filename("data:image/png;base64,AAAA") == "file.png"


def test_file_inputs(origin):
    base, _ = origin
    buffer = io.BytesIO(b"x")
    assert File.validate(buffer) is buffer
    assert File.validate("data:,abc").read() == b"abc"
    remote = File.validate(f"{base}/f.bin")
    assert isinstance(remote, URLFile)
    assert remote.name == "f.bin"
    assert remote.read() == b"weights:/f.bin"
    with pytest.raises(ValueError, match="'ftp' is not a valid URL scheme"):
        File.validate("ftp://x.test/f")


def test_url_file_survives_pickling_unopened(origin):
    base, _ = origin
    restored = pickle.loads(pickle.dumps(URLFile(f"{base}/p.bin")))
    assert restored.name == "p.bin"
    assert restored.read() == b"weights:/p.bin"
    with pytest.raises(ValueError, match="http"):
        URLFile("file:///etc/passwd")
