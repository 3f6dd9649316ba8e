"""`cog build --runtime local`: a build's checks, then the local environment instead of an image."""

from __future__ import annotations

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
