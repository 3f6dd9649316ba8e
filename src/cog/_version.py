"""The version of pycog (and of the `cog` SDK it provides)."""

__version__ = "0.1.0"
