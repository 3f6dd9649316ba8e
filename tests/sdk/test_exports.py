"""The public surface of `import cog` is exactly Cog's (plus pycog's additions, each listed in
docs/compatibility.md), and importing it is light."""

import subprocess
import sys

import cog

COG_PUBLIC_NAMES = {
    "__version__",
    "BaseRunner",
    "BasePredictor",
    "BaseModel",
    "Opaque",
    "Input",
    "FieldInfo",
    "Path",
    "Secret",
    "File",
    "URLFile",
    "URLPath",
    "ConcatenateIterator",
    "AsyncConcatenateIterator",
    "CancelationException",
    "current_scope",
    "streaming",
    "concurrent",
    "ExperimentalFeatureWarning",
    "emit_metric",
}
PYCOG_ADDITIONS = {"batch"}


def test_all_is_exactly_cogs_public_names_and_pycogs_additions():
    assert set(cog.__all__) == COG_PUBLIC_NAMES | PYCOG_ADDITIONS
    assert len(cog.__all__) == len(COG_PUBLIC_NAMES | PYCOG_ADDITIONS)


def test_every_exported_name_resolves():
    for name in cog.__all__:
        assert getattr(cog, name) is not None


def test_modules_cog_models_import_by_path_exist():
    from cog.coder import Coder
    from cog.errors import CogError, ConfigDoesNotExist, PredictorNotSet
    from cog.mode import Mode

    assert issubclass(ConfigDoesNotExist, CogError)
    assert issubclass(PredictorNotSet, CogError)
    assert str(Mode.TRAIN) == "train"
    assert Coder.lookup(int) is None


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )


def test_import_cog_loads_no_server_cli_or_heavy_modules():
    code = (
        "import sys, cog\n"
        "heavy = ('httpx', 'aiohttp', 'uvicorn', 'rich', 'click', 'pydantic', 'yaml',"
        " 'jsonschema', 'cog.server', 'cog.cli', 'cog.schema', 'cog.build', 'cog.weights')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    assert _run_python(code).stdout.strip() == "[]"


def test_deprecated_names_announce_themselves_once_on_stderr():
    code = (
        "import warnings, cog\n"
        "from cog import ExperimentalFeatureWarning\n"
        "from cog import ExperimentalFeatureWarning as again\n"
        "assert issubclass(ExperimentalFeatureWarning, FutureWarning)\n"
        "cog.emit_metric('tokens', 3)\n"
    )
    stderr = _run_python(code).stderr
    assert stderr.count("ExperimentalFeatureWarning is deprecated") == 1
    assert stderr.count("emit_metric() is deprecated") == 1


def test_unknown_attribute_is_an_attribute_error():
    try:
        cog.NoSuchThing
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
