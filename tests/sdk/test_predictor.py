"""Loading `file.py:Name` references and the rules of predictor classes."""

import sys
import textwrap

import pytest

from cog import BaseModel, BasePredictor, BaseRunner, Input
from cog.errors import BadPredictorReference, PredictorFileNotFound, PredictorNotFound
from cog.predictor import (
    entry_function,
    entry_method_name,
    load_predictor,
    setup_takes_weights,
    split_reference,
)


def write(tmp_path, name, source):
    (tmp_path / name).write_text(textwrap.dedent(source))


@pytest.fixture(autouse=True)
def _forget_loaded_modules():
    before = set(sys.modules)
    path_before = list(sys.path)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
    sys.path[:] = path_before


def test_references_must_name_a_python_file():
    assert split_reference("predict.py:Predictor") == ("predict.py", "Predictor")
    assert split_reference("sub/dir/model.py") == ("sub/dir/model.py", None)
    for bad in ("predict:Predictor", "predict.py:Not A Name", "Predictor"):
        with pytest.raises(BadPredictorReference, match="predict.py:Predictor"):
            split_reference(bad)


def test_missing_file_and_missing_name_are_distinct_errors(tmp_path):
    with pytest.raises(PredictorFileNotFound, match="nope.py"):
        load_predictor("nope.py:Predictor", tmp_path)
    write(tmp_path, "predict.py", "X = 1\n")
    with pytest.raises(PredictorNotFound, match="has no 'Predictor'"):
        load_predictor("predict.py:Predictor", tmp_path)
    with pytest.raises(PredictorNotFound, match="no Runner or Predictor"):
        load_predictor("predict.py", tmp_path)


def test_a_missing_dependency_of_the_model_is_reported_as_itself(tmp_path):
    write(tmp_path, "predict.py", "import not_installed_anywhere\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_anywhere"):
        load_predictor("predict.py:Predictor", tmp_path)
    assert "predict" not in sys.modules


def test_class_predictors_are_instantiated_and_sibling_modules_import(tmp_path):
    write(tmp_path, "greeting_helpers.py", "GREETING = 'hello'\n")
    write(
        tmp_path,
        "predict.py",
        """
        from cog import BasePredictor, Input
        from greeting_helpers import GREETING

        class Predictor(BasePredictor):
            def setup(self):
                self.greeting = GREETING

            def predict(self, name: str = Input(description="who")) -> str:
                return f"{self.greeting} {name}"
        """,
    )
    predictor = load_predictor("predict.py:Predictor", tmp_path)
    predictor.setup()
    assert entry_function(predictor)(name="world") == "hello world"
    assert not setup_takes_weights(predictor)


def test_runner_is_preferred_when_no_name_is_given(tmp_path):
    write(
        tmp_path,
        "run.py",
        """
        from cog import BaseRunner

        class Runner(BaseRunner):
            def run(self) -> str:
                return "runner"
        """,
    )
    runner = load_predictor("run.py", tmp_path)
    assert entry_function(runner)() == "runner"


def test_function_predictors_are_used_as_they_are(tmp_path):
    write(tmp_path, "fn.py", "def predict(x: int) -> int:\n    return x * 2\n")
    predictor = load_predictor("fn.py:predict", tmp_path)
    assert entry_function(predictor)(x=21) == 42
    assert not setup_takes_weights(predictor)


def test_a_class_defines_run_or_predict_but_not_both():
    class Both(BaseRunner):
        def run(self) -> str:
            return ""

        def predict(self) -> str:
            return ""

    class Neither(BasePredictor):
        pass

    class Old(BasePredictor):
        def predict(self) -> str:
            return "old"

    with pytest.raises(ValueError, match="either run\\(\\) or predict\\(\\), not both"):
        entry_method_name(Both)
    with pytest.raises(ValueError, match="run or predict method not found: Neither"):
        entry_method_name(Neither)
    assert entry_method_name(Old) == "predict"


def test_trainers_are_loaded_by_their_train_method(tmp_path):
    write(
        tmp_path,
        "train.py",
        """
        class Trainer:
            def train(self, steps: int) -> str:
                return f"trained {steps}"
        """,
    )
    trainer = load_predictor("train.py:Trainer", tmp_path, method="train")
    assert entry_function(trainer, "train")(steps=3) == "trained 3"
    with pytest.raises(PredictorNotFound, match="no run\\(\\) method"):
        load_predictor("train.py:Trainer", tmp_path, method="run")


def test_setup_with_weights_is_detected():
    class WithWeights(BaseRunner):
        def setup(self, weights: str | None = None) -> None:
            self.weights = weights

        def run(self) -> str:
            return ""

    assert setup_takes_weights(WithWeights())


def test_input_refuses_default_factory_and_freezes_metadata():
    info = Input(default=3, ge=1, le=5, description="d")
    assert (info.default, info.ge, info.le, info.description) == (3, 1, 5, "d")
    with pytest.raises(TypeError, match="literal default"):
        Input(default_factory=list)
    with pytest.raises(AttributeError):
        info.default = 4


def test_base_model_subclasses_are_dataclasses():
    class Output(BaseModel):
        text: str
        score: float = 0.5

    out = Output(text="hi")
    assert (out.text, out.score) == ("hi", 0.5)
    assert Output(text="a") == Output(text="a")

    class Frozen(BaseModel, frozen=True):
        n: int

    with pytest.raises(AttributeError):
        Frozen(n=1).n = 2

    class Manual(BaseModel, auto_dataclass=False):
        def __init__(self, n: int) -> None:
            self.n = n

    assert Manual(3).n == 3


def test_base_model_rejects_bad_bases():
    import dataclasses

    @dataclasses.dataclass
    class Plain:
        x: int = 0

    with pytest.raises(TypeError, match="Primary base class"):

        class Wrong(Plain, BaseModel):
            pass

    with pytest.raises(TypeError, match="Cannot mix in dataclass"):

        class Mixed(BaseModel, Plain):
            pass

    class Auto(BaseModel):
        x: int = 0

    with pytest.raises(ValueError, match="auto_dataclass=False"):

        class Child(Auto, auto_dataclass=False):
            pass
