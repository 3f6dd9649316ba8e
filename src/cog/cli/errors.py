"""Errors the CLI turns into one message and an exit status.

CogError
└── CliError            a command cannot do what was asked (exit 1)
    └── InputError      `-i` / `--json` inputs do not match the model's schema
"""

from __future__ import annotations

import click

from ..errors import CogError


class CliError(CogError):
    """A command failed in a way the user can act on; its message says how."""

    exit_code = 1


class InputError(CliError):
    """Inputs that do not match the model's schema: one line per bad input."""


def as_click_error(error: CogError) -> click.ClickException:
    """The click exception that prints `Error: <message>` and exits with the right status."""
    exception = click.ClickException(str(error))
    # click declares exit_code on the class; an instance attribute overrides it per error.
    vars(exception)["exit_code"] = getattr(error, "exit_code", 1)
    return exception
