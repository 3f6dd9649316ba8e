"""Every error the server and the worker define is rooted in CogError, in its errors.py."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cog.runtime
import cog.server
from cog.errors import CogError
from cog.server.errors import BadRequest

# Exceptions that never leave their module: parse results turned into a BadRequest at once.
INTERNAL = {"cog.server.strict_json.Refusal"}


def _defined_exceptions(package) -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("package", [cog.server, cog.runtime], ids=lambda p: p.__name__)
def test_errors_are_cog_errors_defined_in_errors_py(package):
    errors = _defined_exceptions(package)
    assert errors, "no exceptions found: the scan is broken"
    for error in errors:
        qualified = f"{error.__module__}.{error.__qualname__}"
        if qualified in INTERNAL:
            continue
        assert issubclass(error, CogError), f"{qualified} is not rooted in CogError"
        assert error.__module__ == f"{package.__name__}.errors", f"move {qualified} to errors.py"


def test_old_import_places_still_work():
    from cog.server.errors import Busy, NotReady, WorkerCrashed
    from cog.server.requests import BadRequest as OldBadRequest
    from cog.server.supervisor import Busy as OldBusy
    from cog.server.supervisor import NotReady as OldNotReady
    from cog.server.supervisor import WorkerCrashed as OldWorkerCrashed

    assert (OldBadRequest, OldBusy, OldNotReady, OldWorkerCrashed) == (
        BadRequest,
        Busy,
        NotReady,
        WorkerCrashed,
    )


def test_the_two_input_errors_have_distinct_names():
    from cog.cli.errors import InputError as CliInputError
    from cog.runtime.errors import InputValueError

    assert CliInputError.__name__ != InputValueError.__name__
    # Code that caught a bad input value as a ValueError still does.
    assert issubclass(InputValueError, ValueError)


def test_a_bad_request_builds_its_response_on_demand():
    response = BadRequest(413, "too large").response
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.body == b"too large"
