"""The loaded predictor: what the worker calls for setup, predictions and health checks."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from .. import envvars
from .._decorators import CONCURRENT_ATTR, STREAMING_ATTR
from ..batching import BatchSpec, declared_batch
from ..predictor import entry_function, load_predictor, setup_takes_weights
from .inputs import InputCoercer


class LoadedPredictor:
    """A predictor (or trainer) imported from its reference, ready for setup()."""

    def __init__(self, ref: str, project_dir: str, mode: str) -> None:
        method = "train" if mode == "train" else None
        self.instance = load_predictor(ref, project_dir, method=method)
        self.function: Callable[..., Any] = entry_function(self.instance, method)
        self.is_async = inspect.iscoroutinefunction(self.function) or inspect.isasyncgenfunction(
            self.function
        )
        self.streams = bool(getattr(self.function, STREAMING_ATTR, False))
        self.concurrency: int | None = getattr(self.function, CONCURRENT_ATTR, None)
        self.batch: BatchSpec | None = declared_batch(self.function)
        self.coercer = InputCoercer(self.function, batched=self.batch is not None)

    def setup(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Run `setup()` (if any), passing `COG_WEIGHTS` to a `weights` parameter."""
        setup = getattr(self.instance, "setup", None)
        if setup is None or inspect.isroutine(self.instance):
            return
        kwargs = {"weights": envvars.WEIGHTS.get()} if setup_takes_weights(self.instance) else {}
        result = setup(**kwargs)
        if inspect.iscoroutine(result):
            if loop is None:
                asyncio.run(result)
            else:
                error = asyncio.run_coroutine_threadsafe(_kept_off_loop(result), loop).result()
                if error is not None:
                    raise error

    def healthcheck(self) -> Callable[[], Any] | None:
        check = getattr(self.instance, "healthcheck", None)
        return check if callable(check) and not inspect.isroutine(self.instance) else None


async def _kept_off_loop(coroutine: Coroutine[Any, Any, Any]) -> BaseException | None:
    """What the coroutine raised, returned: a SystemExit or KeyboardInterrupt raised on the
    predictor's event loop would stop that loop for good (and leave setup() waiting)."""
    try:
        await coroutine
    except BaseException as exc:
        return exc
    return None
