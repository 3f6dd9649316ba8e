"""A small, safe evaluator of the expressions a static reading may meet.

It computes what is knowable from the source alone: literals and what is built from them
(`list(D.keys())`, `sorted(...)`, `A + ["custom"]`, comprehensions over literals, constant
f-strings...). Names and attributes are resolved by the caller (module constants, imported
constants, class attributes); any other call is `NotStatic`, since it would need the code run.
"""

from __future__ import annotations

import ast
import operator
import os
from collections.abc import Callable, Iterable
from typing import Any


class NotStatic(Exception):
    """An expression whose value cannot be known without running the code."""


class Absent(NotStatic):
    """A name or attribute that the source shows does not exist (for `getattr(m, n, d)`)."""


Resolve = Callable[[ast.expr], Any]
"""Resolves a Name or Attribute the evaluator does not bind itself; raises NotStatic."""

MAX_ITEMS = 100_000  # no literal built here needs more; bounds `"x" * 10**9` and `range(...)`

BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
}
COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


def _unique(items: Iterable[Any]) -> list[Any]:
    """A set's members in the order they were written (Python's own order is per process)."""
    return list(dict.fromkeys(items))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "list": list,
    "tuple": tuple,
    "set": _unique,
    "frozenset": _unique,
    "dict": dict,
    "sorted": sorted,
    "reversed": lambda items: list(reversed(list(items))),
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "len": len,
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "round": round,
    "range": range,
    "enumerate": lambda items, start=0: list(enumerate(items, start)),
    "zip": lambda *items: list(zip(*items, strict=False)),
}
METHODS: dict[type, frozenset[str]] = {
    dict: frozenset({"keys", "values", "items", "get", "copy"}),
    str: frozenset(
        {
            "upper",
            "lower",
            "title",
            "capitalize",
            "strip",
            "lstrip",
            "rstrip",
            "split",
            "join",
            "replace",
            "format",
            "startswith",
            "endswith",
            "removeprefix",
            "removesuffix",
        }
    ),  # fmt: skip
    list: frozenset({"copy", "index", "count"}),
    tuple: frozenset({"index", "count"}),
}
ENVIRONMENT_READS = {("os", "getenv"), ("os.environ", "get")}


class Unknown:
    """A dict value that needs the code run (`{"DDIM": DDIMScheduler}`): the keys can still be
    used; using the value itself is NotStatic."""

    def __init__(self, expression: str) -> None:
        self.expression = expression


BUILTIN_TYPES: dict[str, type] = {
    t.__name__: t for t in (int, float, str, bool, list, tuple, dict, set, bytes)
}


def plain(value: Any) -> Any:
    """Views, tuples, ranges and sets as the lists a schema writes."""
    if isinstance(value, Unknown):
        raise NotStatic(value.expression)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | range) or type(value).__name__ in (
        "dict_keys",
        "dict_values",
        "dict_items",
    ):
        return [plain(item) for item in value]
    return value


