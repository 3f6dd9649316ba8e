#!/usr/bin/env python3
"""Run Cog's integration tests (txtar testscripts) against pycog's CLI on the local runtime.

    benchmarks/cog_integration.py DIR [-k SUBSTRING] [--jobs 2] [--timeout 300] [--json OUT]

DIR holds `*.txtar` files in the format of Go's testscript (as replicate/cog's
`integration-tests/tests`); none are shipped here. For each file the embedded files are written to
a fresh directory and the script's commands run there, with `cog` being pycog's CLI (the one
beside this Python, or `--cog`). The interpreter covers the subset of testscript those tests use:

- builtins: exec (with `&` and `wait`), stdout/stderr/grep (regex, `-count=N`, `!` negation),
  exists, cmp, cp, rm, mkdir, cd, env, stdin, skip, stop, sleep; `[cond]` prefixes (`linux`,
  `amd64`, `linux_amd64`, `short` (false), `exec:NAME`) and `?` (may fail);
- Cog's harness commands: `cog` (`cog serve` in the background on a free port, waiting for the
  health check, `$SERVER_URL` set), curl (with its retries), server-stop, wait-for,
  webhook-server-start/wait, upload-server-start/count, pty-run.

The local runtime has no images, so Cog's image arguments are translated: `cog build -t IMAGE`
prepares the model (`cog build --runtime local` when pycog has it, else the static schema, which
is what a build checks before Docker starts), and `cog predict IMAGE ...` (`run`, `train`) drops
the image when it names the test's own `$TEST_IMAGE`. A test that needs what only Docker, a
registry or a GPU gives (docker-run, registry-*, docker-push, `exec docker`, `cog push`, a built
image used from elsewhere, a CUDA/torch/tensorflow build) is counted as not applicable (N/A).

The summary line is `N passed, N failed, N skipped, N not applicable`; `--json` also writes each
test's result, with the first failing line and the tail of its output.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import http.server
import json
import os
import platform
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Environment variables Cog's harness hands to `cog serve` (everything else set by `env` is not).
SERVE_ENV_KEYS = (
    "HOME",
    "PATH",
    "REPO_ROOT",
    "COG_NO_UPDATE_CHECK",
    "TEST_IMAGE",
    "COG_SDK_WHEEL",
    "COGLET_WHEEL",
    "COG_CACHE_DIR",
    "COG_MODEL_REGISTRY",
    "RUST_LOG",
    "COG_CA_CERT",
    "BUILDKIT_PROGRESS",
    "COG_REGISTRY_HOST",
)
NOT_APPLICABLE_COMMANDS = {
    "docker-run": "runs a container",
    "registry-start": "needs a local registry",
    "registry-seed": "needs a local registry",
    "registry-inspect": "needs a local registry",
    "docker-push": "pushes to a registry",
}
# Builds whose point is a GPU/CUDA image or a framework download this machine cannot make.
NOT_APPLICABLE_CONFIG = re.compile(r"^\s*gpu:\s*true\b|^\s*-\s*\"?(torch|tensorflow)\b", re.M)
SECRET_MOUNT = re.compile(r"^\s*-?\s*type:\s*secret\b", re.M)
IMAGE_ONLY_BUILD_FLAGS = ("--use-cog-base-image", "--separate-weights", "--base-image")
HEALTHY = {"READY", "UNHEALTHY", "BUSY"}
SETUP_DONE_BADLY = {"SETUP_FAILED", "DEFUNCT"}


_WHEEL_LOCK = threading.Lock()


def pycog_wheel() -> Path:
    """pycog's own wheel (built once per run), standing in for Cog's `dist/` wheels."""
    from cog.build.sdk_wheel import sdk_wheel

    with _WHEEL_LOCK:
        return sdk_wheel()


class Failure(Exception):
    """The script failed at the current line."""


class Skip(Exception):
    """`skip`: the test does not run here."""


class NotApplicable(Exception):
    """The test needs Docker, a registry or a GPU."""


class Stop(Exception):
    """`stop`: the script ends early, successfully."""


@dataclasses.dataclass
class Word:
    text: str
    quoted: bool


@dataclasses.dataclass
class Line:
    number: int
    text: str
    conditions: list[str]
    prefix: str  # "", "!" or "?"
    args: list[str]
    background: bool


@dataclasses.dataclass
class Result:
    name: str
    status: str  # pass, fail, skip, na
    line: str = ""
    reason: str = ""
    output: str = ""
    seconds: float = 0.0


def parse_txtar(text: str) -> tuple[str, dict[str, str]]:
    """The script (the archive's comment) and its files, by name."""
    marker = re.compile(r"^-- (.+?) --$")
    script: list[str] = []
    files: dict[str, list[str]] = {}
    current: list[str] = script
    for line in text.splitlines(keepends=True):
        match = marker.match(line.rstrip("\r\n"))
        if match:
            current = files.setdefault(match.group(1).strip(), [])
            continue
        current.append(line)
    return "".join(script), {name: "".join(body) for name, body in files.items()}


def split_words(text: str) -> list[Word]:
    """testscript's words: spaces separate, single quotes group ('' is a quote), an unquoted
    `#` starting a word ends the line."""
    words: list[Word] = []
    current = ""
    quoted = False
    started = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "'":
            closing = index + 1
            chunk = ""
            while True:
                end = text.find("'", closing)
                if end < 0:
                    raise Failure(f"unterminated quote in: {text}")
                chunk += text[closing:end]
                if end + 1 < len(text) and text[end + 1] == "'":
                    chunk += "'"
                    closing = end + 2
                    continue
                index = end + 1
                break
            current += chunk
            quoted = started = True
            continue
        if char in " \t":
            if started:
                words.append(Word(current, quoted))
            current, quoted, started = "", False, False
        elif char == "#" and not started:
            break
        else:
            current += char
            started = True
        index += 1
    if started:
        words.append(Word(current, quoted))
    return words


def parse_script(script: str) -> list[Line]:
    lines: list[Line] = []
    for number, raw in enumerate(script.splitlines(), start=1):
        words = split_words(raw.strip())
        conditions: list[str] = []
        prefix = ""
        while words and not words[0].quoted:
            head = words[0].text
            if head.startswith("[") and head.endswith("]"):
                conditions.append(head[1:-1])
            elif head in ("!", "?"):
                prefix = head
            else:
                break
            words.pop(0)
        if not words:
            continue
        background = not words[-1].quoted and words[-1].text == "&"
        if background:
            words.pop()
        lines.append(
            Line(number, raw.strip(), conditions, prefix, [w.text for w in words], background)
        )
    return lines


SPECIAL_VARIABLE = set("*#$@!?-0123456789")


def expand(text: str, lookup: Callable[[str], str], in_regexp: bool = False) -> str:
    """os.Expand as testscript uses it: $NAME and ${NAME}; a `$` not followed by a name stays.
    In a regexp argument the values are quoted, as testscript does."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        rest = text[index + 1 :]
        if rest[0] == "{":
            end = rest.find("}")
            if end < 0:
                out.append(char)
                index += 1
                continue
            name, width = rest[1:end], end + 1
        elif rest[0] in SPECIAL_VARIABLE:
            name, width = rest[0], 1
        else:
            match = re.match(r"[A-Za-z0-9_]+", rest)
            if not match:
                out.append(char)
                index += 1
                continue
            name, width = match.group(0), len(match.group(0))
        value = "/" if name == "/" else lookup(name)
        out.append(re.escape(value) if in_regexp else value)
        index += 1 + width
    return "".join(out)


def go_regexp(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) pattern as a Python one, in testscript's multi-line mode. The host a container
    reaches the harness at (host.docker.internal) is loopback on the local runtime."""
    translated = pattern.replace(r"\z", r"\Z")
    translated = re.sub(r"host(\\)?\.docker(\\)?\.internal", r"127\\.0\\.0\\.1", translated)
    translated = re.sub(r"\(\?P<", "(?P<", translated)
    try:
        return re.compile(translated, re.M)
    except re.error as exc:
        raise Failure(f"bad regexp {pattern!r}: {exc}") from None


HOST_SETTING = re.compile(
    r"^(PIP_|UV_|SSL_|.*CA_BUNDLE$|.*CA_CERTS?(_FILE)?$|(HTTPS?|NO)_PROXY$)", re.I
)


def host_settings() -> dict[str, str]:
    """What package installs need from this machine (index, certificates, proxy): the harness
    of Cog runs on a machine configured the same way."""
    return {k: v for k, v in os.environ.items() if HOST_SETTING.match(k)}


def extra_pythons() -> list[str]:
    """pyenv's installed interpreters (3.10 and newer), last on PATH, so that the local runtime
    finds the `python_version` each test pins without shadowing the machine's own tools."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for version in sorted(root.glob("3.*")):
        minor = version.name.split(".")[1]
        if minor.isdigit() and int(minor) >= 10 and (version / "bin").is_dir():
            found.append(str(version / "bin"))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Recorder(http.server.ThreadingHTTPServer):
    """A loopback HTTP server for the upload and webhook commands."""

    daemon_threads = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.uploads: list[dict[str, Any]] = []
        self.result: dict[str, Any] | None = None
        self.done = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class QuietHandler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(length)

    def answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


class UploadHandler(QuietHandler):
    def do_PUT(self) -> None:
        data = self.body()
        with self.server.lock:
            self.server.uploads.append(
                {"path": self.path, "type": self.headers.get("Content-Type"), "size": len(data)}
            )
        location = f"http://127.0.0.1:{self.server.port}{self.path.split('?')[0]}"
        self.answer(200, {"Location": location})


class WebhookHandler(QuietHandler):
    def do_POST(self) -> None:
        try:
            payload = json.loads(self.body())
        except ValueError:
            self.answer(400)
            return
        self.answer(200)
        if payload.get("status") not in ("succeeded", "failed", "canceled"):
            return
        with self.server.lock:
            if self.server.result is not None:
                return
            output = payload.get("output")
            size = (
                len(output)
                if isinstance(output, str)
                else len(json.dumps(output, separators=(",", ":")))
            )
            result: dict[str, Any] = {
                "status": payload["status"],
                "output_size": size,
                "has_error": bool(payload.get("error")),
            }
            if payload.get("error"):
                result["error_message"] = payload["error"]
            if payload.get("metrics") is not None:
                result["metrics"] = payload["metrics"]
            self.server.result = result
            self.server.done.set()


class Script:
    """One test's state while its commands run."""

    def __init__(
        self, name: str, work: Path, cog: list[str], deadline: float, build_mode: str
    ) -> None:
        self.name = name
        self.work = work
        self.cwd = work
        self.cog = cog
        self.deadline = deadline
        self.build_mode = build_mode
        self.stdout = ""
        self.stderr = ""
        self.stdin: bytes | None = None
        self.log: list[str] = []
        self.background: list[tuple[Line, subprocess.Popen[bytes]]] = []
        self.server: subprocess.Popen[bytes] | None = None
        self.server_port = 0
        self.recorders: dict[str, Recorder] = {}
        self.built_in: Path | None = None
        home = os.environ.get("HOME", str(work))
        venv_bin = str(Path(cog[0]).parent) if os.sep in cog[0] else ""
        path = os.pathsep.join(
            p for p in (venv_bin, os.environ.get("PATH", ""), *extra_pythons()) if p
        )
        self.env: dict[str, str] = {
            "HOME": home,
            "PATH": path,
            "WORK": str(work),
            "TMPDIR": str(work / ".tmp"),
            "REPO_ROOT": str(work),
            "COG_NO_UPDATE_CHECK": "1",
            "COG_SKIP_DOCKER_CHECK": "1",
            "TEST_IMAGE": f"cog-test-{uuid.uuid4().hex[:10]}",
            "USER": os.environ.get("USER", "root"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        self.env.update(host_settings())
        (work / ".tmp").mkdir(exist_ok=True)
        # Cog's tests find the SDK wheels in $REPO_ROOT/dist (its checkout's build output).
        (work / "dist").mkdir(exist_ok=True)
        shutil.copy(pycog_wheel(), work / "dist")

    # -- plumbing ---------------------------------------------------------------------------
    def getenv(self, name: str) -> str:
        return self.env.get(name, "")

    def path(self, name: str) -> Path:
        return Path(name) if os.path.isabs(name) else self.cwd / name

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Failure("test timed out")
        return left

    def run_process(self, argv: list[str], cwd: Path | None = None) -> tuple[int, str, str]:
        stdin = self.stdin
        self.stdin = None
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd or self.cwd,
                env=self.env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return 127, "", f"{argv[0]}: {exc}"
        try:
            out, err = process.communicate(stdin, timeout=self.remaining())
        except subprocess.TimeoutExpired:
            kill_group(process)
            out, err = process.communicate()
            self.record(argv, out.decode(errors="replace"), err.decode(errors="replace"))
            raise Failure("test timed out") from None
        return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def record(self, argv: list[str], out: str, err: str) -> None:
        self.log.append(f"$ {' '.join(argv)}\n{out}{err}")

    def set_output(self, out: str, err: str) -> None:
        self.stdout, self.stderr = out, err

    def exec_checked(self, argv: list[str], prefix: str, cwd: Path | None = None) -> None:
        code, out, err = self.run_process(argv, cwd)
        self.record(argv, out, err)
        self.set_output(out, err)
        if prefix == "!" and code == 0:
            raise Failure("command succeeded unexpectedly")
        if prefix == "" and code != 0:
            raise Failure(f"command failed with exit status {code}")

    # -- the loop ---------------------------------------------------------------------------
    def run(self, lines: list[Line]) -> None:
        for line in lines:
            if not all(self.condition(c) for c in line.conditions):
                continue
            self.current = line
            args = [line.args[0]] + [
                expand(
                    a,
                    self.getenv,
                    in_regexp=line.args[0] in ("stdout", "stderr", "grep") and i == 0,
                )
                for i, a in enumerate(line.args[1:])
            ]
            args = self.expand_regexp_args(args)
            command = getattr(self, "cmd_" + args[0].replace("-", "_"), None)
            if args[0] in NOT_APPLICABLE_COMMANDS:
                raise NotApplicable(f"{args[0]}: {NOT_APPLICABLE_COMMANDS[args[0]]}")
            if command is None:
                raise Failure(f"unknown command {args[0]!r}")
            if line.background and args[0] != "exec":
                raise Failure(f"{args[0]} cannot run in the background")
            command(line, args[1:])

    def expand_regexp_args(self, args: list[str]) -> list[str]:
        # stdout/stderr/grep: the pattern is the first argument that is not a flag; re-expand it
        # with quoting (the plain expansion above only applied to argument 0 by position).
        if args[0] not in ("stdout", "stderr", "grep"):
            return args
        raw = self.current.args
        out = [args[0]]
        pattern_seen = False
        for raw_arg in raw[1:]:
            if not pattern_seen and not raw_arg.startswith("-"):
                out.append(expand(raw_arg, self.getenv, in_regexp=True))
                pattern_seen = True
            else:
                out.append(expand(raw_arg, self.getenv))
        return out

    def condition(self, condition: str) -> bool:
        negated = False
        while condition.startswith("!"):
            negated = not negated
            condition = condition[1:]
        machine = platform.machine().lower()
        if condition == "short":
            value = False
        elif condition == "linux":
            value = sys.platform.startswith("linux")
        elif condition == "amd64":
            value = machine in ("x86_64", "amd64")
        elif condition == "linux_amd64":
            value = sys.platform.startswith("linux") and machine in ("x86_64", "amd64")
        elif condition.startswith("exec:"):
            value = shutil.which(condition[5:], path=self.env["PATH"]) is not None
        elif condition == "net":
            value = False
        else:
            raise Failure(f"unknown condition {condition!r}")
        return value != negated

    def close(self) -> None:
        self.stop_server()
        for _, process in self.background:
            kill_group(process)
        for recorder in self.recorders.values():
            recorder.shutdown()
            recorder.server_close()

    # -- builtins ---------------------------------------------------------------------------
    def cmd_exec(self, line: Line, args: list[str]) -> None:
        if not args:
            raise Failure("exec: no command")
        if args[0] == "docker":
            self.docker_inspect_schema(line, args)
            return
        argv = list(args)
        resolved = (
            shutil.which(argv[0], path=self.env["PATH"]) if os.sep not in argv[0] else argv[0]
        )
        argv[0] = resolved or argv[0]
        if line.background:
            process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self.background.append((line, process))
            return
        self.exec_checked(argv, line.prefix)

    def docker_inspect_schema(self, line: Line, args: list[str]) -> None:
        """`docker inspect IMAGE --format '{{index .Config.Labels "run.cog.openapi_schema"}}'`:
        the schema label a build bakes is the static schema (compact JSON, as Go writes it)."""
        label = re.search(r'Labels "([^"]+)"', " ".join(args))
        if args[1:2] != ["inspect"] or not label or label.group(1) != "run.cog.openapi_schema":
            raise NotApplicable("exec docker")
        if not args[2].startswith(self.env["TEST_IMAGE"]):
            raise NotApplicable(f"inspects the image {args[2]}")
        code, out, err = self.run_process([*self.cog, "schema", "--static"], cwd=self.built_in)
        self.record(["cog", "schema", "--static"], out, err)
        try:
            out = json.dumps(json.loads(out), separators=(",", ":")) + "\n"
        except ValueError:
            pass
        self.set_output(out, err)
        if (code == 0) == (line.prefix == "!"):
            raise Failure(f"schema (for docker inspect) exit status {code}")

    def cmd_wait(self, line: Line, args: list[str]) -> None:
        outs, errs = [], []
        for started, process in self.background:
            try:
                out, err = process.communicate(timeout=self.remaining())
            except subprocess.TimeoutExpired:
                kill_group(process)
                raise Failure("test timed out waiting for a background command") from None
            outs.append(out.decode(errors="replace"))
            errs.append(err.decode(errors="replace"))
            if started.prefix == "" and process.returncode != 0:
                raise Failure(f"background {started.text!r} failed with {process.returncode}")
            if started.prefix == "!" and process.returncode == 0:
                raise Failure(f"background {started.text!r} succeeded unexpectedly")
        self.background = []
        self.set_output("".join(outs), "".join(errs))

    def match(self, line: Line, args: list[str], text: str, what: str) -> None:
        count: int | None = None
        while args and args[0].startswith("-") and len(args) > 1:
            flag = args.pop(0)
            if flag.startswith("-count="):
                count = int(flag.split("=", 1)[1])
            elif flag == "-q":
                continue
            else:
                raise Failure(f"{what}: unknown flag {flag}")
        if not args:
            raise Failure(f"{what}: no pattern")
        pattern = go_regexp(args[0])
        found = pattern.findall(text)
        if line.prefix == "!":
            if found:
                raise Failure(f"{what} unexpectedly matched {args[0]!r}")
            return
        if count is not None:
            if len(found) != count:
                raise Failure(f"{what}: {len(found)} matches of {args[0]!r}, want {count}")
            return
        if not found:
            raise Failure(f"no match for {args[0]!r} in {what}")

    def cmd_stdout(self, line: Line, args: list[str]) -> None:
        self.match(line, args, self.stdout, "stdout")

    def cmd_stderr(self, line: Line, args: list[str]) -> None:
        self.match(line, args, self.stderr, "stderr")

    def cmd_grep(self, line: Line, args: list[str]) -> None:
        if len(args) < 2:
            raise Failure("grep: usage: grep PATTERN FILE")
        target = self.path(args[-1])
        if not target.exists():
            raise Failure(f"grep: {args[-1]} does not exist")
        self.match(line, args[:-1], target.read_text(errors="replace"), args[-1])

    def cmd_exists(self, line: Line, args: list[str]) -> None:
        names = [a for a in args if not a.startswith("-")]
        for name in names:
            present = self.path(name).exists()
            if line.prefix == "!" and present:
                raise Failure(f"{name} exists")
            if line.prefix != "!" and not present:
                raise Failure(f"{name} does not exist")

    def file_or_stream(self, name: str) -> str:
        if name == "stdout":
            return self.stdout
        if name == "stderr":
            return self.stderr
        return self.path(name).read_text(errors="replace")

    def cmd_cmp(self, line: Line, args: list[str]) -> None:
        same = self.file_or_stream(args[0]) == self.file_or_stream(args[1])
        if same == (line.prefix == "!"):
            raise Failure(f"{args[0]} and {args[1]} {'match' if same else 'differ'}")

    def cmd_cp(self, line: Line, args: list[str]) -> None:
        *sources, target = args
        destination = self.path(target)
        for source in sources:
            to = destination / Path(source).name if destination.is_dir() else destination
            if source in ("stdout", "stderr"):
                to.write_text(self.file_or_stream(source))
            else:
                shutil.copy(self.path(source), to)

    def cmd_rm(self, line: Line, args: list[str]) -> None:
        for name in args:
            target = self.path(name)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()

    def cmd_mkdir(self, line: Line, args: list[str]) -> None:
        for name in args:
            self.path(name).mkdir(parents=True, exist_ok=True)

    def cmd_cd(self, line: Line, args: list[str]) -> None:
        target = self.path(args[0])
        if not target.is_dir():
            raise Failure(f"cd: {args[0]} is not a directory")
        self.cwd = target

    def cmd_env(self, line: Line, args: list[str]) -> None:
        shown = []
        for arg in args:
            if "=" in arg:
                key, value = arg.split("=", 1)
                self.env[key] = value
            else:
                shown.append(f"{arg}={self.getenv(arg)}\n")
        if shown:
            self.set_output("".join(shown), "")

    def cmd_stdin(self, line: Line, args: list[str]) -> None:
        self.stdin = self.file_or_stream(args[0]).encode()

    def cmd_skip(self, line: Line, args: list[str]) -> None:
        raise Skip(" ".join(args))

    def cmd_stop(self, line: Line, args: list[str]) -> None:
        raise Stop(" ".join(args))

    def cmd_sleep(self, line: Line, args: list[str]) -> None:
        time.sleep(parse_duration(args[0]))

    # -- Cog's harness commands ---------------------------------------------------------------
    def cmd_cog(self, line: Line, args: list[str]) -> None:
        if not args:
            raise Failure("cog: no subcommand")
        sub, rest = args[0], args[1:]
        if sub == "push":
            raise NotApplicable("cog push needs a registry")
        if sub == "serve":
            self.serve(line, rest)
            return
        if sub == "build":
            self.build(line, rest)
            return
        if sub in ("predict", "run", "train"):
            rest = self.drop_image(rest)
        self.exec_checked([*self.cog, sub, *rest], line.prefix)

    def drop_image(self, args: list[str]) -> list[str]:
        if not args or args[0].startswith("-"):
            return args
        image = args[0]
        if not image.startswith(self.env["TEST_IMAGE"]):
            raise NotApplicable(f"runs the image {image}")
        if (
            self.built_in is not None
            and self.built_in != self.cwd
            and not (self.cwd / "cog.yaml").exists()
        ):
            raise NotApplicable("runs a built image from another directory")
        return args[1:]

    def build(self, line: Line, args: list[str]) -> None:
        if any(a.split("=")[0] in IMAGE_ONLY_BUILD_FLAGS for a in args):
            raise NotApplicable("image-only build flag")
        config_file = "cog.yaml"
        kept: list[str] = []
        index = 0
        while index < len(args):
            arg = args[index]
            if arg in ("-t", "--tag"):
                index += 2
                continue
            if arg.startswith("--tag="):
                index += 1
                continue
            if arg in ("-f", "--file") and index + 1 < len(args):
                config_file = args[index + 1]
            kept.append(arg)
            index += 1
        config = self.cwd / config_file
        if (
            config.exists()
            and NOT_APPLICABLE_CONFIG.search(config.read_text(errors="replace"))
            and line.prefix != "!"
        ):
            raise NotApplicable("GPU or framework build")
        if config.exists() and SECRET_MOUNT.search(config.read_text(errors="replace")):
            raise NotApplicable("build secrets are mounted into an image's build steps")
        self.built_in = self.cwd
        if self.build_mode == "local":
            self.exec_checked([*self.cog, "build", "--runtime", "local", *kept], line.prefix)
        else:
            options = ["-f", config_file] if config_file != "cog.yaml" else []
            code, out, err = self.run_process([*self.cog, "schema", "--static", *options])
            self.record(["cog", "schema", "--static"], out, err)
            self.set_output("", err)
            if line.prefix == "!" and code == 0:
                raise Failure("build (static schema) succeeded unexpectedly")
            if line.prefix == "" and code != 0:
                raise Failure(f"build (static schema) failed with exit status {code}")

    def serve(self, line: Line, args: list[str]) -> None:
        if self.server is not None:
            raise Failure("server already running")
        port = free_port()
        env = {k: self.env[k] for k in SERVE_ENV_KEYS if self.env.get(k)}
        env.update({k: self.env[k] for k in ("LANG", "USER") if k in self.env})
        env.update(host_settings())
        log = open(self.work / ".server.log", "wb")  # kept open while it runs
        self.server = subprocess.Popen(
            [*self.cog, "serve", "-p", str(port), *args],
            cwd=self.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.server_port = port
        url = f"http://127.0.0.1:{port}"
        self.env["SERVER_URL"] = url
        healthy = wait_for_server(url, min(120.0, self.remaining()), self.server)
        if not healthy:
            if line.prefix == "!":
                return
            raise Failure("server did not become healthy within timeout")
        if line.prefix == "!":
            raise Failure("server became healthy, but expected setup failure")

    def stop_server(self) -> None:
        if self.server is None:
            return
        try:
            urllib.request.urlopen(
                urllib.request.Request(
                    f"http://127.0.0.1:{self.server_port}/shutdown", method="POST"
                ),
                timeout=2,
            ).close()
        except (OSError, urllib.error.URLError):
            pass
        try:
            self.server.wait(5)
        except subprocess.TimeoutExpired:
            kill_group(self.server)
        kill_group(self.server)
        log = self.work / ".server.log"
        if log.exists():
            self.log.append("[cog serve]\n" + log.read_text(errors="replace")[-4000:])
        self.server = None

    def cmd_server_stop(self, line: Line, args: list[str]) -> None:
        self.stop_server()

    def cmd_curl(self, line: Line, args: list[str]) -> None:
        headers: dict[str, str] = {}
        while len(args) >= 2 and args[0] == "-H":
            key, _, value = args[1].partition(":")
            headers[key.strip()] = value.strip()
            args = args[2:]
        if len(args) < 2:
            raise Failure("curl: usage: curl [-H key:value]... METHOD PATH [BODY]")
        url = self.getenv("SERVER_URL")
        if not url:
            raise Failure("curl: SERVER_URL not set (did you call 'cog serve' first?)")
        method, path = args[0], args[1]
        body = args[2] if len(args) > 2 else ""
        if body.startswith("@"):
            body = self.path(body[1:]).read_text()
        if body:
            headers.setdefault("Content-Type", "application/json")
        last = ""
        for attempt in range(10):
            request = urllib.request.Request(
                url + path, data=body.encode() if body else None, method=method, headers=headers
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, text = response.status, response.read().decode(errors="replace")
            except urllib.error.HTTPError as exc:
                status, text = exc.code, exc.read().decode(errors="replace")
            except (OSError, urllib.error.URLError) as exc:
                last = f"error: {exc}"
                time.sleep(0.5)
                continue
            ok = 200 <= status < 300
            self.record(["curl", method, path, body[:200]], f"{status} {text[:2000]}\n", "")
            if ok and line.prefix != "!":
                self.set_output(text, "")
                return
            if not ok and line.prefix == "!":
                self.set_output("", text)
                return
            last = f"status {status}: {text[:500]}"
            if attempt < 9:
                time.sleep(0.5)
        if line.prefix == "!":
            raise Failure(f"curl: expected failure but got {last}")
        raise Failure(f"curl: all 10 attempts failed with {last}")

    def cmd_wait_for(self, line: Line, args: list[str]) -> None:
        condition, target = args[0], args[1]
        timeout = 30.0
        if len(args) > 2:
            try:
                timeout = parse_duration(args[-1])
            except ValueError:
                pass
        end = time.monotonic() + min(timeout, self.remaining())
        while time.monotonic() < end:
            if condition == "file":
                met = (self.work / target).exists()
            elif condition == "not-empty":
                file = self.work / target
                met = file.exists() and file.stat().st_size > 0
            elif condition == "http":
                expected = int(args[2]) if len(args) > 2 and args[2].isdigit() else 200
                try:
                    with urllib.request.urlopen(target, timeout=2) as response:
                        met = response.status == expected
                except urllib.error.HTTPError as exc:
                    met = exc.code == expected
                except (OSError, urllib.error.URLError):
                    met = False
            else:
                raise Failure(f"wait-for: unknown condition {condition}")
            if met != (line.prefix == "!"):
                return
            time.sleep(0.2)
        raise Failure(f"wait-for: timeout waiting for {condition} {target}")

    def cmd_upload_server_start(self, line: Line, args: list[str]) -> None:
        recorder = self.recorders["upload"] = Recorder(UploadHandler)
        self.env["UPLOAD_SERVER_URL"] = f"http://127.0.0.1:{recorder.port}/"

    def cmd_upload_server_count(self, line: Line, args: list[str]) -> None:
        recorder = self.recorders.get("upload")
        if recorder is None:
            raise Failure("upload-server-count: no upload server running")
        with recorder.lock:
            got = len(recorder.uploads)
        if (got == int(args[0])) == (line.prefix == "!"):
            raise Failure(f"upload-server-count: expected {args[0]} uploads but got {got}")

    def cmd_webhook_server_start(self, line: Line, args: list[str]) -> None:
        recorder = self.recorders["webhook"] = Recorder(WebhookHandler)
        self.env["WEBHOOK_URL"] = f"http://127.0.0.1:{recorder.port}/webhook"

    def cmd_webhook_server_wait(self, line: Line, args: list[str]) -> None:
        recorder = self.recorders.get("webhook")
        if recorder is None:
            raise Failure("webhook-server-wait: no webhook server running")
        timeout = parse_duration(args[0]) if args else 120.0
        if not recorder.done.wait(min(timeout, self.remaining())):
            raise Failure(f"webhook-server-wait: timed out after {timeout}s")
        self.set_output(json.dumps(recorder.result, separators=(",", ":")) + "\n", "")

    def cmd_pty_run(self, line: Line, args: list[str]) -> None:
        feed = b"" if args[0] == "/dev/null" else self.path(args[0]).read_bytes()
        argv = list(args[1:])
        if argv[0] == "cog":
            argv = [*self.cog, *argv[1:]]
        code, out = run_in_pty(argv, self.work, self.env, feed, self.remaining())
        self.record(argv, out, "")
        self.set_output(out, "")
        if (code == 0) == (line.prefix == "!"):
            raise Failure(f"pty-run: exit status {code}")


def run_in_pty(
    argv: list[str], cwd: Path, env: dict[str, str], feed: bytes, timeout: float
) -> tuple[int, str]:
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
    )
    os.close(secondary)
    if feed:
        os.write(main, feed)
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    if process.poll() is None:
        kill_group(process)
    os.close(main)
    return process.wait(), b"".join(chunks).decode(errors="replace")


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text)
    if not match:
        raise ValueError(text)
    value = float(match.group(1))
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]


def wait_for_server(url: str, timeout: float, process: subprocess.Popen[bytes]) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url + "/health-check", timeout=5) as response:
                status = json.loads(response.read()).get("status")
            if status in HEALTHY:
                return True
            if status in SETUP_DONE_BADLY:
                return False
        except (OSError, ValueError, urllib.error.URLError):
            if process.poll() is not None:
                return False
        time.sleep(0.2)
    return False


def kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def static_not_applicable(script: str, files: dict[str, str]) -> str | None:
    config = files.get("cog.yaml", "")
    if re.search(r"^\s*system_packages:", config, re.M):
        return "system_packages need an image (the local runtime cannot apt-get)"
    for line in parse_script(script):
        if line.args[0] == "exec" and len(line.args) > 2 and line.args[1].startswith("python"):
            helper = files.get(line.args[2], "")
            if '"docker"' in helper:
                return f"{line.args[2]} runs docker"
        if line.args[0] in NOT_APPLICABLE_COMMANDS:
            return f"{line.args[0]}: {NOT_APPLICABLE_COMMANDS[line.args[0]]}"
        docker = line.args[:2] == ["exec", "docker"]
        if docker and "run.cog.openapi_schema" not in line.text or line.args[:2] == ["cog", "push"]:
            return " ".join(line.args[:2])
    return None


def run_test(path: Path, cog: list[str], timeout: float, build_mode: str, keep: bool) -> Result:
    name = path.stem
    started = time.monotonic()
    script, files = parse_txtar(path.read_text())
    reason = static_not_applicable(script, files)
    if reason:
        return Result(name, "na", reason=reason)
    work = Path(tempfile.mkdtemp(prefix=f"cogit-{name}-"))
    for file_name, body in files.items():
        target = work / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
        if body.startswith("#!"):
            target.chmod(0o755)
    state = Script(name, work, cog, started + timeout, build_mode)
    state.current = Line(0, "", [], "", [""], False)
    result: Result
    try:
        state.run(parse_script(script))
        result = Result(name, "pass")
    except Stop:
        result = Result(name, "pass")
    except Skip as exc:
        result = Result(name, "skip", reason=str(exc))
    except NotApplicable as exc:
        result = Result(name, "na", line=state.current.text, reason=str(exc))
    except Failure as exc:
        result = Result(
            name, "fail", line=f"{state.current.number}: {state.current.text}", reason=str(exc)
        )
    except Exception as exc:  # a bug here or an odd script: report it as the test's failure
        result = Result(name, "fail", line=state.current.text, reason=f"runner error: {exc!r}")
    finally:
        state.close()
    if result.status == "fail":
        result.output = "\n".join(state.log)[-6000:]
    result.seconds = round(time.monotonic() - started, 1)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def default_cog() -> list[str]:
    beside = Path(sys.executable).parent / "cog"
    return [str(beside)] if beside.exists() else ["cog"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a folder of *.txtar testscripts")
    parser.add_argument(
        "-k", action="append", default=[], help="only tests whose name contains this"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test")
    parser.add_argument("--cog", help="the cog command (default: the one beside this Python)")
    parser.add_argument("--build", choices=("auto", "local", "schema"), default="auto")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--keep", action="store_true", help="keep each test's directory")
    options = parser.parse_args(argv)
    cog = options.cog.split() if options.cog else default_cog()
    build_mode = options.build
    if build_mode == "auto":
        helped = subprocess.run([*cog, "build", "--help"], capture_output=True, text=True)
        build_mode = "local" if "--runtime" in helped.stdout else "schema"
    tests = sorted(options.directory.glob("*.txtar"))
    if options.k:
        tests = [t for t in tests if any(k in t.stem for k in options.k)]
    os.environ.pop("DOCKER_HOST", None)
    results: list[Result] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(options.jobs, 2))) as pool:
        futures = [
            pool.submit(run_test, t, cog, options.timeout, build_mode, options.keep) for t in tests
        ]
        for future in concurrent.futures.as_completed(futures):
            result = future.result()
            results.append(result)
            detail = f"  {result.line}  -- {result.reason}" if result.status != "pass" else ""
            print(
                f"{result.status.upper():5} {result.name} ({result.seconds}s){detail}", flush=True
            )
    results.sort(key=lambda r: r.name)
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skip", "na")}
    if options.json:
        options.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    print(
        f"build mode: {build_mode}; applicable: {counts['pass'] + counts['fail'] + counts['skip']}"
    )
    print(
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped, {counts['na']} not applicable"
    )
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
