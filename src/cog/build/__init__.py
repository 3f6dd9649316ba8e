"""build component of pycog."""
