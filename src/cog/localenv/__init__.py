"""The isolated local environment a model runs in when there is no Docker engine.

pip_settings   the user's pip configuration, carried over to uv
interpreter    an installed Python for build.python_version (never downloaded)
spec           what defines an environment (and its hash)
environment    building and reusing the virtualenv
errors         LocalEnvironmentError
"""

from .environment import LocalEnvironment, prepare_environment
from .errors import LocalEnvironmentError

__all__ = ["LocalEnvironment", "LocalEnvironmentError", "prepare_environment"]
