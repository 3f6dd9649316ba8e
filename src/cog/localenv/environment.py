"""Build (once) and reuse the virtualenv a model runs in, with uv.

Environments live in `<cache>/envs/<spec digest>`; a lock file serialises builders of the same
spec, and a marker written last tells a finished environment from one a crash left behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import envvars
from ..build.sdk_wheel import cache_dir, check_coglet_wheel, sdk_wheel, source_checkout
from ..config import Config
from ..runtime.lifeline import term_with_parent
from .errors import LocalEnvironmentError
from .interpreter import find_interpreter
from .pip_settings import PipSettings, read_pip_settings
from .spec import EnvironmentSpec, is_privileged, spec_for

Report = Callable[[str], None]
COMPLETE_MARKER = ".pycog-complete"
STEP_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class LocalEnvironment:
    """A ready virtualenv for one project."""

    path: Path
    config: Config

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def variables(self) -> dict[str, str]:
        """The process environment to run the model with: cog.yaml's `environment` and the
        virtualenv first on PATH."""
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)
        env.update(self.config.environment)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env


def uv_binary() -> str:
    """The uv executable: the one shipped with the `uv` package, else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise LocalEnvironmentError("uv is not installed: pip install uv") from None
        return found


def pycog_source() -> str:
    """How to install this pycog into an environment: COG_SDK_WHEEL's wheel, else its
    checkout (editable), else a wheel of the installed pycog."""
    check_coglet_wheel()
    checkout = source_checkout()
    if checkout is not None and not envvars.SDK_WHEEL.get():
        # pycog's own dependencies are installed with it: a change to them needs a new env.
        digest = hashlib.sha256((checkout / "pyproject.toml").read_bytes()).hexdigest()[:12]
        return f"editable:{checkout}:{digest}"
    return f"wheel:{sdk_wheel()}"


def prepare_environment(
    config: Config,
    report: Report = lambda _: None,
    pip: PipSettings | None = None,
    warn: Report | None = None,
) -> LocalEnvironment:
    """The project's environment, built first if no finished one matches its spec.

    `report` shows progress (silenced by `--progress quiet`); `warn` (default: `report`) shows
    what cannot be honoured locally, which quiet progress must not hide."""
    warn = warn or report
    if config.build.system_packages:
        names = " ".join(config.build.system_packages)
        warn(f"warning: build.system_packages cannot be installed without Docker; skipped: {names}")
    if config.build.gpu and shutil.which("nvidia-smi") is None:
        warn("warning: build.gpu is set but this machine has no NVIDIA GPU; running on CPU")
    spec = spec_for(config, pycog_source(), pip if pip is not None else read_pip_settings())
    path = cache_dir() / "envs" / spec.digest()
    with _locked(path):
        if not (path / COMPLETE_MARKER).exists():
            report(f"Building the environment (Python {spec.python_version}) in {path}")
            shutil.rmtree(path, ignore_errors=True)
            _build(path, spec, config, report, warn)
            (path / COMPLETE_MARKER).write_text(spec.digest())
    return LocalEnvironment(path, config)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(path: Path, spec: EnvironmentSpec, config: Config, report: Report, warn: Report) -> None:
    uv = uv_binary()
    interpreter = find_interpreter(spec.python_version, uv)
    _step(
        report,
        f"create virtualenv ({interpreter})",
        [uv, "venv", "--quiet", "--no-python-downloads", "--python", str(interpreter), str(path)],
    )
    install = [uv, "pip", "install", "--python", str(path / "bin" / "python"), *spec.pip.uv_args()]
    if spec.requirements:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=path, delete=False) as file:
            file.write("\n".join(spec.requirements) + "\n")
        _step(report, "install requirements", [*install, "-r", file.name], cwd=config.project_dir)
    kind, _, location = spec.pycog.partition(":")
    location = location.rsplit(":", 1)[0] if kind == "editable" else location
    target = ["-e", location] if kind == "editable" else [location]
    _step(report, "install pycog", [*install, *target])
    env = LocalEnvironment(path, config).variables()
    for index, command in enumerate(spec.run_commands):
        if is_privileged(command):
            warn(f"warning: build.run[{index}] needs root and was skipped locally: {command}")
            continue
        _step(report, f"build.run[{index}]", ["bash", "-c", command], cwd=path, env=env)


def _step(
    report: Report,
    title: str,
    argv: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    report(f"  {title}")
    try:
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
            preexec_fn=term_with_parent,  # a killed CLI's environment build stops too
        )
    except subprocess.TimeoutExpired:
        raise LocalEnvironmentError(f"{title} took longer than {STEP_TIMEOUT_SECONDS}s") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise LocalEnvironmentError(f"{title} failed (exit {result.returncode}):\n{output}")
