"""A batched predictor (`@cog.batch`) as its clients see it: per request, not per batch.

Every input is annotated `list[T]` and the output `list[R]`; the schema describes `T` and
`R`. Both readers go through `per_item`, so they accept and refuse exactly the same things.
"""

from __future__ import annotations

from .errors import SchemaError
from .types import NONE, TypeNode

ITERATORS = ("Iterator", "AsyncIterator", "ConcatenateIterator", "AsyncConcatenateIterator")


EXCEPTIONS = ("Exception", "BaseException")


def per_item(node: TypeNode, where: str) -> TypeNode:
    """The type of one request's value for a batched parameter (or output) annotated list[T].
    An output item may be declared `R | Exception` (an exception item fails its request): the
    schema describes R."""
    if node.name == "list" and node.args:
        return _without_exceptions(node.args[0]) if where == "output" else node.args[0]
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


def _is_exception(node: TypeNode) -> bool:
    # The runtime reading names builtins by their class; the static one, not knowing them,
    # leaves them unknown (with no module).
    if node.name in EXCEPTIONS:
        return True
    return node.name == "unknown" and node.label in EXCEPTIONS and not node.module


def _without_exceptions(node: TypeNode) -> TypeNode:
    if node.name != "Union":
        return node
    kept = tuple(member for member in node.args if not _is_exception(member))
    if len(kept) == len(node.args) or not kept:
        return node
    if len(kept) == 1:
        return kept[0]
    if len(kept) == 2 and NONE in kept:
        return TypeNode("Optional", tuple(member for member in kept if member != NONE))
    return TypeNode("Union", kept)
