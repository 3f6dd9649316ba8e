"""`cog predict` on a batched model (`@cog.batch`), on the local runtime: the CLI types and
sends per-item inputs; the batch of one is invisible to it."""

from .conftest import run_cog

BATCHED_MODEL = """\
import cog
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    @cog.batch(max_size=8, max_wait_ms="auto")
    def predict(
        self,
        text: list[str] = Input(description="Text"),
        times: list[int] = Input(default=1, ge=1),
    ) -> list[str]:
        print(f"a batch of {len(text)}")
        return [t * n for t, n in zip(text, times)]
"""


def test_cog_predict_sends_one_item_to_a_batched_model(example):
    project = example("hello-world")
    (project / "predict.py").write_text(BATCHED_MODEL)
    result = run_cog("predict", "--runtime", "local", "-i", "text=ab", "-i", "times=3", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ababab"
    assert "a batch of 1" in result.stderr
    refused = run_cog("predict", "--runtime", "local", "-i", "times=0", cwd=project)
    assert refused.returncode != 0
    assert "text" in refused.stderr  # the per-item schema: text is required, times >= 1
