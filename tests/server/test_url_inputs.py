"""File inputs as an attacker sends them: server paths, internal addresses, dripping servers."""

import http.server
import threading
import time

import pytest


@pytest.fixture
def origin():
    """A loopback HTTP server: /ok answers a file, /drip a byte every 0.5 s, /hop redirects."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/hop":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/ok")
                self.end_headers()
                return
            self.send_response(200)
            body = b"hello from origin"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path == "/drip":
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.5)
            else:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _predict(server, source):
    with server.client() as client:
        return client.post("/predictions", json={"input": {"source": source}})


@pytest.mark.parametrize("source", ["/etc/passwd", "/proc/self/environ", "file:///etc/passwd"])
def test_a_server_path_is_not_a_file_input(serve, source):
    with serve("files") as server:
        response = _predict(server, source)
        body = response.json()
        assert body["status"] == "failed"
        assert body["error"].startswith("source: ")
        assert "not a URL" in body["error"]
        assert "root:" not in response.text
        # The server keeps serving.
        assert server.health()["status"] == "READY"


def test_url_inputs_still_download(serve, origin):
    with serve("files") as server:
        body = _predict(server, f"{origin}/ok").json()
    assert body["status"] == "succeeded", body
    assert body["output"].startswith("data:")


def test_internal_addresses_are_refused_when_asked_at_every_redirect(serve, origin):
    with serve("files", env={"PYCOG_REFUSE_PRIVATE_URLS": "1"}) as server:
        direct = _predict(server, f"{origin}/ok").json()
        redirected = _predict(server, f"{origin.replace('127.0.0.1', 'localhost')}/hop").json()
    assert direct["status"] == "failed"
    assert "inside the server's network" in direct["error"]
    assert redirected["status"] == "failed"
    assert "inside the server's network" in redirected["error"]


def test_a_dripping_download_hits_its_total_deadline(serve, origin):
    with serve("files", env={"PYCOG_INPUT_DOWNLOAD_TIMEOUT": "2"}) as server:
        body = _predict(server, f"{origin}/drip").json()
        assert body["status"] == "failed"
        assert "longer than 2s" in body["error"]
        assert "PYCOG_INPUT_DOWNLOAD_TIMEOUT" in body["error"]
        assert server.health()["status"] == "READY"
