"""No process outlives the command: `cog serve`, `cog predict`, `cog train` and `cog exec`
(local runtime) stopped by SIGTERM, SIGHUP, SIGINT or killed by SIGKILL leave none of their
tree and free their port (the Docker runtime: tests/build/test_docker_cli_runtime.py)."""

from __future__ import annotations

import signal
import time

import pytest

from .processes import _stat, cog_process, listening_ports, wait_gone

# Sleeps in short steps so that a cancel (raised between two of them) ends it at once; writes
# where it got to, so the test can tell a canceled prediction from a killed one.
SLOW_MODEL = """\
import time
from cog import BasePredictor

class Predictor(BasePredictor):
    def predict(self, seconds: float = 60) -> str:
        print("started", flush=True)
        try:
            for _ in range(int(seconds * 10)):
                time.sleep(0.1)
        except BaseException as exc:
            open("ended.txt", "w").write(type(exc).__name__)
            raise
        return "done"
"""

SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL]


@pytest.fixture
def slow_model(example):
    project = example("hello-world")
    (project / "predict.py").write_text(SLOW_MODEL)
    return project


def _expected_status(sig: signal.Signals, on_sigint: int) -> int:
    # SIGTERM, SIGHUP (after the cleanup) and SIGKILL end the CLI by the signal itself.
    return on_sigint if sig == signal.SIGINT else -sig


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_predict_stopped_by_a_signal_leaves_nothing(slow_model, sig):
    with cog_process("predict", "--runtime", "local", cwd=slow_model) as cli:
        assert cli.read_until("started"), cli.stderr
        tree = cli.remember_tree()
        ports = listening_ports(tree)
        assert len(tree) >= 2 and ports, (tree, ports)  # the server and its worker, listening
        cli.process.send_signal(sig)
        status, out, err = cli.finish()
        assert status == _expected_status(sig, 1), err  # Click's Abort
        assert wait_gone(tree, ports) == []
    assert out == ""
    if sig != signal.SIGKILL:
        # Canceled first, as Ctrl-C does: the model saw the cancel, not only a dying server.
        assert "Canceling the prediction" in err
        assert (slow_model / "ended.txt").read_text() == "CancelationException"


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_serve_stopped_by_a_signal_leaves_nothing(slow_model, sig):
    from cog.cli.model import free_port

    port = free_port()
    with cog_process("serve", "--runtime", "local", "-p", str(port), cwd=slow_model) as cli:
        assert cli.read_until("Serving at"), cli.stderr
        tree = cli.remember_tree()
        assert len(tree) >= 2 and port in listening_ports(tree), cli.stderr
        cli.process.send_signal(sig)
        status, _, err = cli.finish()
        assert status == _expected_status(sig, 0), err  # Ctrl-C is how serve stops
        assert wait_gone(tree, {port}) == []


SLOW_TRAINING = """\
import time

def train(seconds: float = 60) -> str:
    print("started", flush=True)
    try:
        for _ in range(int(seconds * 10)):
            time.sleep(0.1)
    except BaseException as exc:
        open("ended.txt", "w").write(type(exc).__name__)
        raise
    return "done"
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_train_stopped_by_a_signal_leaves_nothing(slow_model, sig):
    (slow_model / "train.py").write_text(SLOW_TRAINING)
    config = (slow_model / "cog.yaml").read_text()
    (slow_model / "cog.yaml").write_text(config + 'train: "train.py:train"\n')
    with cog_process("train", "--runtime", "local", cwd=slow_model) as cli:
        assert cli.read_until("started"), cli.stderr
        tree = cli.remember_tree()
        ports = listening_ports(tree)
        assert len(tree) >= 2 and ports, (tree, ports)
        cli.process.send_signal(sig)
        status, _, err = cli.finish()
        assert status == -sig, err
        assert wait_gone(tree, ports) == []
    if sig != signal.SIGKILL:
        assert (slow_model / "ended.txt").read_text() == "CancelationException"


SLOW_COMMAND = "import time; print('started', flush=True); time.sleep(60)"


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_exec_stopped_by_a_signal_leaves_nothing(slow_model, sig):
    args = ("exec", "--runtime", "local", "python", "-c", SLOW_COMMAND)
    with cog_process(*args, cwd=slow_model) as cli:
        assert cli.process.stdout is not None
        assert cli.process.stdout.readline() == "started\n"
        tree = cli.remember_tree()
        assert tree, "the command runs below the CLI"
        cli.process.send_signal(sig)
        status, _, err = cli.finish()
        assert status == _expected_status(sig, 1), err
        assert wait_gone(tree, set()) == []


# A shell whose own child outlives it unless someone stops it: the background `sleep` is a
# grandchild of the CLI, which only the shell (not the CLI's signal) would have stopped.
SHELL_WITH_BACKGROUND_WORK = "sleep 300 & sleep 300 & echo started; wait"


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name
)
def test_exec_stopped_by_a_signal_leaves_no_grandchild(slow_model, sig):
    args = ("exec", "--runtime", "local", "sh", "-c", SHELL_WITH_BACKGROUND_WORK)
    with cog_process(*args, cwd=slow_model) as cli:
        assert cli.process.stdout is not None
        assert cli.process.stdout.readline() == "started\n"
        tree = cli.remember_tree()
        assert len(tree) >= 3, tree  # the shell and its two sleeps
        cli.process.send_signal(sig)
        status, _, err = cli.finish()
        assert status == _expected_status(sig, 1), err
        assert wait_gone(tree, set()) == []


def test_exec_that_ends_leaves_nothing_it_started_in_the_background(slow_model):
    args = ("exec", "--runtime", "local", "sh", "-c", "sleep 300 & echo $!")
    with cog_process(*args, cwd=slow_model) as cli:
        status, out, err = cli.finish()
        assert status == 0, err
        # Stopped (and reaped) by the CLI before it exited, not left to init.
        assert _stat(int(out.strip())) is None


def test_a_killed_cli_leaves_no_environment_build_running(slow_model):
    # A build.run step that takes long: the step's shell is a child the CLI does not wait for
    # once it is killed; the kernel's parent-death signal ends it.
    (slow_model / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\n  run:\n    - sleep 120\npredict: "predict.py:Predictor"\n'
    )
    with cog_process("build", "--runtime", "local", "--progress", "plain", cwd=slow_model) as cli:
        assert cli.read_until("build.run[0]"), cli.stderr
        deadline = time.monotonic() + 30  # the step is announced just before it starts
        while not (tree := cli.remember_tree()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tree, "the step runs below the CLI"
        cli.process.send_signal(signal.SIGKILL)
        status, _, _ = cli.finish()
        assert status == -signal.SIGKILL
        assert wait_gone(tree, set()) == []
