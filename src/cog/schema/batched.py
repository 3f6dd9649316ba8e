"""A batched predictor (`@cog.batch`) as its clients see it: per request, not per batch.

Every input is annotated `list[T]` and the output `list[R]`; the schema describes `T` and
`R`. Both readers go through `per_item`, so they accept and refuse exactly the same things.
"""

from __future__ import annotations

from .errors import SchemaError
from .types import TypeNode

ITERATORS = ("Iterator", "AsyncIterator", "ConcatenateIterator", "AsyncConcatenateIterator")


def per_item(node: TypeNode, where: str) -> TypeNode:
    """The type of one request's value for a batched parameter (or output) annotated list[T]."""
    if node.name == "list" and node.args:
        return node.args[0]
    what = "its output" if where == "output" else where
    if node.name in ITERATORS:
        raise SchemaError(
            "@cog.batch does not combine with a streaming output (an iterator): a batched call "
            "returns list[R], one result per request"
        )
    raise SchemaError(
        f"{what}: a batched method (@cog.batch) takes every input as list[T] and returns "
        "list[R], one item per request of the batch; annotate it list[...] (clients still see "
        "the item type)"
    )


def refuse_streaming(streaming: bool, name: str) -> None:
    if streaming:
        raise SchemaError(
            f"{name}(): @cog.batch does not combine with @cog.streaming: a batched call returns "
            "one list of results, not a stream; remove one of the two decorators"
        )
