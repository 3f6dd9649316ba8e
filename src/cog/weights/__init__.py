"""weights component of pycog."""
