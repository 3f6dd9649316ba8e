"""The environment-variable registry and the docs rendered from it."""

import ast
import pathlib
import re
import subprocess
import sys

import click
from click.testing import CliRunner

from cog import envvars

DOCS = pathlib.Path(__file__).parents[2] / "docs" / "environment.md"


def test_docs_are_rendered_from_the_registry():
    assert DOCS.read_text() == envvars.render_markdown(), (
        "docs/environment.md is stale: regenerate it with "
        "python -c 'import cog.envvars as e; print(e.render_markdown(), end=\"\")' "
        "> docs/environment.md"
    )


def test_names_are_unique():
    names = [var.name for var in envvars.ALL]
    assert len(names) == len(set(names))


def test_typed_reads_fall_back_to_the_default(monkeypatch):
    monkeypatch.setenv("COG_THROTTLE_RESPONSE_INTERVAL", "0.25")
    assert envvars.THROTTLE_RESPONSE_INTERVAL.get_float() == 0.25
    monkeypatch.setenv("COG_THROTTLE_RESPONSE_INTERVAL", "soon")
    assert envvars.THROTTLE_RESPONSE_INTERVAL.get_float() == 0.5
    monkeypatch.delenv("COG_SETUP_TIMEOUT", raising=False)
    assert envvars.SETUP_TIMEOUT.get_int() is None
    monkeypatch.setenv("PORT", "")
    assert envvars.PORT.get_int() == 5000


# --- every variable is read through its declaration, and nothing reads one by its bare name ---

SRC = pathlib.Path(envvars.__file__).parent
PREFIXED = re.compile(r"(COG|PYCOG|PGET)_[A-Z0-9_]+")

# os.environ reads whose key is not a literal, and that are right as they are.
ALLOWED_DYNAMIC_READS = {
    # Evaluates the *user's* `os.environ.get("NAME")` while reading a predictor statically.
    "schema/evaluate.py": "reads the variable a model's own code names",
    # Pops the declared names (envvars.X.name) so the model's own subprocesses do not inherit them.
    "runtime/lifeline.py": "removes PYCOG_PARENT_PID/PYCOG_EXIT_ON_STDIN_EOF after reading them",
}
# Files the server-core and runner helpers are converting; remove each entry once merged.
TODO_ALLOWED: dict[str, str] = {}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (path.relative_to(SRC).as_posix(), ast.parse(path.read_text(), str(path)))
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "envvars.py" or path.parent != SRC
    ]


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _environ_keys(tree: ast.Module) -> list[tuple[int, ast.expr]]:
    """The key expression of every `os.environ[...]`, `os.environ.get/pop/setdefault(...)` and
    `os.getenv(...)` read in a module."""
    keys: list[tuple[int, ast.expr]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            keys.append((node.lineno, node.slice))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            func = node.func
            environ_method = _is_os_environ(func.value) and func.attr in (
                "get",
                "pop",
                "setdefault",
            )
            getenv = (
                func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"
            )
            if environ_method or getenv:
                keys.append((node.lineno, node.args[0]))
    return keys


def _declared_attribute(node: ast.expr) -> bool:
    """`envvars.NAME.name`: a key taken from a declaration."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "name"
        and isinstance(node.value, ast.Attribute)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "envvars"
    )


def test_no_module_names_a_pycog_variable_bare():
    bare = [
        f"{name}:{node.lineno}: {node.value!r}"
        for name, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and PREFIXED.fullmatch(node.value)
    ]
    assert not bare, "read these through cog.envvars declarations instead:\n" + "\n".join(bare)


def test_environment_reads_go_through_declarations():
    stray = []
    for name, tree in _modules():
        for line, key in _environ_keys(tree):
            if isinstance(key, ast.Constant) and not PREFIXED.fullmatch(str(key.value)):
                continue  # another program's variable (PATH, XDG_CACHE_HOME, HF_ENDPOINT...)
            if name in ALLOWED_DYNAMIC_READS or name in TODO_ALLOWED:
                continue
            if _declared_attribute(key) or isinstance(key, ast.Constant):
                # A declared name read bare bypasses the default; a literal is reported above.
                stray.append(f"{name}:{line}: use envvars.X.get() rather than os.environ")
                continue
            stray.append(f"{name}:{line}: {ast.unparse(key)}")
    assert not stray, "\n".join(stray)


def test_every_declared_variable_is_read_through_its_declaration():
    attributes = {
        attribute: var
        for attribute, var in vars(envvars).items()
        if isinstance(var, envvars.EnvVar)
    }
    used: set[str] = set()
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "envvars":
                    used.add(node.attr)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("envvars"):
                used.update(alias.name for alias in node.names)
    unread = sorted(attributes[name].name for name in attributes.keys() - used)
    assert not unread, f"declared but never read: {unread}"


def _cli_options() -> list[click.Option]:
    from cog.cli.main import cli
    from cog.weights.cli import get_command, multifile_command

    options: list[click.Option] = []
    pending: list[click.Command] = [cli, get_command, multifile_command]
    while pending:
        command = pending.pop()
        options.extend(p for p in command.params if isinstance(p, click.Option))
        if isinstance(command, click.Group):
            pending.extend(command.commands.values())
    return options


def test_cli_flags_that_mirror_a_variable_take_it_as_envvar():
    options = _cli_options()
    for var in envvars.ALL:
        if var.flag is None or var.where == "runtime":  # runtime flags are the server's argparse
            continue
        mirrors = [option for option in options if var.flag in option.opts]
        assert mirrors, f"{var.name} names {var.flag}, which no command has"
        for option in mirrors:
            assert option.envvar == var.name, f"{option.opts} should read {var.name}"


def test_cli_envvars_are_declared():
    declared = {var.name for var in envvars.ALL}
    for option in _cli_options():
        names = [option.envvar] if isinstance(option.envvar, str) else list(option.envvar or ())
        for name in names:
            assert name in declared, f"{option.opts} reads {name}, not declared in cog.envvars"


def test_server_flags_named_by_declarations_exist():
    completed = subprocess.run(
        [sys.executable, "-m", "cog.server.http", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for var in envvars.ALL:
        if var.flag is not None and var.where == "runtime":
            assert var.flag in completed.stdout, f"{var.name} names {var.flag}"


def test_openapi_schema_variable_reaches_cog_build(tmp_path):
    """The envvar= wiring for real: click reads COG_OPENAPI_SCHEMA when the flag is absent."""
    from cog.cli.build import image_flags

    schema = tmp_path / "schema.json"
    schema.write_text("{}")
    seen: dict[str, object] = {}

    @click.command()
    @image_flags
    def probe(**kwargs: object) -> None:
        seen.update(kwargs)

    result = CliRunner().invoke(probe, [], env={"COG_OPENAPI_SCHEMA": str(schema)})
    assert result.exit_code == 0, result.output
    assert seen["openapi_schema"] == str(schema)
