"""pget's downloader against a real local origin: byte-exact results in every mode."""

import os

import lz4.frame
import pytest

from cog.weights import DestinationExists, DownloadError, DownloadOptions, download

from .conftest import sha256

FAST = {"backoff_base": 0.01, "chunk_size": 500_000}


@pytest.mark.parametrize("mode", ["f", "norange", "redirect", "flaky503", "drop"])
def test_file_downloads_are_byte_exact(origin, payloads, tmp_path, mode):
    dest = tmp_path / "out" / "model.bin"
    result = download(f"{origin.url}/{mode}/model.bin", dest, DownloadOptions(**FAST))
    assert sha256(dest.read_bytes()) == sha256(payloads["model.bin"])
    assert result.size == len(payloads["model.bin"])
    assert [p.name for p in dest.parent.iterdir()] == ["model.bin"]


def test_chunks_are_ranges_in_parallel_and_redirect_is_followed_once(origin, payloads, tmp_path):
    download(f"{origin.url}/redirect/model.bin", tmp_path / "m", DownloadOptions(**FAST))
    assert origin.requests["redirect/model.bin"] == 1
    chunks = -(-len(payloads["model.bin"]) // FAST["chunk_size"])
    assert origin.requests["f/model.bin"] == chunks
    assert all(r.startswith("bytes=") for r in origin.ranges)


def test_dropped_connections_resume_only_the_missing_bytes(origin, payloads, tmp_path):
    download(f"{origin.url}/drop/model.bin", tmp_path / "m", DownloadOptions(**FAST))
    size, chunk = len(payloads["model.bin"]), FAST["chunk_size"]
    planned = {f"bytes={s}-{min(s + chunk, size) - 1}" for s in range(0, size, chunk)}
    resumed = [r for r in origin.ranges if r not in planned]
    # The first two responses (the probe, then whichever chunk came next) stop after 150 kB;
    # their retries ask only for what is missing of those ranges.
    assert len(resumed) == 2 and "bytes=150000-499999" in resumed
    chunk_start = int(next(r for r in resumed if r != "bytes=150000-499999")[6:].split("-")[0])
    start = chunk_start - 150_000
    assert f"bytes={chunk_start}-{min(start + chunk, size) - 1}" in resumed
    assert f"bytes={start}-{min(start + chunk, size) - 1}" in planned


def test_auto_chunking_and_tiny_or_empty_files(origin, payloads, tmp_path):
    for name in ("model.bin", "small.bin", "empty.bin"):
        download(f"{origin.url}/f/{name}", tmp_path / name, DownloadOptions(backoff_base=0.01))
        assert (tmp_path / name).read_bytes() == payloads[name]


def test_existing_destination_needs_force(origin, payloads, tmp_path):
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"old")
    with pytest.raises(DestinationExists, match="--force"):
        download(f"{origin.url}/f/model.bin", dest, DownloadOptions(**FAST))
    download(f"{origin.url}/f/model.bin", dest, DownloadOptions(**FAST, force=True))
    assert dest.read_bytes() == payloads["model.bin"]


def test_a_failed_download_leaves_nothing_that_looks_complete(origin, tmp_path):
    dest = tmp_path / "model.bin"
    options = DownloadOptions(backoff_base=0.01, chunk_size=500_000, retries=1)
    origin.settings.fail_first = 100
    with pytest.raises(DownloadError, match="retries"):
        download(f"{origin.url}/drop/model.bin", dest, options)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{origin.url}/f/missing.bin", dest, options)


def test_null_consumer_counts_bytes(origin, payloads):
    result = download(f"{origin.url}/f/model.bin", None, DownloadOptions(**FAST), consumer="null")
    assert result.size == len(payloads["model.bin"])


@pytest.mark.parametrize(
    "name", ["archive.tar", "archive.tar.gz", "archive.tar.bz2", "archive.tar.xz"]
)
@pytest.mark.parametrize("mode", ["f", "norange", "nolength", "drop"])
def test_tar_extraction_while_downloading(origin, payloads, tmp_path, name, mode):
    download(
        f"{origin.url}/{mode}/{name}", tmp_path / "x", DownloadOptions(**FAST), "tar-extractor"
    )
    for member, data in payloads["members"].items():
        assert sha256((tmp_path / "x" / member).read_bytes()) == sha256(data)
        # The archive's mtime (0) holds even for data written after tarfile set it.
        assert os.stat(tmp_path / "x" / member).st_mtime == 0
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_a_failed_extraction_download_stops_and_says_why(origin, tmp_path):
    origin.settings.fail_first = 100
    options = DownloadOptions(backoff_base=0.01, chunk_size=500_000, retries=1)
    with pytest.raises(DownloadError, match="retries"):
        download(f"{origin.url}/drop/archive.tar", tmp_path / "x", options, "tar-extractor")


