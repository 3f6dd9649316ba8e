"""The `pget` command, compatible with Replicate's pget 0.8.

    pget [flags] URL DEST          download one file (DEST is a directory with -x)
    pget multifile [flags] MANIFEST|-
    pget version

Every flag can also be set as `PGET_<NAME>` (dashes as underscores).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .._version import __version__
from ..errors import CogError
from .api import download, download_many
from .download import Consumer, Result
from .manifest import parse_manifest
from .options import (
    BYTES_PER_CONNECTION,
    DEFAULT_MAX_CONCURRENT_FILES,
    DEFAULT_MAX_CONN_PER_HOST,
    EXTRACT_CHUNK,
    EXTRACT_WINDOW,
    MAX_AUTO_CONNECTIONS,
    MIN_AUTO_CHUNK,
    DownloadOptions,
    parse_size,
)
from .pidfile import default_pid_file, pid_lock
from .progress import progress_display

log = logging.getLogger("pget")
F = TypeVar("F", bound=Callable[..., Any])
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Go-style durations: `5s`, `500ms`, `1m`, or plain seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration (examples: 5s, 500ms)")
    return float(match[1]) * _SECONDS[match[2]]


def common_flags(fn: F) -> F:
    flags = [
        click.option(
            "-c",
            "--concurrency",
            type=int,
            help="Parallel connections (chunks in flight) per run [default: one per "
            f"{BYTES_PER_CONNECTION >> 20} MiB of the file, up to {MAX_AUTO_CONNECTIONS}: object "
            "stores cap each connection's rate, so the rate follows the connections].",
        ),
        click.option("--max-chunks", type=int, hidden=True, help="Deprecated: --concurrency."),
        click.option(
            "-m",
            "--chunk-size",
            help="Chunk size (e.g. 125M, 64MiB) [default: the file size spread over the "
            f"connections, {MIN_AUTO_CHUNK >> 20}MiB to 125M; {EXTRACT_CHUNK >> 20}MiB with -x, "
            f"at most {EXTRACT_WINDOW >> 20}MiB downloaded ahead of the extractor].",
        ),
        click.option("--minimum-chunk-size", hidden=True, help="Deprecated: --chunk-size."),
        click.option("--connect-timeout", default="5s", show_default=True, help="e.g. 5s."),
        click.option("-r", "--retries", type=int, default=5, show_default=True),
        click.option("-f", "--force", is_flag=True, help="Overwrite existing destinations."),
        click.option("--resolve", multiple=True, help="host:port:ip to connect to (repeatable)."),
        click.option("--headers", multiple=True, help="Name=value header for every request."),
        click.option(
            "--max-conn-per-host", type=int, default=DEFAULT_MAX_CONN_PER_HOST, show_default=True
        ),
        click.option("--cache-hosts", help="Comma-separated cache nodes (consistent hashing)."),
        click.option(
            "--cache-uri-prefixes",
            default="https://weights.replicate.delivery",
            show_default=True,
            help="Space-separated URL prefixes served by the cache nodes.",
        ),
        click.option("--force-http2", is_flag=True, hidden=True),
        click.option(
            "-o",
            "--output",
            "consumer",
            type=click.Choice(["file", "tar-extractor", "null"]),
            default="file",
            show_default=True,
            hidden=True,
        ),
        click.option("--pid-file", type=click.Path(path_type=Path)),
        click.option("-v", "--verbose", is_flag=True, help="Same as --log-level debug."),
        click.option(
            "--log-level",
            type=click.Choice(["debug", "info", "warn", "error"]),
            default="info",
            show_default=True,
        ),
    ]
    for flag in reversed(flags):
        fn = flag(fn)
    return fn


def build_options(flags: dict[str, Any]) -> DownloadOptions:
    if flags["chunk_size"] and flags["minimum_chunk_size"]:
        raise click.UsageError("use --chunk-size, not both it and --minimum-chunk-size")
    chunk = flags["chunk_size"] or flags["minimum_chunk_size"]
    resolve = {}
    for entry in flags["resolve"]:
        host, _, rest = entry.partition(":")
        port, _, address = rest.partition(":")
        if not (host and port and address) or host.replace(".", "").isdigit():
            raise click.BadParameter(f"{entry!r}: write host:port:ip", param_hint="--resolve")
        if f"{host}:{port}" in resolve:
            raise click.BadParameter(f"{host}:{port} given twice", param_hint="--resolve")
        resolve[f"{host}:{port}"] = address
    headers = dict(header.split("=", 1) for header in flags["headers"] if "=" in header)
    try:
        chunk_size = parse_size(chunk) if chunk else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--chunk-size") from None
    return DownloadOptions(
        concurrency=flags["concurrency"] or flags["max_chunks"],
        chunk_size=chunk_size,
        retries=flags["retries"],
        connect_timeout=parse_duration(flags["connect_timeout"]),
        force=flags["force"],
        max_conn_per_host=flags["max_conn_per_host"],
        resolve=resolve,
        headers=headers,
        cache_hosts=_cache_hosts(flags["cache_hosts"]),
        cache_uri_prefixes=tuple(flags["cache_uri_prefixes"].split()),
    )


def _cache_hosts(text: str | None) -> tuple[str, ...]:
    return tuple(host.strip() for host in text.split(",")) if text else ()


def _setup_logging(flags: dict[str, Any]) -> None:
    level = "debug" if flags["verbose"] else flags["log_level"]
    logging.basicConfig(
        level={"warn": "WARNING"}.get(level, level.upper()),
        format="%(message)s",
        stream=sys.stderr,
    )


def _run(flags: dict[str, Any], work: Callable[[], Any]) -> Any:
    _setup_logging(flags)
    try:
        with pid_lock(flags["pid_file"] or default_pid_file()):
            return work()
    except CogError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # the disk's or the system's: full, read-only, not allowed
        raise click.ClickException(_describe(exc)) from None


def _describe(error: OSError) -> str:
    if error.filename is None:
        return str(error)
    return f"{error.filename}: {error.strerror or error}"


def _report(results: list[Result]) -> None:
    total = sum(result.size for result in results)
    seconds = max((result.seconds for result in results), default=0.0)
    rate = total / seconds if seconds else 0.0
    log.info(
        "Complete: file_count=%d bytes=%d elapsed=%.3fs bytes/s=%.0f",
        len(results),
        total,
        seconds,
        rate,
    )


SETTINGS = {"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "PGET"}


@click.command("pget", context_settings=SETTINGS)
@click.argument("url")
@click.argument("dest", required=False)
@click.option("-x", "--extract", is_flag=True, help="Extract a tar into DEST while downloading.")
@common_flags
def get_command(url: str, dest: str | None, extract: bool, **flags: Any) -> None:
    """Download URL to DEST in parallel chunks."""
    consumer: Consumer = "tar-extractor" if extract else flags["consumer"]
    if dest is None and consumer != "null":
        raise click.UsageError("give a destination: pget URL DEST")
    options = build_options(flags)

    def work() -> None:
        with progress_display(flags["log_level"] != "error") as progress:
            result = download(url, dest, options, consumer, progress)
        _report([result])

    _run(flags, work)


@click.command("multifile", context_settings=SETTINGS)
@click.argument("manifest")
@click.option(
    "--max-concurrent-files",
    type=int,
    default=DEFAULT_MAX_CONCURRENT_FILES,
    show_default=True,
)
@common_flags
def multifile_command(manifest: str, max_concurrent_files: int, **flags: Any) -> None:
    """Download every `URL DEST` line of MANIFEST (- for stdin)."""
    text = sys.stdin.read() if manifest == "-" else Path(manifest).read_text()
    options = build_options(flags)

    def work() -> None:
        entries = parse_manifest(text)
        with progress_display(flags["log_level"] != "error") as progress:
            results = download_many(entries, options, max_concurrent_files, progress)
        _report(results)

    try:
        _run(flags, work)
    except CogError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("version")
def version_command() -> None:
    """Print the version."""
    click.echo(f"pget {__version__} (pycog)")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: `pget URL DEST`, or a subcommand (flags may come first)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "multifile" in args:
        args.remove("multifile")
        multifile_command.main(args, prog_name="pget multifile")
    elif args[:1] == ["version"]:
        version_command.main(args[1:], prog_name="pget version")
    else:
        get_command.main(args, prog_name="pget")
