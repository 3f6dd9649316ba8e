"""server component of pycog."""