class Evaluator:
    def __init__(self, resolve: Resolve, env: dict[str, Any] | None = None) -> None:
        self.resolve = resolve
        self.env = dict(env or {})

    def __call__(self, node: ast.expr) -> Any:
        return self.eval(node)

    def eval(self, node: ast.expr) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise NotStatic(ast.unparse(node))
        return method(node)

    # -- atoms -----------------------------------------------------------------------------

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.env:
            return self.env[node.id]
        try:
            return self.resolve(node)
        except Absent:
            if node.id in BUILTIN_TYPES:
                return BUILTIN_TYPES[node.id]
            raise

    def _Attribute(self, node: ast.Attribute) -> Any:
        return self.resolve(node)

    def _List(self, node: ast.List) -> list[Any]:
        return self._items(node.elts)

    def _Tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self._items(node.elts))

    def _Set(self, node: ast.Set) -> list[Any]:
        return _unique(self._items(node.elts))

    def _items(self, nodes: list[ast.expr]) -> list[Any]:
        items: list[Any] = []
        for item in nodes:
            if isinstance(item, ast.Starred):
                items.extend(self.eval(item.value))
            else:
                items.append(self.eval(item))
        _bounded(items)
        return items

    def _Dict(self, node: ast.Dict) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                result.update(self.eval(value))
            else:
                result[self.eval(key)] = self._lenient(value)
        return result

    def _lenient(self, node: ast.expr) -> Any:
        try:
            return self.eval(node)
        except NotStatic:
            return Unknown(ast.unparse(node))

    def _JoinedStr(self, node: ast.JoinedStr) -> str:
        return "".join(str(self.eval(part)) for part in node.values)

    def _FormattedValue(self, node: ast.FormattedValue) -> str:
        value = _known(self.eval(node.value))
        if node.conversion == ord("r"):
            value = repr(value)
        elif node.conversion == ord("s"):
            value = str(value)
        elif node.conversion == ord("a"):
            value = ascii(value)
        spec = self.eval(node.format_spec) if node.format_spec is not None else ""
        return format(value, spec)

    # -- operators -------------------------------------------------------------------------

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(node.op, ast.USub):
                return -value
            if isinstance(node.op, ast.UAdd):
                return value
            if isinstance(node.op, ast.Invert) and isinstance(value, int):
                return ~value
        raise NotStatic(ast.unparse(node))

    def _BinOp(self, node: ast.BinOp) -> Any:
        apply = BINARY.get(type(node.op))
        if apply is None:
            raise NotStatic(ast.unparse(node))
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.op, ast.Mult) and _repeats(left, right) > MAX_ITEMS:
            raise NotStatic(ast.unparse(node))
        if isinstance(node.op, ast.Pow) and isinstance(right, int) and abs(right) > 256:
            raise NotStatic(ast.unparse(node))
        try:
            return _bounded(apply(left, right))
        except (TypeError, ValueError, ArithmeticError):
            raise NotStatic(ast.unparse(node)) from None

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for item in node.values:
            value = self.eval(item)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _Subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        index = self.eval(node.slice)
        try:
            return _known(value[index])
        except (KeyError, IndexError, TypeError):
            raise NotStatic(ast.unparse(node)) from None

    def _Slice(self, node: ast.Slice) -> slice:
        parts = (node.lower, node.upper, node.step)
        return slice(*(self.eval(part) if part is not None else None for part in parts))

    # -- comprehensions --------------------------------------------------------------------

    def _ListComp(self, node: ast.ListComp) -> list[Any]:
        return [self._with(env).eval(node.elt) for env in self._bindings(node.generators)]

    def _GeneratorExp(self, node: ast.GeneratorExp) -> list[Any]:
        return [self._with(env).eval(node.elt) for env in self._bindings(node.generators)]

    def _SetComp(self, node: ast.SetComp) -> list[Any]:
        return _unique(self._with(env).eval(node.elt) for env in self._bindings(node.generators))

    def _DictComp(self, node: ast.DictComp) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for env in self._bindings(node.generators):
            inner = self._with(env)
            result[inner.eval(node.key)] = inner.eval(node.value)
        return result

    def _with(self, env: dict[str, Any]) -> Evaluator:
        return Evaluator(self.resolve, env)

    def _bindings(self, generators: list[ast.comprehension]) -> list[dict[str, Any]]:
        envs = [self.env]
        for generator in generators:
            if generator.is_async:
                raise NotStatic("async comprehension")
            following = []
            for env in envs:
                scope = self._with(env)
                for item in scope.eval(generator.iter):
                    bound = {**env, **_bind(generator.target, item)}
                    if all(self._with(bound).eval(test) for test in generator.ifs):
                        following.append(bound)
            envs = _bounded(following)
        return envs

    # -- calls -----------------------------------------------------------------------------

    def _Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id == "getattr":
            return self._getattr(node)
        args = [_known(arg) for arg in self._items(node.args)]
        kwargs = {k.arg: _known(self.eval(k.value)) for k in node.keywords if k.arg is not None}
        if any(k.arg is None for k in node.keywords):
            raise NotStatic(ast.unparse(node))
        func = node.func
        if isinstance(func, ast.Name) and func.id not in self.env:
            return self._builtin(node, func.id, args, kwargs)
        if isinstance(func, ast.Attribute):
            if _dotted(func) in {".".join(pair) for pair in ENVIRONMENT_READS}:
                return self._environment(node, args)
            receiver = self.eval(func.value)
            allowed = METHODS.get(type(receiver), frozenset())
            if func.attr in allowed:
                try:
                    return _bounded(getattr(receiver, func.attr)(*args, **kwargs))
                except (TypeError, ValueError, KeyError):
                    raise NotStatic(ast.unparse(node)) from None
        raise NotStatic(ast.unparse(node))

    def _getattr(self, node: ast.Call) -> Any:
        """`getattr(config, "NAME", default)` on a project module or class."""
        if len(node.args) != 3 or node.keywords:
            raise NotStatic(ast.unparse(node))
        owner, attribute, default = node.args
        if not (isinstance(attribute, ast.Constant) and isinstance(attribute.value, str)):
            raise NotStatic(ast.unparse(node))
        try:
            return self.resolve(ast.Attribute(value=owner, attr=attribute.value, ctx=ast.Load()))
        except Absent:
            return self.eval(default)

    def _builtin(self, node: ast.Call, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if name == "isinstance" and len(args) == 2 and not kwargs:
            kinds = args[1] if isinstance(args[1], tuple) else (args[1],)
            if all(isinstance(kind, type) for kind in kinds):
                return isinstance(args[0], kinds)
        function = FUNCTIONS.get(name)
        if function is None or name == "sorted" and set(kwargs) - {"reverse"}:
            raise NotStatic(ast.unparse(node))
        if name == "range" and len(range(*args)) > MAX_ITEMS:
            raise NotStatic(ast.unparse(node))
        try:
            return function(*args, **kwargs)
        except (TypeError, ValueError):
            raise NotStatic(ast.unparse(node)) from None

    def _environment(self, node: ast.Call, args: list[Any]) -> Any:
        # What importing the module would read now: the reading of the environment, as the
        # runtime reading (which imports the module) gets it.
        if not args or not isinstance(args[0], str) or len(args) > 2:
            raise NotStatic(ast.unparse(node))
        return os.environ.get(args[0], args[1] if len(args) == 2 else None)


def _known(value: Any) -> Any:
    if isinstance(value, Unknown):
        raise NotStatic(value.expression)
    return value


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _bind(target: ast.expr, value: Any) -> dict[str, Any]:
    if isinstance(target, ast.Name):
        return {target.id: value}
    if isinstance(target, ast.Tuple | ast.List):
        values = list(value)
        if len(values) != len(target.elts):
            raise NotStatic(ast.unparse(target))
        bound: dict[str, Any] = {}
        for item, part in zip(target.elts, values, strict=True):
            bound.update(_bind(item, part))
        return bound
    raise NotStatic(ast.unparse(target))


def _repeats(left: Any, right: Any) -> int:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return len(sequence) * count
    return 0


def _bounded(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_ITEMS:
        raise NotStatic("a value too large for a schema")
    return value
