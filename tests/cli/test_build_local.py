"""`cog build --runtime local`: a build's checks, then the local environment instead of an image."""

from __future__ import annotations

import shutil
from pathlib import Path

from .conftest import run_cog

CONFIG = 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n'
GREETER = """
from cog import BasePredictor

class Predictor(BasePredictor):
    def predict(self, name: str) -> str:
        return "hi " + name
"""


def project(root: Path, source: str) -> Path:
    (root / "cog.yaml").write_text(CONFIG)
    (root / "predict.py").write_text(source)
    return root


def test_local_build_prepares_the_environment_predict_then_uses(tmp_path):
    directory = project(tmp_path, GREETER)
    built = run_cog("build", "--runtime", "local", "-t", "greeter", cwd=directory)
    assert built.returncode == 0, built.stderr
    assert "Environment for greeter built in" in built.stdout
    predicted = run_cog("predict", "--runtime", "local", "-i", "name=ada", cwd=directory)
    assert predicted.returncode == 0, predicted.stderr
    assert "hi ada" in predicted.stdout
    assert "Building the environment" not in predicted.stderr  # the build made it already


def test_local_build_refuses_what_an_image_build_refuses(tmp_path):
    source = GREETER.replace("name: str", "name: str = Input(accept='text/plain')").replace(
        "import BasePredictor", "import BasePredictor, Input"
    )
    refused = run_cog("build", "--runtime", "local", cwd=project(tmp_path, source))
    assert refused.returncode == 1
    assert "accept is only valid on Path or File inputs" in refused.stderr


def test_cog_sdk_wheel_names_a_wheel_or_a_directory_holding_one(tmp_path):
    from cog.build.sdk_wheel import sdk_wheel

    (tmp_path / "model").mkdir()
    directory = project(tmp_path / "model", GREETER)
    wheels = tmp_path / "dist"
    wheels.mkdir()
    missing = run_cog(
        "build",
        "--runtime",
        "local",
        "--debug",
        cwd=directory,
        env={"COG_SDK_WHEEL": str(wheels / "nope.whl")},
    )
    assert missing.returncode == 1
    assert f"path not found: {wheels / 'nope.whl'}" in missing.stderr
    empty = run_cog(
        "build", "--runtime", "local", cwd=directory, env={"COG_SDK_WHEEL": str(wheels)}
    )
    assert empty.returncode == 1 and "no pycog wheel (pycog-*.whl) in" in empty.stderr
    coglet = run_cog(
        "build", "--runtime", "local", cwd=directory, env={"COGLET_WHEEL": "/nowhere/coglet.whl"}
    )
    assert coglet.returncode == 1
    assert "COGLET_WHEEL: path not found: /nowhere/coglet.whl" in coglet.stderr
    shutil.copy(sdk_wheel(), wheels)
    built = run_cog(
        "build", "--runtime", "local", "--debug", cwd=directory, env={"COG_SDK_WHEEL": str(wheels)}
    )
    assert built.returncode == 0, built.stderr
    assert f"Using local cog wheel: {wheels.resolve()}/pycog-" in built.stderr
    assert "Dockerfile:" in built.stderr and "FROM " in built.stderr
