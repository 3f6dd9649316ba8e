"""config component of pycog."""
