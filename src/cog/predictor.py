"""`BaseRunner` / `BasePredictor`, and loading a predictor from a `file.py:Name` reference.

Both generations of Cog's API are first-class: `BasePredictor` with `predict()` (the older one)
and `BaseRunner` with `run()`. A class defines exactly one of the two methods.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path as _FsPath
from types import ModuleType
from typing import Any

from .errors import BadPredictorReference, PredictorFileNotFound, PredictorNotFound
from .scope import MetricMode, Scope, current_scope

_ENTRY_METHODS = ("run", "predict")


class BaseRunner:
    """Base class of a model: override `setup()` (optional) and `run()`.

    Example::

        class Runner(BaseRunner):
            def setup(self) -> None:
                self.model = load_model()

            def run(self, prompt: str = Input(description="Prompt")) -> str:
                return self.model(prompt)

    The instance lives as long as the server: state set in `setup()` is there in every run.
    `setup(self, weights)` receives `$COG_WEIGHTS` (a URL or path string) or None.
    """

    def setup(self) -> None:
        """Load the model; called once before the first prediction."""

    @property
    def scope(self) -> Scope:
        """The scope of the running prediction (metrics, request context)."""
        return current_scope()

    def record_metric(self, key: str, value: Any, mode: MetricMode = "replace") -> None:
        """Record a metric on the running prediction (a no-op outside one)."""
        current_scope().record_metric(key, value, mode)


class BasePredictor(BaseRunner):
    """Base class of a model in Cog's first API generation: override `predict()`."""


def entry_method_name(cls: type[Any]) -> str:
    """Which of `run` / `predict` a user class defines, looking only below `BaseRunner`."""
    defined = [name for name in _ENTRY_METHODS if _defined_by_user(cls, name)]
    if len(defined) == 2:
        raise ValueError(f"{cls.__name__} must define either run() or predict(), not both")
    if not defined:
        raise ValueError(f"run or predict method not found: {cls.__name__}")
    return defined[0]


def _defined_by_user(cls: type[Any], name: str) -> bool:
    for owner in inspect.getmro(cls):
        if owner in (BaseRunner, BasePredictor, object):
            return False
        if callable(owner.__dict__.get(name)):
            return True
    return False


def load_module(path: str | os.PathLike[str], name: str | None = None) -> ModuleType:
    """Import a Python file by path, registered in `sys.modules` under its basename."""
    file = _FsPath(path)
    if not file.is_file():
        raise PredictorFileNotFound(
            f"{os.fspath(path)!r} does not exist: the predictor reference must name a Python file "
            "relative to the project directory"
        )
    module_name = name or file.stem
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise PredictorFileNotFound(f"cannot import {os.fspath(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # The model's own directory comes first so its sibling modules import as they do in Cog.
    project_dir = str(file.resolve().parent)
    if project_dir not in sys.path:
        sys.path.insert(0, project_dir)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def split_reference(ref: str) -> tuple[str, str | None]:
    """`"predict.py:Predictor"` → (`"predict.py"`, `"Predictor"`); the name is optional."""
    if ":" in ref:
        path, _, name = ref.rpartition(":")
    else:
        path, name = ref, ""
    if not path.endswith(".py") or (name and not name.isidentifier()):
        raise BadPredictorReference(
            f"predictor reference {ref!r} must be in the form 'predict.py:Predictor' "
            "(a Python file, a colon, and a class or function name)"
        )
    return path, name or None


def load_predictor_class(ref: str, project_dir: str | os.PathLike[str] = ".") -> Any:
    """The class or function a reference names, without instantiating it."""
    path, name = split_reference(ref)
    module = load_module(_FsPath(project_dir) / path)
    if name is None:
        name = _default_name(module)
    try:
        return getattr(module, name)
    except AttributeError:
        raise PredictorNotFound(
            f"{path} has no {name!r}: define it, or point cog.yaml at the right name"
        ) from None


def _default_name(module: ModuleType) -> str:
    has_runner, has_predictor = hasattr(module, "Runner"), hasattr(module, "Predictor")
    if has_runner and has_predictor:
        warnings.warn("Both Runner and Predictor are defined; using Runner", stacklevel=3)
    if has_runner:
        return "Runner"
    if has_predictor:
        return "Predictor"
    raise PredictorNotFound(
        f"{module.__name__}.py has no Runner or Predictor: name one in the reference "
        "('predict.py:MyClass')"
    )


def load_predictor(
    ref: str, project_dir: str | os.PathLike[str] = ".", method: str | None = None
) -> Any:
    """Load a reference: a class is checked and instantiated, a function returned as is.

    `method` names the entry method a class must have (`train` for trainers); by default it
    is `run` or `predict`.
    """
    target = load_predictor_class(ref, project_dir)
    if inspect.isclass(target):
        if method is None:
            entry_method_name(target)
        elif not callable(getattr(target, method, None)):
            raise PredictorNotFound(f"{target.__name__} has no {method}() method")
        return target()
    if not callable(target):
        raise PredictorNotFound(f"{ref!r} is neither a class nor a function")
    return target


def entry_function(predictor: Any, method: str | None = None) -> Callable[..., Any]:
    """The callable a prediction invokes: the bound `run`/`predict` (or `method`, e.g.
    `train`) of a class instance, or the function itself for function predictors."""
    if inspect.isroutine(predictor):
        return predictor
    name = method or entry_method_name(type(predictor))
    return getattr(predictor, name)  # type: ignore[no-any-return]


def setup_takes_weights(predictor: Any) -> bool:
    """Whether the predictor's `setup()` declares a `weights` parameter."""
    setup = getattr(predictor, "setup", None)
    if setup is None or inspect.isfunction(predictor):
        return False
    return "weights" in inspect.signature(setup).parameters
