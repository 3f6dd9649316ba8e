"""The kubelet's view of a pycog server: `python -m cog.kubernetes.probe started|ready|live|drain`.

The Deployment runs these as exec probes because every health check answers 200 (an HTTP probe
could not tell DEFUNCT from READY), and because the ready file is only written by a health check
that finds the model READY: `ready` asks for one when the file is not there yet. Exit 0 means
success, 1 failure; the kubelet's `failureThreshold` decides how long a failure may last.

Imports stay light (standard library and `cog.envvars`): the kubelet starts this every few seconds.
"""

from __future__ import annotations

import enum
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .. import envvars

REQUEST_TIMEOUT_SECONDS = 5.0
"""Below the probes' `timeoutSeconds` in the manifests, so a hung server is an answer too."""
DRAIN_POLL_SECONDS = 0.5


class Check(enum.Enum):
    STARTED = "started"
    """Setup has ended, one way or the other (the startup probe: liveness checks begin then)."""
    READY = "ready"
    """The ready file exists: the model reached READY once (as Cog's readiness probe)."""
    LIVE = "live"
    """The server answers and its worker is not DEFUNCT."""
    DRAIN = "drain"
    """The preStop hook: wait until nothing is in flight (or `--timeout` seconds), always exit 0."""


def health(port: str) -> dict[str, object] | None:
    """The server's health report, or None when it does not answer."""
    url = f"http://127.0.0.1:{port}/health-check"
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            body = json.load(response)
    except (OSError, ValueError):  # refused, timed out, reset, or not JSON
        return None
    return body if isinstance(body, dict) else None


def health_status(port: str) -> str | None:
    """The server's `status`, or None when it does not answer."""
    status = (health(port) or {}).get("status")
    return status if isinstance(status, str) else None


def busy(port: str) -> bool:
    """Whether predictions are in flight: pycog's `in_flight` count (a queue worker's entries
    too), or BUSY from a server without it (every slot taken)."""
    body = health(port)
    if body is None:
        return False
    queue = body.get("queue")
    held = queue.get("in_flight", 0) if isinstance(queue, dict) else 0
    in_flight = body.get("in_flight")
    if isinstance(in_flight, int):
        return in_flight > 0 or (isinstance(held, int) and held > 0)
    return body.get("status") == "BUSY"


def ready_file() -> Path:
    return Path(envvars.READY_FILE.get() or "/var/run/cog/ready")


def passes(check: Check, port: str) -> bool:
    if check is Check.READY:
        if ready_file().exists():
            return True
        health_status(port)  # a READY answer writes the file
        return ready_file().exists()
    status = health_status(port)
    if check is Check.STARTED:
        return status not in (None, "STARTING")
    return status not in (None, "DEFUNCT")


def drain(port: str, timeout: float, settle: float) -> None:
    """Let the Service stop routing here (`settle` seconds), then wait while predictions are in
    flight, so that the SIGTERM which follows finds nothing to cancel."""
    time.sleep(settle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and busy(port):
        time.sleep(DRAIN_POLL_SECONDS)


def main(argv: list[str]) -> int:
    names = [check.value for check in Check]
    if not argv or argv[0] not in names:
        print(f"usage: python -m cog.kubernetes.probe {'|'.join(names)}", file=sys.stderr)
        return 2
    check = Check(argv[0])
    port = envvars.PORT.get() or "5000"
    if check is Check.DRAIN:
        options = dict(zip(argv[1::2], argv[2::2], strict=False))
        drain(port, float(options.get("--timeout", "60")), float(options.get("--settle", "5")))
        return 0
    return 0 if passes(check, port) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
