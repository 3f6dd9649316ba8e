"""cog.yaml: parsing, validation with one precise problem per fault, and the Config model."""

from .errors import ConfigError, Problem
from .loader import load_config, parse_config
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
from .rules import default_image_name

__all__ = [
    "BuildConfig",
    "Config",
    "ConfigError",
    "Mount",
    "Observability",
    "Problem",
    "RunCommand",
    "Traces",
    "Weight",
    "WeightSource",
    "default_image_name",
    "load_config",
    "parse_config",
]
