"""schema component of pycog."""
