"""The `pget` executable: single files, -x, multifile manifests, flags and errors."""

import subprocess
import sys

import pytest

from cog.weights import ManifestError, parse_manifest


def pget(*args, stdin=None, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "cog.weights", *args, "--pid-file", "/tmp/pycog-test-pget.pid"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_single_file_and_force(origin, payloads, tmp_path):
    dest = tmp_path / "model.bin"
    pget(f"{origin.url}/f/model.bin", str(dest), "-m", "1M", "-c", "4")
    assert dest.read_bytes() == payloads["model.bin"]
    again = pget(f"{origin.url}/f/model.bin", str(dest), check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    pget(f"{origin.url}/f/model.bin", str(dest), "--force")


def test_extract_flag(origin, payloads, tmp_path):
    pget("-x", f"{origin.url}/f/archive.tar.gz", str(tmp_path / "x"))
    assert (tmp_path / "x" / "config.json").read_bytes() == b'{"layers": 2}'


def test_multifile_from_stdin(origin, payloads, tmp_path):
    manifest = "\n".join(
        f"{origin.url}/f/{name} {tmp_path / 'out' / name}" for name in ("model.bin", "small.bin")
    )
    result = pget("multifile", "-", stdin=manifest + "\n\n")
    assert (tmp_path / "out" / "model.bin").read_bytes() == payloads["model.bin"]
    assert (tmp_path / "out" / "small.bin").read_bytes() == payloads["small.bin"]
    assert "file_count=2" in result.stderr


def test_flag_errors_are_clear(origin, tmp_path):
    result = pget(f"{origin.url}/f/x", str(tmp_path / "x"), "-m", "lots", check=False)
    assert result.returncode == 2 and "'lots' is not a size" in result.stderr
    result = pget(
        f"{origin.url}/f/x", str(tmp_path / "x"), "--resolve", "1.2.3.4:80:5.6.7.8", check=False
    )
    assert "host:port:ip" in result.stderr
    result = pget(f"{origin.url}/f/x", check=False)
    assert "give a destination" in result.stderr
    version = subprocess.run(
        [sys.executable, "-m", "cog.weights", "version"], capture_output=True, text=True, timeout=60
    )
    assert version.stdout.startswith("pget ")


def test_env_vars_set_flags(origin, payloads, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cog.weights", f"{origin.url}/f/small.bin", str(tmp_path / "s")],
        env={**__import__("os").environ, "PGET_FORCE": "1", "PGET_PID_FILE": str(tmp_path / "p")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s").read_bytes() == payloads["small.bin"]


def test_multifile_reads_max_concurrent_files_from_the_environment(tmp_path):
    """PGET_MAX_CONCURRENT_FILES comes through click's PGET_ prefix, like every other flag."""
    result = subprocess.run(
        [sys.executable, "-m", "cog.weights", "multifile", "-"],
        input="",
        env={**__import__("os").environ, "PGET_MAX_CONCURRENT_FILES": "many"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--max-concurrent-files" in result.stderr and "many" in result.stderr


def test_manifest_rules(tmp_path):
    entries = parse_manifest("http://a/x /d/x\nhttp://a/x /d/x\n\nhttp://a/y /d/y\n")
    assert [str(e.dest) for e in entries] == ["/d/x", "/d/y"]
    with pytest.raises(ManifestError, match="line 2: /d/x is the destination of two URLs"):
        parse_manifest("http://a/x /d/x\nhttp://a/z /d/x\n")
    with pytest.raises(ManifestError, match="line 1: expected 'URL DEST'"):
        parse_manifest("http://a/x\n")
