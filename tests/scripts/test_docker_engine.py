"""`script/lib/docker-engine start` stops at once, with the daemon's reason, when dockerd dies."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REASON = "failed to start daemon: Error initializing network controller: iptables not found"


def test_a_daemon_that_dies_is_reported_with_its_log_and_the_way_to_skip(tmp_path: Path) -> None:
    dockerd = tmp_path / "dockerd"
    dockerd.write_text(
        f"#!/bin/sh\necho 'level=info msg=\"Starting up\"'\necho '{REASON}' >&2\nexit 1\n"
    )
    dockerd.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYCOG_DOCKERD": str(dockerd),
        "PYCOG_DOCKER_ROOT": str(tmp_path / "engine"),
    }
    # The bound is far below the 60 s the script would wait for a daemon that never answers.
    result = subprocess.run(
        [str(REPO / "script" / "lib" / "docker-engine"), "start"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode != 0
    assert result.stdout == ""  # no exports for script/test to eval
    assert "dockerd exited" in result.stderr
    assert REASON in result.stderr
    assert "PYCOG_SKIP_DOCKER=1" in result.stderr
