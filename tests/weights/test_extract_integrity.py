"""`pget -x` over real HTTP: no member is ever left looking complete when it is not, bad
archives fail in one line, and a gzip bomb extracts in bounded memory."""

import bz2
import gzip
import io
import lzma
import os
import resource
import subprocess
import sys
import tarfile
from pathlib import Path

import lz4.frame
import pytest

from cog.weights import ArchiveError, DownloadError, DownloadOptions, download

from .bomb import MiB, gzip_bomb, run_pget

FAST = {"backoff_base": 0.01, "chunk_size": 500_000}
COMPRESS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lz4": lz4.frame.compress,
}


PID_FILE = f"/tmp/pycog-test-extract-{os.getpid()}.pid"
"""Our own: a pget of another test run holding the default one would add a warning line."""


def pget(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cog.weights",
            *args,
            "--log-level",
            "error",
            "--pid-file",
            PID_FILE,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def data_offsets(archive: bytes) -> dict[str, tuple[int, int]]:
    """Each member's (data offset, size) in a plain tar."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: (m.offset_data, m.size) for m in tar.getmembers()}


def header_offsets(archive: bytes) -> list[int]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return [m.offset for m in tar.getmembers()]


def not_complete(target: Path, members: dict[str, bytes]) -> list[str]:
    """Files under `target` that are not a member in full: temporary ones, or a member's
    name with other bytes."""
    wrong = []
    for path in target.rglob("*"):
        if path.is_file():
            name = path.relative_to(target).as_posix()
            if members.get(name) != path.read_bytes():
                wrong.append(name)
    return wrong


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_a_tar_cut_inside_a_member_without_content_length_fails_and_leaves_no_part(
    origin, payloads, tmp_path
):
    archive, members = payloads["archive.tar"], payloads["members"]
    offset, size = data_offsets(archive)["weights/part2.bin"]
    origin.files["cut.tar"] = archive[: offset + size // 2]
    result = pget("-x", f"{origin.url}/nolength/cut.tar", str(tmp_path / "x"))
    assert "weights/part2.bin: the archive ends inside this member" in one_line_error(result)
    assert not_complete(tmp_path / "x", members) == []
    assert not (tmp_path / "x" / "weights" / "part2.bin").exists()
    # The members before the cut are there, complete.
    assert (tmp_path / "x" / "weights" / "part1.bin").read_bytes() == members["weights/part1.bin"]


def test_a_tar_cut_between_members_needs_its_end_marker_or_a_content_length(
    origin, payloads, tmp_path
):
    archive, members = payloads["archive.tar"], payloads["members"]
    origin.files["cut.tar"] = archive[: header_offsets(archive)[2]]
    result = pget("-x", f"{origin.url}/nolength/cut.tar", str(tmp_path / "x"))
    assert "end-of-archive marker" in one_line_error(result)
    # With a Content-Length the download is known complete, as tarfile and Go's tar take it.
    result = pget("-x", f"{origin.url}/f/cut.tar", str(tmp_path / "y"))
    assert result.returncode == 0, result.stderr
    assert not_complete(tmp_path / "y", members) == []
    assert len(list((tmp_path / "y").rglob("*.bin"))) == 2


@pytest.mark.parametrize("compression", sorted(COMPRESS))
@pytest.mark.parametrize("mode", ["f", "nolength"])
def test_a_truncated_compressed_tar_fails_and_leaves_no_part(
    origin, payloads, tmp_path, compression, mode
):
    packed = COMPRESS[compression](payloads["archive.tar"])
    origin.files["cut.tar.z"] = packed[: len(packed) * 2 // 3]
    result = pget("-x", f"{origin.url}/{mode}/cut.tar.z", str(tmp_path / "x"))
    assert "truncated" in one_line_error(result)
    assert not_complete(tmp_path / "x", payloads["members"]) == []


@pytest.mark.parametrize("name", ["archive.tar", "archive.tar.gz"])
def test_complete_archives_without_content_length_extract(origin, payloads, tmp_path, name):
    download(
        f"{origin.url}/nolength/{name}", tmp_path / "x", DownloadOptions(**FAST), "tar-extractor"
    )
    members = payloads["members"]
    assert not_complete(tmp_path / "x", members) == []
    assert len([p for p in (tmp_path / "x").rglob("*") if p.is_file()]) == len(members)


def test_a_failed_download_leaves_no_member_with_holes(origin, payloads, tmp_path):
    """Ranged chunks land out of order: a member half written would have its full size."""
    origin.settings.fail_first = 100
    options = DownloadOptions(backoff_base=0.01, chunk_size=500_000, retries=1, concurrency=4)
    with pytest.raises(DownloadError, match="retries"):
        download(f"{origin.url}/drop/archive.tar", tmp_path / "x", options, "tar-extractor")
    assert not_complete(tmp_path / "x", payloads["members"]) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "the archive is empty"),
        (b"not a tar at all", "not a tar archive"),
        (os.urandom(4096), "not a tar archive"),
        (b"\x1f\x8b" + os.urandom(4096), "gzip stream is corrupt"),
        (gzip.compress(b""), "the archive is empty (no bytes inside the gzip stream)"),
        (gzip.compress(os.urandom(3000)), "not a tar archive inside the gzip stream"),
        (b"BZh9" + os.urandom(100), "bzip2 stream is corrupt"),
        (b"\x04\x22\x4d\x18" + os.urandom(100), "lz4 stream is corrupt"),
    ],
    ids=[
        "empty",
        "text",
        "junk",
        "gzip-junk",
        "gzip-empty",
        "gzip-of-junk",
        "bzip2-junk",
        "lz4-junk",
    ],
)
def test_bad_archives_fail_in_one_line(origin, tmp_path, body, says):
    origin.files["bad.tar"] = body
    result = pget("-x", f"{origin.url}/f/bad.tar", str(tmp_path / "x"))
    line = one_line_error(result)
    assert says in line and f"{origin.url}/f/bad.tar" in line
    assert not_complete(tmp_path / "x", {}) == []


def test_bad_archive_is_an_archive_error(origin, tmp_path):
    origin.files["bad.tar"] = b"junk" * 300
    with pytest.raises(ArchiveError, match="not a tar archive"):
        download(
            f"{origin.url}/f/bad.tar", tmp_path / "x", DownloadOptions(**FAST), "tar-extractor"
        )


def test_a_destination_that_is_a_file_fails_in_one_line(origin, tmp_path):
    (tmp_path / "x").write_text("a file")
    result = pget("-x", f"{origin.url}/f/archive.tar", str(tmp_path / "x"))
    assert str(tmp_path / "x") in one_line_error(result)


RSS_BOUND = 256 * MiB
"""Peak RSS allowed to `pget -x` on the bomb: tarfile's stream mode took 3 GiB for 1 GiB."""


def test_a_gzip_bomb_extracts_in_bounded_memory(origin, tmp_path):
    size = 1024 * MiB
    origin.files["bomb.tar.gz"] = gzip_bomb(size)
    args = ["-x", f"{origin.url}/f/bomb.tar.gz", str(tmp_path / "x"), "--log-level", "error"]
    run = run_pget([*args, "--pid-file", str(tmp_path / "pid")], limit=120)
    assert run.status == 0
    assert run.peak_rss < RSS_BOUND, f"peak RSS {run.peak_rss / MiB:.0f} MiB"
    extracted = os.stat(tmp_path / "x" / "zeros.bin")
    assert extracted.st_size == size
    assert extracted.st_blocks * 512 < size // 100  # the zeros are holes, not disk


def test_a_failed_forced_extraction_keeps_the_files_it_would_have_replaced(
    origin, payloads, tmp_path
):
    archive, members = payloads["archive.tar"], payloads["members"]
    download(
        f"{origin.url}/f/archive.tar", tmp_path / "x", DownloadOptions(**FAST), "tar-extractor"
    )
    offset, size = data_offsets(archive)["weights/part2.bin"]
    origin.files["cut.tar"] = archive[: offset + size // 2]
    result = pget("-x", "--force", f"{origin.url}/nolength/cut.tar", str(tmp_path / "x"))
    assert "truncated" in one_line_error(result)
    assert not_complete(tmp_path / "x", members) == []
    assert len([p for p in (tmp_path / "x").rglob("*") if p.is_file()]) == len(members)


@pytest.mark.parametrize("mode", ["f", "nolength"])
def test_hard_links_to_members_still_being_written(origin, payloads, tmp_path, mode):
    data = os.urandom(3_000_000)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("a.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("b.bin")
        link.type, link.linkname = tarfile.LNKTYPE, "a.bin"
        tar.addfile(link)
    origin.files["linked.tar"] = buffer.getvalue()
    download(
        f"{origin.url}/{mode}/linked.tar", tmp_path / "x", DownloadOptions(**FAST), "tar-extractor"
    )
    assert not_complete(tmp_path / "x", {"a.bin": data, "b.bin": data}) == []
    assert os.stat(tmp_path / "x" / "b.bin").st_ino == os.stat(tmp_path / "x" / "a.bin").st_ino


def _small_files() -> None:
    """In the child: files may not grow past 500 kB (Python ignores SIGXFSZ: writes fail)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, 500_000))


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((), "model.bin"),
        (("-x",), "archive.tar"),
        (("-x",), "archive.tar.gz"),
    ],
    ids=["file", "tar", "tar.gz"],
)
def test_a_file_that_cannot_be_written_fails_at_once_in_one_line(
    origin, payloads, tmp_path, args, name
):
    dest = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "cog.weights", *args, f"{origin.url}/f/{name}", str(dest)]
        + ["--log-level", "error", "--pid-file", str(tmp_path / "pid"), "-m", "1M"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_small_files,
    )
    assert "cannot write it (File too large)" in one_line_error(result)
    assert "retries" not in result.stderr  # the disk's failure is not retried as the network's
    if args:
        assert not_complete(dest, payloads["members"]) == []
    else:
        assert [p.name for p in tmp_path.rglob("*") if p.is_file() and p.name != "pid"] == []
