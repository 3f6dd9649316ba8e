"""Check a parsed cog.yaml key by key and build the Config from what is valid.

Every fault becomes one Problem naming the key path and line, what is wrong and what to write
instead; checking goes on after a fault so that one run reports them all.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from . import rules
from .errors import Problem
from .model import (
    BuildConfig,
    Config,
    Mount,
    Observability,
    RunCommand,
    Traces,
    Weight,
    WeightSource,
)
from .source import Document, KeyPath


def _dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


class Checker:
    """Collects problems and warnings while reading one document."""

    def __init__(self, document: Document, project_dir: Path) -> None:
        self.document = document
        self.project_dir = project_dir
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    # -- reporting -----------------------------------------------------------------------------

    def problem(
        self, path: KeyPath, message: str, fix: str | None = None, line: int | None = None
    ) -> None:
        line = line or self.document.line_of(path)
        self.problems.append(Problem(_dotted(path), message, line, fix))

    def warn(self, path: KeyPath, message: str) -> None:
        line = self.document.line_of(path)
        where = f"cog.yaml:{line}: " if line else "cog.yaml: "
        self.warnings.append(f"{where}{_dotted(path)}: {message}")

    # -- typed reads ---------------------------------------------------------------------------

    def mapping(self, value: Any, path: KeyPath, known: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping of keys, got {_show(value)}")
            return {}
        retired = rules.RETIRED_KEYS.get(_dotted(path), ())
        for key in value:
            if str(key) in retired:
                self.warn((*path, str(key)), "is no longer used by Cog and is ignored")
            elif str(key) not in known:
                self._unknown_key((*path, str(key)), str(key), known)
        return {str(key): item for key, item in value.items() if str(key) in known}

    def _unknown_key(self, path: KeyPath, key: str, known: tuple[str, ...]) -> None:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(known)}"
        self.problem(path, "unknown key", hint)

    def string(self, value: Any, path: KeyPath, *, numbers: bool = False) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if numbers and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.problem(path, f"must be a string, got {_show(value)}", "quote the value")
        return None

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.problem(path, f"must be true or false, got {_show(value)}")
        return False

    def string_list(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(
                path, f"must be a list of strings, got {_show(value)}", "use `- item` lines"
            )
            return ()
        items = []
        for index, item in enumerate(value):
            text = self.string(item, (*path, index), numbers=True)
            if text is not None:
                items.append(text)
        return tuple(items)

    def duplicates(self) -> None:
        for path, line in self.document.duplicates:
            self.problem(path, "is set twice", "keep one of the two", line)


def check_document(checker: Checker) -> Config:
    """Validate the whole document and return the Config made of its valid parts."""
    checker.duplicates()
    top = checker.mapping(checker.document.value, (), rules.TOP_LEVEL_KEYS)
    build = check_build(checker, top.get("build"))
    predict = check_references(checker, top)
    train = check_reference(checker, top.get("train"), ("train",), "train.py:train")
    image = checker.string(top.get("image"), ("image",))
    model = check_model(checker, top.get("model"), image)
    weights = check_weights(checker, top.get("weights"), model)
    return Config(
        project_dir=checker.project_dir,
        build=build,
        predict=predict,
        train=train,
        image=image,
        model=model,
        concurrency_max=check_concurrency(checker, top.get("concurrency"), build.python_version),
        environment=check_environment(checker, top.get("environment")),
        weights=weights,
        observability=check_observability(checker, top.get("observability")),
        raw=top,
        warnings=tuple(checker.warnings),
    )


def check_build(checker: Checker, value: Any) -> BuildConfig:
    path: KeyPath = ("build",)
    build = checker.mapping(value, path, rules.BUILD_KEYS)
    if isinstance(value, dict) and "python_version" not in build:
        checker.problem(path, "`python_version` is required", 'add `python_version: "3.12"`')
    python_version = check_python_version(checker, build.get("python_version"))
    requirements = checker.string(build.get("python_requirements"), (*path, "python_requirements"))
    packages = checker.string_list(build.get("python_packages"), (*path, "python_packages"))
    if requirements and packages:
        checker.problem(
            (*path, "python_packages"),
            "`python_packages` and `python_requirements` are both set",
            "move the packages into the requirements file and remove `python_packages`",
        )
    elif packages:
        checker.warn((*path, "python_packages"), "is deprecated: use `python_requirements`")
    if requirements and not (checker.project_dir / requirements).is_file():
        checker.problem(
            (*path, "python_requirements"),
            f"{_show(requirements)} does not exist in {checker.project_dir}",
            "create the file or fix the path (relative to cog.yaml)",
        )
    gpu = checker.boolean(build.get("gpu"), (*path, "gpu"))
    pre_install = checker.string_list(build.get("pre_install"), (*path, "pre_install"))
    if pre_install:
        checker.warn((*path, "pre_install"), "is deprecated: use `build.run`")
    return BuildConfig(
        python_version=python_version,
        gpu=gpu,
        cuda=check_cuda(checker, build.get("cuda")),
        cudnn=checker.string(build.get("cudnn"), (*path, "cudnn"), numbers=True),
        python_requirements=requirements,
        python_packages=packages,
        system_packages=checker.string_list(
            build.get("system_packages"), (*path, "system_packages")
        ),
        run=check_run_commands(checker, build.get("run")),
        pre_install=pre_install,
        sdk_version=check_sdk_version(checker, build.get("sdk_version")),
    )


def check_python_version(checker: Checker, value: Any) -> str:
    path: KeyPath = ("build", "python_version")
    text = checker.string(value, path, numbers=True)
    if text is None:
        return BuildConfig.python_version
    if isinstance(value, float) and text.count(".") == 1 and len(text.split(".")[1]) == 1:
        checker.problem(
            path,
            f"{text} is a number, and YAML reads 3.10 as 3.1",
            f'quote the version: python_version: "{text}0"',
        )
        return BuildConfig.python_version
    match = rules.PYTHON_VERSION.match(text)
    if not match:
        checker.problem(path, f"{_show(text)} is not a Python version", 'write it as "3.12"')
        return BuildConfig.python_version
    version = (int(match[1]), int(match[2]))
    supported = f"use {rules.SUPPORTED_PYTHONS}"
    if version < rules.MIN_PYTHON:
        # Cog's words, which scripts and Cog's own tests match.
        minimum = _dotted_version(rules.MIN_PYTHON)
        checker.problem(
            path,
            f"invalid build.python_version {_show(text)}: minimum supported Python version is {minimum}",
            supported,
        )
    elif version > rules.MAX_PYTHON:
        checker.problem(path, f"{_show(text)} is not supported", supported)
    if match[3] is not None:
        checker.warn(path, f"the patch version of {_show(text)} is ignored")
    return f"{version[0]}.{version[1]}"


def check_cuda(checker: Checker, value: Any) -> str | None:
    path: KeyPath = ("build", "cuda")
    text = checker.string(value, path, numbers=True)
    if text is None:
        return None
    match = rules.CUDA_VERSION.match(text)
    if not match:
        checker.problem(path, f"{_show(text)} is not a CUDA version", 'write it as "12.8"')
    elif int(match[1]) < rules.MIN_CUDA_MAJOR:
        checker.problem(
            path, f"CUDA {text} is too old", f"use CUDA {rules.MIN_CUDA_MAJOR} or newer"
        )
    return text


def check_sdk_version(checker: Checker, value: Any) -> str | None:
    path: KeyPath = ("build", "sdk_version")
    text = checker.string(value, path, numbers=True)
    if text is not None and text != "prerelease" and not rules.SDK_VERSION.match(text):
        checker.problem(
            path, f"{_show(text)} is not a version", 'write e.g. "0.16.0" or "prerelease"'
        )
    return text


def check_run_commands(checker: Checker, value: Any) -> tuple[RunCommand, ...]:
    path: KeyPath = ("build", "run")
    if value is None:
        return ()
    if not isinstance(value, list):
        checker.problem(path, "must be a list of commands", "use `- command` lines")
        return ()
    commands = []
    for index, item in enumerate(value):
        command = check_run_command(checker, item, (*path, index))
        if command is not None:
            commands.append(command)
    return tuple(commands)


def check_run_command(checker: Checker, item: Any, path: KeyPath) -> RunCommand | None:
    if isinstance(item, dict):
        fields = checker.mapping(item, path, rules.RUN_COMMAND_KEYS)
        if "command" not in fields:
            checker.problem(path, "`command` is required", "add `command: <shell command>`")
            return None
        text = checker.string(fields["command"], (*path, "command"))
        mounts = check_mounts(checker, fields.get("mounts"), (*path, "mounts"))
        path = (*path, "command")
    else:
        text, mounts = checker.string(item, path), ()
    if text is None:
        return None
    if "\n" in text.strip():
        checker.problem(path, "must be one line", "join the lines with && or split into steps")
        return None
    return RunCommand(text.strip(), mounts)


def check_mounts(checker: Checker, value: Any, path: KeyPath) -> tuple[Mount, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        checker.problem(path, "must be a list of mounts")
        return ()
    mounts = []
    for index, item in enumerate(value):
        where = (*path, index)
        fields = checker.mapping(item, where, rules.MOUNT_KEYS)
        kind, ident, target = (
            checker.string(fields.get(key), (*where, key)) for key in rules.MOUNT_KEYS
        )
        if kind != "secret":
            checker.problem(
                (*where, "type"), f"{_show(kind)} is not a mount type", "use `type: secret`"
            )
        elif not ident or not target:
            checker.problem(where, "a secret mount needs `id` and `target`")
        else:
            mounts.append(Mount(kind, ident, target))
    return tuple(mounts)


def check_references(checker: Checker, top: dict[str, Any]) -> str | None:
    run = check_reference(checker, top.get("run"), ("run",), "run.py:Runner")
    predict = check_reference(checker, top.get("predict"), ("predict",), "predict.py:Predictor")
    if "run" in top and "predict" in top:
        second = max(("run",), ("predict",), key=lambda key: checker.document.line_of(key) or 0)
        checker.problem(second, "only one of `run` or `predict` can be set", "remove one")
    return run or predict


def check_reference(checker: Checker, value: Any, path: KeyPath, example: str) -> str | None:
    text = checker.string(value, path)
    if text is None:
        return None
    if not rules.PREDICTOR_REFERENCE.match(text):
        checker.problem(path, f"{_show(text)} must be in the form '{example}'")
        return None
    file = text.split(":", 1)[0]
    if not (checker.project_dir / file).is_file():
        checker.problem(
            path, f"{file} does not exist in {checker.project_dir}", "fix the file name"
        )
    return text


def check_model(checker: Checker, value: Any, image: str | None) -> str | None:
    text = checker.string(value, ("model",))
    if text is None:
        return None
    if "@" in text or ":" in text.rsplit("/", 1)[-1]:
        checker.problem(("model",), "must be a bare repository — tags and digests are not allowed")
    if image:
        checker.problem(("model",), "`model` and `image` cannot both be set", "keep one")
    return text


def check_concurrency(checker: Checker, value: Any, python_version: str) -> int | None:
    fields = checker.mapping(value, ("concurrency",), rules.CONCURRENCY_KEYS)
    if "default_target" in fields:
        checker.warn(("concurrency", "default_target"), "is not used by Cog and is ignored")
    maximum = fields.get("max")
    if maximum is None:
        return None
    if isinstance(maximum, bool) or not isinstance(maximum, int) or maximum < 1:
        checker.problem(("concurrency", "max"), f"must be a whole number ≥ 1, got {_show(maximum)}")
        return None
    if maximum > 1 and _version_tuple(python_version) < rules.MIN_PYTHON_FOR_CONCURRENCY:
        needed = _dotted_version(rules.MIN_PYTHON_FOR_CONCURRENCY)
        checker.problem(
            ("concurrency", "max"),
            f'invalid concurrency.max "{maximum}": concurrency requires Python {needed} or higher',
            f'set build.python_version to "{needed}" or newer, or concurrency.max to 1',
        )
    return maximum


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _dotted_version(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def check_environment(checker: Checker, value: Any) -> dict[str, str]:
    path: KeyPath = ("environment",)
    environment: dict[str, str] = {}
    for index, entry in enumerate(checker.string_list(value, path)):
        where = (*path, index)
        match = rules.ENVIRONMENT_ENTRY.match(entry)
        if not match:
            checker.problem(
                where, f"{_show(entry)} is not NAME=value", "write e.g. `- HF_HOME=/src/hf`"
            )
            continue
        name, text = match[1], match[2]
        if name in rules.RESERVED_ENVIRONMENT or name.startswith(
            rules.RESERVED_ENVIRONMENT_PREFIXES
        ):
            checker.problem(where, f"{name} is reserved by Cog and cannot be set here")
        elif name in environment:
            checker.problem(where, f"{name} is set twice", "keep one")
        else:
            environment[name] = text
    return environment


def check_weights(checker: Checker, value: Any, model: str | None) -> tuple[Weight, ...]:
    path: KeyPath = ("weights",)
    if value is None:
        return ()
    if not isinstance(value, list):
        checker.problem(path, "must be a list of weights")
        return ()
    if not model:
        checker.problem(path, "weights require `model` to be set", "add `model: <registry>/<name>`")
    weights: list[Weight] = []
    for index, item in enumerate(value):
        weight = check_weight(checker, item, (*path, index), weights)
        if weight is not None:
            weights.append(weight)
    return tuple(weights)


def check_weight(
    checker: Checker, item: Any, path: KeyPath, earlier: list[Weight]
) -> Weight | None:
    fields = checker.mapping(item, path, rules.WEIGHT_KEYS)
    name = checker.string(fields.get("name"), (*path, "name"))
    target = checker.string(fields.get("target"), (*path, "target"))
    if not name or not rules.WEIGHT_NAME.match(name):
        checker.problem(
            (*path, "name"), f"{_show(name)} is not a valid weight name", "use e.g. `base-model`"
        )
        return None
    if any(weight.name == name for weight in earlier):
        checker.problem((*path, "name"), f"{_show(name)} is used twice")
    if not target or not target.startswith("/") or target.rstrip("/") == "":
        checker.problem((*path, "target"), f"{_show(target)} must be an absolute path other than /")
        return None
    for weight in earlier:
        a, b = weight.target.rstrip("/") + "/", target.rstrip("/") + "/"
        if a.startswith(b) or b.startswith(a):
            checker.problem(
                (*path, "target"), f"overlaps the target of weight {_show(weight.name)}"
            )
    sources = check_weight_sources(checker, fields.get("source"), (*path, "source"))
    return Weight(name, target, sources) if sources else None


def check_weight_sources(checker: Checker, value: Any, path: KeyPath) -> tuple[WeightSource, ...]:
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not items:
        checker.problem(path, "must be a source object or a non-empty list of them")
        return ()
    sources = []
    for index, item in enumerate(items):
        where = path if isinstance(value, dict) else (*path, index)
        fields = checker.mapping(item, where, rules.WEIGHT_SOURCE_KEYS)
        uri = checker.string(fields.get("uri"), (*where, "uri"))
        if not uri:
            checker.problem(where, "`uri` is required")
            continue
        if "://" in uri and not uri.startswith(rules.WEIGHT_URI_SCHEMES):
            checker.problem(
                (*where, "uri"),
                f"{_show(uri)} has an unsupported scheme",
                "use hf://, file://, https:// or a path",
            )
        patterns = {
            key: checker.string_list(fields.get(key), (*where, key))
            for key in ("include", "exclude")
        }
        for key, values in patterns.items():
            for pattern in values:
                if not pattern or pattern.startswith("!") or "\\" in pattern:
                    checker.problem((*where, key), f"{_show(pattern)} is not a valid pattern")
        sources.append(WeightSource(uri, patterns["include"], patterns["exclude"]))
    return tuple(sources)


def check_observability(checker: Checker, value: Any) -> Observability:
    path: KeyPath = ("observability",)
    fields = checker.mapping(value, path, rules.OBSERVABILITY_KEYS)
    traces = check_traces(checker, fields.get("traces"))
    config = check_observability_config(checker, fields.get("config"))
    if config is not None and not traces.enabled:
        checker.problem(
            (*path, "config"),
            "requires observability.traces.enabled to be true",
            "add `traces: {enabled: true}` under `observability:`",
        )
    return Observability(traces, config)


def check_traces(checker: Checker, value: Any) -> Traces:
    path: KeyPath = ("observability", "traces")
    fields = checker.mapping(value, path, rules.TRACES_KEYS)
    if isinstance(value, dict) and "enabled" not in fields:
        checker.problem(path, "`enabled` is required", "add `enabled: true`")
    enabled = checker.boolean(fields.get("enabled"), (*path, "enabled"))
    sampler = checker.string(fields.get("sampler"), (*path, "sampler")) or Traces.sampler
    if sampler not in rules.TRACE_SAMPLERS:
        checker.problem(
            (*path, "sampler"),
            f"{_show(sampler)} is not a supported OpenTelemetry sampler",
            f"use one of {', '.join(rules.TRACE_SAMPLERS)}",
        )
        sampler = Traces.sampler
    sampler_arg = check_sampler_arg(checker, fields.get("sampler_arg"), sampler)
    header = checker.string(fields.get("trace_header"), (*path, "trace_header"))
    if header is not None and (
        not rules.HTTP_HEADER_NAME.match(header) or header.lower() in rules.RESERVED_TRACE_HEADERS
    ):
        checker.problem(
            (*path, "trace_header"),
            f"{_show(header)} must be a valid, non-reserved HTTP header name",
            "write e.g. `x-company-trace`",
        )
        header = None
    header_format = checker.string(
        fields.get("trace_header_format"), (*path, "trace_header_format")
    )
    if header_format is not None and header_format not in rules.TRACE_HEADER_FORMATS:
        checker.problem((*path, "trace_header_format"), "must be w3c or jaeger")
        header_format = None
    return Traces(
        enabled,
        sampler,
        sampler_arg,
        header.lower() if header else None,
        header_format or Traces.trace_header_format,
    )


def check_sampler_arg(checker: Checker, value: Any, sampler: str) -> str | None:
    path: KeyPath = ("observability", "traces", "sampler_arg")
    ratio_sampler = sampler in rules.RATIO_SAMPLERS
    if value is None:
        if ratio_sampler:
            checker.problem(path, "is required for ratio samplers", 'add e.g. `sampler_arg: "0.1"`')
        return None
    text = checker.string(value, path)
    if text is None:
        return None
    if not ratio_sampler:
        checker.problem(
            path, "is only valid for ratio samplers", "remove it, or use a ratio sampler"
        )
        return None
    try:
        ratio = float(text)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:  # NaN fails this too
        checker.problem(path, f"{_show(text)} must be a number between 0 and 1")
        return None
    return text


def check_observability_config(checker: Checker, value: Any) -> str | None:
    path: KeyPath = ("observability", "config")
    text = checker.string(value, path)
    if text is None:
        return None
    parts = text.replace("\\", "/").split("/")
    if not text or text.startswith("/") or "." in parts or ".." in parts:
        checker.problem(path, f"{_show(text)} must be a project-relative Python file")
        return None
    if not text.endswith(".py"):
        checker.problem(path, f"{_show(text)} must be a Python file ending in .py")
        return None
    root = checker.project_dir.resolve()
    file = (root / text).resolve()
    if not file.exists():
        checker.problem(path, f"{text} does not exist in {checker.project_dir}", "fix the path")
        return None
    if not file.is_relative_to(root):
        checker.problem(path, f"{_show(text)} must resolve inside the project directory")
        return None
    if not file.is_file():
        checker.problem(path, f"{_show(text)} must be a regular file")
        return None
    return text
