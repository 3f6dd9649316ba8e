"""One reading of "does the model stream": the key the schema writes is the key callers read."""

from __future__ import annotations

from collections.abc import Iterator

from cog import BasePredictor, streaming
from cog._decorators import declares_streaming
from cog.schema import schema_for_predictors


class Streams(BasePredictor):
    @streaming
    def predict(self, prompt: str) -> Iterator[str]:
        yield prompt


class Returns(BasePredictor):
    def predict(self, prompt: str) -> Iterator[str]:  # an iterator, not marked streaming
        yield prompt


class Trains(BasePredictor):
    @streaming
    def train(self, steps: int) -> Iterator[str]:
        yield str(steps)


def test_a_streaming_predictor_declares_it_and_an_unmarked_one_does_not():
    assert declares_streaming(schema_for_predictors(Streams(), None))
    assert not declares_streaming(schema_for_predictors(Returns(), None))


def test_trainings_and_missing_documents_never_stream():
    document = schema_for_predictors(Streams(), Trains())
    assert declares_streaming(document)
    assert not declares_streaming(document, "/trainings")
    assert not declares_streaming(None)