def test_default_connections_follow_the_file_size():
    options = DownloadOptions()
    assert options.connections_for(1 << 20) == 1
    assert options.connections_for(100 << 20) == 7
    assert options.connections_for(1 << 30) == 64
    assert options.connections_for(100 << 30) == 64
    assert DownloadOptions(concurrency=3).connections_for(1 << 30) == 3
    # The rest of a 1 GiB file after the first 4 MiB, spread over the other 63 connections.
    assert options.chunk_for(1 << 30, 4 << 20) == -(-((1 << 30) - (4 << 20)) // 63)


def test_lz4_tar(origin, payloads, tmp_path):
    origin.files["archive.tar.lz4"] = lz4.frame.compress(payloads["archive.tar"])
    download(
        f"{origin.url}/f/archive.tar.lz4", tmp_path / "x", DownloadOptions(**FAST), "tar-extractor"
    )
    assert (tmp_path / "x" / "config.json").read_bytes() == b'{"layers": 2}'


def test_cache_host_down_falls_back_to_origin(origin, payloads, tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    options = DownloadOptions(
        **FAST, cache_hosts=(dead, ""), cache_uri_prefixes=(origin.url,), connect_timeout=1
    )
    download(f"{origin.url}/f/model.bin", tmp_path / "m", options)
    assert (tmp_path / "m").read_bytes() == payloads["model.bin"]


def test_cache_host_serves_when_up(origin, payloads, tmp_path):
    host = origin.url.removeprefix("http://")
    options = DownloadOptions(
        **FAST, cache_hosts=(host,), cache_uri_prefixes=("https://weights.example",)
    )
    # The origin URL is not cacheable here, so requests go straight to it.
    download(f"{origin.url}/f/small.bin", tmp_path / "s", options)
    assert (tmp_path / "s").read_bytes() == payloads["small.bin"]


def test_resolve_overrides_the_address(origin, payloads, tmp_path):
    port = origin.url.rsplit(":", 1)[1]
    options = DownloadOptions(**FAST, resolve={f"weights.invalid:{port}": "127.0.0.1"})
    download(f"http://weights.invalid:{port}/f/small.bin", tmp_path / "s", options)
    assert (tmp_path / "s").read_bytes() == payloads["small.bin"]
    assert os.path.getsize(tmp_path / "s") == 1000


def test_https_with_a_trusted_certificate(payloads, tmp_path):
    """TLS on the transfer threads' connections: the server name is checked against the
    certificate, trusted here through SSL_CERT_FILE as a user would for a private CA."""
    import ssl
    import subprocess
    import sys

    from .origin import Origin, OriginServer

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with OriginServer(Origin({"model.bin": payloads["model.bin"]}), tls=tls) as origin:
        url = f"{origin.url}/f/model.bin"
        run = [sys.executable, "-m", "cog.weights", url, "--pid-file", str(tmp_path / "pid")]
        untrusted = subprocess.run(
            [*run, str(tmp_path / "a")], capture_output=True, text=True, timeout=60
        )
        assert untrusted.returncode == 1 and "SSL_CERT_FILE" in untrusted.stderr
        env = {**os.environ, "SSL_CERT_FILE": str(cert)}
        trusted = subprocess.run(
            [*run, str(tmp_path / "b"), "-m", "1M"], env=env, capture_output=True, timeout=60
        )
        assert trusted.returncode == 0, trusted.stderr
    assert sha256((tmp_path / "b").read_bytes()) == sha256(payloads["model.bin"])
    assert not (tmp_path / "a").exists()


def test_http_proxy_from_the_environment(payloads, tmp_path):
    """`http_proxy` is honoured as pget does: requests go to the proxy in absolute form (here
    a second origin plays the proxy for a host that does not exist), with its credentials."""
    import subprocess
    import sys

    from .origin import Origin, OriginServer

    with OriginServer(Origin({"model.bin": payloads["model.bin"]})) as proxy:
        proxy.keep_request_lines = True
        proxy_url = proxy.url.replace("http://", "http://user:secret@")
        env = {**os.environ, "http_proxy": proxy_url, "no_proxy": ""}
        dest = tmp_path / "m"
        run = subprocess.run(
            [sys.executable, "-m", "cog.weights", "http://weights.invalid/f/model.bin", str(dest)]
            + ["-m", "2M", "--pid-file", str(tmp_path / "pid")],
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
    assert sha256(dest.read_bytes()) == sha256(payloads["model.bin"])
    assert proxy.request_lines and all(
        line.startswith("http://weights.invalid:80/f/model.bin") for line in proxy.request_lines
    )
    assert proxy.proxy_credentials == {"Basic dXNlcjpzZWNyZXQ="}
