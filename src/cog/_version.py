"""The version of pycog, and the version of Cog whose API it provides."""

__version__ = "0.1.0"
# What clients read as "the Cog version" (`cog_version`, `python_sdk`): pycog speaks Cog
# 0.23.1's API, so a client gating a feature on the Cog version finds it.
COG_API_VERSION = "0.23.1"
