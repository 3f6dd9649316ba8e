"""runtime component of pycog."""
