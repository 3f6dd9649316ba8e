"""Where the reference Cog 0.23.1 is installed (script/lib/reference-cog puts it there)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def reference_python() -> Path:
    """The reference virtualenv's python; a test that needs it fails clearly without it."""
    venv = Path(os.environ.get("PYCOG_REFERENCE_VENV", ROOT / ".cache" / "reference-cog"))
    python = venv / "bin" / "python"
    if not python.exists():
        if os.environ.get("PYCOG_SKIP_REFERENCE"):
            pytest.skip("PYCOG_SKIP_REFERENCE is set")
        pytest.fail(f"the reference Cog is not installed at {venv}: run script/lib/reference-cog")
    return python
